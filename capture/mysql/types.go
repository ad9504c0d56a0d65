package mysql

// Column types and values.
//
// A table's shape and its values reach tandem by two paths that must agree
// exactly, because the snapshot and the stream publish the same rows:
//
//   - the binlog: the shape from the TableMapEvent that precedes each rows
//     event (tableFromMap; binlog_row_metadata=FULL gives names, signedness,
//     charsets, ENUM/SET labels and the primary key), the values from
//     go-mysql's decoded row images (convertRow; BinlogSyncer with
//     ParseTime=false, UseDecimal=false, TimestampStringLocation=time.UTC);
//   - the catalog: the shape from information_schema.COLUMNS
//     (tableFromCatalog), the values from a SELECT through
//     go-sql-driver/mysql without parseTime (decodeText).
//
// A row is always decoded with the TableMap it was written with, never with
// the live schema, so an ALTER TABLE between the write and the read changes
// nothing.
//
// # Type mapping
//
//	MySQL / MariaDB                 capture kind   Go value          Type.Source
//	TINYINT [UNSIGNED]              int16          int64             tinyint [unsigned]
//	SMALLINT                        int16          int64             smallint
//	SMALLINT UNSIGNED               int32          int64             smallint unsigned
//	MEDIUMINT [UNSIGNED]            int32          int64             mediumint [unsigned]
//	INT                             int32          int64             int
//	INT UNSIGNED                    int64          int64             int unsigned
//	BIGINT                          int64          int64             bigint
//	BIGINT UNSIGNED                 uint64         uint64            bigint unsigned
//	DECIMAL(p,s) [UNSIGNED]         decimal(p,s)   *big.Rat          decimal(p,s) [unsigned]
//	FLOAT [UNSIGNED]                float32        float32           float [unsigned]
//	DOUBLE [UNSIGNED]               float64        float64           double [unsigned]
//	BIT(1)                          bool           bool              bit(1)
//	BIT(n), n > 1                   bytes          []byte            bit(n)
//	YEAR                            int32          int64             year
//	DATE                            date           time.Time         date
//	DATETIME(fsp)                   timestamp      time.Time         datetime[(fsp)]
//	TIMESTAMP(fsp)                  timestamptz    time.Time (UTC)   timestamp[(fsp)]
//	TIME(fsp)                       time           time.Duration     time[(fsp)]
//	CHAR, VARCHAR, *TEXT            string         string            char, varchar, tinytext, text, ...
//	  (latin1 columns)              string         string            varchar character set latin1, ...
//	BINARY(n)                       bytes          []byte            binary(n)
//	VARBINARY, *BLOB                bytes          []byte            varbinary, tinyblob, blob, ...
//	JSON (MySQL)                    json           string (compact)  json
//	JSON (MariaDB, = LONGTEXT)      string         string            longtext
//	ENUM                            enum           string (label)    enum      (Symbols: the labels)
//	SET                             string         string            set       (Symbols: the members)
//	GEOMETRY, POINT, ...            bytes          []byte            geometry
//
// Choices, and why:
//
//   - Integers take the smallest kind that holds every value of the column,
//     so a sink that creates a column gets one that fits (SMALLINT UNSIGNED
//     reaches 65535, which int16 does not hold). BIGINT UNSIGNED is uint64:
//     values above 2^63-1 never wrap.
//   - BIT(1) is a flag and becomes bool, as in Debezium. BIT(n>1) becomes the
//     (n+7)/8 bytes MySQL itself returns for it, big-endian, with the unused
//     high bits zero: exactly what SELECT yields and what a sink writes back
//     into a BIT column. (Debezium sends little-endian bytes; tandem keeps
//     MySQL's order so the bytes mean the same in both directions.)
//   - TIME is a duration in MySQL, not a time of day: it ranges from
//     -838:59:59.999999 to 838:59:59.999999. The value is the signed
//     time.Duration, never folded into a day. The schema serializer writes a
//     KindTime value as time-micros (a long of microseconds) without a range
//     check and its decoder reads the same long back, so a negative TIME or
//     one of 24h or more travels unchanged; a consumer that reads
//     time-micros as a time of day must expect values outside [0, 24h).
//   - Zero dates ('0000-00-00', '0000-00-00 00:00:00', and dates with a zero
//     month or day such as '2024-00-10') have no calendar value. Mapping
//     them to NULL would lose the difference between NULL and zero, and any
//     real date would be wrong, so they are a *capture.BadValueError naming
//     the table and column. Invalid dates (ALLOW_INVALID_DATES, e.g.
//     '2024-02-30') are rejected the same way rather than normalised.
//     Beware: WordPress keeps '0000-00-00 00:00:00' in wp_posts.post_date_gmt
//     of drafts, so capturing that table needs a policy for zero dates.
//   - MariaDB's JSON is an alias of LONGTEXT with a json_valid CHECK. The
//     TableMap carries no trace of the CHECK, so the binlog path cannot tell
//     a JSON column from a LONGTEXT one; the catalog could, but both paths
//     must give the same shape, so a MariaDB JSON column is a string
//     (Source "longtext") in both, its text exactly as stored. MySQL's
//     binary JSON type is KindJSON, as compact JSON text (no space between
//     tokens: go-mysql renders it so, and decodeText compacts what SELECT
//     prints). For the key order to agree too the reader must set
//     BinlogSyncerConfig.RenderJSONAsMySQLText, which keeps MySQL's order
//     (go-mysql's default sorts keys as Go maps do and prints 1.0 as 1).
//   - SET has no kind of its own: the value is the comma-joined members in
//     definition order (what MySQL returns for it), the kind is string and
//     Type.Symbols lists the members so that the shape changes when a member
//     is added.
//   - ENUM index 0 is MySQL's "error" value (an invalid value stored in
//     non-strict mode); MySQL returns it as '', and so does tandem.
//
// Character sets: string values in the binlog are in the column's own
// character set, while the text protocol converts to the connection's
// (utf8mb4). utf8mb4, utf8mb3 and ascii bytes are UTF-8 already; latin1
// (MySQL's latin1, which is cp1252 with 0x81, 0x8D, 0x8F, 0x90 and 0x9D
// mapped to U+0081...) is converted here, and its columns say so in
// Type.Source. A text, ENUM or SET column in any other character set is
// refused with an error naming the table, column and character set.
// MariaDB's INET4, INET6 and UUID types are refused by the catalog path
// (the binlog shows them only as BINARY(n) while SELECT returns their text).
//
// What the callers must do for the two paths to agree: the reader passes
// each image through markSkipped when binlog_row_image is not FULL; the
// snapshot's connection uses charset utf8mb4 and time_zone '+00:00' (SELECT
// returns TIMESTAMP in the session's zone), names every column (SELECT *
// leaves out invisible columns) and selects snapshotSelectExpr of each.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tandem-sync/tandem/capture"
)

