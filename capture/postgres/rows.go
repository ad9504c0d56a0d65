package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/internal/config"
)

// maxInList is the most values one query's IN list holds.
const maxInList = 500

// RowSource reads the current rows of a system's tables by column value,
// decoded as the capture decodes them. It is safe for concurrent use.
type RowSource struct {
	pool   *connPool
	dbName string

	mu     sync.Mutex
	shapes map[string]*capture.Table // by schema.table
}

// NewRowSource connects to the database of dsn (a DSN the Reader accepts).
// It fails with an error naming the problem and its fix when it cannot
// connect. It uses at most 2 connections and reconnects by itself.
func NewRowSource(ctx context.Context, dsn config.Secret) (*RowSource, error) {
	cfg, err := pgx.ParseConfig(dsn.Reveal())
	if err != nil {
		return nil, errors.New("row source: the DSN does not parse")
	}
	connParams(&cfg.Config, "rows")
	pool := newConnPool(cfg, 2)
	conn, err := pool.acquire(ctx)
	if err != nil {
		detail, fix := ConnectFailure(err, cfg.User, cfg.Host, cfg.Port, cfg.Database, "<system>")
		return nil, fmt.Errorf("row source: %s; fix: %s", detail, fix)
	}
	pool.release(conn)
	return &RowSource{pool: pool, dbName: cfg.Database, shapes: map[string]*capture.Table{}}, nil
}

// Close closes the connections, waiting for running Rows calls; later
// calls of Rows fail.
func (s *RowSource) Close() error {
	return s.pool.close()
}

// Forget drops the cached shape of table (schema.table), so that the next
// Rows reads it from the catalog again. Call it after a schema change.
func (s *RowSource) Forget(table string) {
	s.mu.Lock()
	delete(s.shapes, table)
	s.mu.Unlock()
}

// Rows returns the shape of table (schema.table) and its rows whose column
// equals one of values, given in PostgreSQL's text form (e.g. "42", "abc");
// the server parses them as the column's type. Every column of the shape is
// returned (as the snapshot reads it: no generated columns), decoded as the
// capture decodes them. Values are read in IN lists of at most 500; rows
// are ordered by the primary key within each list, and the lists follow
// the order of values (a value given twice is looked up once). An empty
// values list returns the shape and no rows.
//
// The shape is cached; a query that fails because of it (a column dropped
// or retyped since) is retried once with a fresh shape. A value that
// cannot be decoded is a *capture.BadValueError.
func (s *RowSource) Rows(ctx context.Context, table, column string, values []string) (*capture.Table, []capture.Row, error) {
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
		if err != nil && cached && !retried && staleShape(err) {
			s.Forget(table)
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		return t, rows, nil
	}
}

// columnNames is the names of the columns of t, separated by commas.
func columnNames(t *capture.Table) string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// shape returns the shape of table and whether it came from the cache.
func (s *RowSource) shape(ctx context.Context, table string) (*capture.Table, bool, error) {
	s.mu.Lock()
	t, ok := s.shapes[table]
	s.mu.Unlock()
	if ok {
		return t, true, nil
	}
	if !strings.Contains(table, ".") {
		return nil, false, fmt.Errorf("table %s is not qualified; name it as schema.table, e.g. public.%s", table, table)
	}
	conn, err := s.pool.acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("read the shape of table %s: %w", table, err)
	}
	// A resolver of its own: shapes are read once per table, and the
	// resolver queries through the connection it is given.
	t, _, err = readCatalogTable(ctx, conn, &typeResolver{conn: conn, info: map[uint32]*pgTypeInfo{}}, s.dbName, table)
	s.pool.release(conn)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, fmt.Errorf("table %s does not exist (or tandem cannot see it)", table)
	}
	if err != nil {
		return nil, false, fmt.Errorf("read the shape of table %s: %w", table, err)
	}
	s.mu.Lock()
	s.shapes[table] = t
	s.mu.Unlock()
	return t, false, nil
}

