package sinktest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/sink"
)

// DB is one kind of target database, as the shared tests use it.
type DB struct {
	// Open returns a new target of the sink named sinkName on the
	// checkpoint table ckpt (a bare name) with at most conns connections,
	// after its Setup. It is closed, and what it set up removed, when the
	// test ends.
	Open func(t *testing.T, sinkName, ckpt string, conns int) sink.Target
	// Exec runs statements on a connection of the test's own.
	Exec func(t *testing.T, stmts ...string)
	// Qualify names a table of the test database (public.x, tandem.x).
	Qualify func(name string) string
	// ItemsDDL creates table (qualified) with the columns id (generated
	// key), k (unique text), n (integer, NOT NULL), price (decimal(12,2))
	// and doc (JSON).
	ItemsDDL func(table string) string
	// Capture runs the database's capture reader on tables (qualified) and
	// the checkpoint table ckpt until the test ends, recording what it
	// delivers.
	Capture func(t *testing.T, tables []string, ckpt string) *Recorder
}

// Run runs every shared test on db.
func Run(t *testing.T, db DB) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, db DB)
	}{
		{"SetupIdempotent", testSetupIdempotent},
		{"CheckpointRoundTrip", testCheckpointRoundTrip},
		{"ConcurrentBegins", testConcurrentBegins},
		{"StoredLocks", testStoredLocks},
		{"SavepointRollbackTo", testSavepoint},
		{"InsertReturnsID", testInsert},
		{"ClassifyRealErrors", testClassify},
		{"UpsertAndJSONSet", testUpsertJSONSet},
		{"CaptureDropsSinkWrites", testCaptureDrops},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, db) })
	}
}

// items creates an items table that is dropped when the test ends, and
// returns its qualified name.
func items(t *testing.T, db DB) string {
	table := db.Qualify(Unique("sink_items"))
	db.Exec(t, db.ItemsDDL(table))
	t.Cleanup(func() { db.Exec(t, "DROP TABLE IF EXISTS "+table) })
	return table
}