// colDesc is what both paths learn about a column, in one form, so that
// the capture type comes from one function (captureType) and the two paths
// cannot disagree on how a fact maps to a type.
type colDesc struct {
	name      string
	base      string // tinyint ... geometry: see captureType
	unsigned  bool   // numeric bases only
	precision int    // decimal
	scale     int    // decimal
	length    int    // bit(n): bits; binary(n): bytes
	fsp       int    // datetime, timestamp, time
	charset   string // text, enum and set bases: utf8mb4, utf8mb3, ascii, latin1, binary, or another name
	labels    []string
	nullable  bool
	key       bool
}

// Character sets whose bytes are UTF-8 as they are.
var utf8Charsets = map[string]bool{"utf8mb4": true, "utf8mb3": true, "ascii": true}

const latin1Suffix = " character set latin1"

func (d *colDesc) captureType() (capture.Type, error) {
	uns := ""
	if d.unsigned {
		uns = " unsigned"
	}
	t := capture.Type{Source: d.base}
	switch d.base {
	case "tinyint":
		t.Kind, t.Source = capture.KindInt16, d.base+uns
	case "smallint":
		t.Kind, t.Source = capture.KindInt16, d.base+uns
		if d.unsigned {
			t.Kind = capture.KindInt32
		}
	case "mediumint":
		t.Kind, t.Source = capture.KindInt32, d.base+uns
	case "int":
		t.Kind, t.Source = capture.KindInt32, d.base+uns
		if d.unsigned {
			t.Kind = capture.KindInt64
		}
	case "bigint":
		t.Kind, t.Source = capture.KindInt64, d.base+uns
		if d.unsigned {
			t.Kind = capture.KindUint64
		}
	case "decimal":
		t.Kind, t.Precision, t.Scale = capture.KindDecimal, d.precision, d.scale
		t.Source = fmt.Sprintf("decimal(%d,%d)%s", d.precision, d.scale, uns)
	case "float":
		t.Kind, t.Source = capture.KindFloat32, d.base+uns
	case "double":
		t.Kind, t.Source = capture.KindFloat64, d.base+uns
	case "bit":
		if d.length < 1 || d.length > 64 {
			return t, fmt.Errorf("bit column with %d bits", d.length)
		}
		t.Kind, t.Source = capture.KindBytes, fmt.Sprintf("bit(%d)", d.length)
		if d.length == 1 {
			t.Kind = capture.KindBool
		}
	case "year":
		t.Kind = capture.KindInt32
	case "date":
		t.Kind = capture.KindDate
	case "datetime", "timestamp", "time":
		t.Kind = map[string]capture.Kind{"datetime": capture.KindTimestamp, "timestamp": capture.KindTimestampTZ, "time": capture.KindTime}[d.base]
		if d.fsp > 0 {
			t.Source = fmt.Sprintf("%s(%d)", d.base, d.fsp)
		}
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		t.Kind = capture.KindString
		switch {
		case utf8Charsets[d.charset]:
		case d.charset == "latin1":
			t.Source += latin1Suffix
		default:
			return t, fmt.Errorf("character set %q is not supported (tandem decodes utf8mb4, utf8mb3, ascii and latin1 text); convert the column, e.g. to utf8mb4", d.charset)
		}
	case "binary":
		t.Kind, t.Source = capture.KindBytes, fmt.Sprintf("binary(%d)", d.length)
	case "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		t.Kind = capture.KindBytes
	case "json":
		t.Kind = capture.KindJSON
	case "enum", "set":
		t.Kind = capture.KindEnum
		if d.base == "set" {
			t.Kind = capture.KindString
		}
		if d.labels == nil {
			return t, fmt.Errorf("%s column without its labels (binlog_row_metadata must be FULL)", d.base)
		}
		t.Symbols = d.labels
	case "geometry":
		t.Kind = capture.KindBytes
	default:
		return t, fmt.Errorf("type %s is not supported", d.base)
	}
	return t, nil
}

