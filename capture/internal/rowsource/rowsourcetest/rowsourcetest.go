//go:build integration

// Package rowsourcetest holds the integration tests every capture's
// RowSource shares. A connector's test creates the table a test needs
// (its SQL is the connector's), describes it in an Env, and calls the
// test here; the SQL that differs between databases is a parameter.
package rowsourcetest

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
)

// Source is a connector's RowSource.
type Source interface {
	Rows(ctx context.Context, table, column string, values []string) (*capture.Table, []capture.Row, error)
	Forget(table string)
	Close() error
}

// Env is a RowSource on a local database and a table unique to the test.
type Env struct {
	Source Source
	Table  string // qualified, as Rows takes it
	// Exec runs stmts on a connection of its own, $T standing for the
	// table (quoted as the database wants it).
	Exec func(t *testing.T, stmts ...string)
	// Snapshot reads every row of the table, and its shape, as the
	// snapshot does.
	Snapshot func(t *testing.T) (*capture.Table, []capture.Row)
}

// Open runs ddl (through e.Exec) and has the table dropped and e.Source
// closed when the test ends.
func Open(t *testing.T, e *Env, ddl ...string) {
	t.Helper()
	t.Cleanup(func() {
		e.Exec(t, "DROP TABLE IF EXISTS $T")
		if err := e.Source.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	e.Exec(t, ddl...)
}

// Rows is e.Source.Rows on e's table; an error fails the test.
func (e *Env) Rows(t *testing.T, column string, values ...string) (*capture.Table, []capture.Row) {
	t.Helper()
	tab, rows, err := e.Source.Rows(context.Background(), e.Table, column, values)
	if err != nil {
		t.Fatalf("Rows(%s, %s, %v): %v", e.Table, column, values, err)
	}
	return tab, rows
}

// IDs is the first value, an int64, of each of rows.
func IDs(rows []capture.Row) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r[0].(int64)
	}
	return out
}

// Types describes the table of TestTypes: an integer key id with rows 1,
// 2 and 3, and columns of many types.
type Types struct {
	Database string         // the shape's Database
	Columns  string         // the shape's column names, separated by commas
	Want     map[string]any // the values of row 1, by column
	False    string         // a column whose value in row 2 is false
	By       []Lookup       // lookups by columns that are not the key
}

// Lookup is a lookup by column with values, which finds the rows whose ids
// print as Want (e.g. "[2 3]").
type Lookup struct {
	Column string
	Values []string
	Want   string
}

// TestTypes checks that the rows read by id are ordered by the key and
// decoded as the snapshot decodes them, with the snapshot's shape.
func TestTypes(t *testing.T, e *Env, c Types) {
	tab, rows := e.Rows(t, "id", "2", "1", "99")
	if got := IDs(rows); fmt.Sprint(got) != "[1 2]" {
		t.Fatalf("ids %v, want [1 2] (ordered by the key; 99 has no row)", got)
	}
	var names []string
	for _, c := range tab.Columns {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, ","); got != c.Columns {
		t.Errorf("columns %s", got)
	}
	if tab.QualifiedName() != e.Table || tab.Database != c.Database || tab.Version != 1 || !tab.Columns[0].Key || tab.Columns[1].Key {
		t.Errorf("shape %+v", tab)
	}
	for name, w := range c.Want {
		if got := rows[0][tab.ColumnIndex(name)]; !capture.Equal(got, w) {
			t.Errorf("%s = %#v, want %#v", name, got, w)
		}
	}
	if got := rows[1][tab.ColumnIndex(c.False)]; got != false {
		t.Errorf("%s of row 2 = %#v", c.False, got)
	}

	// every row equals what the snapshot reads, shape included
	snapTab, snapRows := e.Snapshot(t)
	if !snapTab.SameShape(tab) {
		t.Errorf("shape differs from the snapshot's:\n%+v\n%+v", tab.Columns, snapTab.Columns)
	}
	_, all := e.Rows(t, "id", "1", "2", "3")
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

	// by columns that are not the key
	for _, by := range c.By {
		if _, rows := e.Rows(t, by.Column, by.Values...); fmt.Sprint(IDs(rows)) != by.Want {
			t.Errorf("by %s: ids %v, want %s", by.Column, IDs(rows), by.Want)
		}
	}
	if tab, rows := e.Rows(t, "id"); len(rows) != 0 || tab == nil || len(tab.Columns) != len(names) {
		t.Errorf("no values: %v rows, shape %v", len(rows), tab)
	}
}

