package rowsource

import (
	"context"
	"fmt"
	"slices"

	"github.com/tandem-sync/tandem/capture"
)

// ScanRows is how many rows one query of Scan reads: the most rows a Scan
// holds in memory at once.
const ScanRows = 5000

// Scanner is a Dialect that can also read a whole table in key order (the
// snapshot's keyset chunks). Its methods may be called concurrently.
type Scanner interface {
	// Chunk reads up to limit rows of t ordered by its key columns keys,
	// after the key after (nil: from the start), calling fn with each row
	// (reused between calls) and its key in text form. Its errors are
	// returned by Scan as they are.
	Chunk(ctx context.Context, t *capture.Table, keys []int, after []*string, limit int,
		fn func(row capture.Row, key []*string) error) error
}

// Scan calls fn with the shape of table and each of its rows, in primary
// key order, decoded as Rows decodes them. It reads ScanRows rows per
// query, each query on its own after the last key of the one before (so
// the rows are not one consistent snapshot: a row changed during the scan
// is read as it is when its chunk is read), and calls fn only between
// queries, with no connection held, so fn may look rows up itself. fn must
// not keep the row; an error of fn ends the scan and is returned.
//
// A table without a primary key cannot be read in chunks and is an error.
// A first query that fails with a stale-shape error on a cached shape is
// retried once with a fresh shape, as Rows does.
func (s *Source) Scan(ctx context.Context, table string, fn func(*capture.Table, capture.Row) error) error {
	return s.scan(ctx, table, ScanRows, fn)
}

func (s *Source) scan(ctx context.Context, table string, limit int, fn func(*capture.Table, capture.Row) error) error {
	sc, ok := s.d.(Scanner)
	if !ok {
		return fmt.Errorf("read table %s: this database's row source cannot read whole tables", table)
	}
	for retried := false; ; retried = true {
		t, cached, err := s.shape(ctx, table)
		if err != nil {
			return err
		}
		keys := t.KeyIndexes()
		if len(keys) == 0 {
			return fmt.Errorf("table %s has no primary key, so it cannot be read in key order; its columns: %s", table, columnNames(t))
		}
		var after []*string
		for first := true; ; first = false {
			rows, last, err := chunk(ctx, sc, t, keys, after, limit)
			if err != nil && first && cached && !retried && s.stale(err) {
				s.Forget(table)
				break // read the shape again and start over
			}
			if err != nil {
				return err
			}
			for _, row := range rows {
				if err := fn(t, row); err != nil {
					return err
				}
			}
			if len(rows) < limit {
				return nil
			}
			after = last
		}
	}
}

// chunk reads one chunk of t into memory and returns its rows and the key
// of its last row.
func chunk(ctx context.Context, sc Scanner, t *capture.Table, keys []int, after []*string, limit int) ([]capture.Row, []*string, error) {
	rows := make([]capture.Row, 0, min(limit, 1024))
	var last []*string
	err := sc.Chunk(ctx, t, keys, after, limit, func(row capture.Row, key []*string) error {
		rows = append(rows, slices.Clone(row))
		last = key
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	// the key slice is reused between calls; its strings are not
	return rows, slices.Clone(last), nil
}