// tableFromMap returns the shape of the table a TableMapEvent describes:
// the shape its rows were written with. It needs binlog_row_metadata=FULL
// (column names, signedness, character sets, ENUM/SET labels, primary key).
// Version is left 0 for the reader to set.
func tableFromMap(tm *replication.TableMapEvent) (*capture.Table, error) {
	t := &capture.Table{Database: string(tm.Schema), Schema: string(tm.Schema), Name: string(tm.Table)}
	n := int(tm.ColumnCount)
	names := tm.ColumnNameString()
	if len(names) != n {
		return nil, fmt.Errorf("table %s: the binlog's table map carries no column names: binlog_row_metadata is not FULL; fix: SET GLOBAL binlog_row_metadata = FULL (and in the server's config file)",
			t.QualifiedName())
	}
	if len(tm.ColumnType) != n || len(tm.ColumnMeta) != n {
		return nil, fmt.Errorf("table %s: table map has %d columns but %d types", t.QualifiedName(), n, len(tm.ColumnType))
	}
	unsigned := tm.UnsignedMap()
	collations := tm.CollationMap()
	esCollations := tm.EnumSetCollationMap()
	enumLabels := tm.EnumStrValueMap()
	setLabels := tm.SetStrValueMap()
	keys := make(map[int]bool, len(tm.PrimaryKey))
	for _, k := range tm.PrimaryKey {
		keys[int(k)] = true
	}
	t.Columns = make([]capture.Column, n)
	for i := range n {
		_, nullable := tm.Nullable(i)
		d := colDesc{name: names[i], nullable: nullable, key: keys[i]}
		if err := d.fromMap(tm, i, unsigned[i], collations, esCollations, enumLabels, setLabels); err != nil {
			return nil, fmt.Errorf("table %s, column %s: %w", t.QualifiedName(), names[i], err)
		}
		typ, err := d.captureType()
		if err != nil {
			return nil, fmt.Errorf("table %s, column %s: %w", t.QualifiedName(), names[i], err)
		}
		t.Columns[i] = capture.Column{Name: d.name, Type: typ, Nullable: d.nullable, Key: d.key}
	}
	return t, nil
}

