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

// cleanupOrigins drops the PostgreSQL replication origins of a test's sink
// once its run has stopped (cleanups run last first, so register it first).
func cleanupOrigins(t testing.TB, sink string) {
	t.Cleanup(func() {
		if err := sinkpg.DropOrigins(context.Background(), config.Secret(testenv.PostgresDSN()), sink); err != nil {
			t.Errorf("drop the sink's replication origins: %v", err)
		}
	})
}

// pairTables creates a sync pair's tables, named with prefix: customers and
// orders in the shop (with a ping table the shop captures raw), partners
// and sale orders in the ERP, whose email column holds emailLen characters.
func pairTables(t *testing.T, my *sql.DB, pg *pgx.Conn, prefix string, emailLen int) {
	t.Helper()
	myMust(t, my, fmt.Sprintf(`DROP TABLE IF EXISTS tandem.%[1]scustomer, tandem.%[1]sorder, tandem.%[1]sping`, prefix),
		fmt.Sprintf(`CREATE TABLE tandem.%scustomer (customer_id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(100) NOT NULL, last_name VARCHAR(100))`, prefix),
		fmt.Sprintf(`CREATE TABLE tandem.%sorder (id BIGINT PRIMARY KEY, billing_email VARCHAR(100), status VARCHAR(20) NOT NULL DEFAULT 'wc-pending',
			total_amount DECIMAL(26,8), currency CHAR(3))`, prefix),
		fmt.Sprintf(`CREATE TABLE tandem.%[1]sping (id INT PRIMARY KEY)`, prefix), fmt.Sprintf(`INSERT INTO tandem.%sping VALUES (1)`, prefix))
	mustExec(t, pg, fmt.Sprintf(`DROP TABLE IF EXISTS %[1]ssale_order, %[1]spartner`, prefix),
		fmt.Sprintf(`CREATE TABLE %spartner (id serial PRIMARY KEY, email varchar(%d), name text, type text NOT NULL DEFAULT 'contact')`, prefix, emailLen),
		fmt.Sprintf(`CREATE TABLE %[1]ssale_order (id serial PRIMARY KEY, client_order_ref text, partner_id int REFERENCES %[1]spartner,
			state text NOT NULL DEFAULT 'draft', amount_total numeric(16,2), currency text)`, prefix),
		fmt.Sprintf(`ALTER TABLE %ssale_order REPLICA IDENTITY FULL`, prefix))
}

// pairEntities are the entity mappings of a sync pair's shop and ERP
// tables; shopOrder goes under the shop's order mapping (e.g. create: false).
func pairEntities(prefix, shopOrder string) (shop, erp string) {
	shop = fmt.Sprintf(pairMapping, "tandem."+prefix+"customer", "customer_id", "", "last_name",
		"tandem."+prefix+"order", shopOrder, "{column: id, cast: string}", "billing_email", "status",
		"wc-pending: pending, wc-processing: processing, wc-completed: completed", "total_amount")
	erp = fmt.Sprintf(pairMapping, "public."+prefix+"partner", "id", "where: {type: contact}", "name",
		"public."+prefix+"sale_order", "", "client_order_ref", "{column: partner_id, ref: customer}", "state",
		"draft: pending, sale: processing, done: completed", "amount_total")
	return shop, erp
}

// pgSystem is the systems entry of a system on the local PostgreSQL; extra
// goes under it.
func pgSystem(name, extra string) string {
	return fmt.Sprintf(`  %s:
    kind: postgres
    dsn: %q
    capture: {heartbeat: 1s}
%s`, name, testenv.PostgresDSN(), extra)
}

// stackTail is the rest of a test config: Kafka (topics of 3 partitions,
// or as given), the registry, no HTTP listener, warnings only.
func stackTail(partitions ...int) string {
	n := 3
	if len(partitions) > 0 {
		n = partitions[0]
	}
	return fmt.Sprintf(`kafka: {brokers: [%q], partitions: %d}
schema_registry: {url: %q}
http: {listen: ""}
log: {level: warn}
`, testenv.KafkaBroker(), n, testenv.RegistryURL())
}

