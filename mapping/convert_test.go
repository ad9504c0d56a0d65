package mapping

import (
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/tandem-sync/tandem/capture"
)

func str(s string) *string { return &s }

func TestRead(t *testing.T) {
	rat := func(s string) *big.Rat { r, _ := new(big.Rat).SetString(s); return r }
	ts := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	dec, text, boolean, timestamp, long, date := FieldInfo{Type: "decimal"}, FieldInfo{Type: "string"}, FieldInfo{Type: "boolean"}, FieldInfo{Type: "timestamp"}, FieldInfo{Type: "long"}, FieldInfo{Type: "date"}
	status := FieldInfo{Type: "string", Values: []string{"active", "draft"}}
	tests := []struct {
		name   string
		fi     FieldInfo
		spec   FieldSpec
		stored any
		want   any
		err    string
	}{
		{"postmeta price text to decimal", dec, FieldSpec{Key: "_price", Cast: "decimal"}, "19.99", rat("19.99"), ""},
		{"decimal(26,8) kept exactly", dec, FieldSpec{Column: "total_amount"}, rat("12345678901234567.12345678"), rat("12345678901234567.12345678"), ""},
		{"empty sale price is no price", dec, FieldSpec{Key: "_sale_price", Cast: "decimal"}, "", nil, ""},
		{"not a number", dec, FieldSpec{Key: "_price", Cast: "decimal"}, "cheap", nil, "is not a decimal number"},
		{"exponent refused", dec, FieldSpec{Key: "_price", Cast: "decimal"}, "1e3", nil, "is not a decimal number"},
		{"float refused for money", dec, FieldSpec{Column: "stock_quantity"}, float64(1.5), nil, "holds money inexactly"},
		{"int to decimal", dec, FieldSpec{Column: "qty"}, int64(3), rat("3"), ""},
		{"yes/no to boolean", boolean, FieldSpec{Key: "_manage_stock", Cast: "boolean"}, "yes", true, ""},
		{"tinyint to boolean", boolean, FieldSpec{Column: "prices_include_tax"}, int64(0), false, ""},
		{"not a yes/no", boolean, FieldSpec{Key: "_x", Cast: "boolean"}, "maybe", nil, "is not a yes/no value"},
		{"value map", status, FieldSpec{Column: "post_status", Map: map[string]string{"publish": "active", "draft": "draft"}}, "publish", "active", ""},
		{"value not in the map", status, FieldSpec{Column: "post_status", Map: map[string]string{"publish": "active"}}, "pending", nil, "not in the value map (publish)"},
		{"bool through a map", status, FieldSpec{Column: "active", Map: map[string]string{"true": "active", "false": "draft"}}, false, "draft", ""},
		{"json path", text, FieldSpec{Column: "name", JSON: "en_US"}, `{"en_US": "Blue mug", "de_DE": "Blaue Tasse"}`, "Blue mug", ""},
		{"json path absent", text, FieldSpec{Column: "name", JSON: "fr_FR"}, `{"en_US": "Blue mug"}`, nil, ""},
		{"json not json", text, FieldSpec{Column: "name", JSON: "en_US"}, `Blue mug`, nil, "is not JSON"},
		{"const", text, FieldSpec{Const: str("regular")}, nil, "regular", ""},
		{"default for NULL", text, FieldSpec{Column: "c", Default: str("none")}, nil, "none", ""},
		{"NULL stays NULL", text, FieldSpec{Column: "c"}, nil, nil, ""},
		{"unchanged passes", dec, FieldSpec{Column: "c"}, capture.Unchanged, capture.Unchanged, ""},
		{"wall clock in a zone", timestamp, FieldSpec{Column: "date_order", Timezone: "Europe/Berlin"}, ts("2024-07-01T12:00:00Z"), ts("2024-07-01T10:00:00Z"), ""},
		{"text timestamp", timestamp, FieldSpec{Key: "_date_shipped", Cast: "timestamp"}, "2024-02-29 13:14:15", ts("2024-02-29T13:14:15Z"), ""},
		{"unix seconds", timestamp, FieldSpec{Key: "_date_paid", Cast: "timestamp"}, "1709212455", ts("2024-02-29T13:14:15Z"), ""},
		{"timestamp to date", date, FieldSpec{Column: "invoice_date"}, ts("2024-02-29T23:59:59Z"), ts("2024-02-29T00:00:00Z"), ""},
		{"id to string", text, FieldSpec{Column: "id", Cast: "string"}, int64(1042), "1042", ""},
		{"text to long", long, FieldSpec{Key: "_qty", Cast: "long"}, " 7 ", int64(7), ""},
		{"uint64 too big for long", long, FieldSpec{Column: "id"}, uint64(1<<63 + 5), nil, "does not fit a long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Read("f", tt.fi, tt.spec, tt.stored)
			if tt.err != "" {
				var ve *ValueError
				if !errors.As(err, &ve) || !strings.Contains(err.Error(), tt.err) || ve.Field != "f" {
					t.Fatalf("err = %v, want a ValueError containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !capture.Equal(got, tt.want) && !(capture.IsUnchanged(got) && capture.IsUnchanged(tt.want)) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

// TestWriteReversesRead: what Read produced, Write stores back as it was.
func TestWriteReversesRead(t *testing.T) {
	rat := func(s string) *big.Rat { r, _ := new(big.Rat).SetString(s); return r }
	ts := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	tests := []struct {
		name   string
		fi     FieldInfo
		spec   FieldSpec
		meta   bool
		stored any
	}{
		{"meta decimal", FieldInfo{Type: "decimal"}, FieldSpec{Key: "_price", Cast: "decimal"}, true, "19.99"},
		{"meta decimal, no trailing zeros lost", FieldInfo{Type: "decimal"}, FieldSpec{Key: "_price", Cast: "decimal"}, true, "0.00000001"},
		{"column decimal", FieldInfo{Type: "decimal"}, FieldSpec{Column: "amount"}, false, rat("-5.25")},
		{"value map", FieldInfo{Type: "string"}, FieldSpec{Column: "status", Map: map[string]string{"wc-processing": "processing", "wc-completed": "completed"}}, false, "wc-completed"},
		{"zone", FieldInfo{Type: "timestamp"}, FieldSpec{Column: "date_order", Timezone: "America/New_York"}, false, ts("2024-01-15T09:30:00Z")},
		{"meta boolean", FieldInfo{Type: "boolean"}, FieldSpec{Key: "_flag", Cast: "boolean"}, true, "true"},
		{"WooCommerce yes/no", FieldInfo{Type: "boolean"}, FieldSpec{Key: "_manage_stock", Map: map[string]string{"yes": "true", "no": "false"}}, true, "yes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			canon, err := Read("f", tt.fi, tt.spec, tt.stored)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Write("f", tt.fi, tt.spec, canon, tt.meta)
			if err != nil {
				t.Fatal(err)
			}
			if !capture.Equal(back, tt.stored) {
				t.Errorf("stored %#v -> %#v -> %#v", tt.stored, canon, back)
			}
		})
	}
	if _, err := Write("status", FieldInfo{Type: "string"}, FieldSpec{Map: map[string]string{"a": "x"}}, "y", false); err == nil ||
		!strings.Contains(err.Error(), "no stored value maps to it") {
		t.Errorf("unmapped canonical value: %v", err)
	}
	if v, _ := Write("list", FieldInfo{Type: "string"}, FieldSpec{Const: str("regular")}, "anything", false); v != "regular" {
		t.Errorf("const writes its constant, got %v", v)
	}
}

// TestWriteDateIntoText: a date written to a meta value (or through a
// cast) is stored as a date, not as a midnight timestamp.
func TestWriteDateIntoText(t *testing.T) {
	d := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	got, err := Write("issue_date", FieldInfo{Type: "date"}, FieldSpec{Key: "_invoice_date", Cast: "date"}, d, true)
	if err != nil || got != "2026-11-30" {
		t.Errorf("meta date: %#v, %v", got, err)
	}
	ts := time.Date(2026, 11, 30, 8, 1, 2, 0, time.UTC)
	if got, _ := Write("shipped_at", FieldInfo{Type: "timestamp"}, FieldSpec{Key: "_date_shipped", Cast: "timestamp"}, ts, true); got != "2026-11-30 08:01:02" {
		t.Errorf("meta timestamp: %#v", got)
	}
}