// fixture returns a new target, its dialect, an items table and a
// context for the test.
func fixture(t *testing.T, db DB) (sink.Target, sink.Dialect, string, context.Context) {
	tg := db.Open(t, Unique("it"), Unique("sink_ckpt"), 2)
	return tg, tg.Dialect(), items(t, db), ctx(t)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func begin(t *testing.T, tg sink.Target) sink.Tx {
	t.Helper()
	tx, err := tg.Begin(ctx(t))
	must(t, err)
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}

// insert adds an item row with k and n in tx.
func insert(t *testing.T, tg sink.Target, tx sink.Tx, table, k string, n int64) any {
	t.Helper()
	d := tg.Dialect()
	id, err := tx.Insert(ctx(t), "INSERT INTO "+d.Quote(table)+" (k, n) VALUES ("+d.Placeholder(1)+", "+d.Placeholder(2)+")", "id", k, n)
	if err != nil {
		t.Fatalf("insert %s: %v", k, err)
	}
	return id
}

// Rows returns the rows of sql, read in a transaction of its own.
func Rows(t *testing.T, tg sink.Target, sql string, args ...any) [][]any {
	t.Helper()
	tx := begin(t, tg)
	defer tx.Rollback(context.Background())
	var out [][]any
	err := tx.Query(ctx(t), sql, args, func(row []any) error {
		out = append(out, append([]any(nil), row...))
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// keys returns the k column of table, sorted.
func keys(t *testing.T, tg sink.Target, table string) []string {
	t.Helper()
	var out []string
	for _, r := range Rows(t, tg, "SELECT k FROM "+tg.Dialect().Quote(table)+" ORDER BY k") {
		out = append(out, r[0].(string))
	}
	return out
}

// CheckRow compares a decoded row with want, column by column, and checks
// that times are in UTC.
func CheckRow(t *testing.T, names []string, got, want []any) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d columns, want %d", len(got), len(want))
	}
	for i := range want {
		if !capture.Equal(got[i], want[i]) {
			t.Errorf("%s = %#v (%T), want %#v (%T)", names[i], got[i], got[i], want[i], want[i])
		}
		if tm, ok := got[i].(time.Time); ok && tm.Location() != time.UTC {
			t.Errorf("%s is in %s, want UTC", names[i], tm.Location())
		}
	}
}

func testSetupIdempotent(t *testing.T, db DB) {
	ckpt := Unique("sink_ckpt")
	tg := db.Open(t, Unique("it"), ckpt, 2)
	must(t, tg.Setup(ctx(t))) // Open ran it once already
	must(t, tg.Setup(ctx(t)))
	again := db.Open(t, Unique("it"), ckpt, 2) // another sink on the same table
	must(t, again.Setup(ctx(t)))
	cps, err := tg.Checkpoints(ctx(t), "nobody")
	must(t, err)
	if len(cps) != 0 {
		t.Errorf("checkpoints of a new table: %v", cps)
	}
}

func testCheckpointRoundTrip(t *testing.T, db DB) {
	tg := db.Open(t, Unique("it"), Unique("sink_ckpt"), 2)
	c := ctx(t)
	a0 := sink.TopicPartition{Topic: "tandem.shop.order", Partition: 0}
	a1 := sink.TopicPartition{Topic: "tandem.shop.order", Partition: 1}
	cp := func(tp sink.TopicPartition, off int64, pos string) sink.Checkpoint {
		return sink.Checkpoint{Consumer: "erp", Topic: tp.Topic, Partition: tp.Partition, Offset: off, Position: pos}
	}
	tx := begin(t, tg)
	must(t, tx.Checkpoint(c, []sink.Checkpoint{cp(a0, 10, "p10"), cp(a1, 20, "p20")}))
	must(t, tx.Commit(c))
	if err := tx.Rollback(c); err != nil {
		t.Errorf("Rollback after Commit: %v, want nil", err)
	}
	if err := tx.Commit(c); err == nil {
		t.Error("a second Commit succeeded")
	}
	got, err := tg.Checkpoints(c, "erp")
	must(t, err)
	want := map[sink.TopicPartition]sink.Checkpoint{a0: cp(a0, 10, "p10"), a1: cp(a1, 20, "p20")}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Checkpoints = %v, want %v", got, want)
	}

	tx = begin(t, tg)
	stored, ok, err := tx.Stored(c, "erp", a0)
	must(t, err)
	if !ok || stored != cp(a0, 10, "p10") {
		t.Errorf("Stored = %v, %v", stored, ok)
	}
	if _, ok, err := tx.Stored(c, "erp", sink.TopicPartition{Topic: "tandem.shop.order", Partition: 9}); ok || err != nil {
		t.Errorf("Stored of an unknown partition: ok %v, err %v", ok, err)
	}
	if _, ok, err := tx.Stored(c, "shop", a0); ok || err != nil {
		t.Errorf("Stored of another consumer: ok %v, err %v", ok, err)
	}
	// the same partition twice in one call: the last wins
	must(t, tx.Checkpoint(c, []sink.Checkpoint{cp(a0, 11, "p11"), cp(a0, 12, "p12")}))
	if stored, _, _ := tx.Stored(c, "erp", a0); stored.Offset != 12 {
		t.Errorf("Stored inside the transaction: %v, want offset 12", stored)
	}
	must(t, tx.Commit(c))

	tx = begin(t, tg)
	must(t, tx.Checkpoint(c, []sink.Checkpoint{cp(a0, 99, "p99")}))
	must(t, tx.Rollback(c))
	must(t, tx.Rollback(c))

	must(t, tg.SetCheckpoint(c, cp(a1, -1, "")))
	got, err = tg.Checkpoints(c, "erp")
	must(t, err)
	want = map[sink.TopicPartition]sink.Checkpoint{a0: cp(a0, 12, "p12"), a1: cp(a1, -1, "")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after a rollback and SetCheckpoint: %v, want %v", got, want)
	}
}

func testConcurrentBegins(t *testing.T, db DB) {
	const n = 3
	tg := db.Open(t, Unique("it"), Unique("sink_ckpt"), n)
	table := items(t, db)
	c := ctx(t)
	// n transactions open at once, each on a connection of its own
	txs := make([]sink.Tx, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			tx, err := tg.Begin(c)
			if err == nil {
				err = tx.Checkpoint(c, []sink.Checkpoint{{Consumer: "c", Topic: "t", Partition: i, Offset: int64(i), Position: "p"}})
			}
			txs[i], errs[i] = tx, err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
	}
	for i, tx := range txs {
		insert(t, tg, tx, table, fmt.Sprintf("k%d", i), int64(i))
	}
	for _, tx := range txs {
		must(t, tx.Commit(c))
	}
	if got := keys(t, tg, table); !reflect.DeepEqual(got, []string{"k0", "k1", "k2"}) {
		t.Errorf("rows %v", got)
	}
	// and again, on the same connections
	for round := range 2 {
		for i := range n {
			tx := begin(t, tg)
			insert(t, tg, tx, table, fmt.Sprintf("r%d-%d", round, i), 1)
			must(t, tx.Commit(c))
		}
	}
	if got := len(keys(t, tg, table)); got != 3+2*n {
		t.Errorf("%d rows, want %d", got, 3+2*n)
	}
}

// testStoredLocks: Stored holds the partition's row until the transaction
// ends, so a second worker reads what the first committed.
func testStoredLocks(t *testing.T, db DB) {
	tg := db.Open(t, Unique("it"), Unique("sink_ckpt"), 2)
	c := ctx(t)
	tp := sink.TopicPartition{Topic: "t", Partition: 0}
	must(t, tg.SetCheckpoint(c, sink.Checkpoint{Consumer: "c", Topic: "t", Offset: 1, Position: "p1"}))
	first := begin(t, tg)
	if _, _, err := first.Stored(c, "c", tp); err != nil {
		t.Fatal(err)
	}
	must(t, first.Checkpoint(c, []sink.Checkpoint{{Consumer: "c", Topic: "t", Offset: 5, Position: "p5"}}))
	got := make(chan sink.Checkpoint, 1)
	go func() {
		tx, err := tg.Begin(c)
		if err != nil {
			t.Error(err)
			got <- sink.Checkpoint{}
			return
		}
		defer tx.Rollback(c)
		cp, _, err := tx.Stored(c, "c", tp)
		if err != nil {
			t.Error(err)
		}
		got <- cp
	}()
	select {
	case cp := <-got:
		t.Fatalf("a second transaction read the checkpoint (%v) while the first held it", cp)
	case <-time.After(500 * time.Millisecond):
	}
	must(t, first.Checkpoint(c, []sink.Checkpoint{{Consumer: "c", Topic: "t", Offset: 7, Position: "p7"}}))
	must(t, first.Commit(c))
	if cp := <-got; cp.Offset != 7 || cp.Position != "p7" {
		t.Errorf("the second transaction read %v, want offset 7 (what the first committed)", cp)
	}
}

func testSavepoint(t *testing.T, db DB) {
	tg, d, table, c := fixture(t, db)
	tx := begin(t, tg)
	must(t, tx.Checkpoint(c, []sink.Checkpoint{{Consumer: "c", Topic: "t", Offset: 1, Position: "p"}}))
	insert(t, tg, tx, table, "a", 1)
	must(t, tx.Savepoint(c, "event 1")) // a name that needs quoting
	insert(t, tg, tx, table, "b", 2)
	must(t, tx.RollbackTo(c, "event 1"))
	// a failing statement, undone, leaves the transaction usable
	must(t, tx.Savepoint(c, "event 2"))
	_, err := tx.Exec(c, "INSERT INTO "+d.Quote(table)+" (k, n) VALUES ("+d.Placeholder(1)+", 3)", "a")
	if err == nil {
		t.Fatal("a duplicate k was inserted")
	}
	if got := tg.Classify(err); got != sink.RowError {
		t.Errorf("Classify(duplicate key) = %v, want RowError (%v)", got, err)
	}
	must(t, tx.RollbackTo(c, "event 2"))
	insert(t, tg, tx, table, "c", 3)
	must(t, tx.Commit(c))
	if got := keys(t, tg, table); !reflect.DeepEqual(got, []string{"a", "c"}) {
		t.Errorf("rows %v, want [a c]", got)
	}
}

func testInsert(t *testing.T, db DB) {
	tg, d, table, c := fixture(t, db)
	tx := begin(t, tg)
	id1 := insert(t, tg, tx, table, "a", 1)
	price := Rat("19.99")
	id2, err := tx.Insert(c, "INSERT INTO "+d.Quote(table)+" (k, n, price) VALUES ("+d.Placeholder(1)+", "+d.Placeholder(2)+", "+d.Placeholder(3)+")",
		"id", "b", int64(2), price)
	must(t, err)
	i1, ok1 := id1.(int64)
	i2, ok2 := id2.(int64)
	if !ok1 || !ok2 || i1 <= 0 || i2 <= i1 {
		t.Fatalf("ids %#v, %#v: want growing int64s", id1, id2)
	}
	must(t, tx.Commit(c))
	rows := Rows(t, tg, "SELECT k, n, price FROM "+d.Quote(table)+" WHERE id = "+d.Placeholder(1), i2)
	if len(rows) != 1 {
		t.Fatalf("%d rows with id %d", len(rows), i2)
	}
	CheckRow(t, []string{"k", "n", "price"}, rows[0], []any{"b", int64(2), price})
}

func testClassify(t *testing.T, db DB) {
	tg, d, table, c := fixture(t, db)
	tx := begin(t, tg)
	insert(t, tg, tx, table, "a", 1)
	must(t, tx.Commit(c))
	for _, tc := range []struct {
		name string
		sql  string
		want sink.ErrorClass
	}{
		{"unique violation", "INSERT INTO " + d.Quote(table) + " (k, n) VALUES ('a', 1)", sink.RowError},
		{"not null violation", "INSERT INTO " + d.Quote(table) + " (k, n) VALUES ('b', NULL)", sink.RowError},
		{"value out of range", "INSERT INTO " + d.Quote(table) + " (k, n, price) VALUES ('c', 1, 1e20)", sink.RowError},
		{"missing table", "INSERT INTO " + d.Quote(db.Qualify("sink_no_such_table")) + " (k) VALUES ('a')", sink.Fatal},
		{"missing column", "UPDATE " + d.Quote(table) + " SET no_such_column = 1", sink.Fatal},
	} {
		tx := begin(t, tg)
		_, err := tx.Exec(c, tc.sql)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
		} else if got := tg.Classify(err); got != tc.want {
			t.Errorf("%s: Classify = %v, want %v (%v)", tc.name, got, tc.want, err)
		}
		must(t, tx.Rollback(c))
	}
	if got := tg.Classify(errors.New("no database error")); got != sink.Fatal {
		t.Errorf("Classify(plain error) = %v", got)
	}
}