// fromMap fills d from column i of a table map.
func (d *colDesc) fromMap(tm *replication.TableMapEvent, i int, unsigned bool,
	collations, esCollations map[int]uint64, enumLabels, setLabels map[int][]string) error {
	typ, meta := tm.ColumnType[i], tm.ColumnMeta[i]
	charset := func(m map[int]uint64) (string, error) {
		coll, ok := m[i]
		if !ok {
			return "", fmt.Errorf("the table map carries no collation (binlog_row_metadata must be FULL)")
		}
		cs := charsetOfCollation(coll)
		if cs == "" {
			return "", fmt.Errorf("collation id %d is of a character set tandem does not decode (utf8mb4, utf8mb3, ascii, latin1 and binary are supported); convert the column, e.g. to utf8mb4", coll)
		}
		return cs, nil
	}
	numeric := func(base string) {
		d.base, d.unsigned = base, unsigned
	}
	switch typ {
	case gomysql.MYSQL_TYPE_TINY:
		numeric("tinyint")
	case gomysql.MYSQL_TYPE_SHORT:
		numeric("smallint")
	case gomysql.MYSQL_TYPE_INT24:
		numeric("mediumint")
	case gomysql.MYSQL_TYPE_LONG:
		numeric("int")
	case gomysql.MYSQL_TYPE_LONGLONG:
		numeric("bigint")
	case gomysql.MYSQL_TYPE_NEWDECIMAL:
		numeric("decimal")
		d.precision, d.scale = int(meta>>8), int(meta&0xff)
	case gomysql.MYSQL_TYPE_FLOAT:
		numeric("float")
	case gomysql.MYSQL_TYPE_DOUBLE:
		numeric("double")
	case gomysql.MYSQL_TYPE_BIT:
		d.base, d.length = "bit", int(meta>>8)*8+int(meta&0xff)
	case gomysql.MYSQL_TYPE_YEAR:
		d.base = "year" // MariaDB marks YEAR unsigned, MySQL signed: it means nothing
	case gomysql.MYSQL_TYPE_DATE, gomysql.MYSQL_TYPE_NEWDATE:
		d.base = "date"
	case gomysql.MYSQL_TYPE_DATETIME:
		d.base = "datetime"
	case gomysql.MYSQL_TYPE_DATETIME2:
		d.base, d.fsp = "datetime", int(meta)
	case gomysql.MYSQL_TYPE_TIMESTAMP:
		d.base = "timestamp"
	case gomysql.MYSQL_TYPE_TIMESTAMP2:
		d.base, d.fsp = "timestamp", int(meta)
	case gomysql.MYSQL_TYPE_TIME:
		d.base = "time"
	case gomysql.MYSQL_TYPE_TIME2:
		d.base, d.fsp = "time", int(meta)
	case gomysql.MYSQL_TYPE_STRING:
		rtype, length := stringMeta(meta)
		switch rtype {
		case gomysql.MYSQL_TYPE_ENUM, gomysql.MYSQL_TYPE_SET:
			labels := enumLabels
			d.base = "enum"
			if rtype == gomysql.MYSQL_TYPE_SET {
				labels, d.base = setLabels, "set"
			}
			cs, err := charset(esCollations)
			if err != nil {
				return err
			}
			if labels[i] == nil {
				return fmt.Errorf("%s column without its labels (binlog_row_metadata must be FULL)", d.base)
			}
			d.labels = make([]string, len(labels[i]))
			for j, l := range labels[i] {
				d.labels[j] = charsetText(cs, l)
			}
			return nil
		}
		cs, err := charset(collations)
		if err != nil {
			return err
		}
		d.base, d.charset = "char", cs
		if cs == "binary" {
			d.base, d.length = "binary", length
		}
	case gomysql.MYSQL_TYPE_VARCHAR, gomysql.MYSQL_TYPE_VAR_STRING:
		cs, err := charset(collations)
		if err != nil {
			return err
		}
		d.base, d.charset = "varchar", cs
		if cs == "binary" {
			d.base = "varbinary"
		}
	case gomysql.MYSQL_TYPE_BLOB:
		if meta < 1 || meta > 4 {
			return fmt.Errorf("blob with length bytes %d", meta)
		}
		cs, err := charset(collations)
		if err != nil {
			return err
		}
		size := [...]string{"tiny", "", "medium", "long"}[meta-1]
		d.base, d.charset = size+"text", cs
		if cs == "binary" {
			d.base = size + "blob"
		}
	case gomysql.MYSQL_TYPE_JSON:
		d.base = "json"
	case gomysql.MYSQL_TYPE_GEOMETRY:
		d.base = "geometry"
	default:
		return fmt.Errorf("binlog column type %d is not supported", typ)
	}
	return nil
}

// stringMeta decodes the metadata of a MYSQL_TYPE_STRING column: the real
// type (STRING, ENUM or SET) and the maximum length in bytes, as the server
// packs them (see Field_string::do_save_field_metadata).
func stringMeta(meta uint16) (rtype byte, length int) {
	if meta < 256 {
		return gomysql.MYSQL_TYPE_STRING, int(meta)
	}
	b0, b1 := byte(meta>>8), byte(meta)
	if b0&0x30 != 0x30 {
		return b0 | 0x30, int(b1) | int((b0&0x30)^0x30)<<4
	}
	return b0, int(b1)
}

// charsetOfCollation returns the character set of a collation id, for the
// character sets tandem decodes (utf8mb4, utf8mb3, ascii, latin1, binary),
// or "" for any other. MariaDB numbers its NO PAD collations 1024 above the
// PAD SPACE ones and its UCA 14.0.0 collations in blocks of 256 per
// character set (utf8mb3 from 2048, utf8mb4 from 2304); MySQL 8 numbers its
// utf8mb4 UCA 9.0.0 collations 255-323.
func charsetOfCollation(id uint64) string {
	switch {
	case id >= 2048 && id < 2304:
		return "utf8mb3"
	case id >= 2304 && id < 2560:
		return "utf8mb4"
	case id == 63:
		return "binary"
	case id >= 1024 && id < 2048:
		id -= 1024
	}
	switch {
	case id == 11 || id == 65:
		return "ascii"
	case id == 5 || id == 8 || id == 15 || id == 31 || id == 47 || id == 48 || id == 49 || id == 94:
		return "latin1"
	case id == 33 || id == 83 || id == 76 || id >= 192 && id <= 215 || id == 223 || id >= 576 && id <= 578:
		return "utf8mb3"
	case id == 45 || id == 46 || id >= 224 && id <= 247 || id >= 255 && id <= 323 || id >= 608 && id <= 610:
		return "utf8mb4"
	}
	return ""
}

// normalCharset is a CHARACTER_SET_NAME as charsetOfCollation names it.
func normalCharset(name string) string {
	name = strings.ToLower(name)
	if name == "utf8" {
		return "utf8mb3" // MySQL < 8.0.30, MariaDB < 10.6
	}
	return name
}