// TestBatches reads the table (id integer primary key, grp text) with rows
// 1 to 1500, grp 'g' followed by id % 3, in lists of more than 500 values.
func TestBatches(t *testing.T, e *Env) {
	var values []string
	for i := 1300; i >= 1; i-- { // 1300 values with a row, in reverse
		values = append(values, strconv.Itoa(i))
	}
	values = append(values, "5000", "6000", "7", "1") // no row; repeats
	_, rows := e.Rows(t, "id", values...)
	if len(rows) != 1300 {
		t.Fatalf("%d rows, want 1300", len(rows))
	}
	seen := map[int64]bool{}
	for i, id := range IDs(rows) {
		if seen[id] || id < 1 || id > 1300 {
			t.Fatalf("row %d: id %d repeated or unasked", i, id)
		}
		seen[id] = true
		// within each IN list of 500 values the rows follow the key
		if i%500 != 0 && rows[i-1][0].(int64) > id {
			t.Fatalf("row %d: id %d after %d", i, id, rows[i-1][0])
		}
	}
	_, rows = e.Rows(t, "grp", "g0", "g1")
	if len(rows) != 1000 {
		t.Errorf("by grp: %d rows, want 1000", len(rows))
	}
}

// Errors describes the table of TestErrors: id integer primary key, a
// column Bad whose value cannot be decoded, and label, 'a' in the row of
// that value.
type Errors struct {
	Missing     string   // a qualified table that does not exist
	Unqualified string   // what the error of an unqualified table names, e.g. "schema.table"
	Columns     string   // the table's columns, separated by ", "
	WrongType   []string // values of id, one of which is not a number
	WrongWant   string   // what the error of WrongType says besides the table and column
	Bad, BadVal string   // the column of the value that cannot be decoded, and the value ("": not checked)
	After       string   // the ids of rows 2 and 3, e.g. "[2]"
	// Open opens a RowSource on dsn, DSN with the password "wrong" (see
	// Opener); LoginWant is what its error says.
	Open      func(ctx context.Context, dsn config.Secret) error
	DSN       string
	LoginWant string
}

// Opener is open (a connector's NewRowSource) as Errors.Open wants it:
// the error only, a source it opens closed.
func Opener[S Source](open func(context.Context, config.Secret) (S, error)) func(context.Context, config.Secret) error {
	return func(ctx context.Context, dsn config.Secret) error {
		s, err := open(ctx, dsn)
		if err == nil {
			s.Close()
		}
		return err
	}
}

// TestErrors checks the errors of Rows, that the source still works after
// them, the error of a wrong password, and Rows after Close.
func TestErrors(t *testing.T, e *Env, c Errors) {
	ctx := context.Background()
	_, _, err := e.Source.Rows(ctx, c.Missing, "id", []string{"1"})
	if err == nil || !strings.Contains(err.Error(), "table "+c.Missing+" does not exist") {
		t.Errorf("unknown table: %v", err)
	}
	_, _, err = e.Source.Rows(ctx, "it_rows_missing", "id", []string{"1"})
	if err == nil || !strings.Contains(err.Error(), c.Unqualified) {
		t.Errorf("unqualified table: %v", err)
	}
	_, _, err = e.Source.Rows(ctx, e.Table, "nope", []string{"1"})
	if err == nil || !strings.Contains(err.Error(), "table "+e.Table+" has no column nope") ||
		!strings.Contains(err.Error(), "its columns: "+c.Columns) {
		t.Errorf("unknown column: %v", err)
	}
	_, _, err = e.Source.Rows(ctx, e.Table, "id", c.WrongType)
	if err == nil || !strings.Contains(err.Error(), e.Table+" by id") || !strings.Contains(err.Error(), c.WrongWant) {
		t.Errorf("value of the wrong type: %v", err)
	}
	_, _, err = e.Source.Rows(ctx, e.Table, "label", []string{"a"})
	var bad *capture.BadValueError
	if !errors.As(err, &bad) || bad.Table != e.Table || bad.Column != c.Bad || c.BadVal != "" && bad.Value != c.BadVal {
		t.Errorf("bad value: %#v", err)
	}
	// the source still works after the errors
	if _, rows := e.Rows(t, "id", "2", "3"); fmt.Sprint(IDs(rows)) != c.After {
		t.Errorf("ids %v, want %s", IDs(rows), c.After)
	}

	err = c.Open(ctx, config.Secret(strings.Replace(c.DSN, "tandem:tandem@", "tandem:wrong@", 1)))
	if err == nil || !strings.Contains(err.Error(), c.LoginWant) {
		t.Errorf("wrong password: %v", err)
	}

	if err := e.Source.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Source.Rows(ctx, e.Table, "id", []string{"2"}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Rows after Close: %v", err)
	}
}

