package schema

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/schema/entities"
)

func TestEntityEnvelopeSchemasParse(t *testing.T) {
	for _, e := range entities.Builtin() {
		if _, err := goavro.NewCodec(EntityEnvelopeSchema(e)); err != nil {
			t.Errorf("%s envelope: %v", e.Name, err)
		}
	}
}

func TestEntityEventRoundTrip(t *testing.T) {
	m := &memRegistry{}
	s, dec := newSerializer(t, m)
	ctx := context.Background()
	at := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC)
	tx := &capture.TxBegin{ID: "77", Position: lsn(0x1000), CommitTime: at}
	posts := &capture.Table{Schema: "shop", Name: "wp_posts", Version: 3}

	rec, err := s.Entity(ctx, tx, &EntityEvent{Entity: "product", Op: capture.OpInsert, Table: posts, Seq: 0,
		Values:  map[string]any{"sku": "MUG-1", "name": "Blue mug", "list_price": rat("19.99"), "status": "active", "updated_at": at},
		Changed: []string{"list_price", "name", "sku", "status", "updated_at"}})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Topic != "tandem.shop.product" {
		t.Errorf("topic %s", rec.Topic)
	}
	ev, _, err := dec.Decode(ctx, rec.Value)
	if err != nil {
		t.Fatal(err)
	}
	after := ev["after"].(map[string]any)
	if after["sku"] != "MUG-1" || after["name"] != "Blue mug" || after["list_price"].(interface{ FloatString(int) string }).FloatString(2) != "19.99" ||
		!after["updated_at"].(time.Time).Equal(at) || after["sale_price"] != nil {
		t.Errorf("after %v", after)
	}
	src := ev["source"].(map[string]any)
	if ev["op"] != "c" || ev["origin"] != "shop" || src["table"] != "wp_posts" || src["table_version"] != int32(3) || src["tx_id"] != "77" {
		t.Errorf("envelope %v", ev)
	}
	if !reflect.DeepEqual(ev["changed"], []any{"list_price", "name", "sku", "status", "updated_at"}) {
		t.Errorf("changed %v", ev["changed"])
	}
	key, _, err := dec.Decode(ctx, rec.Key)
	if err != nil || key["sku"] != "MUG-1" {
		t.Errorf("key %v %v", key, err)
	}

	// an order with its billing address, then one of its lines: both in the
	// order's topic, keyed by the order number
	order, err := s.Entity(ctx, tx, &EntityEvent{Entity: "order", Op: capture.OpInsert, Seq: 1,
		Values: map[string]any{"number": "42", "status": "processing", "total": rat("123.45"),
			"billing_address": map[string]any{"city": "Berlin", "country": "DE"}},
		Changed: []string{"billing_address", "number", "status", "total"}})
	if err != nil {
		t.Fatal(err)
	}
	line, err := s.Entity(ctx, tx, &EntityEvent{Entity: "order_line", Op: capture.OpInsert, Seq: 2,
		Values:  map[string]any{"order_number": "42", "line_no": int64(7), "sku": "MUG-1", "quantity": rat("2")},
		Changed: []string{"line_no", "order_number", "quantity", "sku"}})
	if err != nil {
		t.Fatal(err)
	}
	if order.Topic != "tandem.shop.order" || line.Topic != "tandem.shop.order" || string(order.Key) != string(line.Key) {
		t.Fatalf("order %s / line %s, keys equal %v", order.Topic, line.Topic, string(order.Key) == string(line.Key))
	}
	ev, _, err = dec.Decode(ctx, order.Value)
	if err != nil {
		t.Fatal(err)
	}
	if addr := ev["after"].(map[string]any)["billing_address"].(map[string]any); addr["city"] != "Berlin" || addr["postcode"] != nil {
		t.Errorf("billing address %v", addr)
	}
	ev, _, err = dec.Decode(ctx, line.Value)
	if err != nil {
		t.Fatal(err)
	}
	if a := ev["after"].(map[string]any); a["line_no"] != int64(7) || a["sku"] != "MUG-1" {
		t.Errorf("line %v", a)
	}
	for _, subject := range []string{"tandem.shop.order-key", "tandem.shop.order-tandem.entity.order.Envelope", "tandem.shop.order-tandem.entity.order_line.Envelope"} {
		if len(m.versions(subject)) != 1 {
			t.Errorf("subject %s has %d versions, want 1", subject, len(m.versions(subject)))
		}
	}
}

func TestEntityEventRefusesRounding(t *testing.T) {
	s, _ := newSerializer(t, &memRegistry{})
	tx := &capture.TxBegin{ID: "1", Position: lsn(1)}
	for name, vals := range map[string]map[string]any{
		"too many places": {"sku": "A", "list_price": rat("0.000000001")},
		"a float":         {"sku": "A", "list_price": 1.5},
		"no key":          {"name": "x"},
	} {
		_, err := s.Entity(context.Background(), tx, &EntityEvent{Entity: "product", Op: capture.OpUpdate, Values: vals})
		var ee *EncodeError
		if !errors.As(err, &ee) {
			t.Errorf("%s: err = %v, want an EncodeError", name, err)
		}
	}
	if _, err := s.Entity(context.Background(), tx, &EntityEvent{Entity: "produkt", Values: map[string]any{}}); err == nil {
		t.Errorf("an unknown entity was accepted")
	}
}
