package config

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	env := map[string]string{"HOST": "db1", "EMPTY": "", "PW": "p$ss"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		in, want, err string
	}{
		{in: "plain", want: "plain"},
		{in: "${HOST}:5432", want: "db1:5432"},
		{in: "${MISSING:-fallback}", want: "fallback"},
		{in: "${EMPTY:-fallback}", want: "fallback"},
		{in: "x${EMPTY}y", want: "xy"},
		{in: "pa$word", want: "pa$word"},
		{in: "cost $$5", want: "cost $5"},
		{in: "${PW}", want: "p$ss"},
		{in: "trailing $", want: "trailing $"},
		{in: "${MISSING}", err: "environment variable MISSING is not set"},
		{in: "${HOST", err: `unterminated ${ in "${HOST"`},
		{in: "${9X}", err: `invalid environment variable name "9X"`},
	}
	for _, tt := range tests {
		got, err := Expand(tt.in, lookup)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("Expand(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestSecretRedacted(t *testing.T) {
	s := Secret("hunter2")
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("x", "pw", s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), b.String()} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret printed: %s", out)
		}
	}
	if s.Reveal() != "hunter2" {
		t.Errorf("Reveal = %q", s.Reveal())
	}
	if Secret("").String() != "" {
		t.Errorf("empty secret should print empty, so 'unset' stays visible")
	}
}

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"kind", "kind", 0}, {"kindd", "kind", 1}, {"severid", "server_id", 2}, {"", "abc", 3}} {
		if got := Distance(tt.a, tt.b); got != tt.d {
			t.Errorf("distance(%q,%q) = %d, want %d", tt.a, tt.b, got, tt.d)
		}
	}
}

func TestIndexLineFallsBackToParent(t *testing.T) {
	type inner struct {
		A int `yaml:"a"`
	}
	type outer struct {
		In  inner          `yaml:"in"`
		Map map[string]int `yaml:"map"`
	}
	var o outer
	ix, err := Decode("f.yaml", []byte("in:\n  a: 1\nmap:\n  x: 2\n"), Env{}, &o)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"in": 1, "in.a": 2, "in.b": 1, "map.x": 4, "map.y": 3, "nope": 0} {
		if got := ix.Line(path); got != want {
			t.Errorf("Line(%q) = %d, want %d", path, got, want)
		}
	}
	if o.In.A != 1 || o.Map["x"] != 2 {
		t.Errorf("decoded %+v", o)
	}
}

func TestDecodeExpandsTypedValues(t *testing.T) {
	var o struct {
		N int    `yaml:"n"`
		B bool   `yaml:"b"`
		S string `yaml:"s"`
	}
	env := Env{Lookup: func(k string) (string, bool) { return map[string]string{"N": "42", "B": "true"}[k], true }}
	if _, err := Decode("f.yaml", []byte("n: ${N}\nb: ${B}\ns: \"${N}\"\n"), env, &o); err != nil {
		t.Fatal(err)
	}
	if o.N != 42 || !o.B || o.S != "42" {
		t.Errorf("decoded %+v", o)
	}
}
