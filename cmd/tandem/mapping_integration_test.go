//go:build integration

package main

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tandem-sync/tandem/internal/testenv"
)

// mysqlSystem is the systems entry of a MariaDB system of the local stack
// capturing tables, with a random server_id; extra goes under it.
func mysqlSystem(name string, tables []string, extra string) string {
	return fmt.Sprintf(`  %s:
    kind: mysql
    dsn: %q
    capture:
      server_id: %d
      heartbeat: 1s
      tables: [%s]
%s`, name, testenv.MySQLDSN(), 6000+rand.IntN(3000), strings.Join(tables, ", "), extra)
}

// entityEvents decodes the records of an entity topic, in partition and
// offset order.
func entityEvents(t *testing.T, topic string) ([]map[string]any, []kafka.Message) {
	t.Helper()
	msgs := testenv.ReadTopic(t, topic)
	slices.SortFunc(msgs, func(a, b kafka.Message) int {
		if a.Partition != b.Partition {
			return a.Partition - b.Partition
		}
		return int(a.Offset - b.Offset)
	})
	dec := decoder()
	out := make([]map[string]any, len(msgs))
	for i, m := range msgs {
		ev, _, err := dec.Decode(context.Background(), m.Value)
		if err != nil {
			t.Fatalf("%s offset %d: %v", topic, m.Offset, err)
		}
		out[i] = ev
	}
	return out, msgs
}

func decimalText(v any, scale int) string {
	r, ok := v.(*big.Rat)
	if !ok {
		return fmt.Sprintf("%v (%T)", v, v)
	}
	return r.FloatString(scale)
}

