package schema

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// fakeRegistry is a hand-written stand-in for the Confluent API, for unit
// tests of the client only. Integration tests use the real registry.
type fakeRegistry struct {
	failFirst atomic.Int32 // answer 503 this many times first
	calls     atomic.Int32
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	if f.failFirst.Add(-1) >= 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if u, p, _ := r.BasicAuth(); u != "alice" || p != "pw" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/subjects/t-value/versions":
		var in map[string]string
		_ = json.NewDecoder(r.Body).Decode(&in)
		if in["schema"] == `"bad"` {
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"error_code":409,"message":"incompatible"}`))
			return
		}
		_, _ = w.Write([]byte(`{"id":7}`))
	case r.URL.Path == "/schemas/ids/7":
		_, _ = w.Write([]byte(`{"schema":"\"string\""}`))
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error_code":40403,"message":"Schema not found"}`))
	}
}

func newTestRegistry(t *testing.T, f *fakeRegistry) *Registry {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return NewRegistry(RegistryConfig{URL: srv.URL + "/", Username: "alice", Password: "pw", Timeout: time.Second})
}

func TestRegistryCachesAndRetries(t *testing.T) {
	f := &fakeRegistry{}
	f.failFirst.Store(2)
	r := newTestRegistry(t, f)
	ctx := context.Background()
	id, err := r.Register(ctx, "t-value", `"string"`)
	if err != nil || id != 7 {
		t.Fatalf("Register = %d, %v", id, err)
	}
	if got := f.calls.Load(); got != 3 {
		t.Errorf("calls after two 503s = %d, want 3", got)
	}
	if id2, _ := r.Register(ctx, "t-value", `"string"`); id2 != 7 || f.calls.Load() != 3 {
		t.Errorf("second Register was not served from cache (calls %d)", f.calls.Load())
	}
	if s, err := r.SchemaByID(ctx, 7); err != nil || s != `"string"` || f.calls.Load() != 3 {
		t.Errorf("SchemaByID = %q, %v (calls %d); want it cached by Register", s, err, f.calls.Load())
	}
}

func TestRegistryErrors(t *testing.T) {
	r := newTestRegistry(t, &fakeRegistry{})
	ctx := context.Background()
	_, err := r.Register(ctx, "t-value", `"bad"`)
	var re *RegistryError
	if !errors.As(err, &re) || re.Status != 409 || re.Code != 409 || re.Message != "incompatible" {
		t.Fatalf("Register incompatible: %v", err)
	}
	_, err = r.SchemaByID(ctx, 99)
	if !errors.As(err, &re) || re.Code != 40403 {
		t.Fatalf("SchemaByID missing: %v", err)
	}
	unauth := NewRegistry(RegistryConfig{URL: r.base, Timeout: time.Second})
	if _, err := unauth.Subjects(ctx); !errors.As(err, &re) || re.Status != 401 {
		t.Fatalf("no credentials: %v", err)
	}
}
