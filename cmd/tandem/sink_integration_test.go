//go:build integration

package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/internal/testenv"
	sinkpg "github.com/tandem-sync/tandem/sink/postgres"
)

// syncPair is a shop on MariaDB and an ERP on PostgreSQL, kept in step by
// one in-process tandem run: customers and orders go shop -> ERP, order
// status comes back.
type syncPair struct {
	shop, erp string // system names (unique per test: topics and consumer groups)
	my        *sql.DB
	pg        *pgx.Conn
	stop      func() error
}

const pairMapping = `    entities:
      customer:
        table: %[1]s
        id: %[2]s
        %[3]s
        fields:
          email: email
          last_name: %[4]s
      order:
        table: %[5]s
        id: id
        %[6]s
        fields:
          number: %[7]s
          customer_email: %[8]s
          status: {column: %[9]s, map: {%[10]s}}
          total: %[11]s
          currency: currency
`

func startPair(t *testing.T) *syncPair {
	t.Helper()
	p := &syncPair{shop: uniqueSystem("shop"), erp: uniqueSystem("erp"), my: myDB(t), pg: pgConn(t)}
	cleanupSystem(t, p.pg, p.erp)
	t.Cleanup(func() { // after the run stops (cleanups run last first)
		if err := sinkpg.DropOrigins(context.Background(), config.Secret(testenv.PostgresDSN()), p.erp); err != nil {
			t.Errorf("drop the sink's replication origins: %v", err)
		}
	})
	myMust(t, p.my, `DROP TABLE IF EXISTS tandem.sk_customer, tandem.sk_order, tandem.sk_ping`,
		`CREATE TABLE tandem.sk_customer (customer_id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(100) NOT NULL, last_name VARCHAR(100))`,
		`CREATE TABLE tandem.sk_order (id BIGINT PRIMARY KEY, billing_email VARCHAR(100), status VARCHAR(20) NOT NULL DEFAULT 'wc-pending',
			total_amount DECIMAL(26,8), currency CHAR(3))`,
		`CREATE TABLE tandem.sk_ping (id INT PRIMARY KEY)`, `INSERT INTO tandem.sk_ping VALUES (1)`)
	mustExec(t, p.pg, `DROP TABLE IF EXISTS sk_sale_order, sk_partner`,
		`CREATE TABLE sk_partner (id serial PRIMARY KEY, email varchar(40), name text, type text NOT NULL DEFAULT 'contact')`,
		`CREATE TABLE sk_sale_order (id serial PRIMARY KEY, client_order_ref text, partner_id int REFERENCES sk_partner,
			state text NOT NULL DEFAULT 'draft', amount_total numeric(16,2), currency text)`,
		`ALTER TABLE sk_sale_order REPLICA IDENTITY FULL`)
	shopEntities := fmt.Sprintf(pairMapping, "tandem.sk_customer", "customer_id", "", "last_name",
		"tandem.sk_order", "create: false", "{column: id, cast: string}", "billing_email", "status",
		"wc-pending: pending, wc-processing: processing, wc-completed: completed", "total_amount")
	erpEntities := fmt.Sprintf(pairMapping, "public.sk_partner", "id", "where: {type: contact}", "name",
		"public.sk_sale_order", "", "client_order_ref", "{column: partner_id, ref: customer}", "state",
		"draft: pending, sale: processing, done: completed", "amount_total")
	cfg := "systems:\n" + mysqlSystem(p.shop, []string{"tandem.sk_ping"}, "    sink: {reference_wait: 20s}\n") + shopEntities + fmt.Sprintf(`  %s:
    kind: postgres
    dsn: %q
    capture:
      heartbeat: 1s
`, p.erp, testenv.PostgresDSN()) + erpEntities + fmt.Sprintf(`ownership:
  customer: {owner: %[1]s}
  order: {owner: %[1]s, fields: {status: %[2]s}}
flows:
  - {entity: customer, from: %[1]s, to: %[2]s}
  - {entity: order, from: %[1]s, to: %[2]s}
  - {entity: order, from: %[2]s, to: %[1]s, fields: [status]}
kafka:
  brokers: [%[3]q]
  partitions: 3
schema_registry:
  url: %[4]q
http:
  listen: ""
log:
  level: warn
`, p.shop, p.erp, testenv.KafkaBroker(), testenv.RegistryURL())
	p.stop = startRun(t, cfg)
	waitStreaming(t, p.pg, p.erp)
	waitRecords(t, "tandem."+p.shop+".tandem.sk_ping", 1, time.Minute)
	return p
}

