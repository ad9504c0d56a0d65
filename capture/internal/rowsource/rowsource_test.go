package rowsource

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tandem-sync/tandem/capture"
)

// errStale is what the fake dialect's Stale recognizes.
var errStale = errors.New("no such column")

// fakeDialect serves tables kept in memory: each row is its key's value
// and the value of column v, both strings. It records its calls.
type fakeDialect struct {
	mu      sync.Mutex
	columns map[string][]string // table -> column names; the first is the key
	shapes  int                 // Shape calls
	queries [][]string          // the values of each Query call
	// queryErr, when set, is the error of the next Query calls, each
	// taking one off the front.
	queryErr []error
	shapeErr error
}

func newFake() *fakeDialect {
	return &fakeDialect{columns: map[string][]string{"s.t": {"id", "v"}}}
}

func (f *fakeDialect) Shape(_ context.Context, table string) (*capture.Table, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shapes++
	if f.shapeErr != nil {
		return nil, f.shapeErr
	}
	names, ok := f.columns[table]
	if !ok {
		return nil, fmt.Errorf("table %s does not exist", table)
	}
	s, n := capture.SplitTable(table)
	t := &capture.Table{Schema: s, Name: n, Version: f.shapes}
	for i, name := range names {
		t.Columns = append(t.Columns, capture.Column{Name: name, Type: capture.Type{Kind: capture.KindString}, Key: i == 0})
	}
	return t, nil
}

func (f *fakeDialect) Query(_ context.Context, t *capture.Table, _ int, values []string) ([]capture.Row, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, slices.Clone(values))
	if len(f.queryErr) > 0 {
		err := f.queryErr[0]
		f.queryErr = f.queryErr[1:]
		if err != nil {
			return nil, err
		}
	}
	// every value in 1..2000 has a row, matched whatever the column
	sorted := slices.Clone(values)
	slices.SortFunc(sorted, func(a, b string) int { return atoi(a) - atoi(b) })
	var out []capture.Row
	for _, v := range sorted {
		if n := atoi(v); n < 1 || n > 2000 {
			continue
		}
		row := capture.Row{v}
		for _, c := range t.Columns[1:] {
			row = append(row, c.Name+v)
		}
		out = append(out, row)
	}
	return out, nil
}

func (f *fakeDialect) Stale(err error) bool { return errors.Is(err, errStale) }

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func keys(rows []capture.Row) string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r[0].(string)
	}
	return strings.Join(out, " ")
}

func TestRowsBatchesDistinct(t *testing.T) {
	f := newFake()
	s := New(f)
	var values []string
	for i := 1200; i >= 1; i-- {
		values = append(values, strconv.Itoa(i))
	}
	values = append(values, "7", "1200", "5000", "5000") // repeats; no row
	tab, rows, err := s.Rows(context.Background(), "s.t", "id", values)
	if err != nil {
		t.Fatal(err)
	}
	if tab.QualifiedName() != "s.t" || len(tab.Columns) != 2 {
		t.Errorf("shape %+v", tab)
	}
	if len(f.queries) != 3 {
		t.Fatalf("%d queries, want 3", len(f.queries))
	}
	for i, want := range []int{500, 500, 201} {
		if len(f.queries[i]) != want {
			t.Errorf("query %d: %d values, want %d", i, len(f.queries[i]), want)
		}
	}
	// the lists follow the order of values, each value once
	all := slices.Concat(f.queries...)
	if all[0] != "1200" || all[499] != "701" || all[500] != "700" || all[1199] != "1" || all[1200] != "5000" {
		t.Errorf("values in the lists: %v ... %v", all[:3], all[1195:])
	}
	if len(rows) != 1200 {
		t.Fatalf("%d rows, want 1200", len(rows))
	}
	// the rows of each list in the dialect's order, the lists in order
	if rows[0][0] != "701" || rows[499][0] != "1200" || rows[500][0] != "201" || rows[1199][0] != "200" {
		t.Errorf("rows %v %v %v %v", rows[0], rows[499], rows[500], rows[1199])
	}
}

func TestRowsNoValues(t *testing.T) {
	f := newFake()
	s := New(f)
	for _, values := range [][]string{nil, {}} {
		tab, rows, err := s.Rows(context.Background(), "s.t", "v", values)
		if err != nil || tab == nil || len(tab.Columns) != 2 || rows != nil {
			t.Errorf("Rows(%v): %v %v %v", values, tab, rows, err)
		}
	}
	if len(f.queries) != 0 || f.shapes != 1 {
		t.Errorf("%d queries, %d shapes; want 0, 1", len(f.queries), f.shapes)
	}
}

