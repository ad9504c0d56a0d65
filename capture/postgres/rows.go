package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/capture/internal/rowsource"
	"github.com/tandem-sync/tandem/internal/config"
)

// RowSource reads the current rows of a system's tables by column value,
// decoded as the capture decodes them. It is safe for concurrent use.
type RowSource struct {
	pool *pgxpool.Pool
	src  *rowsource.Source
}

// NewRowSource connects to the database of dsn (a DSN the Reader accepts).
// It fails with an error naming the problem and its fix when it cannot
// connect. It uses at most 2 connections and reconnects by itself.
func NewRowSource(ctx context.Context, dsn config.Secret) (*RowSource, error) {
	cfg, err := pgxpool.ParseConfig(dsn.Reveal())
	if err != nil {
		return nil, errors.New("row source: the DSN does not parse")
	}
	connParams(&cfg.ConnConfig.Config, "rows")
	cfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("row source: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		c := cfg.ConnConfig
		detail, fix := ConnectFailure(err, c.User, c.Host, c.Port, c.Database, "<system>")
		return nil, fmt.Errorf("row source: %s; fix: %s", detail, fix)
	}
	return &RowSource{pool: pool, src: rowsource.New(&rowDialect{pool: pool, dbName: cfg.ConnConfig.Database})}, nil
}

// Close closes the connections, waiting for running Rows calls; later
// calls of Rows fail.
func (s *RowSource) Close() error {
	s.pool.Close()
	return nil
}

// Forget drops the cached shape of table (schema.table), so that the next
// Rows reads it from the catalog again. Call it after a schema change.
func (s *RowSource) Forget(table string) {
	s.src.Forget(table)
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
	return s.src.Rows(ctx, table, column, values)
}

// rowDialect is the rowsource.Dialect of PostgreSQL.
type rowDialect struct {
	pool   *pgxpool.Pool
	dbName string
}

// Shape reads the shape of table (schema.table) from the catalog.
func (d *rowDialect) Shape(ctx context.Context, table string) (*capture.Table, error) {
	if !strings.Contains(table, ".") {
		return nil, fmt.Errorf("table %s is not qualified; name it as schema.table, e.g. public.%s", table, table)
	}
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the shape of table %s: %w", table, err)
	}
	// A resolver of its own: shapes are read once per table, and the
	// resolver queries through the connection it is given.
	t, _, err := readCatalogTable(ctx, conn.Conn(), &typeResolver{conn: conn.Conn(), info: map[uint32]*pgTypeInfo{}}, d.dbName, table)
	conn.Release()
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("table %s does not exist (or tandem cannot see it)", table)
	}
	if err != nil {
		return nil, fmt.Errorf("read the shape of table %s: %w", table, err)
	}
	return t, nil
}

// Query runs the IN-list query of values on column col of t.
func (d *rowDialect) Query(ctx context.Context, t *capture.Table, col int, values []string) ([]capture.Row, error) {
	head := "SELECT " + columnList(t, nil) + " FROM " + pgx.Identifier{t.Schema, t.Name}.Sanitize() +
		" WHERE " + quoteIdent(t.Columns[col].Name) + " IN ("
	tail := ")"
	if keys := t.KeyIndexes(); len(keys) > 0 {
		tail += " ORDER BY " + columnList(t, keys)
	}
	marks := make([]string, len(values))
	args := make([][]byte, len(values))
	for i, v := range values {
		marks[i] = fmt.Sprintf("$%d", i+1)
		args[i] = []byte(v)
	}
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.QualifiedName(), err)
	}
	defer conn.Release()
	// Text parameters without type OIDs: the server parses them as the
	// column's type, so the column's index serves the IN list.
	var out []capture.Row
	res := conn.Conn().PgConn().ExecParams(ctx, head+strings.Join(marks, ",")+tail, args, nil, nil, nil)
	err = readRows(res, t, func(row capture.Row, _ [][]byte) error {
		out = append(out, slices.Clone(row))
		return nil
	})
	if err != nil {
		return nil, rowsource.LookupError(t, col, err)
	}
	return out, nil
}

// Stale reports whether err comes from a column or table the server no
// longer knows.
func (d *rowDialect) Stale(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42703" || pgErr.Code == "42P01") // undefined_column, undefined_table
}
