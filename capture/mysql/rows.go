package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	drv "github.com/go-sql-driver/mysql"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/internal/config"
)

// maxInList is the most values one query's IN list holds.
const maxInList = 500

// RowSource reads the current rows of a system's tables by column value,
// decoded as the capture decodes them. It is safe for concurrent use.
type RowSource struct {
	db *sql.DB

	mu     sync.Mutex
	shapes map[string]*capture.Table // by database.table
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
	return &RowSource{db: db, shapes: map[string]*capture.Table{}}, nil
}

// Close closes the connections.
func (s *RowSource) Close() error {
	return s.db.Close()
}

// Forget drops the cached shape of table (database.table), so that the
// next Rows reads it from the catalog again. Call it after a schema change.
func (s *RowSource) Forget(table string) {
	s.mu.Lock()
	delete(s.shapes, table)
	s.mu.Unlock()
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
			names := make([]string, len(t.Columns))
			for i, c := range t.Columns {
				names[i] = c.Name
			}
			return nil, nil, fmt.Errorf("table %s has no column %s; its columns: %s", table, column, strings.Join(names, ", "))
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

// shape returns the shape of table and whether it came from the cache.
func (s *RowSource) shape(ctx context.Context, table string) (*capture.Table, bool, error) {
	s.mu.Lock()
	t, ok := s.shapes[table]
	s.mu.Unlock()
	if ok {
		return t, true, nil
	}
	db, name, ok := strings.Cut(table, ".")
	if !ok {
		return nil, false, fmt.Errorf("table %s is not qualified; name it as database.table, e.g. shop.%s", table, table)
	}
	t, err := tableFromCatalog(ctx, s.db, db, name)
	if err != nil {
		return nil, false, err
	}
	t.Version = 1
	s.mu.Lock()
	s.shapes[table] = t
	s.mu.Unlock()
	return t, false, nil
}

// read runs the IN-list queries of values on column col of t.
func (s *RowSource) read(ctx context.Context, t *capture.Table, col int, values []string) ([]capture.Row, error) {
	c := &t.Columns[col]
	switch c.Type.Kind {
	case capture.KindInt16, capture.KindInt32, capture.KindInt64, capture.KindUint64,
		capture.KindFloat32, capture.KindFloat64, capture.KindDecimal:
		for _, v := range values {
			if _, err := decodeText(&c.Type, []byte(v)); err != nil {
				return nil, fmt.Errorf("look up %s by %s: value %q is not a valid %s (%v)", t.QualifiedName(), c.Name, v, c.Type.Source, err)
			}
		}
	}
	head := "SELECT " + selectList(t) + " FROM " + quote(t.Database) + "." + quote(t.Name) + " WHERE " + quote(c.Name) + " IN ("
	tail := ")"
	if keys := t.KeyIndexes(); len(keys) > 0 {
		tail += " ORDER BY " + quotedNames(t, keys)
	}
	var out []capture.Row
	for batch := range slices.Chunk(distinct(values), maxInList) {
		args := make([]any, len(batch))
		for i, v := range batch {
			args[i] = v
		}
		err := s.query(ctx, head+strings.TrimSuffix(strings.Repeat("?,", len(batch)), ",")+tail, args, t, &out)
		var bad *capture.BadValueError
		if errors.As(err, &bad) {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("look up %s by %s: %w", t.QualifiedName(), c.Name, err)
		}
	}
	return out, nil
}

// query runs q and appends its rows, decoded, to out.
func (s *RowSource) query(ctx context.Context, q string, args []any, t *capture.Table, out *[]capture.Row) error {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return readRows(rows, t, func(row capture.Row, _ []sql.RawBytes) error {
		*out = append(*out, slices.Clone(row))
		return nil
	})
}

// staleShape reports whether err may come from a shape read before a schema
// change: a value the shape's type cannot decode, or a column or table the
// server no longer knows.
func staleShape(err error) bool {
	var bad *capture.BadValueError
	var myErr *drv.MySQLError
	return errors.As(err, &bad) ||
		errors.As(err, &myErr) && (myErr.Number == 1054 || myErr.Number == 1146) // ER_BAD_FIELD_ERROR, ER_NO_SUCH_TABLE
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