func TestRowsShapeCache(t *testing.T) {
	f := newFake()
	s := New(f)
	ctx := context.Background()
	rows := func(column string, values ...string) *capture.Table {
		t.Helper()
		tab, _, err := s.Rows(ctx, "s.t", column, values)
		if err != nil {
			t.Fatal(err)
		}
		return tab
	}
	first := rows("id", "1")
	if second := rows("v", "v1"); second != first || f.shapes != 1 {
		t.Errorf("the cached shape does not serve: %d shapes", f.shapes)
	}
	// a changed table keeps its cached shape until Forget
	f.columns["s.t"] = []string{"id", "v", "w"}
	if tab := rows("id", "1"); len(tab.Columns) != 2 || f.shapes != 1 {
		t.Errorf("before Forget: %+v, %d shapes", tab.Columns, f.shapes)
	}
	s.Forget("s.t")
	if tab := rows("id", "1"); len(tab.Columns) != 3 || f.shapes != 2 {
		t.Errorf("after Forget: %+v, %d shapes", tab.Columns, f.shapes)
	}
	// a column the cached shape lacks reads the shape again, once
	f.columns["s.t"] = []string{"id", "v", "w", "x"}
	if tab := rows("x"); len(tab.Columns) != 4 || f.shapes != 3 {
		t.Errorf("a new column: %+v, %d shapes", tab.Columns, f.shapes)
	}
	_, _, err := s.Rows(ctx, "s.t", "nope", []string{"1"})
	if err == nil || err.Error() != "table s.t has no column nope; its columns: id, v, w, x" {
		t.Errorf("unknown column: %v", err)
	}
	if f.shapes != 4 {
		t.Errorf("%d shapes, want 4 (the unknown column read the shape again, once)", f.shapes)
	}
	// tables are cached apart
	f.columns["s.u"] = []string{"k"}
	if tab := rows("id"); len(tab.Columns) != 4 {
		t.Errorf("s.t: %+v", tab.Columns)
	}
	if tab, _, err := s.Rows(ctx, "s.u", "k", nil); err != nil || len(tab.Columns) != 1 || f.shapes != 5 {
		t.Errorf("s.u: %v %v, %d shapes", tab, err, f.shapes)
	}
}

func TestRowsRetryStale(t *testing.T) {
	bad := &capture.BadValueError{Table: "s.t", Column: "v", Value: "x", Reason: "retyped"}
	for _, stale := range []error{fmt.Errorf("look up: %w", errStale), bad} {
		f := newFake()
		s := New(f)
		ctx := context.Background()
		if _, _, err := s.Rows(ctx, "s.t", "id", []string{"1"}); err != nil {
			t.Fatal(err)
		}
		f.columns["s.t"] = []string{"id", "w"}
		f.queryErr = []error{stale}
		tab, rows, err := s.Rows(ctx, "s.t", "id", []string{"1"})
		if err != nil || tab.Columns[1].Name != "w" || keys(rows) != "1" || f.shapes != 2 || len(f.queries) != 3 {
			t.Errorf("%v: %v %v %v, %d shapes, %d queries", stale, tab, rows, err, f.shapes, len(f.queries))
		}
		// once only: a fresh shape that fails again returns the error
		s.Forget("s.t")
		f.queryErr = []error{stale}
		if _, _, err := s.Rows(ctx, "s.t", "id", []string{"1"}); !errors.Is(err, stale) || f.shapes != 3 {
			t.Errorf("fresh shape: %v, %d shapes", err, f.shapes)
		}
		f.queryErr = []error{stale, stale}
		if _, _, err := s.Rows(ctx, "s.t", "id", []string{"1"}); !errors.Is(err, stale) || f.shapes != 4 || len(f.queries) != 6 {
			t.Errorf("stale twice: %v, %d shapes, %d queries", err, f.shapes, len(f.queries))
		}
	}
}

func TestRowsErrorsPassThrough(t *testing.T) {
	f := newFake()
	s := New(f)
	ctx := context.Background()
	// a query error that is not stale is returned as it is, not retried
	other := errors.New("connection reset")
	if _, _, err := s.Rows(ctx, "s.t", "id", []string{"1"}); err != nil {
		t.Fatal(err)
	}
	f.queryErr = []error{other}
	if _, _, err := s.Rows(ctx, "s.t", "id", []string{"1"}); err != other || f.shapes != 1 {
		t.Errorf("query error: %v, %d shapes", err, f.shapes)
	}
	// an error in a later list fails the call, rows and all
	var values []string
	for i := 1; i <= 1000; i++ {
		values = append(values, strconv.Itoa(i))
	}
	f.queryErr = []error{nil, other}
	if _, rows, err := s.Rows(ctx, "s.t", "id", values); err != other || rows != nil {
		t.Errorf("second list: %d rows, %v", len(rows), err)
	}
	// shape errors are returned as they are, and not cached
	s.Forget("s.t")
	f.shapeErr = errors.New("catalog unreadable")
	if _, _, err := s.Rows(ctx, "s.t", "id", []string{"1"}); err != f.shapeErr {
		t.Errorf("shape error: %v", err)
	}
	f.shapeErr = nil
	if _, _, err := s.Rows(ctx, "s.missing", "id", []string{"1"}); err == nil || err.Error() != "table s.missing does not exist" {
		t.Errorf("missing table: %v", err)
	}
	if _, rows, err := s.Rows(ctx, "s.t", "id", []string{"1"}); err != nil || keys(rows) != "1" {
		t.Errorf("after the errors: %v %v", rows, err)
	}
}

func TestLookupError(t *testing.T) {
	tab := &capture.Table{Schema: "s", Name: "t", Columns: []capture.Column{{Name: "id"}, {Name: "v"}}}
	if err := LookupError(tab, 1, nil); err != nil {
		t.Errorf("nil: %v", err)
	}
	bad := &capture.BadValueError{Table: "s.t", Column: "v"}
	if err := LookupError(tab, 1, bad); err != bad {
		t.Errorf("bad value: %v", err)
	}
	other := errors.New("boom")
	if err := LookupError(tab, 1, other); !errors.Is(err, other) || err.Error() != "look up s.t by v: boom" {
		t.Errorf("other: %v", err)
	}
}

func TestRowsConcurrent(t *testing.T) {
	f := newFake()
	s := New(f)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				id := strconv.Itoa(1 + w*50 + i)
				_, rows, err := s.Rows(context.Background(), "s.t", "id", []string{id})
				if err != nil || keys(rows) != id {
					t.Errorf("worker %d: %v %v", w, rows, err)
					return
				}
				if i%7 == 0 {
					s.Forget("s.t")
				}
			}
		})
	}
	wg.Wait()
}