// latin1Runes maps MySQL latin1 bytes 0x80-0x9F to Unicode (MySQL's latin1
// is Windows-1252 with its five undefined bytes mapped to C1 controls).
var latin1Runes = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
}

// latin1String converts MySQL latin1 bytes to a UTF-8 string.
func latin1String(b []byte) string {
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	out := make([]byte, 0, len(b)+len(b)/2)
	for _, c := range b {
		switch {
		case c < 0x80:
			out = append(out, c)
		case c < 0xA0:
			out = utf8.AppendRune(out, latin1Runes[c-0x80])
		default:
			out = utf8.AppendRune(out, rune(c))
		}
	}
	return string(out)
}

// charsetText returns bytes in charset cs as a (copied) UTF-8 string.
func charsetText(cs, s string) string {
	if cs == "latin1" {
		return latin1String([]byte(s))
	}
	return strings.Clone(s)
}

// tableFromCatalog reads the current shape of database.table from
// information_schema.COLUMNS. For the same table it returns the same shape
// (capture.Table.SameShape) as tableFromMap on a TableMapEvent written with
// that definition. Version is left 0.
func tableFromCatalog(ctx context.Context, conn interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, database, table string) (*capture.Table, error) {
	t := &capture.Table{Database: database, Schema: database, Name: table}
	rows, err := conn.QueryContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COLUMN_KEY, CHARACTER_SET_NAME
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, database, table)
	if err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", t.QualifiedName(), err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, dataType, columnType, nullable, key string
		var charset sql.NullString
		if err := rows.Scan(&name, &dataType, &columnType, &nullable, &key, &charset); err != nil {
			return nil, fmt.Errorf("read the columns of %s: %w", t.QualifiedName(), err)
		}
		d := colDesc{name: name, nullable: nullable == "YES", key: key == "PRI"}
		if err := d.fromCatalog(strings.ToLower(dataType), columnType, charset); err != nil {
			return nil, fmt.Errorf("table %s, column %s: %w", t.QualifiedName(), name, err)
		}
		typ, err := d.captureType()
		if err != nil {
			return nil, fmt.Errorf("table %s, column %s: %w", t.QualifiedName(), name, err)
		}
		t.Columns = append(t.Columns, capture.Column{Name: name, Type: typ, Nullable: d.nullable, Key: d.key})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", t.QualifiedName(), err)
	}
	if len(t.Columns) == 0 {
		return nil, fmt.Errorf("table %s does not exist (or the user may not see it)", t.QualifiedName())
	}
	return t, nil
}

// fromCatalog fills d from a column's DATA_TYPE, COLUMN_TYPE and
// CHARACTER_SET_NAME.
func (d *colDesc) fromCatalog(dataType, columnType string, charset sql.NullString) error {
	ct := strings.ToLower(columnType)
	args := parenInts(ct)
	arg := func(i, def int) int {
		if i < len(args) {
			return args[i]
		}
		return def
	}
	d.base = dataType
	if charset.Valid {
		d.charset = normalCharset(charset.String)
	} else {
		d.charset = "binary"
	}
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "bigint", "float", "double":
		d.unsigned = strings.Contains(ct, " unsigned")
	case "decimal":
		d.unsigned = strings.Contains(ct, " unsigned")
		d.precision, d.scale = arg(0, 10), arg(1, 0)
	case "bit":
		d.length = arg(0, 1)
	case "datetime", "timestamp", "time":
		d.fsp = arg(0, 0)
	case "binary":
		d.length = arg(0, 1)
	case "enum", "set":
		labels, err := parseLabels(columnType)
		if err != nil {
			return err
		}
		d.labels = labels
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
		"geometrycollection", "geomcollection":
		d.base = "geometry"
	case "year", "date", "json", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		if d.charset == "binary" {
			return fmt.Errorf("%s column without a character set", dataType)
		}
	default:
		return fmt.Errorf("type %s is not supported", columnType)
	}
	return nil
}

// parenInts returns the integers in the first parenthesis of a COLUMN_TYPE,
// e.g. [26 8] for "decimal(26,8) unsigned"; nil when there are none.
func parenInts(ct string) []int {
	open := strings.IndexByte(ct, '(')
	if open < 0 {
		return nil
	}
	end := strings.IndexByte(ct[open:], ')')
	if end < 0 {
		return nil
	}
	var out []int
	for _, p := range strings.Split(ct[open+1:open+end], ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return nil
		}
		out = append(out, n)
	}
	return out
}

