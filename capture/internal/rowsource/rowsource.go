// Package rowsource is the engine every capture's RowSource shares: it
// caches table shapes, resolves the column looked up by, splits the values
// into de-duplicated IN lists of at most MaxInList, and retries once with a
// fresh shape when a query fails because the cached one went stale. What
// depends on the database (reading a shape, running one IN-list query,
// telling a stale-shape error) is the Dialect's.
//
// Data flow: RowSource.Rows (capture/postgres, capture/mysql) ->
// Source.Rows -> Dialect.Shape on a cache miss -> Dialect.Query per IN list.
package rowsource

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/tandem-sync/tandem/capture"
)

// MaxInList is the most values one query's IN list holds.
const MaxInList = 500

// Dialect is what a Source needs of a database. Its methods may be called
// concurrently.
type Dialect interface {
	// Shape reads the current shape of table (as named to Rows) from the
	// catalog. Its errors are returned by Rows as they are.
	Shape(ctx context.Context, table string) (*capture.Table, error)
	// Query returns the rows of t whose column col equals one of values
	// (at most MaxInList, none repeated), every column of t in order,
	// decoded, ordered by t's key. The rows must not be reused. Its errors
	// are returned by Rows as they are (see LookupError).
	Query(ctx context.Context, t *capture.Table, col int, values []string) ([]capture.Row, error)
	// Stale reports whether err, returned by Query, may come from a shape
	// read before a schema change (a column or table the server no longer
	// knows). A *capture.BadValueError counts as stale without asking.
	Stale(err error) bool
}

// Source reads rows by column value through a Dialect, caching shapes. It
// is safe for concurrent use.
type Source struct {
	d Dialect

	mu     sync.Mutex
	shapes map[string]*capture.Table // by the table's name as given to Rows
}

// New returns a Source reading through d.
func New(d Dialect) *Source {
	return &Source{d: d, shapes: map[string]*capture.Table{}}
}

// Forget drops the cached shape of table, so that the next Rows reads it
// from the catalog again.
func (s *Source) Forget(table string) {
	s.mu.Lock()
	delete(s.shapes, table)
	s.mu.Unlock()
}

// Rows returns the shape of table and its rows whose column equals one of
// values. Values are read in IN lists of at most MaxInList, in the order of
// values, a value given twice looked up once. An empty values list returns
// the shape and runs no query.
//
// A column the cached shape lacks reads the shape again (the column may be
// new); a query that fails with a stale-shape error (Dialect.Stale) on a
// cached shape is retried once with a fresh one.
func (s *Source) Rows(ctx context.Context, table, column string, values []string) (*capture.Table, []capture.Row, error) {
	for retried := false; ; retried = true {
		t, cached, err := s.shape(ctx, table)
		if err != nil {
			return nil, nil, err
		}
		col := t.ColumnIndex(column)
		switch {
		case col < 0 && cached && !retried:
			s.Forget(table) // the column may be new
			continue
		case col < 0:
			return nil, nil, fmt.Errorf("table %s has no column %s; its columns: %s", table, column, columnNames(t))
		case len(values) == 0:
			return t, nil, nil
		}
		rows, err := s.read(ctx, t, col, values)
		if err != nil && cached && !retried && s.stale(err) {
			s.Forget(table)
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		return t, rows, nil
	}
}

// shape returns the shape of table and whether it came from the cache.
func (s *Source) shape(ctx context.Context, table string) (*capture.Table, bool, error) {
	s.mu.Lock()
	t, ok := s.shapes[table]
	s.mu.Unlock()
	if ok {
		return t, true, nil
	}
	t, err := s.d.Shape(ctx, table)
	if err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	s.shapes[table] = t
	s.mu.Unlock()
	return t, false, nil
}

// read runs the IN-list queries of values on column col of t.
func (s *Source) read(ctx context.Context, t *capture.Table, col int, values []string) ([]capture.Row, error) {
	var out []capture.Row
	for batch := range slices.Chunk(distinct(values), MaxInList) {
		rows, err := s.d.Query(ctx, t, col, batch)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

// stale reports whether err may come from a stale shape: a value the
// shape's type cannot decode, or what the dialect says.
func (s *Source) stale(err error) bool {
	var bad *capture.BadValueError
	return errors.As(err, &bad) || s.d.Stale(err)
}

// LookupError is err of a query looking t up by column col, for Rows to
// return: a *capture.BadValueError as it is, any other error naming the
// table and the column.
func LookupError(t *capture.Table, col int, err error) error {
	var bad *capture.BadValueError
	if err == nil || errors.As(err, &bad) {
		return err
	}
	return fmt.Errorf("look up %s by %s: %w", t.QualifiedName(), t.Columns[col].Name, err)
}

// columnNames is the names of the columns of t, separated by commas.
func columnNames(t *capture.Table) string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// distinct returns values without repeats, in order.
func distinct(values []string) []string {
	seen := make(map[string]bool, len(values))
	out := make([]string, 0, len(values))
	for _, v := range values {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
