package schema

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Registry is a client of a Confluent-compatible schema registry (Confluent,
// Apicurio's ccompat API, Karapace, Redpanda). It caches ids and schemas, so
// a schema is registered or fetched once per process, and retries transient
// failures (network errors, 5xx, 429) with backoff.
//
// It is safe for concurrent use. Each call blocks for at most its context's
// deadline, and each request for at most the configured timeout.
type Registry struct {
	cfg  RegistryConfig
	http *http.Client
	base string

	mu      sync.RWMutex
	ids     map[string]int // subject + "\x00" + schema -> id
	schemas map[int]string // id -> schema
}

// RegistryError is an error answer of the registry.
type RegistryError struct {
	Status  int    // HTTP status
	Code    int    // the registry's error_code, e.g. 40401 subject not found
	Message string // the registry's message
	Op      string // what was asked, e.g. "GET /schemas/ids/7"
}

func (e *RegistryError) Error() string {
	return fmt.Sprintf("schema registry %s: %d %s (error_code %d)", e.Op, e.Status, e.Message, e.Code)
}

// NewRegistry returns a client for cfg. It does not connect.
func NewRegistry(cfg RegistryConfig) *Registry {
	return &Registry{
		cfg:     cfg,
		http:    &http.Client{Timeout: cfg.Timeout},
		base:    strings.TrimRight(cfg.URL, "/"),
		ids:     map[string]int{},
		schemas: map[int]string{},
	}
}

// Register registers an Avro schema under subject and returns its id. If the
// same schema is already registered there, the registry returns the existing
// id. An incompatible schema fails with a *RegistryError (HTTP 409).
func (r *Registry) Register(ctx context.Context, subject, schema string) (int, error) {
	key := subject + "\x00" + schema
	r.mu.RLock()
	id, ok := r.ids[key]
	r.mu.RUnlock()
	if ok {
		return id, nil
	}
	var out struct {
		ID int `json:"id"`
	}
	body := map[string]string{"schema": schema}
	if err := r.do(ctx, http.MethodPost, "/subjects/"+url.PathEscape(subject)+"/versions", body, &out); err != nil {
		return 0, fmt.Errorf("register schema under %s: %w", subject, err)
	}
	r.mu.Lock()
	r.ids[key] = out.ID
	r.schemas[out.ID] = schema
	r.mu.Unlock()
	return out.ID, nil
}

// SchemaByID returns the schema with the given id.
func (r *Registry) SchemaByID(ctx context.Context, id int) (string, error) {
	r.mu.RLock()
	s, ok := r.schemas[id]
	r.mu.RUnlock()
	if ok {
		return s, nil
	}
	var out struct {
		Schema string `json:"schema"`
	}
	if err := r.do(ctx, http.MethodGet, "/schemas/ids/"+strconv.Itoa(id), nil, &out); err != nil {
		return "", fmt.Errorf("fetch schema %d: %w", id, err)
	}
	r.mu.Lock()
	r.schemas[id] = out.Schema
	r.mu.Unlock()
	return out.Schema, nil
}

// Subjects lists the registered subjects.
func (r *Registry) Subjects(ctx context.Context) ([]string, error) {
	var out []string
	if err := r.do(ctx, http.MethodGet, "/subjects", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Compatibility returns the registry's global compatibility level.
func (r *Registry) Compatibility(ctx context.Context) (string, error) {
	var out struct {
		Level  string `json:"compatibilityLevel"`
		Level2 string `json:"compatibility"`
	}
	if err := r.do(ctx, http.MethodGet, "/config", nil, &out); err != nil {
		return "", err
	}
	if out.Level == "" {
		out.Level = out.Level2
	}
	return out.Level, nil
}

const maxAttempts = 5

func (r *Registry) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	backoff := 100 * time.Millisecond
	var lastErr error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		retry, err := r.once(ctx, method, path, body, out)
		if err == nil || !retry {
			return err
		}
		lastErr = err
		if attempt == maxAttempts {
			break
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), lastErr)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
	return lastErr
}

// once makes one request; retry says whether a failure is worth retrying.
func (r *Registry) once(ctx context.Context, method, path string, body []byte, out any) (retry bool, err error) {
	op := method + " " + path
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "application/vnd.schemaregistry.v1+json, application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	}
	if r.cfg.Username != "" {
		req.SetBasicAuth(r.cfg.Username, r.cfg.Password.Reveal())
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return ctx.Err() == nil, fmt.Errorf("schema registry %s: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return true, fmt.Errorf("schema registry %s: read answer: %w", op, err)
	}
	if resp.StatusCode >= 300 {
		re := &RegistryError{Status: resp.StatusCode, Op: op, Message: http.StatusText(resp.StatusCode)}
		var e struct {
			Code    int    `json:"error_code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &e) == nil && e.Message != "" {
			re.Code, re.Message = e.Code, e.Message
		}
		return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests, re
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return false, fmt.Errorf("schema registry %s: unexpected answer %.200q: %w", op, data, err)
		}
	}
	return false, nil
}