// parseLabels parses the labels of an ENUM or SET COLUMN_TYPE such as
// enum('a','b,c'). The server writes each label in single quotes, with a
// quote inside doubled and NUL, newline, carriage return and backslash
// escaped by a backslash (append_unescaped); other backslash escapes are
// read as MySQL string literals read them.
func parseLabels(columnType string) ([]string, error) {
	open := strings.IndexByte(columnType, '(')
	if open < 0 || !strings.HasSuffix(columnType, ")") {
		return nil, fmt.Errorf("cannot read the labels of %q", columnType)
	}
	s := columnType[open+1 : len(columnType)-1]
	labels := []string{}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '\'' {
			return nil, fmt.Errorf("cannot read the labels of %q", columnType)
		}
		i++
		b.Reset()
		closed := false
		for i < len(s) {
			c := s[i]
			if c == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					b.WriteByte('\'')
					i += 2
					continue
				}
				i++
				closed = true
				break
			}
			if c == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case '0':
					b.WriteByte(0)
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				case 't':
					b.WriteByte('\t')
				case 'b':
					b.WriteByte('\b')
				case 'Z':
					b.WriteByte(0x1a)
				default:
					b.WriteByte(s[i])
				}
				i++
				continue
			}
			b.WriteByte(c)
			i++
		}
		if !closed {
			return nil, fmt.Errorf("cannot read the labels of %q", columnType)
		}
		labels = append(labels, b.String())
		if i < len(s) {
			if s[i] != ',' {
				return nil, fmt.Errorf("cannot read the labels of %q", columnType)
			}
			i++
		}
	}
	return labels, nil
}

// markSkipped sets the values of the columns a row image leaves out
// (RowsEvent.SkippedColumns[i], with binlog_row_image MINIMAL or NOBLOB) to
// capture.Unchanged, which convertRow keeps. go-mysql leaves such values
// nil, which convertRow would otherwise read as NULL.
func markSkipped(raw []any, skipped []int) {
	for _, i := range skipped {
		if i >= 0 && i < len(raw) {
			raw[i] = capture.Unchanged
		}
	}
}

// convertRow converts one row image decoded by go-mysql (an element of
// RowsEvent.Rows, decoded with the TableMap t was built from) into capture
// values of the Go types documented on capture.Kind. A value that is
// capture.Unchanged (see markSkipped) stays so; nil is NULL. A value tandem
// cannot represent exactly is a *capture.BadValueError naming the table and
// column. The result shares no memory with raw.
func convertRow(t *capture.Table, raw []any) (capture.Row, error) {
	if len(raw) != len(t.Columns) {
		return nil, fmt.Errorf("table %s: row image has %d values for %d columns", t.QualifiedName(), len(raw), len(t.Columns))
	}
	row := make(capture.Row, len(raw))
	for i, v := range raw {
		c := &t.Columns[i]
		out, err := binlogValue(&c.Type, v)
		if err != nil {
			return nil, &capture.BadValueError{Table: t.QualifiedName(), Column: c.Name, Value: valueForError(v), Reason: err.Error()}
		}
		row[i] = out
	}
	return row, nil
}

func valueForError(v any) string {
	var s string
	switch x := v.(type) {
	case []byte:
		s = fmt.Sprintf("%x", x)
	default:
		s = fmt.Sprint(x)
	}
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return s
}

// binlogValue converts one value of go-mysql's row decoding (ParseTime off,
// UseDecimal off) for a column of type t.
func binlogValue(t *capture.Type, v any) (any, error) {
	if v == nil || capture.IsUnchanged(v) {
		return v, nil
	}
	switch t.Kind {
	case capture.KindInt16, capture.KindInt32, capture.KindInt64:
		n, ok := asInt64(v)
		if !ok {
			break
		}
		return n, nil
	case capture.KindUint64:
		switch x := v.(type) {
		case uint64:
			return x, nil
		case int64:
			if x >= 0 {
				return uint64(x), nil
			}
			return nil, fmt.Errorf("negative value in an unsigned column")
		}
	case capture.KindFloat32:
		if f, ok := v.(float32); ok {
			return f, nil
		}
	case capture.KindFloat64:
		if f, ok := v.(float64); ok {
			return f, nil
		}
	case capture.KindDecimal:
		if s, ok := v.(string); ok {
			return parseDecimalText(s)
		}
	case capture.KindBool:
		if n, ok := v.(int64); ok {
			return n != 0, nil
		}
	case capture.KindBytes:
		if n, ok := v.(int64); ok { // BIT(n)
			bits, ok := sourceArg(t.Source, "bit(")
			if !ok {
				break
			}
			b := make([]byte, (bits+7)/8)
			for i := len(b) - 1; i >= 0; i-- {
				b[i] = byte(n)
				n >>= 8
			}
			return b, nil
		}
		var b []byte
		switch x := v.(type) {
		case string: // BINARY, VARBINARY (go-mysql's string aliases the event buffer)
			b = []byte(x)
		case []byte: // BLOB, GEOMETRY (a slice of the event buffer)
			b = append([]byte{}, x...)
		default:
			return nil, unexpectedGoType(t, v)
		}
		// The binlog drops the 0x00 padding of BINARY(n); SELECT returns it.
		if n, ok := sourceArg(t.Source, "binary("); ok && len(b) < n {
			b = append(b, make([]byte, n-len(b))...)
		}
		return b, nil
	case capture.KindDate:
		if s, ok := v.(string); ok {
			return parseMyDate(s)
		}
	case capture.KindTimestamp, capture.KindTimestampTZ:
		if s, ok := v.(string); ok {
			return parseMyDateTime(s)
		}
	case capture.KindTime:
		if s, ok := v.(string); ok {
			return parseMyTime(s)
		}
	case capture.KindJSON:
		switch x := v.(type) {
		case string:
			return strings.Clone(x), nil
		case []byte:
			if len(x) == 0 {
				// An empty JSON document (stored by INSERT IGNORE of NULL into
				// a NOT NULL column): MySQL reads it as the JSON null literal.
				return "null", nil
			}
			return string(x), nil
		case *replication.JsonDiff:
			return nil, fmt.Errorf("a partial JSON update carries only the change, not the value; fix: SET GLOBAL binlog_row_value_options = ''")
		}
	case capture.KindEnum:
		if n, ok := v.(int64); ok {
			if n == 0 {
				return "", nil // MySQL's "error" value, read back as ''
			}
			if n < 0 || int(n) > len(t.Symbols) {
				return nil, fmt.Errorf("enum index %d is outside the %d labels of the table map", n, len(t.Symbols))
			}
			return t.Symbols[n-1], nil
		}
	case capture.KindString:
		switch x := v.(type) {
		case int64: // SET bitmask
			if t.Symbols == nil {
				break
			}
			return setMembers(t.Symbols, uint64(x))
		case string:
			if strings.HasSuffix(t.Source, latin1Suffix) {
				return latin1String([]byte(x)), nil
			}
			return strings.Clone(x), nil
		case []byte: // TEXT comes as a blob
			if strings.HasSuffix(t.Source, latin1Suffix) {
				return latin1String(x), nil
			}
			return string(x), nil
		}
	}
	return nil, unexpectedGoType(t, v)
}

