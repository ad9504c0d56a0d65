//go:build integration

package postgres

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/capture/internal/rowsource/rowsourcetest"
	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/internal/testenv"
)

// rowsEnv is a RowSource on the local PostgreSQL and a plain connection
// (with the capture's session settings) to set tables up and read them as
// the snapshot does; the table is unique per test, in schema public.
type rowsEnv struct {
	rowsourcetest.Env
	rs   *RowSource
	conn *pgx.Conn
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
	t.Cleanup(func() { conn.Close(ctx) })
	table := fmt.Sprintf("it_rows_%d", time.Now().UnixNano()%1e9)
	e := &rowsEnv{rs: rs, conn: conn}
	e.Env = rowsourcetest.Env{Source: rs, Table: "public." + table, Snapshot: e.snapshotRows,
		Exec: func(t *testing.T, stmts ...string) {
			t.Helper()
			for _, s := range stmts {
				sqlExec(t, conn, strings.ReplaceAll(s, "$T", table))
			}
		}}
	rowsourcetest.Open(t, &e.Env, ddl...)
	return e
}

// snapshotRows reads every row of the table as the snapshot does:
// catalogTable's shape, then pgSource.Chunk.
func (e *rowsEnv) snapshotRows(t *testing.T) (*capture.Table, []capture.Row) {
	t.Helper()
	ctx := context.Background()
	rd := &Reader{rels: map[uint32]*relation{}, types: &typeResolver{conn: e.conn, info: map[uint32]*pgTypeInfo{}}, dbName: e.conn.Config().Database}
	tab, keys, err := rd.catalogTable(ctx, e.conn, e.Table)
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

func TestIntegrationRowSourceTypes(t *testing.T) {
	e := rowsOpen(t,
		`CREATE TABLE $T (id int8 PRIMARY KEY, i4 int4, amount numeric(26,8), name text, ts timestamp, tstz timestamptz,
			doc json, docb jsonb, flag bool, d date, tags text[], note text, gen int8 GENERATED ALWAYS AS (id * 2) STORED)`,
		`INSERT INTO $T VALUES
			(1, -7, 12345678901234567.12345678, 'emoji 😀 ''q''', '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.654321+02',
			 '{"a": [1, 2]}', '{"b": {"c": null}}', true, '2024-02-29', '{"x y",NULL}', NULL),
			(2, 42, 0.5, 'abc', '1999-12-31 23:59:59', '2000-01-01 00:00:00+00', '[]', '{}', false, '1970-01-01', '{}', 'n'),
			(3, NULL, NULL, 'abc', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`)
	rat := func(s string) *big.Rat { r, _ := new(big.Rat).SetString(s); return r }
	ts := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	rowsourcetest.TestTypes(t, &e.Env, rowsourcetest.Types{
		Database: "tandem",
		Columns:  "id,i4,amount,name,ts,tstz,doc,docb,flag,d,tags,note", // no generated column
		Want: map[string]any{
			"id": int64(1), "i4": int64(-7), "amount": rat("12345678901234567.12345678"), "name": "emoji 😀 'q'",
			"ts": ts("2024-02-29T13:14:15.123456Z"), "tstz": ts("2024-02-29T11:14:15.654321Z"),
			"doc": `{"a": [1, 2]}`, "docb": `{"b": {"c": null}}`, "flag": true, "d": ts("2024-02-29T00:00:00Z"),
			"tags": []any{"x y", nil}, "note": nil,
		},
		False: "flag",
		// values parsed as the column's type
		By: []rowsourcetest.Lookup{
			{Column: "name", Values: []string{"abc", "nope"}, Want: "[2 3]"},
			{Column: "ts", Values: []string{"2024-02-29 13:14:15.123456"}, Want: "[1]"},
			{Column: "amount", Values: []string{"0.50000000"}, Want: "[2]"},
		},
	})
}

func TestIntegrationRowSourceBatches(t *testing.T) {
	e := rowsOpen(t, `CREATE TABLE $T (id int4 PRIMARY KEY, grp text NOT NULL)`,
		`INSERT INTO $T SELECT g, 'g' || (g % 3) FROM generate_series(1, 1500) g`)
	rowsourcetest.TestBatches(t, &e.Env)
}

func TestIntegrationRowSourceErrors(t *testing.T) {
	e := rowsOpen(t, `CREATE TABLE $T (id int4 PRIMARY KEY, v numeric, label text)`,
		`INSERT INTO $T VALUES (1, 'NaN', 'a')`)
	rowsourcetest.TestErrors(t, &e.Env, rowsourcetest.Errors{
		Missing:     "public.it_rows_missing",
		Unqualified: "schema.table",
		Columns:     "id, v, label",
		WrongType:   []string{"abc"},
		WrongWant:   "invalid input syntax",
		Bad:         "v", BadVal: "NaN",
		After:     "[]",
		Open:      rowsourcetest.Opener(NewRowSource),
		DSN:       testenv.PostgresDSN(),
		LoginWant: "password authentication failed",
	})
}

func TestIntegrationRowSourceReconnects(t *testing.T) {
	e := rowsOpen(t, `CREATE TABLE $T (id int4 PRIMARY KEY)`, `INSERT INTO $T VALUES (1)`)
	ctx := context.Background()
	for round := range 2 {
		if _, rows := e.Rows(t, "id", "1"); len(rows) != 1 {
			t.Fatalf("round %d: %d rows", round, len(rows))
		}
		conn, err := e.rs.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pid := conn.Conn().PgConn().PID()
		conn.Release()
		var done bool
		if err := e.conn.QueryRow(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&done); err != nil || !done {
			t.Fatalf("terminate %d: %v %v", pid, done, err)
		}
		// pgxpool pings a connection idle for over a second before use
		time.Sleep(time.Second + 100*time.Millisecond)
	}
	if _, rows := e.Rows(t, "id", "1"); len(rows) != 1 {
		t.Fatalf("after reconnects: %d rows", len(rows))
	}
}

func TestIntegrationRowSourceForgetAfterAlter(t *testing.T) {
	e := rowsOpen(t, `CREATE TABLE $T (id int4 PRIMARY KEY, n int4, old text)`,
		`INSERT INTO $T VALUES (1, 10, 'o'), (2, 20, 'p')`)
	rowsourcetest.TestForgetAfterAlter(t, &e.Env, rowsourcetest.Alters{
		Extra:  "ALTER TABLE $T ADD COLUMN extra text DEFAULT 'x'",
		Code:   []string{"ALTER TABLE $T ADD COLUMN code text", "UPDATE $T SET code = 'c' || id"},
		Drop:   "ALTER TABLE $T DROP COLUMN old",
		Retype: []string{"ALTER TABLE $T ALTER COLUMN n TYPE text USING 'n' || n"},
	})
}

func TestIntegrationRowSourceConcurrent(t *testing.T) {
	e := rowsOpen(t, `CREATE TABLE $T (id int4 PRIMARY KEY, v text)`,
		`INSERT INTO $T SELECT g, 'v' || g FROM generate_series(1, 100) g`)
	rowsourcetest.TestConcurrent(t, &e.Env)
}
