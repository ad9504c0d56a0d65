package postgres

import (
	"context"
	"fmt"

	"github.com/tandem-sync/tandem/capture"
)

// Scan calls fn with the shape of table (schema.table) and each of its rows,
// in primary key order, decoded as Rows decodes them: read in chunks as the
// snapshot reads them, though not in one transaction, and with no
// connection held while fn runs (see rowsource.Source.Scan).
func (s *RowSource) Scan(ctx context.Context, table string, fn func(*capture.Table, capture.Row) error) error {
	return s.src.Scan(ctx, table, fn)
}

// Chunk reads one chunk of t in key order, as the snapshot does, on a
// connection of the pool.
func (d *rowDialect) Chunk(ctx context.Context, t *capture.Table, keys []int, after []*string, limit int,
	fn func(capture.Row, []*string) error) error {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("read %s: %w", t.QualifiedName(), err)
	}
	defer conn.Release()
	return (&pgSource{conn: conn.Conn()}).Chunk(ctx, t, keys, after, limit, fn)
}
