package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	drv "github.com/go-sql-driver/mysql"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/capture/internal/rowsource"
	"github.com/tandem-sync/tandem/internal/config"
)

// RowSource reads the current rows of a system's tables by column value,
// decoded as the capture decodes them. It is safe for concurrent use.
type RowSource struct {
	db  *sql.DB
	src *rowsource.Source
}

// NewRowSource connects to the server of dsn (a DSN the Reader accepts).
// It fails with an error naming the problem and its fix when it cannot
// connect. It uses at most 2 connections; database/sql reconnects.
func NewRowSource(ctx context.Context, dsn config.Secret) (*RowSource, error) {
	cfg, err := drv.ParseDSN(dsn.Reveal())
	if err != nil {
		return nil, errors.New("row source: the DSN does not parse")
	}
	// decodeText reads values as bytes, with TIMESTAMP in UTC.
	cfg.ParseTime = false
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	connector, err := drv.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("row source: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(2)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		detail, fix := ConnectFailure(err, cfg.User, cfg.Addr, cfg.DBName, "<system>")
		return nil, fmt.Errorf("row source: %s; fix: %s", detail, fix)
	}
	return &RowSource{db: db, src: rowsource.New(&rowDialect{db: db})}, nil
}

// Close closes the connections.
func (s *RowSource) Close() error {
	return s.db.Close()
}

// Forget drops the cached shape of table (database.table), so that the
// next Rows reads it from the catalog again. Call it after a schema change.
func (s *RowSource) Forget(table string) {
	s.src.Forget(table)
}

// Rows returns the shape of table (database.table) and its rows whose
// column equals one of values, given in text form (e.g. "42", "abc").
// Every column of the shape is returned, decoded as the capture decodes
// them. Values are read in IN lists of at most 500; rows are ordered by
// the primary key within each list, and the lists follow the order of
// values (a value given twice is looked up once). An empty values list
// returns the shape and no rows. A value of a numeric column must be a
// number: MySQL would otherwise compare "abc" as 0.
//
// The shape is cached; a query that fails because of it (a column dropped
// or retyped since) is retried once with a fresh shape. A value that
// cannot be decoded is a *capture.BadValueError.
func (s *RowSource) Rows(ctx context.Context, table, column string, values []string) (*capture.Table, []capture.Row, error) {
	return s.src.Rows(ctx, table, column, values)
}

// rowDialect is the rowsource.Dialect of MySQL and MariaDB.
type rowDialect struct {
	db *sql.DB
}

// Shape reads the shape of table (database.table) from the catalog.
func (d *rowDialect) Shape(ctx context.Context, table string) (*capture.Table, error) {
	db, name, ok := strings.Cut(table, ".")
	if !ok {
		return nil, fmt.Errorf("table %s is not qualified; name it as database.table, e.g. shop.%s", table, table)
	}
	t, err := tableFromCatalog(ctx, d.db, db, name)
	if err != nil {
		return nil, err
	}
	t.Version = 1
	return t, nil
}

// Query runs the IN-list query of values on column col of t. A value of
// a numeric column must be a number: MySQL would otherwise compare "abc"
// as 0.
func (d *rowDialect) Query(ctx context.Context, t *capture.Table, col int, values []string) ([]capture.Row, error) {
	c := &t.Columns[col]
	switch c.Type.Kind {
	case capture.KindInt16, capture.KindInt32, capture.KindInt64, capture.KindUint64,
		capture.KindFloat32, capture.KindFloat64, capture.KindDecimal:
		for _, v := range values {
			if _, err := decodeText(&c.Type, []byte(v)); err != nil {
				return nil, rowsource.LookupError(t, col, fmt.Errorf("value %q is not a valid %s (%v)", v, c.Type.Source, err))
			}
		}
	}
	q := "SELECT " + selectList(t) + " FROM " + quote(t.Database) + "." + quote(t.Name) + " WHERE " + quote(c.Name) +
		" IN (" + strings.TrimSuffix(strings.Repeat("?,", len(values)), ",") + ")"
	if keys := t.KeyIndexes(); len(keys) > 0 {
		q += " ORDER BY " + quotedNames(t, keys)
	}
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	out, err := d.query(ctx, q, args, t)
	if err != nil {
		return nil, rowsource.LookupError(t, col, err)
	}
	return out, nil
}

// query runs q and returns its rows, decoded.
func (d *rowDialect) query(ctx context.Context, q string, args []any, t *capture.Table) ([]capture.Row, error) {
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []capture.Row
	err = readRows(rows, t, func(row capture.Row, _ []sql.RawBytes) error {
		out = append(out, slices.Clone(row))
		return nil
	})
	return out, err
}

// Stale reports whether err comes from a column or table the server no
// longer knows.
func (d *rowDialect) Stale(err error) bool {
	var myErr *drv.MySQLError
	return errors.As(err, &myErr) && (myErr.Number == 1054 || myErr.Number == 1146) // ER_BAD_FIELD_ERROR, ER_NO_SUCH_TABLE
}