func unexpectedGoType(t *capture.Type, v any) error {
	return fmt.Errorf("the binlog decoder gave a Go %T for a %s column (%s)", v, t.Kind, t.Source)
}

func asInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case int:
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	}
	return 0, false
}

// setMembers joins the members of a SET bitmask, in definition order.
func setMembers(symbols []string, mask uint64) (string, error) {
	if len(symbols) < 64 && mask>>len(symbols) != 0 {
		return "", fmt.Errorf("set bitmask %#x has bits beyond its %d members", mask, len(symbols))
	}
	var b strings.Builder
	first := true
	for i, s := range symbols {
		if mask&(1<<i) != 0 {
			if !first {
				b.WriteByte(',')
			}
			b.WriteString(s)
			first = false
		}
	}
	return b.String(), nil
}

// sourceArg returns n from a Source such as "bit(n)" or "binary(n)".
func sourceArg(source, prefix string) (int, bool) {
	if !strings.HasPrefix(source, prefix) || !strings.HasSuffix(source, ")") {
		return 0, false
	}
	n, err := strconv.Atoi(source[len(prefix) : len(source)-1])
	return n, err == nil
}

// decodeText turns a value as go-sql-driver/mysql returns it without
// parseTime ([]byte; nil is NULL) into the Go value convertRow gives for
// the same data in a column of type t. The bytes are copied. It assumes a
// connection with charset utf8mb4 and time_zone '+00:00' (TIMESTAMP values
// are converted to the session's zone). It reads both the text protocol and
// go-sql-driver's text rendering of the binary protocol (prepared
// statements). Note that the text protocol prints FLOAT with 6 significant
// digits, which loses data: select FLOAT columns with snapshotSelectExpr.
// The error, if any, says why the value cannot be represented; the caller
// names the table and column.
func decodeText(t *capture.Type, b []byte) (any, error) {
	if b == nil {
		return nil, nil
	}
	s := string(b)
	switch t.Kind {
	case capture.KindInt16, capture.KindInt32, capture.KindInt64:
		return strconv.ParseInt(s, 10, 64)
	case capture.KindUint64:
		return strconv.ParseUint(s, 10, 64)
	case capture.KindFloat32:
		f, err := strconv.ParseFloat(s, 32)
		return float32(f), err
	case capture.KindFloat64:
		return strconv.ParseFloat(s, 64)
	case capture.KindDecimal:
		return parseDecimalText(s)
	case capture.KindBool:
		if len(b) != 1 {
			return nil, fmt.Errorf("bit(1) value of %d bytes", len(b))
		}
		return b[0] != 0, nil
	case capture.KindBytes:
		out := append([]byte{}, b...)
		if n, ok := sourceArg(t.Source, "bit("); ok && len(out) != (n+7)/8 {
			return nil, fmt.Errorf("bit(%d) value of %d bytes", n, len(out))
		}
		if n, ok := sourceArg(t.Source, "binary("); ok && len(out) < n {
			out = append(out, make([]byte, n-len(out))...)
		}
		return out, nil
	case capture.KindDate:
		return parseMyDate(s)
	case capture.KindTimestamp, capture.KindTimestampTZ:
		return parseMyDateTime(s)
	case capture.KindTime:
		return parseMyTime(s)
	case capture.KindJSON:
		// MySQL prints its binary JSON with a space after ':' and ',';
		// go-mysql's binlog rendering has none.
		var out bytes.Buffer
		if err := json.Compact(&out, b); err != nil {
			return nil, fmt.Errorf("not valid JSON: %v", err)
		}
		return out.String(), nil
	}
	// String (also SET), enum: the text as it is.
	return s, nil
}

