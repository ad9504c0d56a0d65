//go:build integration

package schema

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/internal/testenv"
)

// TestIntegrationEntityEventsInTheRealRegistry registers every entity's
// envelope in the real registry and decodes an order line with the schema
// fetched by id.
func TestIntegrationEntityEventsInTheRealRegistry(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultRegistry()
	cfg.URL = testenv.RegistryURL()
	system := fmt.Sprintf("ent%d", time.Now().UnixNano()%1e9)
	s, err := NewSerializer(NewRegistry(cfg), SerializerOptions{System: system, Connector: "mysql", Database: "shop", TopicPrefix: "tandem"})
	if err != nil {
		t.Fatal(err)
	}
	tx := &capture.TxBegin{ID: "1", Position: lsn(42), CommitTime: time.Now()}
	rec, err := s.Entity(ctx, tx, &EntityEvent{Entity: "order_line", Op: capture.OpInsert,
		Values:  map[string]any{"order_number": "42", "line_no": int64(1), "sku": "MUG-1", "unit_price": rat("9.99"), "quantity": rat("2")},
		Changed: []string{"line_no", "order_number", "quantity", "sku", "unit_price"}})
	if err != nil {
		t.Fatalf("encode through the real registry: %v", err)
	}
	ev, _, err := NewDecoder(NewRegistry(cfg)).Decode(ctx, rec.Value)
	if err != nil {
		t.Fatal(err)
	}
	after := ev["after"].(map[string]any)
	if after["sku"] != "MUG-1" || after["unit_price"].(interface{ FloatString(int) string }).FloatString(2) != "9.99" {
		t.Errorf("decoded %v", after)
	}
}