// startPair starts a sync pair; its topics have partitions partitions (3
// when not given).
func startPair(t *testing.T, partitions ...int) *syncPair {
	t.Helper()
	p := &syncPair{shop: uniqueSystem("shop"), erp: uniqueSystem("erp"), my: myDB(t), pg: pgConn(t)}
	cleanupSystem(t, p.pg, p.erp)
	cleanupOrigins(t, p.erp)
	pairTables(t, p.my, p.pg, "sk_", 40)
	shopEntities, erpEntities := pairEntities("sk_", "create: false")
	cfg := "systems:\n" + mysqlSystem(p.shop, []string{"tandem.sk_ping"}, "    sink: {reference_wait: 20s}\n") + shopEntities +
		pgSystem(p.erp, "    sink: {reference_wait: 20s}\n") + erpEntities + fmt.Sprintf(`ownership:
  customer: {owner: %[1]s}
  order: {owner: %[1]s, fields: {status: %[2]s}}
flows:
  - {entity: customer, from: %[1]s, to: %[2]s}
  - {entity: order, from: %[1]s, to: %[2]s}
  - {entity: order, from: %[2]s, to: %[1]s, fields: [status]}
`, p.shop, p.erp) + stackTail(partitions...)
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
	p := startPair(t, 1) // one partition: the poison sits between the good ones in one batch
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
	count := `SELECT string_agg(email, ',' ORDER BY email) FROM sk_partner WHERE name = 'Poison test'`
	waitUntil(t, "the good customers reached the ERP", time.Minute, func() bool { return pgString(t, p.pg, count) == "bob@example.com,cy@example.com" })
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
	// the shop's order mapping has create: false, so deletes are ignored
	// (delete: none): deleting the ERP's order leaves the shop's
	erpOrders := "tandem." + p.erp + ".order"
	before := testenv.TopicSize(t, erpOrders)
	mustExec(t, p.pg, `DELETE FROM sk_sale_order WHERE client_order_ref = '2002'`)
	waitRecords(t, erpOrders, before+1, time.Minute)
	time.Sleep(3 * time.Second)
	if got := myString(t, p.my, `SELECT status FROM tandem.sk_order WHERE id = 2002`); got != "wc-completed" {
		t.Errorf("the shop's order after the ERP deleted its own: status %q, want it kept", got)
	}
}

// TestIntegrationSinkReferenceNeverResolves: an order whose customer never
// arrives waits reference_wait (20s here), then goes to the dead-letter
// topic with the reason; meanwhile other partitions go on, and afterwards
// so does its own.
func TestIntegrationSinkReferenceNeverResolves(t *testing.T) {
	p := startPair(t)
	start := time.Now()
	myMust(t, p.my, `INSERT INTO tandem.sk_order (id, billing_email, status, total_amount, currency) VALUES (3003, 'ghost@example.com', 'wc-pending', 1, 'EUR')`)
	waitRecords(t, "tandem."+p.shop+".order", 1, time.Minute)
	// another topic is not held up
	myMust(t, p.my, `INSERT INTO tandem.sk_customer (email, last_name) VALUES ('eve@example.com', 'Eve')`)
	waitUntil(t, "a customer applied while the order waits", 15*time.Second, func() bool {
		return pgString(t, p.pg, `SELECT name FROM sk_partner WHERE email = 'eve@example.com'`) == "Eve"
	})
	dlq := "tandem." + p.erp + ".dlq"
	waitRecords(t, dlq, 1, time.Minute)
	if waited := time.Since(start); waited < 20*time.Second {
		t.Errorf("dead-lettered after %s, before reference_wait (20s)", waited)
	}
	msgs := testenv.ReadTopic(t, dlq)
	reason := ""
	for _, h := range msgs[0].Headers {
		if h.Key == "tandem.reason" {
			reason = string(h.Value)
		}
	}
	if !strings.Contains(reason, "reference not found within 20s") || !strings.Contains(reason, "customer email=ghost@example.com") {
		t.Errorf("reason %q", reason)
	}
	// the order's partition goes on: a later order for a known customer
	myMust(t, p.my, `INSERT INTO tandem.sk_order (id, billing_email, status, total_amount, currency) VALUES (3004, 'eve@example.com', 'wc-pending', 2, 'EUR')`)
	waitUntil(t, "the next order applied", time.Minute, func() bool {
		return pgString(t, p.pg, `SELECT client_order_ref FROM sk_sale_order WHERE client_order_ref = '3004'`) == "3004"
	})
	if got := pgString(t, p.pg, `SELECT count(*)::text FROM sk_sale_order WHERE client_order_ref = '3003'`); got != "0" {
		t.Errorf("the dead-lettered order was applied anyway")
	}
}
