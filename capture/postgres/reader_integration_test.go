//go:build integration

package postgres

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/internal/testenv"
)

// recorder is a Handler that keeps what it is given and acks at once.
type recorder struct {
	mu         sync.Mutex
	reader     *Reader
	txs        []*recTx
	cur        *recTx
	heartbeats int
}

type recTx struct {
	begin   capture.TxBegin
	end     capture.TxEnd
	changes []capture.Change
}

func (r *recorder) Begin(_ context.Context, tx *capture.TxBegin) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cur = &recTx{begin: *tx}
	return nil
}

func (r *recorder) Change(_ context.Context, c *capture.Change) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cp := *c
	cp.Before = append(capture.Row(nil), c.Before...)
	cp.After = append(capture.Row(nil), c.After...)
	if c.Before == nil {
		cp.Before = nil
	}
	if c.After == nil {
		cp.After = nil
	}
	r.cur.changes = append(r.cur.changes, cp)
	return nil
}

func (r *recorder) Commit(_ context.Context, tx *capture.TxEnd) error {
	r.mu.Lock()
	r.cur.end = *tx
	r.txs = append(r.txs, r.cur)
	r.cur = nil
	r.mu.Unlock()
	r.reader.Ack(tx.Position)
	return nil
}

func (r *recorder) Heartbeat(_ context.Context, pos capture.Position) error {
	r.mu.Lock()
	r.heartbeats++
	r.mu.Unlock()
	r.reader.Ack(pos)
	return nil
}

// waitTx waits until a transaction touching table with at least n changes
// has been recorded, and returns it.
func (r *recorder) waitTx(t *testing.T, table string, n int) *recTx {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for _, tx := range r.txs {
			if len(tx.changes) >= n && tx.changes[0].Table.Name == table {
				r.mu.Unlock()
				return tx
			}
		}
		r.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no transaction on %s with %d changes within 30s", table, n)
	return nil
}

func (r *recorder) count(table string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, tx := range r.txs {
		for _, c := range tx.changes {
			if c.Table.Name == table {
				n++
			}
		}
	}
	return n
}

type harness struct {
	t      *testing.T
	conn   *pgx.Conn
	rec    *recorder
	reader *Reader
	system string
	cancel context.CancelFunc
	done   chan error
}

