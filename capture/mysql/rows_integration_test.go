//go:build integration

package mysql

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/internal/testenv"
)

// rowsEnv is a RowSource on the local MariaDB, a connection to set tables
// up and read them as the snapshot does (tyOpen), and a table name unique
// to the test.
type rowsEnv struct {
	*tyEnv
	rs    *RowSource
	table string
}

func rowsOpen(t *testing.T, ddl ...string) *rowsEnv {
	t.Helper()
	rs, err := NewRowSource(context.Background(), config.Secret(testenv.MySQLDSN()))
	if err != nil {
		t.Fatalf("NewRowSource (is the stack up? make up): %v", err)
	}
	e := &rowsEnv{tyEnv: tyOpen(t), rs: rs, table: tyName("rows")}
	t.Cleanup(func() {
		e.exec(t, "DROP TABLE IF EXISTS "+quote(e.table))
		if err := rs.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	for _, s := range ddl {
		e.exec(t, strings.ReplaceAll(s, "$T", quote(e.table)))
	}
	return e
}

func (e *rowsEnv) qualified() string { return e.cfg.DBName + "." + e.table }

func (e *rowsEnv) rows(t *testing.T, column string, values ...string) (*capture.Table, []capture.Row) {
	t.Helper()
	tab, rows, err := e.rs.Rows(context.Background(), e.qualified(), column, values)
	if err != nil {
		t.Fatalf("Rows(%s, %s, %v): %v", e.qualified(), column, values, err)
	}
	return tab, rows
}

// snapshotRows reads every row of the table as the snapshot does:
// mySource's Table, then its Chunk.
func (e *rowsEnv) snapshotRows(t *testing.T) (*capture.Table, []capture.Row) {
	t.Helper()
	ctx := context.Background()
	src := &mySource{r: &Reader{shapes: map[string]*capture.Table{}}, conn: e.conn}
	tab, keys, _, err := src.Table(ctx, e.qualified())
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

func rowIDs(rows []capture.Row) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r[0].(int64)
	}
	return out
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

	tab, rows := e.rows(t, "id", "2", "1", "99")
	if got := rowIDs(rows); fmt.Sprint(got) != "[1 2]" {
		t.Fatalf("ids %v, want [1 2] (ordered by the key; 99 has no row)", got)
	}
	var names []string
	for _, c := range tab.Columns {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, ","); got != "id,amount,name,dt,ts,doc,flag,bit1,f,big,d,note" {
		t.Errorf("columns %s", got)
	}
	if tab.QualifiedName() != e.qualified() || tab.Version != 1 || !tab.Columns[0].Key || tab.Columns[1].Key {
		t.Errorf("shape %+v", tab)
	}
	want := map[string]any{
		"id": int64(1), "amount": rat("12345678901234567.12345678"), "name": "emoji 😀 'q'",
		"dt": utc(2024, 2, 29, 13, 14, 15, 123456), "ts": utc(2024, 2, 29, 13, 14, 15, 654321),
		"doc": `{"a": [1, 2]}`, "flag": int64(1), "bit1": true, "f": float32(3.1415927), "big": uint64(18446744073709551615),
		"d": utc(2024, 2, 29, 0, 0, 0, 0), "note": nil,
	}
	for name, w := range want {
		if got := rows[0][tab.ColumnIndex(name)]; !capture.Equal(got, w) {
			t.Errorf("%s = %#v, want %#v", name, got, w)
		}
	}
	if got := rows[1][tab.ColumnIndex("bit1")]; got != false {
		t.Errorf("bit1 of row 2 = %#v", got)
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

	// by columns that are not the key (the collation ignores case)
	if _, rows := e.rows(t, "name", "abc", "nope"); fmt.Sprint(rowIDs(rows)) != "[2 3]" {
		t.Errorf("by name: ids %v, want [2 3]", rowIDs(rows))
	}
	if _, rows := e.rows(t, "dt", "2024-02-29 13:14:15.123456"); fmt.Sprint(rowIDs(rows)) != "[1]" {
		t.Errorf("by dt: ids %v, want [1]", rowIDs(rows))
	}
	if _, rows := e.rows(t, "amount", "-0.5"); fmt.Sprint(rowIDs(rows)) != "[2]" {
		t.Errorf("by amount: ids %v, want [2]", rowIDs(rows))
	}
	if tab, rows := e.rows(t, "id"); len(rows) != 0 || tab == nil || len(tab.Columns) != 12 {
		t.Errorf("no values: %v rows, shape %v", len(rows), tab)
	}
}

func TestIntegrationRowSourceBatches(t *testing.T) {
	e := rowsOpen(t, `CREATE TABLE $T (id INT PRIMARY KEY, grp VARCHAR(10) NOT NULL)`)
	var vals []string
	for i := 1; i <= 1500; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 'g%d')", i, i%3))
	}
	e.exec(t, "INSERT INTO "+quote(e.table)+" VALUES "+strings.Join(vals, ","))
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
	for i, id := range rowIDs(rows) {
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
	e := rowsOpen(t, "CREATE TABLE $T (id INT PRIMARY KEY, d DATE NULL, label VARCHAR(10))")
	e.exec(t, "SET SESSION sql_mode = 'ALLOW_INVALID_DATES'")
	e.exec(t, "INSERT INTO "+quote(e.table)+" VALUES (1, '0000-00-00', 'a'), (2, '2024-01-02', 'b')")
	e.exec(t, "SET SESSION sql_mode = DEFAULT")
	ctx := context.Background()

	missing := e.cfg.DBName + ".it_rows_missing"
	_, _, err := e.rs.Rows(ctx, missing, "id", []string{"1"})
	if err == nil || !strings.Contains(err.Error(), "table "+missing+" does not exist") {
		t.Errorf("unknown table: %v", err)
	}
	_, _, err = e.rs.Rows(ctx, "it_rows_missing", "id", []string{"1"})
	if err == nil || !strings.Contains(err.Error(), "database.table") {
		t.Errorf("unqualified table: %v", err)
	}
	_, _, err = e.rs.Rows(ctx, e.qualified(), "nope", []string{"1"})
	if err == nil || !strings.Contains(err.Error(), "table "+e.qualified()+" has no column nope") ||
		!strings.Contains(err.Error(), "its columns: id, d, label") {
		t.Errorf("unknown column: %v", err)
	}
	_, _, err = e.rs.Rows(ctx, e.qualified(), "id", []string{"2", "abc"})
	if err == nil || !strings.Contains(err.Error(), e.qualified()+" by id") || !strings.Contains(err.Error(), `"abc"`) {
		t.Errorf("value of the wrong type: %v", err)
	}
	_, _, err = e.rs.Rows(ctx, e.qualified(), "label", []string{"a"})
	var bad *capture.BadValueError
	if !errors.As(err, &bad) || bad.Table != e.qualified() || bad.Column != "d" {
		t.Errorf("zero date: %#v", err)
	}
	// the source still works after the errors
	if _, rows := e.rows(t, "id", "2", "3"); fmt.Sprint(rowIDs(rows)) != "[2]" {
		t.Errorf("ids %v", rowIDs(rows))
	}

	_, err = NewRowSource(ctx, config.Secret(strings.Replace(testenv.MySQLDSN(), "tandem:tandem@", "tandem:wrong@", 1)))
	if err == nil || !strings.Contains(err.Error(), "access denied") {
		t.Errorf("wrong password: %v", err)
	}

	if err := e.rs.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.rs.Rows(ctx, e.qualified(), "id", []string{"2"}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Rows after Close: %v", err)
	}
}

func TestIntegrationRowSourceForgetAfterAlter(t *testing.T) {
	e := rowsOpen(t, "CREATE TABLE $T (id INT PRIMARY KEY, n INT, old VARCHAR(10))",
		"INSERT INTO $T VALUES (1, 10, 'o'), (2, 20, 'p')")
	tab, _ := e.rows(t, "id", "1")
	if len(tab.Columns) != 3 {
		t.Fatalf("columns %+v", tab.Columns)
	}
	e.exec(t, "ALTER TABLE "+quote(e.table)+" ADD COLUMN extra VARCHAR(10) DEFAULT 'x'")
	if tab, rows := e.rows(t, "id", "1"); len(tab.Columns) != 3 || len(rows[0]) != 3 {
		t.Fatalf("before Forget the cached shape serves: %+v", tab.Columns)
	}
	e.rs.Forget(e.qualified())
	tab, rows := e.rows(t, "id", "1")
	if len(tab.Columns) != 4 || tab.Columns[3].Name != "extra" || rows[0][3] != "x" {
		t.Fatalf("after Forget: %+v %v", tab.Columns, rows)
	}
	// a new column is found without Forget when it is the one looked up by
	e.exec(t, "ALTER TABLE "+quote(e.table)+" ADD COLUMN code VARCHAR(10)")
	e.exec(t, "UPDATE "+quote(e.table)+" SET code = CONCAT('c', id)")
	if tab, rows := e.rows(t, "code", "c2"); len(tab.Columns) != 5 || fmt.Sprint(rowIDs(rows)) != "[2]" {
		t.Fatalf("by a new column: %+v %v", tab.Columns, rows)
	}
	// a dropped column or a retyped value retries once with a fresh shape
	e.exec(t, "ALTER TABLE "+quote(e.table)+" DROP COLUMN old")
	if tab, rows := e.rows(t, "id", "2"); len(tab.Columns) != 4 || len(rows) != 1 || tab.ColumnIndex("old") >= 0 {
		t.Fatalf("after DROP COLUMN: %+v %v", tab.Columns, rows)
	}
	e.exec(t, "ALTER TABLE "+quote(e.table)+" MODIFY n VARCHAR(10)")
	e.exec(t, "UPDATE "+quote(e.table)+" SET n = CONCAT('n', n)")
	tab, rows = e.rows(t, "id", "2")
	if i := tab.ColumnIndex("n"); tab.Columns[i].Type.Kind != capture.KindString || rows[0][i] != "n20" {
		t.Fatalf("after MODIFY: %+v %v", tab.Columns, rows)
	}
}

func TestIntegrationRowSourceConcurrent(t *testing.T) {
	e := rowsOpen(t, "CREATE TABLE $T (id INT PRIMARY KEY, v VARCHAR(10))")
	var vals []string
	for i := 1; i <= 100; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 'v%d')", i, i))
	}
	e.exec(t, "INSERT INTO "+quote(e.table)+" VALUES "+strings.Join(vals, ","))
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
