//go:build integration

package mysql

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/capture/internal/rowsource/rowsourcetest"
	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/internal/testenv"
)

// rowsEnv is a RowSource on the local MariaDB, a connection to set tables
// up and read them as the snapshot does (tyOpen), and a table name unique
// to the test.
type rowsEnv struct {
	rowsourcetest.Env
	*tyEnv
}

func rowsOpen(t *testing.T, ddl ...string) *rowsEnv {
	t.Helper()
	rs, err := NewRowSource(context.Background(), config.Secret(testenv.MySQLDSN()))
	if err != nil {
		t.Fatalf("NewRowSource (is the stack up? make up): %v", err)
	}
	e := &rowsEnv{tyEnv: tyOpen(t)}
	table := tyName("rows")
	e.Env = rowsourcetest.Env{Source: rs, Table: e.cfg.DBName + "." + table, Snapshot: e.snapshotRows,
		Exec: func(t *testing.T, stmts ...string) {
			t.Helper()
			for _, s := range stmts {
				e.exec(t, strings.ReplaceAll(s, "$T", quote(table)))
			}
		}}
	rowsourcetest.Open(t, &e.Env, ddl...)
	return e
}

// snapshotRows reads every row of the table as the snapshot does:
// mySource's Table, then its Chunk.
func (e *rowsEnv) snapshotRows(t *testing.T) (*capture.Table, []capture.Row) {
	t.Helper()
	ctx := context.Background()
	src := &mySource{r: &Reader{shapes: map[string]*capture.Table{}}, conn: e.conn}
	tab, keys, _, err := src.Table(ctx, e.Table)
	if err != nil {
		t.Fatal(err)
	}
	var out []capture.Row
	err = src.Chunk(ctx, tab, keys, nil, 100000, func(row capture.Row, _ []*string) error {
		out = append(out, append(capture.Row(nil), row...))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tab, out
}

// insertN inserts rows 1 to n into the table, each row's values made by
// values.
func (e *rowsEnv) insertN(t *testing.T, n int, values func(i int) string) {
	t.Helper()
	var rows []string
	for i := 1; i <= n; i++ {
		rows = append(rows, "("+values(i)+")")
	}
	e.Exec(t, "INSERT INTO $T VALUES "+strings.Join(rows, ","))
}

func TestIntegrationRowSourceTypes(t *testing.T) {
	e := rowsOpen(t,
		`CREATE TABLE $T (id INT NOT NULL PRIMARY KEY, amount DECIMAL(26,8), name VARCHAR(100), dt DATETIME(6), ts TIMESTAMP(6) NULL,
			doc JSON, flag TINYINT(1), bit1 BIT(1), f FLOAT, big BIGINT UNSIGNED, d DATE, note TEXT NULL)`,
		`INSERT INTO $T VALUES
			(1, 12345678901234567.12345678, 'emoji 😀 ''q''', '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.654321',
			 '{"a": [1, 2]}', 1, b'1', 3.1415927, 18446744073709551615, '2024-02-29', NULL),
			(2, -0.5, 'abc', '1999-12-31 23:59:59', '2000-01-01 00:00:00', '[]', 0, b'0', -1.5, 0, '1970-01-01', 'n'),
			(3, NULL, 'ABC', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`)
	rowsourcetest.TestTypes(t, &e.Env, rowsourcetest.Types{
		Database: e.cfg.DBName,
		Columns:  "id,amount,name,dt,ts,doc,flag,bit1,f,big,d,note",
		Want: map[string]any{
			"id": int64(1), "amount": rat("12345678901234567.12345678"), "name": "emoji 😀 'q'",
			"dt": utc(2024, 2, 29, 13, 14, 15, 123456), "ts": utc(2024, 2, 29, 13, 14, 15, 654321),
			"doc": `{"a": [1, 2]}`, "flag": int64(1), "bit1": true, "f": float32(3.1415927), "big": uint64(18446744073709551615),
			"d": utc(2024, 2, 29, 0, 0, 0, 0), "note": nil,
		},
		False: "bit1",
		// the collation ignores case
		By: []rowsourcetest.Lookup{
			{Column: "name", Values: []string{"abc", "nope"}, Want: "[2 3]"},
			{Column: "dt", Values: []string{"2024-02-29 13:14:15.123456"}, Want: "[1]"},
			{Column: "amount", Values: []string{"-0.5"}, Want: "[2]"},
		},
	})
}

func TestIntegrationRowSourceBatches(t *testing.T) {
	e := rowsOpen(t, `CREATE TABLE $T (id INT PRIMARY KEY, grp VARCHAR(10) NOT NULL)`)
	e.insertN(t, 1500, func(i int) string { return fmt.Sprintf("%d, 'g%d'", i, i%3) })
	rowsourcetest.TestBatches(t, &e.Env)
}

func TestIntegrationRowSourceErrors(t *testing.T) {
	e := rowsOpen(t, "CREATE TABLE $T (id INT PRIMARY KEY, d DATE NULL, label VARCHAR(10))")
	e.Exec(t, "SET SESSION sql_mode = 'ALLOW_INVALID_DATES'",
		"INSERT INTO $T VALUES (1, '0000-00-00', 'a'), (2, '2024-01-02', 'b')",
		"SET SESSION sql_mode = DEFAULT")
	rowsourcetest.TestErrors(t, &e.Env, rowsourcetest.Errors{
		Missing:     e.cfg.DBName + ".it_rows_missing",
		Unqualified: "database.table",
		Columns:     "id, d, label",
		WrongType:   []string{"2", "abc"},
		WrongWant:   `"abc"`,
		Bad:         "d", // a zero date
		After:       "[2]",
		Open:        rowsourcetest.Opener(NewRowSource),
		DSN:         testenv.MySQLDSN(),
		LoginWant:   "access denied",
	})
}

func TestIntegrationRowSourceForgetAfterAlter(t *testing.T) {
	e := rowsOpen(t, "CREATE TABLE $T (id INT PRIMARY KEY, n INT, old VARCHAR(10))",
		"INSERT INTO $T VALUES (1, 10, 'o'), (2, 20, 'p')")
	rowsourcetest.TestForgetAfterAlter(t, &e.Env, rowsourcetest.Alters{
		Extra:  "ALTER TABLE $T ADD COLUMN extra VARCHAR(10) DEFAULT 'x'",
		Code:   []string{"ALTER TABLE $T ADD COLUMN code VARCHAR(10)", "UPDATE $T SET code = CONCAT('c', id)"},
		Drop:   "ALTER TABLE $T DROP COLUMN old",
		Retype: []string{"ALTER TABLE $T MODIFY n VARCHAR(10)", "UPDATE $T SET n = CONCAT('n', n)"},
	})
}

func TestIntegrationRowSourceConcurrent(t *testing.T) {
	e := rowsOpen(t, "CREATE TABLE $T (id INT PRIMARY KEY, v VARCHAR(10))")
	e.insertN(t, 100, func(i int) string { return fmt.Sprintf("%d, 'v%d'", i, i) })
	rowsourcetest.TestConcurrent(t, &e.Env)
}