func sqlExec(t *testing.T, conn *pgx.Conn, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := conn.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// startReader creates the tables with setup, then runs a reader on them.
func startReader(t *testing.T, tables []string, setup ...string) *harness {
	return startReaderWith(t, nil, tables, setup...)
}

func startReaderWith(t *testing.T, params map[string]string, tables []string, setup ...string) *harness {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testenv.PostgresDSN())
	if err != nil {
		t.Fatalf("connect (is the stack up? make up): %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	system := fmt.Sprintf("it%d", time.Now().UnixNano()%1e9)
	sqlExec(t, conn, setup...)
	capCfg := capture.Default()
	capCfg.Tables = tables
	capCfg.Heartbeat = time.Second
	capCfg.SetDefaults(system)
	rec := &recorder{}
	rd, err := New(Options{
		System: system, DSN: config.Secret(testenv.PostgresDSN()), Capture: capCfg,
		CheckpointTable: "tandem_checkpoint", Handler: rec, SpoolDir: t.TempDir(),
		StatusInterval: time.Second, ReplicationParams: params,
	})
	if err != nil {
		t.Fatal(err)
	}
	rec.reader = rd
	h := &harness{t: t, conn: conn, rec: rec, reader: rd, system: system, done: make(chan error, 1)}
	runCtx, cancel := context.WithCancel(ctx)
	h.cancel = cancel
	go func() { h.done <- rd.Run(runCtx) }()
	t.Cleanup(func() {
		h.stop()
		dropSlot(t, conn, capCfg.Slot)
		sqlExec(t, conn, "DROP PUBLICATION IF EXISTS "+capCfg.Publication)
	})
	// wait until streaming: the slot exists and is active
	deadline := time.Now().Add(20 * time.Second)
	for {
		var active bool
		err := conn.QueryRow(ctx, "SELECT active FROM pg_replication_slots WHERE slot_name = $1", capCfg.Slot).Scan(&active)
		if err == nil && active {
			return h
		}
		select {
		case err := <-h.done:
			t.Fatalf("reader stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot %s not active after 20s (%v)", capCfg.Slot, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dropSlot drops a slot once its walsender has let go of it.
func dropSlot(t *testing.T, conn *pgx.Conn, slot string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := conn.Exec(context.Background(),
			"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", slot)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("drop slot %s: %v", slot, err)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("reader Run: %v", err)
	}
	h.reader.Close()
	h.cancel = nil
}

func TestIntegrationTypesRoundTrip(t *testing.T) {
	h := startReader(t, []string{"public.it_types"},
		`DROP TABLE IF EXISTS it_types`,
		`DO $$ BEGIN CREATE TYPE it_mood AS ENUM ('sad','ok','happy'); EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
		`CREATE TABLE it_types (
			id int8 PRIMARY KEY, i2 int2, i4 int4, amount numeric(26,8), anynum numeric, f4 float4, f8 float8,
			flag bool, name text, code varchar(10), ch char(3), raw bytea, d date, ts timestamp, tstz timestamptz,
			tod time, span interval, uid uuid, doc json, docb jsonb, tags text[], nums int4[], mood it_mood, addr inet)`)
	sqlExec(t, h.conn, `INSERT INTO it_types VALUES (
		1, -32768, 2147483647, 12345678901234567.12345678, 3.14159265358979323846264338327950288, 1.5, -2.5e-300,
		true, 'emoji 😀 and ''quotes''', 'abc', 'xy', '\x00ff', '2024-02-29', '2024-02-29 13:14:15.123456',
		'2024-02-29 13:14:15.654321+02', '23:59:59.999999', '1 year 2 mons 3 days 04:05:06.5', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
		'{"a": [1, 2]}', '{"b": {"c": null}}', '{"x y","z\"q",NULL}', '{1,NULL,3}', 'happy', '192.168.0.1/24')`)
	tx := h.rec.waitTx(t, "it_types", 1)
	c := tx.changes[0]
	if c.Op != capture.OpInsert || c.Before != nil {
		t.Fatalf("op %c before %v", c.Op, c.Before)
	}
	rat := func(s string) *big.Rat { r, _ := new(big.Rat).SetString(s); return r }
	ts := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	want := map[string]any{
		"id": int64(1), "i2": int64(-32768), "i4": int64(2147483647),
		"amount": rat("12345678901234567.12345678"), "anynum": rat("3.14159265358979323846264338327950288"),
		"f4": float32(1.5), "f8": -2.5e-300, "flag": true, "name": "emoji 😀 and 'quotes'", "code": "abc", "ch": "xy ",
		"raw": []byte{0, 0xff}, "d": ts("2024-02-29T00:00:00Z"), "ts": ts("2024-02-29T13:14:15.123456Z"),
		"tstz": ts("2024-02-29T11:14:15.654321Z"), "tod": 24*time.Hour - time.Microsecond, "span": "P1Y2M3DT4H5M6.5S",
		"uid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "doc": `{"a": [1, 2]}`, "docb": `{"b": {"c": null}}`,
		"tags": []any{"x y", `z"q`, nil}, "nums": []any{int64(1), nil, int64(3)}, "mood": "happy", "addr": "192.168.0.1/24",
	}
	for name, w := range want {
		i := c.Table.ColumnIndex(name)
		if i < 0 {
			t.Errorf("no column %s", name)
			continue
		}
		if !capture.Equal(c.After[i], w) {
			t.Errorf("%s = %#v, want %#v", name, c.After[i], w)
		}
	}
	kinds := map[string]capture.Kind{"amount": capture.KindDecimal, "mood": capture.KindEnum, "tags": capture.KindArray,
		"tstz": capture.KindTimestampTZ, "uid": capture.KindUUID, "docb": capture.KindJSON, "addr": capture.KindString}
	for name, k := range kinds {
		if got := c.Table.Columns[c.Table.ColumnIndex(name)].Type.Kind; got != k {
			t.Errorf("%s kind %s, want %s", name, got, k)
		}
	}
	am := c.Table.Columns[c.Table.ColumnIndex("amount")].Type
	if am.Precision != 26 || am.Scale != 8 {
		t.Errorf("amount precision/scale %d/%d", am.Precision, am.Scale)
	}
	if mood := c.Table.Columns[c.Table.ColumnIndex("mood")].Type; strings.Join(mood.Symbols, ",") != "sad,ok,happy" {
		t.Errorf("enum symbols %v", mood.Symbols)
	}
	if !c.Table.Columns[0].Key || c.Table.Columns[1].Key {
		t.Errorf("key flags wrong: %+v", c.Table.Columns[:2])
	}
}

func TestIntegrationUnchangedToastIsUnknown(t *testing.T) {
	h := startReader(t, []string{"public.it_toast"},
		`DROP TABLE IF EXISTS it_toast`,
		`CREATE TABLE it_toast (id int PRIMARY KEY, big text, n int)`,
		`ALTER TABLE it_toast ALTER COLUMN big SET STORAGE EXTERNAL`)
	sqlExec(t, h.conn,
		`INSERT INTO it_toast VALUES (1, repeat('x', 100000), 1)`,
		`UPDATE it_toast SET n = 2 WHERE id = 1`)
	h.rec.waitTx(t, "it_toast", 1)
	deadline := time.Now().Add(20 * time.Second)
	for h.rec.count("it_toast") < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	var upd *capture.Change
	for _, tx := range h.rec.txs {
		for i := range tx.changes {
			if tx.changes[i].Op == capture.OpUpdate {
				upd = &tx.changes[i]
			}
		}
	}
	if upd == nil {
		t.Fatal("no update captured")
	}
	big, n := upd.Table.ColumnIndex("big"), upd.Table.ColumnIndex("n")
	if !capture.IsUnchanged(upd.After[big]) {
		t.Fatalf("unchanged TOAST value is %v, want Unchanged (never NULL)", upd.After[big])
	}
	if upd.After[n] != int64(2) {
		t.Errorf("n = %v", upd.After[n])
	}
	for _, i := range upd.Changed() {
		if i == big {
			t.Errorf("the unchanged TOAST column is among the changed fields")
		}
	}
}

func TestIntegrationAlterTableNewVersion(t *testing.T) {
	h := startReader(t, []string{"public.it_alter"},
		`DROP TABLE IF EXISTS it_alter`,
		`CREATE TABLE it_alter (id int PRIMARY KEY, a text)`)
	sqlExec(t, h.conn,
		`INSERT INTO it_alter VALUES (1, 'one')`,
		`ALTER TABLE it_alter ADD COLUMN b numeric(10,2)`,
		`INSERT INTO it_alter VALUES (2, 'two', 2.50)`)
	deadline := time.Now().Add(20 * time.Second)
	for h.rec.count("it_alter") < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	var cs []capture.Change
	for _, tx := range h.rec.txs {
		cs = append(cs, tx.changes...)
	}
	if len(cs) != 2 {
		t.Fatalf("%d changes, want 2", len(cs))
	}
	t1, t2 := cs[0].Table, cs[1].Table
	if t1.Version != 1 || t2.Version != 2 || len(t1.Columns) != 2 || len(t2.Columns) != 3 {
		t.Fatalf("versions %d/%d columns %d/%d", t1.Version, t2.Version, len(t1.Columns), len(t2.Columns))
	}
	if cs[0].After[1] != "one" || cs[1].After[2].(*big.Rat).Cmp(big.NewRat(5, 2)) != 0 {
		t.Errorf("rows %v %v", cs[0].After, cs[1].After)
	}
}

func TestIntegrationLoopFilter(t *testing.T) {
	h := startReader(t, []string{"public.it_loop"},
		`DROP TABLE IF EXISTS it_loop`,
		`CREATE TABLE it_loop (id int PRIMARY KEY, v text)`)
	ctx := context.Background()
	// 1: written under a tandem replication origin
	sqlExec(t, h.conn,
		`SELECT pg_replication_origin_create('tandem_it_sink') WHERE NOT EXISTS (SELECT 1 FROM pg_replication_origin WHERE roname = 'tandem_it_sink')`,
		`SELECT pg_replication_origin_session_setup('tandem_it_sink')`)
	sqlExec(t, h.conn, `INSERT INTO it_loop VALUES (1, 'from the sink, origin')`)
	sqlExec(t, h.conn, `SELECT pg_replication_origin_session_reset()`)
	// 2: first change is the checkpoint row
	tx, err := h.conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sqlExec(t, tx.Conn(), `INSERT INTO tandem_checkpoint VALUES ('it', 't', 0, 1, '0/1') ON CONFLICT (consumer, topic, kafka_partition) DO UPDATE SET kafka_offset = tandem_checkpoint.kafka_offset + 1`,
		`INSERT INTO it_loop VALUES (2, 'from the sink, checkpoint first')`)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// 3: anyone else
	sqlExec(t, h.conn, `INSERT INTO it_loop VALUES (3, 'from the application')`)
	got := h.rec.waitTx(t, "it_loop", 1)
	time.Sleep(2 * time.Second) // let anything that should not come, come
	if n := h.rec.count("it_loop"); n != 1 {
		t.Fatalf("%d changes captured, want only the application's", n)
	}
	if got.changes[0].After[0] != int64(3) {
		t.Errorf("captured %v", got.changes[0].After)
	}
	if v := testCounter(h.reader.opts.Metrics.LoopDrops.WithLabelValues(h.system)); v != 2 {
		t.Errorf("loop drops metric = %v, want 2", v)
	}
}

func TestIntegrationStreamedLargeTransaction(t *testing.T) {
	h := startReaderWith(t, map[string]string{"logical_decoding_work_mem": "64kB"}, []string{"public.it_stream"},
		`DROP TABLE IF EXISTS it_stream`,
		`CREATE TABLE it_stream (id int PRIMARY KEY, v text)`)
	ctx := context.Background()
	// The walsender decodes with logical_decoding_work_mem = 64kB; 20k rows
	// exceed it, so PostgreSQL streams the transaction before it commits.
	tx, err := h.conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sqlExec(t, tx.Conn(),
		`INSERT INTO it_stream SELECT g, repeat('v', 50) FROM generate_series(1, 20000) g`,
		`SAVEPOINT s1`, `INSERT INTO it_stream SELECT g, 'aborted' FROM generate_series(20001, 20100) g`,
		`ROLLBACK TO SAVEPOINT s1`, `INSERT INTO it_stream VALUES (30000, 'last')`)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// an aborted large transaction must publish nothing
	tx2, _ := h.conn.Begin(ctx)
	sqlExec(t, tx2.Conn(), `INSERT INTO it_stream SELECT g, 'never' FROM generate_series(40000, 60000) g`)
	tx2.Rollback(ctx)
	sqlExec(t, h.conn, `INSERT INTO it_stream VALUES (99999, 'after')`)
	got := h.rec.waitTx(t, "it_stream", 20001)
	if len(got.changes) != 20001 || got.end.Changes != 20001 {
		t.Fatalf("streamed tx has %d changes (end says %d), want 20001", len(got.changes), got.end.Changes)
	}
	for i, c := range got.changes {
		if c.Seq != uint64(i) {
			t.Fatalf("change %d has seq %d", i, c.Seq)
		}
		if v := c.After[1]; v == "aborted" || v == "never" {
			t.Fatalf("change %d is from an aborted (sub)transaction: %v", i, c.After)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for h.rec.count("it_stream") < 20002 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := h.rec.count("it_stream"); n != 20002 {
		t.Fatalf("%d changes in all, want 20002", n)
	}
	if v := testCounter(h.reader.opts.Metrics.Streamed.WithLabelValues(h.system)); v < 1 {
		t.Errorf("no transaction was streamed before commit (metric %v): the test did not exercise streaming", v)
	}
	if v := testCounter(h.reader.opts.Metrics.Changes.WithLabelValues(h.system)); v != 20002 {
		t.Errorf("changes metric = %v, want 20002", v)
	}
	if v := testCounter(h.reader.opts.Metrics.StreamAborts.WithLabelValues(h.system)); v < 1 {
		t.Errorf("no streamed abort was seen (metric %v)", v)
	}
}

// TestIntegrationIdleSlotAdvances writes only to a table outside the
// publication and expects the slot's confirmed position to move anyway.
func TestIntegrationIdleSlotAdvances(t *testing.T) {
	h := startReader(t, []string{"public.it_idle"},
		`DROP TABLE IF EXISTS it_idle`, `DROP TABLE IF EXISTS it_other`,
		`CREATE TABLE it_idle (id int PRIMARY KEY)`, `CREATE TABLE it_other (id serial PRIMARY KEY, v text)`)
	ctx := context.Background()
	slot := h.reader.opts.Capture.Slot
	confirmed := func() uint64 {
		var s string
		if err := h.conn.QueryRow(ctx, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&s); err != nil {
			t.Fatal(err)
		}
		var hi, lo uint64
		fmt.Sscanf(s, "%X/%X", &hi, &lo)
		return hi<<32 | lo
	}
	sqlExec(t, h.conn, `INSERT INTO it_other (v) SELECT 'x' FROM generate_series(1, 1000)`)
	var target string
	h.conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&target)
	var hi, lo uint64
	fmt.Sscanf(target, "%X/%X", &hi, &lo)
	want := hi<<32 | lo
	deadline := time.Now().Add(60 * time.Second)
	for confirmed() < want {
		if time.Now().After(deadline) {
			t.Fatalf("slot confirmed %X, still below %s after 60s", confirmed(), target)
		}
		sqlExec(t, h.conn, `INSERT INTO it_other (v) VALUES ('y')`)
		time.Sleep(500 * time.Millisecond)
	}
	if h.rec.count("it_idle") != 0 {
		t.Errorf("changes captured from an idle table")
	}
}

func TestIntegrationKeyChangeIsDeleteThenInsert(t *testing.T) {
	h := startReader(t, []string{"public.it_rekey"},
		`DROP TABLE IF EXISTS it_rekey`,
		`CREATE TABLE it_rekey (id int PRIMARY KEY, v text)`)
	sqlExec(t, h.conn, `INSERT INTO it_rekey VALUES (1, 'a')`, `UPDATE it_rekey SET id = 2, v = 'b' WHERE id = 1`)
	tx := h.rec.waitTx(t, "it_rekey", 2)
	if len(tx.changes) != 2 {
		t.Fatalf("%d changes, want delete + insert", len(tx.changes))
	}
	d, c := tx.changes[0], tx.changes[1]
	if d.Op != capture.OpDelete || d.Before[0] != int64(1) || c.Op != capture.OpInsert || c.After[0] != int64(2) || c.After[1] != "b" {
		t.Fatalf("got %c %v then %c %v", d.Op, d.Before, c.Op, c.After)
	}
	if d.Seq != 0 || c.Seq != 1 || tx.end.Changes != 2 {
		t.Errorf("seqs %d,%d end count %d", d.Seq, c.Seq, tx.end.Changes)
	}
}
