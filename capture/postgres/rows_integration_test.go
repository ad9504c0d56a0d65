//go:build integration

package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/internal/testenv"
)

// rowsEnv is a RowSource on the local PostgreSQL and a plain connection
// (with the capture's session settings) to set tables up and read them as
// the snapshot does.
type rowsEnv struct {
	rs    *RowSource
	conn  *pgx.Conn
	table string // unique per test, in schema public
}

func rowsOpen(t *testing.T, ddl ...string) *rowsEnv {
	t.Helper()
	ctx := context.Background()
	rs, err := NewRowSource(ctx, config.Secret(testenv.PostgresDSN()))
	if err != nil {
		t.Fatalf("NewRowSource (is the stack up? make up): %v", err)
	}
	cfg, err := pgx.ParseConfig(testenv.PostgresDSN())
	if err != nil {
		t.Fatal(err)
	}
	connParams(&cfg.Config, "rows-test")
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &rowsEnv{rs: rs, conn: conn, table: fmt.Sprintf("it_rows_%d", time.Now().UnixNano()%1e9)}
	t.Cleanup(func() {
		sqlExec(t, conn, "DROP TABLE IF EXISTS "+e.table)
		conn.Close(ctx)
		if err := rs.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	for _, s := range ddl {
		sqlExec(t, conn, strings.ReplaceAll(s, "$T", e.table))
	}
	return e
}

func (e *rowsEnv) qualified() string { return "public." + e.table }

func (e *rowsEnv) rows(t *testing.T, column string, values ...string) (*capture.Table, []capture.Row) {
	t.Helper()
	tab, rows, err := e.rs.Rows(context.Background(), e.qualified(), column, values)
	if err != nil {
		t.Fatalf("Rows(%s, %s, %v): %v", e.qualified(), column, values, err)
	}
	return tab, rows
}

// snapshotRows reads every row of the table as the snapshot does:
// catalogTable's shape, then pgSource.Chunk.
func (e *rowsEnv) snapshotRows(t *testing.T) (*capture.Table, []capture.Row) {
	t.Helper()
	ctx := context.Background()
	rd := &Reader{rels: map[uint32]*relation{}, types: &typeResolver{conn: e.conn, info: map[uint32]*pgTypeInfo{}}, dbName: e.conn.Config().Database}
	tab, keys, err := rd.catalogTable(ctx, e.conn, e.qualified())
	if err != nil {
		t.Fatal(err)
	}
	var out []capture.Row
	err = (&pgSource{r: rd, conn: e.conn}).Chunk(ctx, tab, keys, nil, 100000, func(row capture.Row, _ []*string) error {
		out = append(out, append(capture.Row(nil), row...))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tab, out
}

func ids(rows []capture.Row) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r[0].(int64)
	}
	return out
}

func TestIntegrationRowSourceTypes(t *testing.T) {
	e := rowsOpen(t,
		`CREATE TABLE $T (id int8 PRIMARY KEY, i4 int4, amount numeric(26,8), name text, ts timestamp, tstz timestamptz,
			doc json, docb jsonb, flag bool, d date, tags text[], note text, gen int8 GENERATED ALWAYS AS (id * 2) STORED)`,
		`INSERT INTO $T VALUES
			(1, -7, 12345678901234567.12345678, 'emoji 😀 ''q''', '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.654321+02',
			 '{"a": [1, 2]}', '{"b": {"c": null}}', true, '2024-02-29', '{"x y",NULL}', NULL),
			(2, 42, 0.5, 'abc', '1999-12-31 23:59:59', '2000-01-01 00:00:00+00', '[]', '{}', false, '1970-01-01', '{}', 'n'),
			(3, NULL, NULL, 'abc', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`)

	tab, rows := e.rows(t, "id", "2", "1", "99")
	if got := ids(rows); fmt.Sprint(got) != "[1 2]" {
		t.Fatalf("ids %v, want [1 2] (ordered by the key; 99 has no row)", got)
	}
	var names []string
	for _, c := range tab.Columns {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, ","); got != "id,i4,amount,name,ts,tstz,doc,docb,flag,d,tags,note" {
		t.Errorf("columns %s", got)
	}
	if tab.QualifiedName() != e.qualified() || tab.Database != "tandem" || !tab.Columns[0].Key || tab.Columns[1].Key {
		t.Errorf("shape %+v", tab)
	}
	rat := func(s string) *big.Rat { r, _ := new(big.Rat).SetString(s); return r }
	ts := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	want := map[string]any{
		"id": int64(1), "i4": int64(-7), "amount": rat("12345678901234567.12345678"), "name": "emoji 😀 'q'",
		"ts": ts("2024-02-29T13:14:15.123456Z"), "tstz": ts("2024-02-29T11:14:15.654321Z"),
		"doc": `{"a": [1, 2]}`, "docb": `{"b": {"c": null}}`, "flag": true, "d": ts("2024-02-29T00:00:00Z"),
		"tags": []any{"x y", nil}, "note": nil,
	}
	for name, w := range want {
		if got := rows[0][tab.ColumnIndex(name)]; !capture.Equal(got, w) {
			t.Errorf("%s = %#v, want %#v", name, got, w)
		}
	}
	if got := rows[1][tab.ColumnIndex("flag")]; got != false {
		t.Errorf("flag of row 2 = %#v", got)
	}

	// every row equals what the snapshot reads, shape included
	snapTab, snapRows := e.snapshotRows(t)
	if !snapTab.SameShape(tab) {
		t.Errorf("shape differs from the snapshot's:\n%+v\n%+v", tab.Columns, snapTab.Columns)
	}
	_, all := e.rows(t, "id", "1", "2", "3")
	if len(all) != len(snapRows) {
		t.Fatalf("%d rows, snapshot has %d", len(all), len(snapRows))
	}
	for i := range all {
		for j := range all[i] {
			if !capture.Equal(all[i][j], snapRows[i][j]) {
				t.Errorf("row %d %s = %#v, snapshot %#v", i, tab.Columns[j].Name, all[i][j], snapRows[i][j])
			}
		}
	}

	// by a column that is not the key, values parsed as the column's type
	if _, rows := e.rows(t, "name", "abc", "nope"); fmt.Sprint(ids(rows)) != "[2 3]" {
		t.Errorf("by name: ids %v, want [2 3]", ids(rows))
	}
	if _, rows := e.rows(t, "ts", "2024-02-29 13:14:15.123456"); fmt.Sprint(ids(rows)) != "[1]" {
		t.Errorf("by ts: ids %v, want [1]", ids(rows))
	}
	if _, rows := e.rows(t, "amount", "0.50000000"); fmt.Sprint(ids(rows)) != "[2]" {
		t.Errorf("by amount: ids %v, want [2]", ids(rows))
	}
	if tab, rows := e.rows(t, "id"); len(rows) != 0 || tab == nil || len(tab.Columns) != 12 {
		t.Errorf("no values: %v rows, shape %v", len(rows), tab)
	}
}

func TestIntegrationRowSourceBatches(t *testing.T) {
	e := rowsOpen(t, `CREATE TABLE $T (id int4 PRIMARY KEY, grp text NOT NULL)`,
		`INSERT INTO $T SELECT g, 'g' || (g % 3) FROM generate_series(1, 1500) g`)
	var values []string
	for i := 1300; i >= 1; i-- { // 1300 values with a row, in reverse
		values = append(values, strconv.Itoa(i))
	}
	values = append(values, "5000", "6000", "7", "1") // no row; repeats
	_, rows := e.rows(t, "id", values...)
	if len(rows) != 1300 {
		t.Fatalf("%d rows, want 1300", len(rows))
	}
	seen := map[int64]bool{}
	for i, id := range ids(rows) {
		if seen[id] || id < 1 || id > 1300 {
			t.Fatalf("row %d: id %d repeated or unasked", i, id)
		}
		seen[id] = true
		// within each IN list of 500 values the rows follow the key
		if i%500 != 0 && rows[i-1][0].(int64) > id {
			t.Fatalf("row %d: id %d after %d", i, id, rows[i-1][0])
		}
	}
	_, rows = e.rows(t, "grp", "g0", "g1")
	if len(rows) != 1000 {
		t.Errorf("by grp: %d rows, want 1000", len(rows))
	}
}

func TestIntegrationRowSourceErrors(t *testing.T) {
	e := rowsOpen(t, `CREATE TABLE $T (id int4 PRIMARY KEY, v numeric, label text)`,
		`INSERT INTO $T VALUES (1, 'NaN', 'a')`)
	ctx := context.Background()

	_, _, err := e.rs.Rows(ctx, "public.it_rows_missing", "id", []string{"1"})
	if err == nil || !strings.Contains(err.Error(), "table public.it_rows_missing does not exist") {
		t.Errorf("unknown table: %v", err)
	}
	_, _, err = e.rs.Rows(ctx, "it_rows_missing", "id", []string{"1"})
	if err == nil || !strings.Contains(err.Error(), "schema.table") {
		t.Errorf("unqualified table: %v", err)
	}
	_, _, err = e.rs.Rows(ctx, e.qualified(), "nope", []string{"1"})
	if err == nil || !strings.Contains(err.Error(), "table "+e.qualified()+" has no column nope") ||
		!strings.Contains(err.Error(), "its columns: id, v, label") {
		t.Errorf("unknown column: %v", err)
	}
	_, _, err = e.rs.Rows(ctx, e.qualified(), "id", []string{"abc"})
	if err == nil || !strings.Contains(err.Error(), e.qualified()) || !strings.Contains(err.Error(), "by id") ||
		!strings.Contains(err.Error(), "invalid input syntax") {
		t.Errorf("value of the wrong type: %v", err)
	}
	_, _, err = e.rs.Rows(ctx, e.qualified(), "label", []string{"a"})
	var bad *capture.BadValueError
	if !errors.As(err, &bad) || bad.Table != e.qualified() || bad.Column != "v" || bad.Value != "NaN" {
		t.Errorf("NaN: %#v", err)
	}
	// the source still works after the errors
	if _, rows := e.rows(t, "id", "2", "3"); len(rows) != 0 {
		t.Errorf("%d rows", len(rows))
	}

	_, err = NewRowSource(ctx, config.Secret(strings.Replace(testenv.PostgresDSN(), "tandem:tandem@", "tandem:wrong@", 1)))
	if err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Errorf("wrong password: %v", err)
	}

	if err := e.rs.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.rs.Rows(ctx, e.qualified(), "id", []string{"2"}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Rows after Close: %v", err)
	}
}

func TestIntegrationRowSourceReconnects(t *testing.T) {
	e := rowsOpen(t, `CREATE TABLE $T (id int4 PRIMARY KEY)`, `INSERT INTO $T VALUES (1)`)
	ctx := context.Background()
	for round := range 2 {
		if _, rows := e.rows(t, "id", "1"); len(rows) != 1 {
			t.Fatalf("round %d: %d rows", round, len(rows))
		}
		conn, err := e.rs.pool.acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pid := conn.PgConn().PID()
		e.rs.pool.release(conn)
		var done bool
		if err := e.conn.QueryRow(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&done); err != nil || !done {
			t.Fatalf("terminate %d: %v %v", pid, done, err)
		}
		time.Sleep(pingAfter + 100*time.Millisecond) // an idle connection is checked before use
	}
	if _, rows := e.rows(t, "id", "1"); len(rows) != 1 {
		t.Fatalf("after reconnects: %d rows", len(rows))
	}
}

func TestIntegrationRowSourceForgetAfterAlter(t *testing.T) {
	e := rowsOpen(t, `CREATE TABLE $T (id int4 PRIMARY KEY, n int4, old text)`,
		`INSERT INTO $T VALUES (1, 10, 'o'), (2, 20, 'p')`)
	tab, _ := e.rows(t, "id", "1")
	if len(tab.Columns) != 3 {
		t.Fatalf("columns %+v", tab.Columns)
	}
	sqlExec(t, e.conn, "ALTER TABLE "+e.table+" ADD COLUMN extra text DEFAULT 'x'")
	if tab, rows := e.rows(t, "id", "1"); len(tab.Columns) != 3 || len(rows[0]) != 3 {
		t.Fatalf("before Forget the cached shape serves: %+v", tab.Columns)
	}
	e.rs.Forget(e.qualified())
	tab, rows := e.rows(t, "id", "1")
	if len(tab.Columns) != 4 || tab.Columns[3].Name != "extra" || rows[0][3] != "x" {
		t.Fatalf("after Forget: %+v %v", tab.Columns, rows)
	}
	// a new column is found without Forget when it is the one looked up by
	sqlExec(t, e.conn, "ALTER TABLE "+e.table+" ADD COLUMN code text", "UPDATE "+e.table+" SET code = 'c' || id")
	if tab, rows := e.rows(t, "code", "c2"); len(tab.Columns) != 5 || fmt.Sprint(ids(rows)) != "[2]" {
		t.Fatalf("by a new column: %+v %v", tab.Columns, rows)
	}
	// a dropped column or a retyped value retries once with a fresh shape
	sqlExec(t, e.conn, "ALTER TABLE "+e.table+" DROP COLUMN old")
	if tab, rows := e.rows(t, "id", "2"); len(tab.Columns) != 4 || len(rows) != 1 || tab.ColumnIndex("old") >= 0 {
		t.Fatalf("after DROP COLUMN: %+v %v", tab.Columns, rows)
	}
	sqlExec(t, e.conn, "ALTER TABLE "+e.table+" ALTER COLUMN n TYPE text USING 'n' || n")
	tab, rows = e.rows(t, "id", "2")
	if i := tab.ColumnIndex("n"); tab.Columns[i].Type.Kind != capture.KindString || rows[0][i] != "n20" {
		t.Fatalf("after ALTER TYPE: %+v %v", tab.Columns, rows)
	}
}

func TestIntegrationRowSourceConcurrent(t *testing.T) {
	e := rowsOpen(t, `CREATE TABLE $T (id int4 PRIMARY KEY, v text)`,
		`INSERT INTO $T SELECT g, 'v' || g FROM generate_series(1, 100) g`)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				id := strconv.Itoa(1 + (w*20+i)%100)
				_, rows, err := e.rs.Rows(context.Background(), e.qualified(), "id", []string{id})
				if err != nil || len(rows) != 1 || rows[0][1] != "v"+id {
					t.Errorf("worker %d: %v %v", w, rows, err)
					return
				}
				if i%7 == 0 {
					e.rs.Forget(e.qualified())
				}
			}
		}()
	}
	wg.Wait()
}