// snapshotSelectExpr is the SELECT expression whose text decodeText turns
// into the value convertRow gives for column c. It is the quoted name,
// except for FLOAT: the text protocol prints a FLOAT with 6 significant
// digits (3.1415927 comes back as 3.14159), so it is read as a DOUBLE,
// which holds every FLOAT exactly and prints in full.
func snapshotSelectExpr(c *capture.Column) string {
	if c.Type.Kind == capture.KindFloat32 {
		return "(" + quote(c.Name) + " + 0e0)"
	}
	return quote(c.Name)
}

func parseDecimalText(s string) (*big.Rat, error) {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, fmt.Errorf("not a decimal number")
	}
	return r, nil
}

var errZeroDate = errors.New("MySQL's zero date has no calendar value (tandem does not turn it into NULL or into another date)")

// asciiDigits parses s (all ASCII digits, at least one) as a non-negative int.
func asciiDigits(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// parseMyDate parses YYYY-MM-DD into UTC midnight.
func parseMyDate(s string) (time.Time, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, fmt.Errorf("not a date")
	}
	y, ok1 := asciiDigits(s[0:4])
	m, ok2 := asciiDigits(s[5:7])
	d, ok3 := asciiDigits(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, fmt.Errorf("not a date")
	}
	if err := checkMyDate(y, m, d); err != nil {
		return time.Time{}, err
	}
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC), nil
}

func checkMyDate(y, m, d int) error {
	switch {
	case y == 0 && m == 0 && d == 0:
		return errZeroDate
	case m == 0 || d == 0:
		return fmt.Errorf("a date with a zero month or day has no calendar value")
	case m > 12 || d > time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day():
		return fmt.Errorf("not a valid date (stored under ALLOW_INVALID_DATES?)")
	}
	return nil
}

// parseMyDateTime parses YYYY-MM-DD HH:MM:SS[.f...] (up to 6 fractional
// digits) as a wall-clock time in UTC.
func parseMyDateTime(s string) (time.Time, error) {
	if len(s) < 19 || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, fmt.Errorf("not a date and time")
	}
	y, ok1 := asciiDigits(s[0:4])
	mo, ok2 := asciiDigits(s[5:7])
	d, ok3 := asciiDigits(s[8:10])
	h, ok4 := asciiDigits(s[11:13])
	mi, ok5 := asciiDigits(s[14:16])
	sec, ok6 := asciiDigits(s[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, fmt.Errorf("not a date and time")
	}
	us, ok := fracMicros(s[19:])
	if !ok {
		return time.Time{}, fmt.Errorf("not a date and time")
	}
	if err := checkMyDate(y, mo, d); err != nil {
		return time.Time{}, err
	}
	if h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, fmt.Errorf("not a valid time of day")
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, us*1000, time.UTC), nil
}

// fracMicros parses "" or ".f" with 1 to 6 digits into microseconds.
func fracMicros(s string) (int, bool) {
	if s == "" {
		return 0, true
	}
	if s[0] != '.' || len(s) < 2 || len(s) > 7 {
		return 0, false
	}
	n, ok := asciiDigits(s[1:])
	for i := len(s) - 1; i < 6; i++ {
		n *= 10
	}
	return n, ok
}

// parseMyTime parses a MySQL TIME, [-]H...H:MM:SS[.f...], which may be
// negative or above 24 hours.
func parseMyTime(s string) (time.Duration, error) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	c := strings.IndexByte(s, ':')
	if c < 1 || len(s) < c+6 || s[c+3] != ':' {
		return 0, fmt.Errorf("not a time")
	}
	h, ok1 := asciiDigits(s[:c])
	m, ok2 := asciiDigits(s[c+1 : c+3])
	sec, ok3 := asciiDigits(s[c+4 : c+6])
	us, ok4 := fracMicros(s[c+6:])
	if !ok1 || !ok2 || !ok3 || !ok4 || m > 59 || sec > 59 {
		return 0, fmt.Errorf("not a time")
	}
	if h > 838 {
		// go-mysql reads the pre-5.6.4 TIME format as unsigned, so a
		// negative value of such a column comes out at 1677 hours or so.
		return 0, fmt.Errorf("outside MySQL's TIME range (a negative TIME in the pre-5.6.4 format? fix: ALTER TABLE ... FORCE rewrites the column in the current format)")
	}
	d := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second + time.Duration(us)*time.Microsecond
	if neg {
		d = -d
	}
	return d, nil
}
