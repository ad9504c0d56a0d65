package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tandem-sync/tandem/sink"
	"github.com/tandem-sync/tandem/sink/internal/sinksql"
)

// Dialect is the SQL dialect of PostgreSQL. It needs no connection.
type Dialect struct{}

var _ sink.Dialect = Dialect{}

// Name is "postgres".
func (Dialect) Name() string { return "postgres" }

// Quote quotes an identifier as pgx.Identifier does, a qualified name
// (schema.table) part by part.
func (Dialect) Quote(ident string) string {
	return pgx.Identifier(strings.Split(ident, ".")).Sanitize()
}

// Placeholder is $n.
func (Dialect) Placeholder(n int) string { return "$" + strconv.Itoa(n) }

// JSONSet sets path in the document of column (a NULL document becomes
// {}) to the text of param, as a JSON string:
//
//	jsonb_set(coalesce(col::jsonb, '{}'::jsonb), '{a}', to_jsonb($1::text))
//
// Missing objects on the way to a nested key are created (jsonb_set alone
// would leave the document unchanged). The expression is jsonb; assigning
// it to a json column works through PostgreSQL's assignment cast.
func (Dialect) JSONSet(column, path, param string) string {
	keys := sinksql.SplitPath(path)
	doc := "coalesce(" + column + "::jsonb, '{}'::jsonb)"
	expr := doc
	for i := 1; i < len(keys); i++ {
		p := textArray(keys[:i])
		expr = "jsonb_set(" + expr + ", " + p + ", coalesce(" + doc + " #> " + p + ", '{}'::jsonb))"
	}
	return "jsonb_set(" + expr + ", " + textArray(keys) + ", to_jsonb(" + param + "::text))"
}

// textArray is the text[] literal of keys: '{a,b}', elements quoted where
// the array syntax needs it.
func textArray(keys []string) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k
		if k == "" || strings.EqualFold(k, "null") || strings.ContainsAny(k, "{},\"\\ \t\r\n") {
			parts[i] = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(k) + `"`
		}
	}
	return "'{" + strings.ReplaceAll(strings.Join(parts, ","), "'", "''") + "}'"
}

// Upsert writes INSERT ... VALUES (...), (...) ON CONFLICT (conflict) DO
// UPDATE SET c = EXCLUDED.c for each update column, or DO NOTHING when
// update is empty.
func (d Dialect) Upsert(table string, cols []string, rows int, conflict []string, update []string) string {
	q := sinksql.Insert(d, table, cols, rows) + " ON CONFLICT"
	if len(conflict) > 0 {
		q += " (" + sinksql.QuoteList(d, conflict) + ")"
	}
	if len(update) == 0 {
		return q + " DO NOTHING"
	}
	sets := make([]string, len(update))
	for i, c := range update {
		sets[i] = d.Quote(c) + " = EXCLUDED." + d.Quote(c)
	}
	return q + " DO UPDATE SET " + strings.Join(sets, ", ")
}

// Classify sorts a PostgreSQL error:
//   - Transient: a lost or refused connection (pgconn.SafeToRetry, a
//     timeout, a net.Error, EOF), SQLSTATE class 08, 40001
//     serialization_failure, 40P01 deadlock, 40003 completion unknown,
//     55P03 lock_not_available, 55006 object_in_use, 57014 query_canceled,
//     57P01-57P03 shutdown and cannot connect now, 53300
//     too_many_connections; and a context's end (the caller's retry loop
//     ends with its context);
//   - RowError: class 22 (data exception) and 23 (integrity constraint
//     violation);
//   - Fatal: class 42 (syntax, undefined table or column, 42501
//     insufficient privilege) and everything else.
func Classify(err error) sink.ErrorClass {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return classifyCode(pgErr.Code)
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	switch {
	case pgconn.SafeToRetry(err), pgconn.Timeout(err),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.As(err, &netErr), errors.As(err, &connectErr):
		return sink.Transient
	}
	return sink.Fatal
}

func classifyCode(code string) sink.ErrorClass {
	switch code {
	case "40001", "40P01", "40003", "55P03", "55006", "57014", "57P01", "57P02", "57P03", "53300":
		return sink.Transient
	}
	switch {
	case strings.HasPrefix(code, "08"):
		return sink.Transient
	case strings.HasPrefix(code, "22"), strings.HasPrefix(code, "23"):
		return sink.RowError
	}
	return sink.Fatal
}
