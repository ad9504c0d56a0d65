//go:build integration

package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tandem-sync/tandem/internal/testenv"
)

// TestIntegrationSinkIntoEAV: products flow from an Odoo-style table (name
// in a jsonb translation) into WooCommerce-style posts and postmeta. A new
// product is a posts row with the mapping's filter (post_type = product)
// plus one meta row per field; a price change rewrites that one meta row;
// a delete is soft (post_status = trash), as the mapping says.
func TestIntegrationSinkIntoEAV(t *testing.T) {
	shop, erp := uniqueSystem("eshop"), uniqueSystem("eerp")
	my, pg := myDB(t), pgConn(t)
	cleanupSystem(t, pg, erp)
	myMust(t, my, `DROP TABLE IF EXISTS tandem.eav_posts, tandem.eav_postmeta, tandem.eav_audit`,
		`CREATE TABLE tandem.eav_posts (ID BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, post_title TEXT NOT NULL DEFAULT '',
			post_status VARCHAR(20) NOT NULL DEFAULT 'publish', post_type VARCHAR(20) NOT NULL DEFAULT 'post')`,
		`CREATE TABLE tandem.eav_postmeta (meta_id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, post_id BIGINT UNSIGNED NOT NULL,
			meta_key VARCHAR(255), meta_value LONGTEXT, KEY post_id (post_id))`,
		`CREATE TABLE tandem.eav_audit (id BIGINT AUTO_INCREMENT PRIMARY KEY, op VARCHAR(10), meta_key VARCHAR(255), meta_value LONGTEXT)`,
		`CREATE TRIGGER tandem.eav_audit_ins AFTER INSERT ON tandem.eav_postmeta FOR EACH ROW INSERT INTO tandem.eav_audit (op, meta_key, meta_value) VALUES ('insert', NEW.meta_key, NEW.meta_value)`,
		`CREATE TRIGGER tandem.eav_audit_upd AFTER UPDATE ON tandem.eav_postmeta FOR EACH ROW INSERT INTO tandem.eav_audit (op, meta_key, meta_value) VALUES ('update', NEW.meta_key, NEW.meta_value)`)
	mustExec(t, pg, `DROP TABLE IF EXISTS eav_product`,
		`CREATE TABLE eav_product (id serial PRIMARY KEY, default_code text, name jsonb, list_price numeric(12,2), active bool NOT NULL DEFAULT true)`,
		`ALTER TABLE eav_product REPLICA IDENTITY FULL`)
	cfg := "systems:\n" + mysqlSystem(shop, nil, "") + `    entities:
      product:
        table: tandem.eav_posts
        id: ID
        where: {post_type: product}
        delete: soft:post_status=trash
        fields:
          name: post_title
          status: {column: post_status, map: {publish: active, private: inactive, trash: archived}}
        meta:
          - table: tandem.eav_postmeta
            owner: post_id
            key: meta_key
            value: meta_value
            fields:
              sku: _sku
              list_price: {key: _regular_price, cast: decimal}
` + pgSystem(erp, "") + `    entities:
      product:
        table: public.eav_product
        id: id
        fields:
          sku: default_code
          name: {column: name, json: en_US}
          list_price: list_price
          status: {column: active, cast: string, map: {"true": active, "false": inactive}}
` + fmt.Sprintf("ownership: {product: {owner: %[2]s}}\nflows: [{entity: product, from: %[2]s, to: %[1]s}]\n", shop, erp) + stackTail()
	stop := startRun(t, cfg)
	waitStreaming(t, pg, erp)

	mustExec(t, pg, `INSERT INTO eav_product (default_code, name, list_price) VALUES ('MUG-7', '{"en_US": "Blue mug", "de_DE": "Blaue Tasse"}', 19.99)`)
	post := `SELECT CONCAT(p.post_title, '|', p.post_status, '|', p.post_type, '|', COALESCE(s.meta_value, ''), '|', COALESCE(r.meta_value, ''))
		FROM tandem.eav_posts p LEFT JOIN tandem.eav_postmeta s ON s.post_id = p.ID AND s.meta_key = '_sku'
		LEFT JOIN tandem.eav_postmeta r ON r.post_id = p.ID AND r.meta_key = '_regular_price'`
	waitUntil(t, "the product reached the shop", time.Minute, func() bool { return myString(t, my, post) != "" })
	if got := myString(t, my, post); got != "Blue mug|publish|product|MUG-7|19.99" {
		t.Errorf("shop product %q", got)
	}
	mustExec(t, pg, `UPDATE eav_product SET list_price = 24.50 WHERE default_code = 'MUG-7'`)
	waitUntil(t, "the price reached the shop", time.Minute, func() bool { return myString(t, my, post) == "Blue mug|publish|product|MUG-7|24.5" })
	if got := myString(t, my, `SELECT GROUP_CONCAT(CONCAT(op, ' ', meta_key, '=', meta_value) ORDER BY id SEPARATOR ', ') FROM tandem.eav_audit`); got != "insert _sku=MUG-7, insert _regular_price=19.99, update _regular_price=24.5" &&
		got != "insert _regular_price=19.99, insert _sku=MUG-7, update _regular_price=24.5" {
		t.Errorf("meta writes %q: the price change must rewrite one meta row", got)
	}
	mustExec(t, pg, `UPDATE eav_product SET name = jsonb_set(name, '{en_US}', '"Big blue mug"') WHERE default_code = 'MUG-7'`)
	waitUntil(t, "the name reached the shop", time.Minute, func() bool { return myString(t, my, post) == "Big blue mug|publish|product|MUG-7|24.5" })
	mustExec(t, pg, `DELETE FROM eav_product WHERE default_code = 'MUG-7'`)
	waitUntil(t, "the delete reached the shop", time.Minute, func() bool { return myString(t, my, post) == "Big blue mug|trash|product|MUG-7|24.5" })
	if n := myString(t, my, `SELECT COUNT(*) FROM tandem.eav_posts`); n != "1" {
		t.Errorf("%s posts: the product must be marked, not removed or duplicated", n)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationSinkSharedRows: an order's currency is a shared row the
// ERP's order points at (Odoo res_currency): the sink points the order at
// the matching row, never renames or adds currencies, and dead-letters an
// order in a currency the ERP does not have, after reference_wait.
func TestIntegrationSinkSharedRows(t *testing.T) {
	shop, erp := uniqueSystem("xshop"), uniqueSystem("xerp")
	my, pg := myDB(t), pgConn(t)
	cleanupSystem(t, pg, erp)
	cleanupOrigins(t, erp)
	myMust(t, my, `DROP TABLE IF EXISTS tandem.sx_order`, `CREATE TABLE tandem.sx_order (id BIGINT PRIMARY KEY, currency CHAR(3))`)
	mustExec(t, pg, `DROP TABLE IF EXISTS sx_sale_order, sx_currency`,
		`CREATE TABLE sx_currency (id serial PRIMARY KEY, name text UNIQUE)`, `INSERT INTO sx_currency (name) VALUES ('EUR'), ('USD')`,
		`CREATE TABLE sx_sale_order (id serial PRIMARY KEY, client_order_ref text, currency_id int REFERENCES sx_currency)`)
	cfg := "systems:\n" + mysqlSystem(shop, nil, "") + `    entities:
      order:
        table: tandem.sx_order
        id: id
        fields:
          number: {column: id, cast: string}
          currency: currency
` + pgSystem(erp, "    sink: {reference_wait: 2s}\n") + `    entities:
      order:
        table: public.sx_sale_order
        id: id
        fields:
          number: client_order_ref
        joins:
          - table: public.sx_currency
            owner: id
            via: currency_id
            shared: true
            fields: {currency: name}
` + fmt.Sprintf("ownership: {order: {owner: %[1]s}}\nflows: [{entity: order, from: %[1]s, to: %[2]s}]\n", shop, erp) + stackTail()
	stop := startRun(t, cfg)
	waitStreaming(t, pg, erp)
	myMust(t, my, `INSERT INTO tandem.sx_order VALUES (1, 'EUR')`)
	q := `SELECT o.client_order_ref || '|' || c.name FROM sx_sale_order o JOIN sx_currency c ON c.id = o.currency_id`
	waitUntil(t, "the order reached the ERP", time.Minute, func() bool { return pgString(t, pg, q) == "1|EUR" })
	myMust(t, my, `UPDATE tandem.sx_order SET currency = 'USD' WHERE id = 1`)
	waitUntil(t, "the currency change reached the ERP", time.Minute, func() bool { return pgString(t, pg, q) == "1|USD" })
	if got := pgString(t, pg, `SELECT string_agg(name, ',' ORDER BY id) FROM sx_currency`); got != "EUR,USD" {
		t.Errorf("currencies %q: the shared rows must not change", got)
	}
	myMust(t, my, `INSERT INTO tandem.sx_order VALUES (2, 'XXX')`)
	dlq := "tandem." + erp + ".dlq"
	waitRecords(t, dlq, 1, time.Minute)
	for _, h := range testenv.ReadTopic(t, dlq)[0].Headers {
		if h.Key == "tandem.reason" && !strings.Contains(string(h.Value), "public.sx_currency name=XXX does not exist") {
			t.Errorf("reason %q", h.Value)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
