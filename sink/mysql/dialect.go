package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"regexp"
	"strings"

	drv "github.com/go-sql-driver/mysql"

	"github.com/tandem-sync/tandem/sink"
	"github.com/tandem-sync/tandem/sink/internal/sinksql"
)

// Dialect is the SQL dialect of MySQL and MariaDB (10.11 syntax). It
// needs no connection.
type Dialect struct{}

var _ sink.Dialect = Dialect{}

// Name is "mysql".
func (Dialect) Name() string { return "mysql" }

// Quote quotes an identifier in backticks, a qualified name
// (database.table) part by part.
func (Dialect) Quote(ident string) string {
	return sinksql.QuoteQualified(ident, quoteIdent)
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// Placeholder is ?.
func (Dialect) Placeholder(int) string { return "?" }

// JSONSet sets path in the document of column (a NULL document becomes
// {}) to param, a string:
//
//	JSON_SET(COALESCE(col, '{}'), '$.a', ?)
//
// Missing objects on the way to a nested key are created first, with
// JSON_INSERT (JSON_SET alone would leave the document unchanged).
func (Dialect) JSONSet(column, path, param string) string {
	keys := sinksql.SplitPath(path)
	doc := "COALESCE(" + column + ", '{}')"
	if len(keys) > 1 {
		var b strings.Builder
		for i := 1; i < len(keys); i++ {
			b.WriteString(", " + jsonPath(keys[:i]) + ", JSON_OBJECT()")
		}
		doc = "JSON_INSERT(" + doc + b.String() + ")"
	}
	return "JSON_SET(" + doc + ", " + jsonPath(keys) + ", " + param + ")"
}

var plainKey = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

// jsonPath is the string literal of the JSON path of keys: '$.a.b', a key
// that is no plain name in double quotes. The session's sql_mode lets
// backslashes escape in literals, so they are doubled.
func jsonPath(keys []string) string {
	var b strings.Builder
	b.WriteByte('$')
	for _, k := range keys {
		b.WriteByte('.')
		if plainKey.MatchString(k) {
			b.WriteString(k)
			continue
		}
		b.WriteString(`"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(k) + `"`)
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(b.String()) + "'"
}

// Upsert writes INSERT ... VALUES (...), (...) ON DUPLICATE KEY UPDATE
// c = VALUES(c) for each update column. MySQL matches any unique key, so
// conflict only names the no-op update (k = k) written when update is
// empty: INSERT IGNORE would also turn every strict-mode error of the
// rows (a NULL in a NOT NULL column, a value too long) into a warning and
// store an adjusted value.
func (d Dialect) Upsert(table string, cols []string, rows int, conflict []string, update []string) string {
	q := sinksql.Insert(d, table, cols, rows) + " ON DUPLICATE KEY UPDATE "
	if len(update) == 0 {
		k := cols[0]
		if len(conflict) > 0 {
			k = conflict[0]
		}
		return q + d.Quote(k) + " = " + d.Quote(k)
	}
	sets := make([]string, len(update))
	for i, c := range update {
		sets[i] = d.Quote(c) + " = VALUES(" + d.Quote(c) + ")"
	}
	return q + strings.Join(sets, ", ")
}

// Classify sorts a MySQL or MariaDB error:
//   - Transient: a lost connection (driver.ErrBadConn, the driver's
//     invalid connection, EOF, a net.Error, 2006 server gone, 2013 lost
//     connection, 1158-1161 network errors), 1213 deadlock, 1205 lock wait
//     timeout, 1040 and 1203 too many connections, 1927 connection killed,
//     1053 shutdown, 1317 query interrupted, 4031 disconnected for
//     inactivity; and a context's end (the caller's retry loop ends with
//     its context);
//   - RowError: a value or a row the table refuses: 1062 and 1586
//     duplicate key, 1048 NULL, 1364 no default, 1451/1452/1216/1217
//     foreign key, 1264/1690 out of range, 1265 truncated, 1292/1366/1367
//     incorrect value, 1406 too long, 3140 invalid JSON, 3819/4025 CHECK
//     constraint;
//   - Fatal: 1146 no such table, 1054 unknown column, 1044/1045/1142/1143
//     access denied, syntax errors, and everything else.
func Classify(err error) sink.ErrorClass {
	var myErr *drv.MySQLError
	if errors.As(err, &myErr) {
		return classifyNumber(myErr.Number)
	}
	var netErr net.Error
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, drv.ErrInvalidConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.As(err, &netErr):
		return sink.Transient
	}
	return sink.Fatal
}

func classifyNumber(n uint16) sink.ErrorClass {
	switch n {
	case 1205, 1213, 2006, 2013, 1040, 1203, 1927, 1053, 1158, 1159, 1160, 1161, 1317, 4031:
		return sink.Transient
	case 1062, 1586, 1048, 1364, 1451, 1452, 1216, 1217, 1264, 1690, 1265, 1292, 1366, 1367, 1406, 3140, 3819, 4025:
		return sink.RowError
	}
	return sink.Fatal
}