func testUpsertJSONSet(t *testing.T, db DB) {
	tg, d, table, c := fixture(t, db)
	cols := []string{"k", "n"}
	exec := func(sql string, args ...any) {
		t.Helper()
		tx := begin(t, tg)
		if _, err := tx.Exec(c, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		must(t, tx.Commit(c))
	}
	exec(d.Upsert(table, cols, 2, []string{"k"}, []string{"n"}), "a", int64(1), "b", int64(2))
	exec(d.Upsert(table, cols, 2, []string{"k"}, []string{"n"}), "b", int64(20), "c", int64(3))
	exec(d.Upsert(table, cols, 2, []string{"k"}, nil), "a", int64(100), "d", int64(4))
	got := Rows(t, tg, "SELECT k, n FROM "+d.Quote(table)+" ORDER BY k")
	want := [][]any{{"a", int64(1)}, {"b", int64(20)}, {"c", int64(3)}, {"d", int64(4)}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after the upserts: %v, want %v", got, want)
	}

	doc := d.Quote("doc")
	set := func(k, path, value string) {
		t.Helper()
		exec("UPDATE "+d.Quote(table)+" SET "+doc+" = "+d.JSONSet(doc, path, d.Placeholder(1))+" WHERE k = "+d.Placeholder(2), value, k)
	}
	exec("UPDATE "+d.Quote(table)+" SET "+doc+" = "+d.Placeholder(1)+" WHERE k = 'b'", `{"a": {"z": 1}, "q": 2}`)
	set("a", "color", "red")                 // a NULL document
	set("a", "size.eu.max", "42")            // nested keys that do not exist yet
	set("b", "a.b", "x")                     // next to what is there
	set("c", `it's "odd", isn't it\`, "yes") // a key that needs quoting
	for k, want := range map[string]map[string]any{
		"a": {"color": "red", "size": map[string]any{"eu": map[string]any{"max": "42"}}},
		"b": {"a": map[string]any{"z": 1.0, "b": "x"}, "q": 2.0},
		"c": {`it's "odd", isn't it\`: "yes"},
	} {
		rows := Rows(t, tg, "SELECT "+doc+" FROM "+d.Quote(table)+" WHERE k = "+d.Placeholder(1), k)
		text, ok := rows[0][0].(string)
		var got map[string]any
		if !ok || json.Unmarshal([]byte(text), &got) != nil {
			t.Errorf("%s: doc %#v is no JSON text", k, rows[0][0])
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: doc %s, want %v", k, text, want)
		}
	}
}

// testCaptureDrops: what a sink writes through Begin never comes back from
// the target's own capture, tagged by the checkpoint row that comes first,
// and by the database's own tag alone, while an ordinary write does.
func testCaptureDrops(t *testing.T, db DB) {
	ckpt := Unique("sink_ckpt")
	tg := db.Open(t, Unique("it"), ckpt, 2)
	table := items(t, db)
	name := table[strings.LastIndex(table, ".")+1:]
	c := ctx(t)
	d := tg.Dialect()
	plain := func(k string) {
		db.Exec(t, "INSERT INTO "+d.Quote(table)+" (k, n) VALUES ('"+k+"', 0)")
	}
	rec := db.Capture(t, []string{table}, ckpt)
	rec.Streaming(t, name, plain)

	tx := begin(t, tg)
	must(t, tx.Checkpoint(c, []sink.Checkpoint{{Consumer: "c", Topic: "t", Offset: 1, Position: "p1"}}))
	insert(t, tg, tx, table, "sink-checkpoint-first", 1)
	must(t, tx.Commit(c))

	tx = begin(t, tg) // no checkpoint row: only the database's tag marks it
	insert(t, tg, tx, table, "sink-tag-only", 2)
	must(t, tx.Commit(c))

	tx = begin(t, tg) // an update and a delete, too
	must(t, tx.Checkpoint(c, []sink.Checkpoint{{Consumer: "c", Topic: "t", Offset: 2, Position: "p2"}}))
	_, err := tx.Exec(c, "UPDATE "+d.Quote(table)+" SET n = 5 WHERE k = "+d.Placeholder(1), "marker-0")
	must(t, err)
	_, err = tx.Exec(c, "DELETE FROM "+d.Quote(table)+" WHERE k = "+d.Placeholder(1), "sink-tag-only")
	must(t, err)
	must(t, tx.Commit(c))

	plain("plain-after")
	rec.WaitFor(t, name, "plain-after")
	for _, k := range []string{"sink-checkpoint-first", "sink-tag-only"} {
		if rec.Has(name, k) {
			t.Errorf("the capture delivered %s, which the sink wrote", k)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, s := range rec.seen {
		if s.Op != capture.OpInsert {
			t.Errorf("the capture delivered a %s of %v, which the sink wrote", s.Op, s.K)
		}
		if s.Table != name {
			t.Errorf("the capture delivered a change to %s", s.Table)
		}
	}
}