// waitUntil polls cond until it holds, failing the test after within.
func waitUntil(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func pgString(t *testing.T, conn *pgx.Conn, q string, args ...any) string {
	t.Helper()
	var s *string
	err := conn.QueryRow(context.Background(), q, args...).Scan(&s)
	if err == pgx.ErrNoRows || s == nil {
		return ""
	}
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return *s
}

func myString(t *testing.T, db *sql.DB, q string, args ...any) string {
	t.Helper()
	var s sql.NullString
	err := db.QueryRow(q, args...).Scan(&s)
	if err == sql.ErrNoRows {
		return ""
	}
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s.String
}

// TestIntegrationSinkOrderBeforeCustomerAndStatusBack: an order that
// arrives before its customer waits and is applied once the customer
// arrives; the ERP's status change comes back to the shop; nothing loops.
func TestIntegrationSinkOrderBeforeCustomerAndStatusBack(t *testing.T) {
	p := startPair(t)
	myMust(t, p.my, `INSERT INTO tandem.sk_order (id, billing_email, status, total_amount, currency) VALUES (1001, 'ann@example.com', 'wc-processing', 123.45, 'EUR')`)
	waitRecords(t, "tandem."+p.shop+".order", 1, time.Minute)
	time.Sleep(2 * time.Second)
	if got := pgString(t, p.pg, `SELECT count(*)::text FROM sk_sale_order`); got != "0" {
		t.Fatalf("the order was applied before its customer existed (%s rows)", got)
	}
	myMust(t, p.my, `INSERT INTO tandem.sk_customer (email, last_name) VALUES ('ann@example.com', 'Lee')`)
	q := `SELECT p.email || '|' || p.name || '|' || o.state || '|' || o.amount_total::text || '|' || o.currency
		FROM sk_sale_order o JOIN sk_partner p ON p.id = o.partner_id WHERE o.client_order_ref = '1001'`
	waitUntil(t, "the order reached the ERP", time.Minute, func() bool { return pgString(t, p.pg, q) != "" })
	if got := pgString(t, p.pg, q); got != "ann@example.com|Lee|draft|123.45|EUR" {
		t.Errorf("ERP order %q; want the customer resolved, the ERP's own state kept, the exact total", got)
	}
	// the ERP owns the status: its change comes back
	mustExec(t, p.pg, `UPDATE sk_sale_order SET state = 'done' WHERE client_order_ref = '1001'`)
	waitUntil(t, "the status came back to the shop", time.Minute, func() bool {
		return myString(t, p.my, `SELECT status FROM tandem.sk_order WHERE id = 1001`) == "wc-completed"
	})
	// no loops: what the sinks wrote was not captured again
	topics := []string{"tandem." + p.shop + ".order", "tandem." + p.erp + ".order", "tandem." + p.shop + ".customer", "tandem." + p.erp + ".customer"}
	sizes := func() []int64 {
		out := make([]int64, len(topics))
		for i, tp := range topics {
			out[i] = max(testenv.TopicSize(t, tp), 0)
		}
		return out
	}
	time.Sleep(3 * time.Second)
	before := sizes()
	time.Sleep(10 * time.Second)
	after := sizes()
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("events kept coming after quiescence: %v -> %v (%v)", before, after, topics)
	}
	if want := []int64{1, 1, 1, 0}; fmt.Sprint(after) != fmt.Sprint(want) {
		t.Errorf("events %v, want %v: the sinks' own writes must not be captured", after, want)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationSinkPoisonAndConflict: a customer the ERP refuses (its
// email is too long for the column) goes to the dead-letter topic with the
// reason while the rest of its batch is applied; a shop change to the
// ERP-owned status is a conflict, logged with both values, and the ERP
// keeps its value.
func TestIntegrationSinkPoisonAndConflict(t *testing.T) {
	p := startPair(t)
	long := strings.Repeat("x", 50) + "@example.com"
	tx, err := p.my.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"bob@example.com", long, "cy@example.com"} {
		if _, err := tx.Exec(`INSERT INTO tandem.sk_customer (email, last_name) VALUES (?, 'Poison test')`, email); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	count := `SELECT count(*)::text FROM sk_partner WHERE name = 'Poison test'`
	waitUntil(t, "the good customers reached the ERP", time.Minute, func() bool { return pgString(t, p.pg, count) == "2" })
	dlq := "tandem." + p.erp + ".dlq"
	waitRecords(t, dlq, 1, time.Minute)
	msgs := testenv.ReadTopic(t, dlq)
	if len(msgs) != 1 {
		t.Fatalf("%d dead letters, want 1", len(msgs))
	}
	headers := map[string]string{}
	for _, h := range msgs[0].Headers {
		headers[h.Key] = string(h.Value)
	}
	if !strings.Contains(headers["tandem.reason"], "the target refused it") || !strings.Contains(headers["tandem.reason"], "too long") ||
		headers["tandem.topic"] != "tandem."+p.shop+".customer" || headers["tandem.stage"] != "sink" {
		t.Errorf("dead letter headers %v", headers)
	}
	ev, _, err := decoder().Decode(context.Background(), msgs[0].Value)
	if err != nil || ev["after"].(map[string]any)["email"] != long {
		t.Errorf("the dead letter is not the original event: %v %v", ev, err)
	}

	// a conflict: the shop changes the status the ERP owns
	myMust(t, p.my, `INSERT INTO tandem.sk_customer (email, last_name) VALUES ('dee@example.com', 'Dee')`,
		`INSERT INTO tandem.sk_order (id, billing_email, status, total_amount, currency) VALUES (2002, 'dee@example.com', 'wc-pending', 10, 'EUR')`)
	waitUntil(t, "the order reached the ERP", time.Minute, func() bool {
		return pgString(t, p.pg, `SELECT state FROM sk_sale_order WHERE client_order_ref = '2002'`) == "draft"
	})
	myMust(t, p.my, `UPDATE tandem.sk_order SET status = 'wc-completed' WHERE id = 2002`)
	var found map[string]any
	waitUntil(t, "a conflict on the conflicts topic", time.Minute, func() bool {
		for _, m := range testenv.ReadTopic(t, "tandem.conflicts") {
			var c map[string]any
			if json.Unmarshal(m.Value, &c) == nil && c["sink"] == p.erp && c["field"] == "status" {
				found = c
				return true
			}
		}
		return false
	})
	src, _ := found["source"].(map[string]any)
	dst, _ := found["target"].(map[string]any)
	if src["value"] != "completed" || dst["value"] != "pending" || !strings.Contains(fmt.Sprint(found["decision"]), p.erp+" owns status") {
		t.Errorf("conflict %v", found)
	}
	if got := pgString(t, p.pg, `SELECT state FROM sk_sale_order WHERE client_order_ref = '2002'`); got != "draft" {
		t.Errorf("the ERP's state became %q; its owner's value must stay", got)
	}
}