// TestIntegrationMappingWooCommerceProduct: a product written as a posts
// row plus postmeta rows in one transaction is one product event (and one
// stock_level event: stock is its own entity) with SKU, name and the exact
// price; a later change to _price alone is an event whose changed holds
// only the price, keyed by the SKU looked up on the source.
func TestIntegrationMappingWooCommerceProduct(t *testing.T) {
	db := myDB(t)
	system := uniqueSystem("woo")
	myMust(t, db, `DROP TABLE IF EXISTS tandem.mapit_posts, tandem.mapit_postmeta, tandem.mapit_ping`,
		`CREATE TABLE tandem.mapit_posts (ID BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, post_title TEXT NOT NULL,
			post_status VARCHAR(20) NOT NULL DEFAULT 'publish', post_type VARCHAR(20) NOT NULL DEFAULT 'post',
			post_modified_gmt DATETIME NOT NULL DEFAULT '2000-01-01 00:00:00')`,
		`CREATE TABLE tandem.mapit_postmeta (meta_id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, post_id BIGINT UNSIGNED NOT NULL,
			meta_key VARCHAR(255), meta_value LONGTEXT, KEY post_id (post_id))`,
		`CREATE TABLE tandem.mapit_ping (id INT PRIMARY KEY)`, `INSERT INTO tandem.mapit_ping VALUES (1)`)
	cfg := "systems:\n" + mysqlSystem(system, []string{"tandem.mapit_posts", "tandem.mapit_postmeta", "tandem.mapit_ping"}, "") + fmt.Sprintf(`    entities:
      product:
        table: tandem.mapit_posts
        id: ID
        where: {post_type: product}
        fields:
          name: post_title
          status: {column: post_status, map: {publish: active, draft: draft}}
          updated_at: {column: post_modified_gmt, timezone: UTC}
        meta:
          - table: tandem.mapit_postmeta
            owner: post_id
            key: meta_key
            value: meta_value
            fields:
              sku: _sku
              list_price: {key: _price, cast: decimal}
      stock_level:
        table: tandem.mapit_posts
        id: ID
        where: {post_type: product}
        fields:
          warehouse: {const: default}
        meta:
          - table: tandem.mapit_postmeta
            owner: post_id
            key: meta_key
            value: meta_value
            fields:
              sku: _sku
              quantity: {key: _stock, cast: decimal}
kafka:
  brokers: [%q]
  partitions: 3
schema_registry:
  url: %q
http:
  listen: ""
log:
  level: warn
`, testenv.KafkaBroker(), testenv.RegistryURL())
	stop := startRun(t, cfg)
	// the ping table is snapshotted last: once its row is out, the
	// snapshot is done and what follows is streamed
	waitRecords(t, "tandem."+system+".tandem.mapit_ping", 1, time.Minute)

	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`INSERT INTO tandem.mapit_posts (ID, post_title, post_type, post_modified_gmt) VALUES (101, 'Blue mug', 'product', '2024-02-29 13:14:15')`,
		`INSERT INTO tandem.mapit_postmeta (post_id, meta_key, meta_value) VALUES
			(101, '_sku', 'MUG-101'), (101, '_price', '19.99'), (101, '_stock', '12'), (101, '_edit_lock', '1709212455:1')`,
		`INSERT INTO tandem.mapit_posts (ID, post_title, post_type) VALUES (102, 'About us', 'page')`,
		`INSERT INTO tandem.mapit_postmeta (post_id, meta_key, meta_value) VALUES (102, '_price', '1')`,
	} {
		if _, err := tx.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	productTopic := "tandem." + system + ".product"
	waitRecords(t, productTopic, 1, time.Minute)
	myMust(t, db, `UPDATE tandem.mapit_postmeta SET meta_value = '24.50' WHERE post_id = 101 AND meta_key = '_price'`)
	waitRecords(t, productTopic, 2, time.Minute)
	time.Sleep(time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	evs, msgs := entityEvents(t, productTopic)
	if len(evs) != 2 {
		t.Fatalf("%d product events, want 2 (the insert and the price change): %v", len(evs), evs)
	}
	first, second := evs[0], evs[1]
	if msgs[0].Partition != msgs[1].Partition || string(msgs[0].Key) != string(msgs[1].Key) {
		t.Errorf("events of one product on partitions %d and %d", msgs[0].Partition, msgs[1].Partition)
	}
	after := first["after"].(map[string]any)
	if first["op"] != "c" || after["sku"] != "MUG-101" || after["name"] != "Blue mug" || after["status"] != "active" ||
		decimalText(after["list_price"], 8) != "19.99000000" {
		t.Errorf("product insert: op %v after %v", first["op"], after)
	}
	if ch := first["changed"].([]any); !slices.Contains(ch, any("sku")) || !slices.Contains(ch, any("list_price")) || !slices.Contains(ch, any("name")) {
		t.Errorf("insert changed %v", ch)
	}
	if first["origin"] != system || !strings.HasPrefix(first["event_id"].(string), system+":product:") {
		t.Errorf("origin %v event_id %v", first["origin"], first["event_id"])
	}
	after = second["after"].(map[string]any)
	if second["op"] != "u" || !slices.Equal(second["changed"].([]any), []any{"list_price"}) ||
		after["sku"] != "MUG-101" || decimalText(after["list_price"], 2) != "24.50" || after["name"] != nil {
		t.Errorf("price change: op %v changed %v after %v", second["op"], second["changed"], after)
	}
	if first["event_id"] == second["event_id"] {
		t.Errorf("two events share event_id %v", first["event_id"])
	}

	stock, _ := entityEvents(t, "tandem."+system+".stock_level")
	if len(stock) != 1 {
		t.Fatalf("%d stock_level events, want 1", len(stock))
	}
	if a := stock[0]["after"].(map[string]any); a["sku"] != "MUG-101" || a["warehouse"] != "default" || decimalText(a["quantity"], 0) != "12" {
		t.Errorf("stock_level %v", a)
	}
	// mapped tables publish entity events, not raw rows
	if n := testenv.TopicSize(t, "tandem."+system+".tandem.mapit_postmeta"); n > 0 {
		t.Errorf("the mapped postmeta table has %d raw records", n)
	}
}

// TestIntegrationMappingOdooOrderWithLines: a sale_order with its lines,
// written in one transaction, is an order event and order_line events, all
// on one partition of the order topic, in commit order, with the customer
// and product references resolved to email and SKU.
func TestIntegrationMappingOdooOrderWithLines(t *testing.T) {
	conn := pgConn(t)
	system := uniqueSystem("odoo")
	cleanupSystem(t, conn, system)
	mustExec(t, conn, `DROP TABLE IF EXISTS mapit_order_line, mapit_order, mapit_partner, mapit_product`,
		`CREATE TABLE mapit_partner (id serial PRIMARY KEY, name text, email text, type text NOT NULL DEFAULT 'contact')`,
		`CREATE TABLE mapit_product (id serial PRIMARY KEY, default_code text, name jsonb)`,
		`CREATE TABLE mapit_order (id serial PRIMARY KEY, client_order_ref text, partner_id int REFERENCES mapit_partner,
			state text NOT NULL DEFAULT 'draft', amount_total numeric(16,2), date_order timestamp)`,
		`CREATE TABLE mapit_order_line (id serial PRIMARY KEY, order_id int NOT NULL REFERENCES mapit_order, sequence int,
			product_id int REFERENCES mapit_product, name text, product_uom_qty numeric(16,3), price_unit numeric(16,4))`,
		// with the default replica identity an update carries no old row,
		// so every column counts as changed; FULL makes changed exact
		`ALTER TABLE mapit_order_line REPLICA IDENTITY FULL`,
		`INSERT INTO mapit_partner (id, name, email) VALUES (7, 'Ann Lee', 'ann@example.com')`,
		`INSERT INTO mapit_product (id, default_code, name) VALUES (1, 'MUG-1', '{"en_US": "Mug"}'), (2, 'TEA-9', '{"en_US": "Tea"}')`)
	cfg := fmt.Sprintf(`systems:
  %s:
    kind: postgres
    dsn: %q
    capture:
      heartbeat: 1s
    entities:
      customer:
        table: public.mapit_partner
        id: id
        where: {type: contact}
        fields:
          email: email
          last_name: name
      product:
        table: public.mapit_product
        id: id
        fields:
          sku: default_code
          name: {column: name, json: en_US}
      order:
        table: public.mapit_order
        id: id
        fields:
          number: client_order_ref
          customer_email: {column: partner_id, ref: customer}
          status: {column: state, map: {draft: pending, sale: processing, done: completed, cancel: cancelled}}
          total: amount_total
          created_at: {column: date_order, timezone: UTC}
      order_line:
        table: public.mapit_order_line
        id: id
        parent: {column: order_id, entity: order}
        fields:
          line_no: sequence
          sku: {column: product_id, ref: product}
          name: name
          quantity: product_uom_qty
          unit_price: price_unit
kafka:
  brokers: [%q]
  partitions: 3
schema_registry:
  url: %q
http:
  listen: ""
log:
  level: warn
`, system, testenv.PostgresDSN(), testenv.KafkaBroker(), testenv.RegistryURL())
	stop := startRun(t, cfg)
	waitStreaming(t, conn, system)
	mustExec(t, conn, `BEGIN`,
		`INSERT INTO mapit_order (id, client_order_ref, partner_id, state, amount_total, date_order) VALUES (500, 'SO-500', 7, 'sale', 27.49, '2024-03-01 09:30:00')`,
		`INSERT INTO mapit_order_line (order_id, sequence, product_id, name, product_uom_qty, price_unit) VALUES
			(500, 10, 1, 'Mug', 2, 9.9950), (500, 20, 2, 'Tea', 1.5, 5.0000)`,
		`COMMIT`)
	// a later change to one line is keyed by its order's number, looked up
	mustExec(t, conn, `UPDATE mapit_order_line SET product_uom_qty = 3 WHERE order_id = 500 AND sequence = 10`)
	topic := "tandem." + system + ".order"
	waitRecords(t, topic, 4, time.Minute)
	time.Sleep(time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	evs, msgs := entityEvents(t, topic)
	if len(evs) != 4 {
		t.Fatalf("%d events on %s, want 4: %v", len(evs), topic, evs)
	}
	var orders []string
	for i, ev := range evs {
		if msgs[i].Partition != msgs[0].Partition {
			t.Errorf("event %d on partition %d, the order on %d", i, msgs[i].Partition, msgs[0].Partition)
		}
		orders = append(orders, ev["source"].(map[string]any)["order"].(string))
	}
	if !slices.IsSorted(orders) {
		t.Errorf("events not in commit order: %v", orders)
	}
	o := evs[0]["after"].(map[string]any)
	if evs[0]["op"] != "c" || o["number"] != "SO-500" || o["customer_email"] != "ann@example.com" || o["status"] != "processing" ||
		decimalText(o["total"], 2) != "27.49" {
		t.Errorf("order event: op %v %v", evs[0]["op"], o)
	}
	for i, want := range []struct {
		sku, qty, price string
		line            int64
	}{{"MUG-1", "2.000", "9.9950", 10}, {"TEA-9", "1.500", "5.0000", 20}} {
		l := evs[i+1]["after"].(map[string]any)
		if evs[i+1]["op"] != "c" || l["order_number"] != "SO-500" || l["line_no"] != want.line || l["sku"] != want.sku ||
			decimalText(l["quantity"], 3) != want.qty || decimalText(l["unit_price"], 4) != want.price {
			t.Errorf("line %d: op %v %v", i, evs[i+1]["op"], l)
		}
	}
	upd := evs[3]
	if l := upd["after"].(map[string]any); upd["op"] != "u" || !slices.Equal(upd["changed"].([]any), []any{"quantity"}) ||
		l["order_number"] != "SO-500" || l["line_no"] != int64(10) || decimalText(l["quantity"], 0) != "3" {
		t.Errorf("line update: op %v changed %v after %v", upd["op"], upd["changed"], l)
	}
	if string(msgs[0].Key) != string(msgs[3].Key) {
		t.Errorf("the line's key differs from its order's")
	}
}
