//go:build integration

package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/internal/testenv"
	"github.com/tandem-sync/tandem/mapping"
	"github.com/tandem-sync/tandem/schema"
)

// sourceConfig is a config capturing tables of one system of kind:
// captureExtra goes under capture, kafkaExtra under kafka, and tail at the
// top level.
func sourceConfig(system, kind, dsn string, tables []string, captureExtra, kafkaExtra, tail string) string {
	return fmt.Sprintf(`systems:
  %s:
    kind: %s
    dsn: %q
    capture:
%s      tables: [%s]
      heartbeat: 1s
kafka:
  brokers: [%q]
  partitions: 3
%s
schema_registry:
  url: %q
http:
  listen: ""
log:
  level: warn
%s`, system, kind, dsn, captureExtra, strings.Join(tables, ", "), testenv.KafkaBroker(), kafkaExtra, testenv.RegistryURL(), tail)
}

// captureConfig is a config for one PostgreSQL system capturing tables;
// extra goes under kafka.
func captureConfig(system string, tables []string, extra string) string {
	return sourceConfig(system, "postgres", testenv.PostgresDSN(), tables, "", extra, "")
}

// startRun runs the captures in-process until the returned stop is called.
func startRun(t testing.TB, cfgText string) (stop func() error) {
	t.Helper()
	cfg, err := mapping.Load("tandem.yaml", []byte(cfgText), config.Env{Lookup: os.LookupEnv, ReadFile: os.ReadFile})
	if err != nil {
		t.Fatal(err)
	}
	names, err := runnable(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() { done <- runSystems(ctx, cfg, names, runOptions{log: log, drain: 30 * time.Second}) }()
	var stopped bool
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("tandem run: %v", err)
		}
	})
	return stop
}