// Alters are the schema changes of TestForgetAfterAlter, $T standing for
// the table.
type Alters struct {
	Extra  string   // adds column extra, default 'x'
	Code   []string // add column code and set it to 'c' followed by id
	Drop   string   // drops column old
	Retype []string // make n text, 'n' followed by its number
}

// TestForgetAfterAlter alters the table (id integer primary key, n
// integer, old text) with rows (1, 10, 'o') and (2, 20, 'p'), and checks
// which shape Rows uses: the cached one until Forget, a fresh one for a
// new column looked up by, or after a query failed because of the shape.
func TestForgetAfterAlter(t *testing.T, e *Env, a Alters) {
	tab, _ := e.Rows(t, "id", "1")
	if len(tab.Columns) != 3 {
		t.Fatalf("columns %+v", tab.Columns)
	}
	e.Exec(t, a.Extra)
	if tab, rows := e.Rows(t, "id", "1"); len(tab.Columns) != 3 || len(rows[0]) != 3 {
		t.Fatalf("before Forget the cached shape serves: %+v", tab.Columns)
	}
	e.Source.Forget(e.Table)
	tab, rows := e.Rows(t, "id", "1")
	if len(tab.Columns) != 4 || tab.Columns[3].Name != "extra" || rows[0][3] != "x" {
		t.Fatalf("after Forget: %+v %v", tab.Columns, rows)
	}
	// a new column is found without Forget when it is the one looked up by
	e.Exec(t, a.Code...)
	if tab, rows := e.Rows(t, "code", "c2"); len(tab.Columns) != 5 || fmt.Sprint(IDs(rows)) != "[2]" {
		t.Fatalf("by a new column: %+v %v", tab.Columns, rows)
	}
	// a dropped column or a retyped value retries once with a fresh shape
	e.Exec(t, a.Drop)
	if tab, rows := e.Rows(t, "id", "2"); len(tab.Columns) != 4 || len(rows) != 1 || tab.ColumnIndex("old") >= 0 {
		t.Fatalf("after DROP COLUMN: %+v %v", tab.Columns, rows)
	}
	e.Exec(t, a.Retype...)
	tab, rows = e.Rows(t, "id", "2")
	if i := tab.ColumnIndex("n"); tab.Columns[i].Type.Kind != capture.KindString || rows[0][i] != "n20" {
		t.Fatalf("after the retype: %+v %v", tab.Columns, rows)
	}
}

// TestConcurrent reads the table (id integer primary key, v text) with
// rows 1 to 100, v 'v' followed by id, from 8 goroutines, forgetting the
// shape now and then.
func TestConcurrent(t *testing.T, e *Env) {
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 20 {
				id := strconv.Itoa(1 + (w*20+i)%100)
				_, rows, err := e.Source.Rows(context.Background(), e.Table, "id", []string{id})
				if err != nil || len(rows) != 1 || rows[0][1] != "v"+id {
					t.Errorf("worker %d: %v %v", w, rows, err)
					return
				}
				if i%7 == 0 {
					e.Source.Forget(e.Table)
				}
			}
		})
	}
	wg.Wait()
}