// read runs the IN-list queries of values on column col of t.
func (s *RowSource) read(ctx context.Context, t *capture.Table, col int, values []string) ([]capture.Row, error) {
	head := "SELECT " + columnList(t, nil) + " FROM " + pgx.Identifier{t.Schema, t.Name}.Sanitize() +
		" WHERE " + quoteIdent(t.Columns[col].Name) + " IN ("
	tail := ")"
	if keys := t.KeyIndexes(); len(keys) > 0 {
		tail += " ORDER BY " + columnList(t, keys)
	}
	var out []capture.Row
	for batch := range slices.Chunk(distinct(values), maxInList) {
		marks := make([]string, len(batch))
		args := make([][]byte, len(batch))
		for i, v := range batch {
			marks[i] = fmt.Sprintf("$%d", i+1)
			args[i] = []byte(v)
		}
		conn, err := s.pool.acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", t.QualifiedName(), err)
		}
		// Text parameters without type OIDs: the server parses them as the
		// column's type, so the column's index serves the IN list.
		res := conn.PgConn().ExecParams(ctx, head+strings.Join(marks, ",")+tail, args, nil, nil, nil)
		err = readRows(res, t, func(row capture.Row, _ [][]byte) error {
			out = append(out, slices.Clone(row))
			return nil
		})
		s.pool.release(conn)
		var bad *capture.BadValueError
		if errors.As(err, &bad) {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("look up %s by %s: %w", t.QualifiedName(), t.Columns[col].Name, err)
		}
	}
	return out, nil
}

// staleShape reports whether err may come from a shape read before a schema
// change: a value the shape's type cannot decode, or a column or table the
// server no longer knows.
func staleShape(err error) bool {
	var bad *capture.BadValueError
	var pgErr *pgconn.PgError
	return errors.As(err, &bad) ||
		errors.As(err, &pgErr) && (pgErr.Code == "42703" || pgErr.Code == "42P01") // undefined_column, undefined_table
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

// connPool hands out at most size connections, connecting on first use
// and again after a connection broke. (pgxpool would need
// github.com/jackc/puddle/v2 among the module's requirements.)
type connPool struct {
	cfg    *pgx.ConnConfig
	slots  chan poolSlot // one entry per free slot; closed by close
	closed sync.Once
}

type poolSlot struct {
	conn *pgx.Conn // nil: not connected
	idle time.Time // when conn was released
}

// pingAfter is how long a connection may stay idle before acquire checks
// that it still works.
const pingAfter = time.Second

func newConnPool(cfg *pgx.ConnConfig, size int) *connPool {
	p := &connPool{cfg: cfg, slots: make(chan poolSlot, size)}
	for range size {
		p.slots <- poolSlot{}
	}
	return p
}

// acquire waits for a free slot and returns a working connection; the
// caller gives it back with release.
func (p *connPool) acquire(ctx context.Context) (*pgx.Conn, error) {
	var sl poolSlot
	select {
	case s, ok := <-p.slots:
		if !ok {
			return nil, errors.New("the row source is closed")
		}
		sl = s
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c := sl.conn
	if c != nil && time.Since(sl.idle) > pingAfter && c.Ping(ctx) != nil {
		c.Close(ctx)
		c = nil
	}
	if c != nil && !c.IsClosed() {
		return c, nil
	}
	c, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		p.slots <- poolSlot{}
		return nil, err
	}
	return c, nil
}

// release gives c back. A connection that broke, or is left in a
// transaction or mid-query, is closed; its slot connects again on next use.
func (p *connPool) release(c *pgx.Conn) {
	if !c.IsClosed() && (c.PgConn().IsBusy() || c.PgConn().TxStatus() != 'I') {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c.Close(ctx)
		cancel()
	}
	if c.IsClosed() {
		c = nil
	}
	p.slots <- poolSlot{conn: c, idle: time.Now()}
}

// close waits for every slot and closes its connection; acquire fails
// from then on. Closing again does nothing.
func (p *connPool) close() error {
	var errs []error
	p.closed.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for range cap(p.slots) {
			if sl := <-p.slots; sl.conn != nil {
				errs = append(errs, sl.conn.Close(ctx))
			}
		}
		close(p.slots)
	})
	return errors.Join(errs...)
}