func pgConn(t testing.TB) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), testenv.PostgresDSN())
	if err != nil {
		t.Fatalf("connect (is the stack up? make up): %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustExec(t testing.TB, conn *pgx.Conn, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := conn.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// cleanupSystem drops the slot and publication of a test system.
func cleanupSystem(t testing.TB, conn *pgx.Conn, system string) {
	t.Cleanup(func() {
		deadline := time.Now().Add(15 * time.Second)
		for {
			_, err := conn.Exec(context.Background(), "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", "tandem_"+system)
			if err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		conn.Exec(context.Background(), "DROP PUBLICATION IF EXISTS tandem_"+system)
	})
}

// waitStreaming waits until the system's slot is active: the snapshot is
// done and changes now come from the stream.
func waitStreaming(t testing.TB, conn *pgx.Conn, system string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var active bool
		err := conn.QueryRow(context.Background(), "SELECT active FROM pg_replication_slots WHERE slot_name = $1", "tandem_"+system).Scan(&active)
		if err == nil && active {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot tandem_%s not streaming after 60s", system)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitRecords waits until topic holds at least n records.
func waitRecords(t testing.TB, topic string, n int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for testenv.TopicSize(t, topic) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d records after %s, want %d", topic, testenv.TopicSize(t, topic), within, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func decoder() *schema.Decoder {
	c := schema.DefaultRegistry()
	c.URL = testenv.RegistryURL()
	return schema.NewDecoder(schema.NewRegistry(c))
}

func uniqueSystem(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, time.Now().UnixNano()%1e9)
}

// TestIntegrationRunTypesThroughKafka writes a row of every type and reads
// it back from Kafka, decoded with the schema fetched by id from the
// registry.
func TestIntegrationRunTypesThroughKafka(t *testing.T) {
	conn := pgConn(t)
	system := uniqueSystem("types")
	cleanupSystem(t, conn, system)
	mustExec(t, conn, `DROP TABLE IF EXISTS run_types`,
		`DO $$ BEGIN CREATE TYPE run_mood AS ENUM ('sad','ok','happy'); EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
		`CREATE TABLE run_types (
			id int8 PRIMARY KEY, i2 int2, i4 int4, amount numeric(26,8), anynum numeric, f4 float4, f8 float8,
			flag bool, name text, code varchar(10), raw bytea, d date, ts timestamp, tstz timestamptz,
			tod time, span interval, uid uuid, doc json, docb jsonb, tags text[], nums int4[], mood run_mood, addr inet, gone text)`)
	stop := startRun(t, captureConfig(system, []string{"public.run_types"}, ""))
	waitStreaming(t, conn, system)
	mustExec(t, conn, `INSERT INTO run_types VALUES (
		1, -32768, 2147483647, 12345678901234567.12345678, 3.14159265358979323846264338327950288, 1.5, -2.5e-300,
		true, 'emoji 😀', 'abc', '\x00ff', '2024-02-29', '2024-02-29 13:14:15.123456',
		'2024-02-29 13:14:15.654321+02', '23:59:59.999999', '1 year 2 mons 3 days 04:05:06.5', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
		'{"a": [1, 2]}', '{"b": {"c": null}}', '{"x y","z\"q",NULL}', '{1,NULL,3}', 'happy', '192.168.0.1/24', NULL)`)
	topic := "tandem." + system + ".public.run_types"
	waitRecords(t, topic, 1, 60*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	msgs := testenv.ReadTopic(t, topic)
	if len(msgs) != 1 {
		t.Fatalf("%d records, want 1", len(msgs))
	}
	ev, id, err := decoder().Decode(context.Background(), msgs[0].Value)
	if err != nil {
		t.Fatalf("decode with schema %d: %v", id, err)
	}
	after := ev["after"].(map[string]any)
	rat := func(s string) *big.Rat { r, _ := new(big.Rat).SetString(s); return r }
	ts := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	want := map[string]any{
		"id": int64(1), "i2": int32(-32768), "i4": int32(2147483647),
		"amount": rat("12345678901234567.12345678"), "anynum": "3.14159265358979323846264338327950288",
		"f4": float32(1.5), "f8": -2.5e-300, "flag": true, "name": "emoji 😀", "code": "abc",
		"raw": []byte{0, 0xff}, "d": ts("2024-02-29T00:00:00Z"), "ts": ts("2024-02-29T13:14:15.123456Z"),
		"tstz": ts("2024-02-29T11:14:15.654321Z"), "tod": 24*time.Hour - time.Microsecond, "span": "P1Y2M3DT4H5M6.5S",
		"uid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "doc": `{"a": [1, 2]}`, "docb": `{"b": {"c": null}}`,
		"tags": []any{"x y", `z"q`, nil}, "nums": []any{int32(1), nil, int32(3)}, "mood": "happy", "addr": "192.168.0.1/24",
		"gone": nil,
	}
	for k, w := range want {
		if !capture.Equal(after[k], w) {
			t.Errorf("%s = %#v (%T), want %#v (%T)", k, after[k], after[k], w, w)
		}
	}
	if am := after["amount"].(*big.Rat); am.FloatString(8) != "12345678901234567.12345678" {
		t.Errorf("numeric(26,8) lost digits: %s", am.FloatString(8))
	}
	if ev["op"] != "c" || ev["origin"] != system {
		t.Errorf("op %v origin %v", ev["op"], ev["origin"])
	}
	src := ev["source"].(map[string]any)
	if src["table"] != "run_types" || src["connector"] != "postgres" || len(src["order"].(string)) != 32 {
		t.Errorf("source %v", src)
	}
}

// TestIntegrationRunLargeTransactionBoundedMemory streams one 200k-row
// transaction and records the peak heap while it goes through.
func TestIntegrationRunLargeTransactionBoundedMemory(t *testing.T) {
	conn := pgConn(t)
	system := uniqueSystem("big")
	cleanupSystem(t, conn, system)
	mustExec(t, conn, `DROP TABLE IF EXISTS run_big`,
		`CREATE TABLE run_big (id int8 PRIMARY KEY, name varchar(40), price numeric(12,2), at timestamptz, note text)`)
	stop := startRun(t, captureConfig(system, []string{"public.run_big"}, "  producer:\n    max_in_flight_bytes: 8388608\n"))
	waitStreaming(t, conn, system)

	// Measure the live heap (what the last GC found reachable), not the heap
	// in use, which also counts garbage, some of it left by earlier tests.
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	readLive := func() uint64 { metrics.Read(live); return live[0].Value.Uint64() }
	runtime.GC()
	baseline := readLive()
	var peak atomic.Uint64
	sampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if v := readLive(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-sampling:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	const rows = 200000
	mustExec(t, conn, fmt.Sprintf(`INSERT INTO run_big SELECT g, 'product '||g, g * 1.25, now(), repeat('n', 100) FROM generate_series(1, %d) g`, rows))
	topic := "tandem." + system + ".public.run_big"
	waitRecords(t, topic, rows, 5*time.Minute)
	close(sampling)
	<-sampled
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// The transaction's 200k rows are over 100 MB as Go values and Kafka
	// records; holding them would show far above this bound.
	const bound = 48 << 20
	grew := peak.Load() - min(baseline, peak.Load())
	t.Logf("live heap while streaming %d rows in one transaction: baseline %.1f MB, peak %.1f MB (+%.1f MB)",
		rows, float64(baseline)/(1<<20), float64(peak.Load())/(1<<20), float64(grew)/(1<<20))
	if grew > bound {
		t.Errorf("live heap grew by %d MB, more than %d MB: memory grows with the transaction", grew>>20, bound>>20)
	}
	// one transaction on the transactions topic, with the right counts
	dec := decoder()
	var begins, ends int
	for _, m := range testenv.ReadTopic(t, "tandem."+system+".transactions") {
		ev, _, err := dec.Decode(context.Background(), m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if ev["snapshot"] == true {
			continue
		}
		switch ev["status"] {
		case "BEGIN":
			begins++
		case "END":
			ends++
			if ev["event_count"] != int64(rows) {
				t.Errorf("END event_count = %v, want %d", ev["event_count"], rows)
			}
			dc := ev["data_collections"].([]any)
			if len(dc) != 1 || dc[0].(map[string]any)["event_count"] != int64(rows) {
				t.Errorf("END data_collections = %v", dc)
			}
		}
	}
	if begins != 1 || ends != 1 {
		t.Errorf("%d BEGIN and %d END records, want one transaction", begins, ends)
	}
}

// TestIntegrationRunBadInput expects one clear error naming the fix, and an
// exit, for each kind of bad input.
func TestIntegrationRunBadInput(t *testing.T) {
	conn := pgConn(t)
	mustExec(t, conn, `DROP TABLE IF EXISTS run_nokey`, `CREATE TABLE run_nokey (a int, b text)`,
		`DROP TABLE IF EXISTS run_owned`, `CREATE TABLE run_owned (id int PRIMARY KEY)`,
		`DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tandem_repl_only') THEN
		   CREATE ROLE tandem_repl_only LOGIN REPLICATION PASSWORD 'r'; END IF; END $$`,
		`GRANT SELECT ON run_owned TO tandem_repl_only`,
		`GRANT CREATE ON SCHEMA public TO tandem_repl_only`)
	wrongPW := strings.Replace(testenv.PostgresDSN(), "tandem:tandem@", "tandem:wrong@", 1)
	replOnly := strings.Replace(testenv.PostgresDSN(), "tandem:tandem@", "tandem_repl_only:r@", 1)
	cases := []struct {
		name, dsn, table, want string
	}{
		{"wrong password", wrongPW, "public.run_owned", `password authentication failed for user "tandem"`},
		{"no primary key", testenv.PostgresDSN(), "public.run_nokey", `fix: ALTER TABLE "public"."run_nokey" ADD PRIMARY KEY`},
		{"cannot create the publication", replOnly, "public.run_owned", `fix: as the tables' owner run CREATE PUBLICATION`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			system := uniqueSystem("bad")
			cleanupSystem(t, conn, system)
			cfgText := strings.Replace(captureConfig(system, []string{c.table}, ""), fmt.Sprintf("%q", testenv.PostgresDSN()), fmt.Sprintf("%q", c.dsn), 1)
			out, code := run(t, "run", "--config", tempConfig(t, cfgText))
			if code != exitFailed {
				t.Fatalf("exit %d, want %d:\n%s", code, exitFailed, out)
			}
			if !strings.Contains(out, c.want) {
				t.Errorf("output lacks %q:\n%s", c.want, out)
			}
			if strings.Contains(out, "wrong@") || strings.Contains(out, ":r@") {
				t.Errorf("output shows a password:\n%s", out)
			}
		})
	}
}

// TestIntegrationRunSchemaChangeAndToast: an ALTER TABLE ADD COLUMN
// mid-stream registers a new schema version and both events decode; an
// unchanged TOAST value is listed as unknown and is not in changed.
func TestIntegrationRunSchemaChangeAndToast(t *testing.T) {
	conn := pgConn(t)
	system := uniqueSystem("alter")
	cleanupSystem(t, conn, system)
	mustExec(t, conn, `DROP TABLE IF EXISTS run_alter`,
		`CREATE TABLE run_alter (id int PRIMARY KEY, body text, n int)`,
		`ALTER TABLE run_alter ALTER COLUMN body SET STORAGE EXTERNAL`)
	stop := startRun(t, captureConfig(system, []string{"public.run_alter"}, ""))
	waitStreaming(t, conn, system)
	mustExec(t, conn,
		`INSERT INTO run_alter VALUES (1, repeat('x', 100000), 1)`,
		`ALTER TABLE run_alter ADD COLUMN price numeric(10,2)`,
		`INSERT INTO run_alter VALUES (2, 'short', 2, 9.99)`,
		`UPDATE run_alter SET n = 10 WHERE id = 1`)
	topic := "tandem." + system + ".public.run_alter"
	waitRecords(t, topic, 3, 60*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	dec := decoder()
	ids := map[int]bool{}
	var events []map[string]any
	for _, m := range testenv.ReadTopic(t, topic) {
		ev, id, err := dec.Decode(context.Background(), m.Value)
		if err != nil {
			t.Fatalf("decode with schema %d: %v", id, err)
		}
		ids[id] = true
		events = append(events, ev)
	}
	if len(events) != 3 || len(ids) != 2 {
		t.Fatalf("%d events with %d schema ids, want 3 events and 2 schema versions", len(events), len(ids))
	}
	byID := map[int32]map[string]any{}
	var update map[string]any
	for _, ev := range events {
		after := ev["after"].(map[string]any)
		if ev["op"] == "u" {
			update = ev
			continue
		}
		byID[after["id"].(int32)] = after
	}
	if _, has := byID[1]["price"]; has {
		t.Errorf("the row written before the ALTER has a price field: %v", byID[1])
	}
	if p, ok := byID[2]["price"].(*big.Rat); !ok || p.FloatString(2) != "9.99" {
		t.Errorf("row after the ALTER: price %v", byID[2]["price"])
	}
	if update == nil {
		t.Fatal("no update event")
	}
	unknown := fmt.Sprint(update["unknown"])
	changed := fmt.Sprint(update["changed"])
	if !strings.Contains(unknown, "body") || strings.Contains(changed, "body") || !strings.Contains(changed, "n") {
		t.Errorf("update: unknown %s changed %s; want body unknown and not changed", unknown, changed)
	}
	if update["after"].(map[string]any)["body"] != nil {
		t.Errorf("unchanged TOAST value carried a value: %v", update["after"].(map[string]any)["body"])
	}
}

// readOps returns the decoded events of topic whose op is op.
func readOps(t testing.TB, topic, op string) []map[string]any {
	t.Helper()
	dec := decoder()
	var out []map[string]any
	for _, m := range testenv.ReadTopic(t, topic) {
		ev, _, err := dec.Decode(context.Background(), m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if ev["op"] == op {
			out = append(out, ev)
		}
	}
	return out
}
