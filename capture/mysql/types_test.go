package mysql

import (
	"database/sql"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"
	"unsafe"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tandem-sync/tandem/capture"
)

func mustType(t *testing.T, d colDesc) capture.Type {
	t.Helper()
	typ, err := d.captureType()
	if err != nil {
		t.Fatalf("%+v: %v", d, err)
	}
	return typ
}

func ratOf(s string) *big.Rat { r, _ := new(big.Rat).SetString(s); return r }

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// valueCase is one value as the binlog decoder (go-mysql, ParseTime and
// UseDecimal off) and the text protocol give it, and the capture value both
// must become.
type valueCase struct {
	name   string
	typ    colDesc
	binlog any    // go-mysql's value
	text   []byte // go-sql-driver's bytes; nil is NULL
	noText bool   // the case has no text form
	want   any
}

var valueCases = []valueCase{
	{"null", colDesc{base: "int"}, nil, nil, false, nil},
	{"tinyint", colDesc{base: "tinyint"}, int8(-128), []byte("-128"), false, int64(-128)},
	{"tinyint unsigned", colDesc{base: "tinyint", unsigned: true}, uint8(255), []byte("255"), false, int64(255)},
	{"smallint unsigned", colDesc{base: "smallint", unsigned: true}, uint16(65535), []byte("65535"), false, int64(65535)},
	{"mediumint", colDesc{base: "mediumint"}, int32(-8388608), []byte("-8388608"), false, int64(-8388608)},
	{"int unsigned max", colDesc{base: "int", unsigned: true}, uint32(math.MaxUint32), []byte("4294967295"), false, int64(math.MaxUint32)},
	{"bigint min", colDesc{base: "bigint"}, int64(math.MinInt64), []byte("-9223372036854775808"), false, int64(math.MinInt64)},
	{"bigint unsigned max", colDesc{base: "bigint", unsigned: true}, uint64(math.MaxUint64), []byte("18446744073709551615"), false, uint64(math.MaxUint64)},
	{"bigint unsigned 2^63", colDesc{base: "bigint", unsigned: true}, uint64(1) << 63, []byte("9223372036854775808"), false, uint64(1) << 63},
	{"decimal(26,8)", colDesc{base: "decimal", precision: 26, scale: 8}, "12345678901234567.12345678", []byte("12345678901234567.12345678"), false,
		ratOf("12345678901234567.12345678")},
	{"decimal(26,8) negative", colDesc{base: "decimal", precision: 26, scale: 8}, "-12345678901234567.12345678", []byte("-12345678901234567.12345678"), false,
		ratOf("-12345678901234567.12345678")},
	{"decimal small negative", colDesc{base: "decimal", precision: 10, scale: 2}, "-0.50", []byte("-0.50"), false, ratOf("-1/2")},
	{"float", colDesc{base: "float"}, float32(3.1415927), []byte("3.1415927410125732"), false, float32(3.1415927)},
	{"double", colDesc{base: "double"}, 0.30000000000000004, []byte("0.30000000000000004"), false, 0.30000000000000004},
	{"bit(1) set", colDesc{base: "bit", length: 1}, int64(1), []byte{1}, false, true},
	{"bit(1) clear", colDesc{base: "bit", length: 1}, int64(0), []byte{0}, false, false},
	{"bit(12)", colDesc{base: "bit", length: 12}, int64(0x801), []byte{0x08, 0x01}, false, []byte{0x08, 0x01}},
	{"bit(64) all ones", colDesc{base: "bit", length: 64}, int64(-1), []byte{255, 255, 255, 255, 255, 255, 255, 255}, false,
		[]byte{255, 255, 255, 255, 255, 255, 255, 255}},
	{"year", colDesc{base: "year"}, 2024, []byte("2024"), false, int64(2024)},
	{"year 0000", colDesc{base: "year"}, 0, []byte("0000"), false, int64(0)},
	{"date", colDesc{base: "date"}, "2024-02-29", []byte("2024-02-29"), false, day(2024, 2, 29)},
	{"datetime(6)", colDesc{base: "datetime", fsp: 6}, "2024-02-29 13:14:15.123456", []byte("2024-02-29 13:14:15.123456"), false,
		time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC)},
	{"datetime(3)", colDesc{base: "datetime", fsp: 3}, "1000-01-01 00:00:00.001", []byte("1000-01-01 00:00:00.001"), false,
		time.Date(1000, 1, 1, 0, 0, 0, 1000000, time.UTC)},
	{"datetime", colDesc{base: "datetime"}, "9999-12-31 23:59:59", []byte("9999-12-31 23:59:59"), false,
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
	{"timestamp(6)", colDesc{base: "timestamp", fsp: 6}, "2038-01-19 03:14:07.999999", []byte("2038-01-19 03:14:07.999999"), false,
		time.Date(2038, 1, 19, 3, 14, 7, 999999000, time.UTC)},
	{"time negative min", colDesc{base: "time", fsp: 6}, "-838:59:59.000000", []byte("-838:59:59.000000"), false,
		-(838*time.Hour + 59*time.Minute + 59*time.Second)},
	{"time above 24h", colDesc{base: "time", fsp: 2}, "100:00:00.50", []byte("100:00:00.50"), false, 100*time.Hour + 500*time.Millisecond},
	{"time negative fraction", colDesc{base: "time", fsp: 2}, "-00:00:00.01", []byte("-00:00:00.01"), false, -10 * time.Millisecond},
	{"time zero", colDesc{base: "time"}, "00:00:00", []byte("00:00:00"), false, time.Duration(0)},
	{"enum index 1", colDesc{base: "enum", labels: []string{"small", "medium", "café"}}, int64(1), []byte("small"), false, "small"},
	{"enum index n", colDesc{base: "enum", labels: []string{"small", "medium", "café"}}, int64(3), []byte("café"), false, "café"},
	{"enum index 0 (error value)", colDesc{base: "enum", labels: []string{"small", "medium"}}, int64(0), []byte(""), false, ""},
	{"set empty", colDesc{base: "set", labels: []string{"red", "green", "blue"}}, int64(0), []byte(""), false, ""},
	{"set one", colDesc{base: "set", labels: []string{"red", "green", "blue"}}, int64(2), []byte("green"), false, "green"},
	{"set two", colDesc{base: "set", labels: []string{"red", "green", "blue"}}, int64(5), []byte("red,blue"), false, "red,blue"},
	{"set all", colDesc{base: "set", labels: []string{"red", "green", "blue"}}, int64(7), []byte("red,green,blue"), false, "red,green,blue"},
	{"set 64th member", colDesc{base: "set", labels: sixtyFour()}, int64(math.MinInt64), []byte("m63"), false, "m63"},
	{"varchar emoji", colDesc{base: "varchar", charset: "utf8mb4"}, "héllo 😀", []byte("héllo 😀"), false, "héllo 😀"},
	{"varchar empty", colDesc{base: "varchar", charset: "utf8mb4"}, "", []byte{}, false, ""},
	{"text as blob", colDesc{base: "text", charset: "utf8mb4"}, []byte("😀 text"), []byte("😀 text"), false, "😀 text"},
	{"latin1", colDesc{base: "varchar", charset: "latin1"}, "\x80\xe9\xff\x81", []byte("€éÿ\u0081"), false, "€éÿ\u0081"},
	{"latin1 text", colDesc{base: "text", charset: "latin1"}, []byte("caf\xe9"), []byte("café"), false, "café"},
	{"binary(4) padded", colDesc{base: "binary", length: 4}, "\x01\x02", []byte{1, 2, 0, 0}, false, []byte{1, 2, 0, 0}},
	{"binary(4) empty", colDesc{base: "binary", length: 4}, "", []byte{0, 0, 0, 0}, false, []byte{0, 0, 0, 0}},
	{"varbinary", colDesc{base: "varbinary"}, "\x00\xff\x00", []byte{0, 0xff, 0}, false, []byte{0, 0xff, 0}},
	{"blob", colDesc{base: "blob"}, []byte{0xde, 0xad}, []byte{0xde, 0xad}, false, []byte{0xde, 0xad}},
	{"geometry", colDesc{base: "geometry"}, []byte{0, 0, 0, 0, 1, 1}, []byte{0, 0, 0, 0, 1, 1}, false, []byte{0, 0, 0, 0, 1, 1}},
	{"json", colDesc{base: "json"}, `{"a":[1,2],"é":"😀"}`, []byte(`{"a": [1, 2], "é": "😀"}`), false, `{"a":[1,2],"é":"😀"}`},
	{"json empty document", colDesc{base: "json"}, []byte{}, nil, true, "null"},
	{"mariadb json is longtext", colDesc{base: "longtext", charset: "utf8mb4"}, []byte(`{"a":1}`), []byte(`{"a":1}`), false, `{"a":1}`},
	{"unchanged", colDesc{base: "longblob"}, capture.Unchanged, nil, true, capture.Unchanged},
}

func sixtyFour() []string {
	out := make([]string, 64)
	for i := range out {
		out[i] = "m" + string(rune('0'+i/10)) + string(rune('0'+i%10))
	}
	return out
}

func TestConvertRowValues(t *testing.T) {
	for _, tc := range valueCases {
		t.Run(tc.name, func(t *testing.T) {
			tab := &capture.Table{Database: "shop", Schema: "shop", Name: "t",
				Columns: []capture.Column{{Name: "c", Type: mustType(t, tc.typ)}}}
			row, err := convertRow(tab, []any{tc.binlog})
			if err != nil {
				t.Fatal(err)
			}
			if capture.IsUnchanged(tc.want) {
				if !capture.IsUnchanged(row[0]) {
					t.Fatalf("got %#v, want Unchanged", row[0])
				}
				return
			}
			if !capture.Equal(row[0], tc.want) {
				t.Fatalf("convertRow gave %#v (%T), want %#v (%T)", row[0], row[0], tc.want, tc.want)
			}
		})
	}
}

func TestDecodeTextValues(t *testing.T) {
	for _, tc := range valueCases {
		if tc.noText {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			typ := mustType(t, tc.typ)
			got, err := decodeText(&typ, tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if !capture.Equal(got, tc.want) {
				t.Fatalf("decodeText(%q) gave %#v (%T), want %#v (%T)", tc.text, got, got, tc.want, tc.want)
			}
		})
	}
}

// Go values of the kinds the capture contract documents.
func TestConvertRowGoTypes(t *testing.T) {
	want := map[capture.Kind]string{
		capture.KindInt16: "int64", capture.KindInt32: "int64", capture.KindInt64: "int64", capture.KindUint64: "uint64",
		capture.KindFloat32: "float32", capture.KindFloat64: "float64", capture.KindDecimal: "*big.Rat", capture.KindBool: "bool",
		capture.KindBytes: "[]uint8", capture.KindDate: "time.Time", capture.KindTimestamp: "time.Time",
		capture.KindTimestampTZ: "time.Time", capture.KindTime: "time.Duration", capture.KindString: "string",
		capture.KindJSON: "string", capture.KindEnum: "string",
	}
	for _, tc := range valueCases {
		if tc.want == nil || capture.IsUnchanged(tc.want) {
			continue
		}
		typ := mustType(t, tc.typ)
		tab := &capture.Table{Name: "t", Columns: []capture.Column{{Name: "c", Type: typ}}}
		row, err := convertRow(tab, []any{tc.binlog})
		if err != nil {
			t.Fatal(err)
		}
		if got := typeName(row[0]); got != want[typ.Kind] {
			t.Errorf("%s: %s column gave a %s, want %s", tc.name, typ.Kind, got, want[typ.Kind])
		}
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *big.Rat:
		return "*big.Rat"
	case time.Time:
		return "time.Time"
	case time.Duration:
		return "time.Duration"
	case []byte:
		return "[]uint8"
	case int64:
		return "int64"
	case uint64:
		return "uint64"
	case float32:
		return "float32"
	case float64:
		return "float64"
	case bool:
		return "bool"
	case string:
		return "string"
	}
	return "other"
}

func TestConvertRowBadValues(t *testing.T) {
	for _, tc := range []struct {
		name   string
		typ    colDesc
		binlog any
		reason string
	}{
		{"zero date", colDesc{base: "date"}, "0000-00-00", "zero date"},
		{"zero datetime", colDesc{base: "datetime"}, "0000-00-00 00:00:00", "zero date"},
		{"zero datetime(6)", colDesc{base: "datetime", fsp: 6}, "0000-00-00 00:00:00.000000", "zero date"},
		{"zero timestamp", colDesc{base: "timestamp"}, "0000-00-00 00:00:00", "zero date"},
		{"zero month", colDesc{base: "date"}, "2024-00-10", "zero month or day"},
		{"zero day", colDesc{base: "datetime"}, "2024-05-00 10:00:00", "zero month or day"},
		{"invalid date", colDesc{base: "date"}, "2024-02-30", "not a valid date"},
		{"enum index beyond the labels", colDesc{base: "enum", labels: []string{"a"}}, int64(2), "outside"},
		{"set bit beyond the members", colDesc{base: "set", labels: []string{"a", "b"}}, int64(4), "beyond"},
		{"partial json", colDesc{base: "json"}, &replication.JsonDiff{}, "binlog_row_value_options"},
		{"unexpected Go type", colDesc{base: "varchar", charset: "utf8mb4"}, 3.5, "float64"},
		{"unsigned above int64 in a signed kind", colDesc{base: "bigint"}, uint64(math.MaxUint64), "uint64"},
		{"negative in bigint unsigned", colDesc{base: "bigint", unsigned: true}, int64(-1), "negative"},
		{"not a decimal", colDesc{base: "decimal", precision: 5}, "abc", "decimal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := &capture.Table{Database: "shop", Schema: "shop", Name: "orders",
				Columns: []capture.Column{{Name: "id", Type: capture.Type{Kind: capture.KindInt32}}, {Name: "placed", Type: mustType(t, tc.typ)}}}
			_, err := convertRow(tab, []any{int32(1), tc.binlog})
			var bad *capture.BadValueError
			if !errors.As(err, &bad) {
				t.Fatalf("error %v, want a BadValueError", err)
			}
			if bad.Table != "shop.orders" || bad.Column != "placed" || !strings.Contains(bad.Reason, tc.reason) {
				t.Fatalf("error %+v, want table shop.orders, column placed, reason with %q", bad, tc.reason)
			}
		})
	}
}

func TestDecodeTextBadValues(t *testing.T) {
	for _, tc := range []struct {
		typ  colDesc
		text string
	}{
		{colDesc{base: "date"}, "0000-00-00"},
		{colDesc{base: "datetime", fsp: 6}, "0000-00-00 00:00:00.000000"},
		{colDesc{base: "timestamp"}, "0000-00-00 00:00:00"},
		{colDesc{base: "date"}, "2023-02-29"},
		{colDesc{base: "datetime"}, "2024-01-01 24:00:00"},
		{colDesc{base: "datetime"}, "2024-01-01T10:00:00"},
		{colDesc{base: "datetime", fsp: 6}, "2024-01-01 10:00:00.1234567"},
		{colDesc{base: "time"}, "10:60:00"},
		{colDesc{base: "time"}, "abc"},
		{colDesc{base: "time"}, "-:00:00"},
		{colDesc{base: "time"}, "1677:72:15"}, // -00:00:01 in the pre-5.6.4 format, as go-mysql reads it
		{colDesc{base: "json"}, `{"a":`},
		{colDesc{base: "int"}, "1.5"},
		{colDesc{base: "bigint", unsigned: true}, "-1"},
		{colDesc{base: "bit", length: 1}, "\x00\x01"},
		{colDesc{base: "bit", length: 12}, "\x01"},
		{colDesc{base: "decimal", precision: 5}, "NaN"},
	} {
		typ := mustType(t, tc.typ)
		if v, err := decodeText(&typ, []byte(tc.text)); err == nil {
			t.Errorf("decodeText(%s, %q) = %#v, want an error", typ.Source, tc.text, v)
		}
	}
}

func TestConvertRowRowErrors(t *testing.T) {
	tab := &capture.Table{Database: "shop", Schema: "shop", Name: "t",
		Columns: []capture.Column{{Name: "a", Type: capture.Type{Kind: capture.KindInt32}}}}
	if _, err := convertRow(tab, []any{int32(1), int32(2)}); err == nil || !strings.Contains(err.Error(), "shop.t") {
		t.Fatalf("error %v, want one naming shop.t", err)
	}
}

// go-mysql's strings and blobs point into the event's buffer: the captured
// values must not.
func TestConvertRowCopies(t *testing.T) {
	buf := []byte("héllo")
	blob := []byte{1, 2, 3}
	aliased := unsafe.String(&buf[0], len(buf)) // as go-mysql's decodeString makes them
	varbin := unsafe.String(&blob[0], len(blob))
	tab := &capture.Table{Name: "t", Columns: []capture.Column{
		{Name: "s", Type: mustType(t, colDesc{base: "varchar", charset: "utf8mb4"})},
		{Name: "b", Type: mustType(t, colDesc{base: "blob"})},
		{Name: "vb", Type: mustType(t, colDesc{base: "varbinary"})},
		{Name: "j", Type: mustType(t, colDesc{base: "json"})},
	}}
	row, err := convertRow(tab, []any{aliased, blob, varbin, aliased})
	if err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXXX")
	copy(blob, []byte{9, 9, 9})
	if row[0] != "héllo" || !capture.Equal(row[1], []byte{1, 2, 3}) || !capture.Equal(row[2], []byte{1, 2, 3}) || row[3] != "héllo" {
		t.Fatalf("values changed with the decoder's buffer: %#v", row)
	}
	// decodeText copies too: database/sql reuses RawBytes.
	raw := []byte{7, 8}
	typ := mustType(t, colDesc{base: "blob"})
	v, _ := decodeText(&typ, raw)
	raw[0] = 0
	if !capture.Equal(v, []byte{7, 8}) {
		t.Fatalf("decodeText kept the driver's buffer: %v", v)
	}
}

func TestMarkSkipped(t *testing.T) {
	tab := &capture.Table{Name: "t", Columns: []capture.Column{
		{Name: "id", Type: mustType(t, colDesc{base: "int"})},
		{Name: "body", Type: mustType(t, colDesc{base: "longtext", charset: "utf8mb4"})},
		{Name: "note", Type: mustType(t, colDesc{base: "varchar", charset: "utf8mb4"})},
	}}
	raw := []any{int32(1), nil, nil}
	markSkipped(raw, []int{1})
	row, err := convertRow(tab, raw)
	if err != nil {
		t.Fatal(err)
	}
	if row[0] != int64(1) || !capture.IsUnchanged(row[1]) || row[2] != nil {
		t.Fatalf("row %#v, want [1 Unchanged NULL]", row)
	}
}

// tmColumn describes one column of a synthetic TableMapEvent.
type tmColumn struct {
	name      string
	typ       byte
	meta      uint16
	unsigned  bool
	collation uint64 // character, enum and set columns
	labels    []string
	nullable  bool
}

// tableMap builds a TableMapEvent as go-mysql decodes it from a MySQL
// server with binlog_row_metadata=FULL.
func tableMap(cols []tmColumn, pk ...uint64) *replication.TableMapEvent {
	tm := &replication.TableMapEvent{Schema: []byte("shop"), Table: []byte("items"), ColumnCount: uint64(len(cols)),
		NullBitmap: make([]byte, (len(cols)+7)/8), PrimaryKey: pk}
	var signed []bool
	for i, c := range cols {
		tm.ColumnType = append(tm.ColumnType, c.typ)
		tm.ColumnMeta = append(tm.ColumnMeta, c.meta)
		tm.ColumnName = append(tm.ColumnName, []byte(c.name))
		if c.nullable {
			tm.NullBitmap[i/8] |= 1 << (i % 8)
		}
		rtype := c.typ
		if c.typ == gomysql.MYSQL_TYPE_STRING {
			rtype, _ = stringMeta(c.meta)
		}
		switch rtype {
		case gomysql.MYSQL_TYPE_TINY, gomysql.MYSQL_TYPE_SHORT, gomysql.MYSQL_TYPE_INT24, gomysql.MYSQL_TYPE_LONG,
			gomysql.MYSQL_TYPE_LONGLONG, gomysql.MYSQL_TYPE_NEWDECIMAL, gomysql.MYSQL_TYPE_FLOAT, gomysql.MYSQL_TYPE_DOUBLE,
			gomysql.MYSQL_TYPE_YEAR:
			signed = append(signed, c.unsigned)
		case gomysql.MYSQL_TYPE_STRING, gomysql.MYSQL_TYPE_VARCHAR, gomysql.MYSQL_TYPE_VAR_STRING, gomysql.MYSQL_TYPE_BLOB:
			tm.ColumnCharset = append(tm.ColumnCharset, c.collation)
		case gomysql.MYSQL_TYPE_ENUM, gomysql.MYSQL_TYPE_SET:
			tm.EnumSetColumnCharset = append(tm.EnumSetColumnCharset, c.collation)
			var labels [][]byte
			for _, l := range c.labels {
				labels = append(labels, []byte(l))
			}
			if rtype == gomysql.MYSQL_TYPE_ENUM {
				tm.EnumStrValue = append(tm.EnumStrValue, labels)
			} else {
				tm.SetStrValue = append(tm.SetStrValue, labels)
			}
		}
	}
	tm.SignednessBitmap = make([]byte, (len(signed)+7)/8)
	for i, u := range signed {
		if u {
			tm.SignednessBitmap[i/8] |= 0x80 >> (i % 8)
		}
	}
	return tm
}

// catalogColumn is the same column as information_schema.COLUMNS shows it.
type catalogColumn struct {
	dataType, columnType string
	charset              sql.NullString
}

func cs(name string) sql.NullString { return sql.NullString{String: name, Valid: true} }

// The same columns, as the table map and as the catalog describe them,
// give the same capture type.
func TestTableFromMapAndCatalogAgree(t *testing.T) {
	const utf8mb4, latin1, bin = 45, 8, 63
	cases := []struct {
		tm   tmColumn
		cat  catalogColumn
		want capture.Type
	}{
		{tmColumn{typ: gomysql.MYSQL_TYPE_LONG}, catalogColumn{"int", "int(11)", sql.NullString{}}, capture.Type{Kind: capture.KindInt32, Source: "int"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_YEAR, unsigned: true}, catalogColumn{"year", "year(4)", sql.NullString{}}, capture.Type{Kind: capture.KindInt32, Source: "year"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_TINY, unsigned: true}, catalogColumn{"tinyint", "tinyint(3) unsigned", sql.NullString{}}, capture.Type{Kind: capture.KindInt16, Source: "tinyint unsigned"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_SHORT}, catalogColumn{"smallint", "smallint(6)", sql.NullString{}}, capture.Type{Kind: capture.KindInt16, Source: "smallint"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_SHORT, unsigned: true}, catalogColumn{"smallint", "smallint unsigned", sql.NullString{}}, capture.Type{Kind: capture.KindInt32, Source: "smallint unsigned"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_INT24, unsigned: true}, catalogColumn{"mediumint", "mediumint(8) unsigned zerofill", sql.NullString{}}, capture.Type{Kind: capture.KindInt32, Source: "mediumint unsigned"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_LONG, unsigned: true}, catalogColumn{"int", "int(10) unsigned", sql.NullString{}}, capture.Type{Kind: capture.KindInt64, Source: "int unsigned"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_LONGLONG}, catalogColumn{"bigint", "bigint(20)", sql.NullString{}}, capture.Type{Kind: capture.KindInt64, Source: "bigint"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_LONGLONG, unsigned: true}, catalogColumn{"bigint", "bigint(20) unsigned", sql.NullString{}}, capture.Type{Kind: capture.KindUint64, Source: "bigint unsigned"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_NEWDECIMAL, meta: 26<<8 | 8}, catalogColumn{"decimal", "decimal(26,8)", sql.NullString{}},
			capture.Type{Kind: capture.KindDecimal, Precision: 26, Scale: 8, Source: "decimal(26,8)"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_NEWDECIMAL, meta: 10<<8 | 2, unsigned: true}, catalogColumn{"decimal", "decimal(10,2) unsigned", sql.NullString{}},
			capture.Type{Kind: capture.KindDecimal, Precision: 10, Scale: 2, Source: "decimal(10,2) unsigned"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_FLOAT, meta: 4}, catalogColumn{"float", "float", sql.NullString{}}, capture.Type{Kind: capture.KindFloat32, Source: "float"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_DOUBLE, meta: 8}, catalogColumn{"double", "double(10,2)", sql.NullString{}}, capture.Type{Kind: capture.KindFloat64, Source: "double"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_BIT, meta: 1}, catalogColumn{"bit", "bit(1)", sql.NullString{}}, capture.Type{Kind: capture.KindBool, Source: "bit(1)"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_BIT, meta: 1<<8 | 4}, catalogColumn{"bit", "bit(12)", sql.NullString{}}, capture.Type{Kind: capture.KindBytes, Source: "bit(12)"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_BIT, meta: 8 << 8}, catalogColumn{"bit", "bit(64)", sql.NullString{}}, capture.Type{Kind: capture.KindBytes, Source: "bit(64)"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_DATE}, catalogColumn{"date", "date", sql.NullString{}}, capture.Type{Kind: capture.KindDate, Source: "date"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_DATETIME2}, catalogColumn{"datetime", "datetime", sql.NullString{}}, capture.Type{Kind: capture.KindTimestamp, Source: "datetime"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_DATETIME2, meta: 6}, catalogColumn{"datetime", "datetime(6)", sql.NullString{}}, capture.Type{Kind: capture.KindTimestamp, Source: "datetime(6)"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_TIMESTAMP2, meta: 3}, catalogColumn{"timestamp", "timestamp(3)", sql.NullString{}}, capture.Type{Kind: capture.KindTimestampTZ, Source: "timestamp(3)"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_TIME2, meta: 6}, catalogColumn{"time", "time(6)", sql.NullString{}}, capture.Type{Kind: capture.KindTime, Source: "time(6)"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_STRING, meta: uint16(gomysql.MYSQL_TYPE_STRING)<<8 | 40, collation: utf8mb4}, catalogColumn{"char", "char(10)", cs("utf8mb4")},
			capture.Type{Kind: capture.KindString, Source: "char"}},
		// CHAR(255) utf8mb4 is 1020 bytes: the length's high bits ride in the type byte.
		{tmColumn{typ: gomysql.MYSQL_TYPE_STRING, meta: 0xce<<8 | 0xfc, collation: 224}, catalogColumn{"char", "char(255)", cs("utf8mb4")},
			capture.Type{Kind: capture.KindString, Source: "char"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_STRING, meta: uint16(gomysql.MYSQL_TYPE_STRING)<<8 | 16, collation: bin}, catalogColumn{"binary", "binary(16)", sql.NullString{}},
			capture.Type{Kind: capture.KindBytes, Source: "binary(16)"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_VARCHAR, meta: 400, collation: 2304}, catalogColumn{"varchar", "varchar(100)", cs("utf8mb4")},
			capture.Type{Kind: capture.KindString, Source: "varchar"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_VARCHAR, meta: 60, collation: 33}, catalogColumn{"varchar", "varchar(20)", cs("utf8")},
			capture.Type{Kind: capture.KindString, Source: "varchar"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_VARCHAR, meta: 20, collation: latin1}, catalogColumn{"varchar", "varchar(20)", cs("latin1")},
			capture.Type{Kind: capture.KindString, Source: "varchar character set latin1"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_VARCHAR, meta: 20, collation: bin}, catalogColumn{"varbinary", "varbinary(20)", sql.NullString{}},
			capture.Type{Kind: capture.KindBytes, Source: "varbinary"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_BLOB, meta: 1, collation: utf8mb4}, catalogColumn{"tinytext", "tinytext", cs("utf8mb4")}, capture.Type{Kind: capture.KindString, Source: "tinytext"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_BLOB, meta: 2, collation: utf8mb4}, catalogColumn{"text", "text", cs("utf8mb4")}, capture.Type{Kind: capture.KindString, Source: "text"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_BLOB, meta: 4, collation: 46}, catalogColumn{"longtext", "longtext", cs("utf8mb4")}, capture.Type{Kind: capture.KindString, Source: "longtext"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_BLOB, meta: 3, collation: bin}, catalogColumn{"mediumblob", "mediumblob", sql.NullString{}}, capture.Type{Kind: capture.KindBytes, Source: "mediumblob"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_BLOB, meta: 2, collation: bin}, catalogColumn{"blob", "blob", sql.NullString{}}, capture.Type{Kind: capture.KindBytes, Source: "blob"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_JSON, meta: 4}, catalogColumn{"json", "json", sql.NullString{}}, capture.Type{Kind: capture.KindJSON, Source: "json"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_GEOMETRY, meta: 4}, catalogColumn{"point", "point", sql.NullString{}}, capture.Type{Kind: capture.KindBytes, Source: "geometry"}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_STRING, meta: uint16(gomysql.MYSQL_TYPE_ENUM)<<8 | 1, collation: utf8mb4, labels: []string{"small", "it's", "café"}},
			catalogColumn{"enum", "enum('small','it''s','café')", cs("utf8mb4")},
			capture.Type{Kind: capture.KindEnum, Source: "enum", Symbols: []string{"small", "it's", "café"}}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_STRING, meta: uint16(gomysql.MYSQL_TYPE_ENUM)<<8 | 1, collation: latin1, labels: []string{"caf\xe9"}},
			catalogColumn{"enum", "enum('café')", cs("latin1")},
			capture.Type{Kind: capture.KindEnum, Source: "enum", Symbols: []string{"café"}}},
		{tmColumn{typ: gomysql.MYSQL_TYPE_STRING, meta: uint16(gomysql.MYSQL_TYPE_SET)<<8 | 1, collation: utf8mb4, labels: []string{"red", "green"}},
			catalogColumn{"set", "set('red','green')", cs("utf8mb4")},
			capture.Type{Kind: capture.KindString, Source: "set", Symbols: []string{"red", "green"}}},
	}
	var tmCols []tmColumn
	fromCat := &capture.Table{Database: "shop", Schema: "shop", Name: "items"}
	for i, tc := range cases {
		c := tc.tm
		c.name = "c" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		c.nullable = i%2 == 0
		tmCols = append(tmCols, c)
		d := colDesc{name: c.name, nullable: c.nullable, key: i == 0}
		if err := d.fromCatalog(tc.cat.dataType, tc.cat.columnType, tc.cat.charset); err != nil {
			t.Fatalf("%s: %v", tc.cat.columnType, err)
		}
		fromCat.Columns = append(fromCat.Columns, capture.Column{Name: c.name, Type: mustType(t, d), Nullable: d.nullable, Key: d.key})
	}
	fromMap, err := tableFromMap(tableMap(tmCols, 0))
	if err != nil {
		t.Fatal(err)
	}
	if fromMap.Database != "shop" || fromMap.Schema != "shop" || fromMap.Name != "items" || fromMap.Version != 0 {
		t.Errorf("table %+v", fromMap)
	}
	for i, tc := range cases {
		got := fromMap.Columns[i]
		if got.Name != tmCols[i].name || got.Nullable != tmCols[i].nullable || got.Key != (i == 0) || !got.Type.Equal(tc.want) {
			t.Errorf("table map column %d: %+v, want %+v", i, got, tc.want)
		}
		if !fromCat.Columns[i].Type.Equal(tc.want) {
			t.Errorf("catalog %s: %+v, want %+v", tc.cat.columnType, fromCat.Columns[i].Type, tc.want)
		}
	}
	if !fromMap.SameShape(fromCat) {
		t.Error("the table map and the catalog give different shapes")
	}
}

func TestTableFromMapErrors(t *testing.T) {
	tm := tableMap([]tmColumn{{name: "id", typ: gomysql.MYSQL_TYPE_LONG}})
	tm.ColumnName = nil
	_, err := tableFromMap(tm)
	if err == nil || !strings.Contains(err.Error(), "binlog_row_metadata is not FULL") || !strings.Contains(err.Error(), "shop.items") {
		t.Errorf("no names: error %v", err)
	}
	for _, tc := range []struct {
		col  tmColumn
		want string
	}{
		{tmColumn{name: "title", typ: gomysql.MYSQL_TYPE_VARCHAR, meta: 20, collation: 51}, "collation id 51"}, // cp1251_general_ci
		{tmColumn{name: "vec", typ: gomysql.MYSQL_TYPE_VECTOR}, "not supported"},
	} {
		_, err := tableFromMap(tableMap([]tmColumn{{name: "id", typ: gomysql.MYSQL_TYPE_LONG}, tc.col}))
		if err == nil || !strings.Contains(err.Error(), "shop.items") || !strings.Contains(err.Error(), "column "+tc.col.name) ||
			!strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v", tc.col.name, err)
		}
	}
	// No charset metadata at all (binlog_row_metadata=MINIMAL still has it; a
	// server without any optional metadata does not).
	tm = tableMap([]tmColumn{{name: "title", typ: gomysql.MYSQL_TYPE_VARCHAR, meta: 20, collation: 45}})
	tm.ColumnCharset = nil
	if _, err := tableFromMap(tm); err == nil || !strings.Contains(err.Error(), "no collation") {
		t.Errorf("no charsets: error %v", err)
	}
}

func TestCatalogErrors(t *testing.T) {
	for _, tc := range []catalogColumn{
		{"uuid", "uuid", sql.NullString{}},
		{"inet6", "inet6", sql.NullString{}},
		{"varchar", "varchar(10)", cs("cp1251")},
		{"enum", "enum('a", cs("utf8mb4")},
	} {
		d := colDesc{name: "c"}
		err := d.fromCatalog(tc.dataType, tc.columnType, tc.charset)
		if err == nil {
			_, err = d.captureType()
		}
		if err == nil {
			t.Errorf("%s (%s): no error", tc.columnType, tc.charset.String)
		}
	}
}

func TestParseLabels(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"enum('a','b')", []string{"a", "b"}},
		{"set('red')", []string{"red"}},
		{"enum('it''s','a,b','')", []string{"it's", "a,b", ""}},
		{`enum('back\\slash','new\nline','nul\0','cr\r')`, []string{`back\slash`, "new\nline", "nul\x00", "cr\r"}},
		{"enum('café','😀')", []string{"café", "😀"}},
		{"enum(')','(')", []string{")", "("}},
	} {
		got, err := parseLabels(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("%s: %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"enum", "enum('a'", "enum('a' 'b')", "enum(a)", "enum('a',)x"} {
		if got, err := parseLabels(bad); err == nil {
			t.Errorf("%s: %q, want an error", bad, got)
		}
	}
}

func TestCharsetOfCollation(t *testing.T) {
	for id, want := range map[uint64]string{
		45: "utf8mb4", 46: "utf8mb4", 224: "utf8mb4", 255: "utf8mb4", 1069: "utf8mb4", 2304: "utf8mb4",
		33: "utf8mb3", 83: "utf8mb3", 192: "utf8mb3", 2048: "utf8mb3",
		8: "latin1", 47: "latin1", 1032: "latin1", 11: "ascii", 65: "ascii", 63: "binary",
		51: "", 28: "", 2560: "", 248: "", 1087: "",
	} {
		if got := charsetOfCollation(id); got != want {
			t.Errorf("collation %d: %q, want %q", id, got, want)
		}
	}
}

func TestStringMeta(t *testing.T) {
	for _, tc := range []struct {
		meta   uint16
		rtype  byte
		length int
	}{
		{uint16(gomysql.MYSQL_TYPE_STRING)<<8 | 40, gomysql.MYSQL_TYPE_STRING, 40},
		{0xce<<8 | 0xfc, gomysql.MYSQL_TYPE_STRING, 1020},
		{uint16(gomysql.MYSQL_TYPE_ENUM)<<8 | 2, gomysql.MYSQL_TYPE_ENUM, 2},
		{uint16(gomysql.MYSQL_TYPE_SET)<<8 | 8, gomysql.MYSQL_TYPE_SET, 8},
	} {
		rtype, length := stringMeta(tc.meta)
		if rtype != tc.rtype || length != tc.length {
			t.Errorf("meta %#x: type %d length %d, want %d %d", tc.meta, rtype, length, tc.rtype, tc.length)
		}
	}
}

func TestLatin1String(t *testing.T) {
	if got := latin1String([]byte("plain")); got != "plain" {
		t.Errorf("ascii: %q", got)
	}
	if got := latin1String([]byte{0x80, 0x81, 0x9f, 0xa0, 0xe9, 0xff}); got != "€\u0081Ÿ\u00a0éÿ" {
		t.Errorf("high bytes: %q", got)
	}
}

func TestSnapshotSelectExpr(t *testing.T) {
	f := capture.Column{Name: "we`ight", Type: capture.Type{Kind: capture.KindFloat32}}
	d := capture.Column{Name: "price", Type: capture.Type{Kind: capture.KindDecimal}}
	if got := snapshotSelectExpr(&f); got != "(`we``ight` + 0e0)" {
		t.Errorf("float: %s", got)
	}
	if got := snapshotSelectExpr(&d); got != "`price`" {
		t.Errorf("decimal: %s", got)
	}
}

// TestTouchesDatabases: only DDL that may change a captured database goes
// to the schema_changes topic.
func TestTouchesDatabases(t *testing.T) {
	tables := []string{"shop.wp_posts", "shop.wp_postmeta"}
	for _, c := range []struct {
		schema, q string
		want      bool
	}{
		{"shop", "ALTER TABLE wp_posts ADD COLUMN x INT", true},
		{"SHOP", "create index i on wp_posts (x)", true},
		{"tandem", "CREATE TABLE bench_bulk (id INT)", false},
		{"", "DROP TABLE IF EXISTS tandem.bench_bulk", false},
		{"tandem", "ALTER TABLE shop.wp_posts ADD COLUMN y INT", true},
		{"", "RENAME TABLE `shop`.`wp_posts` TO `shop`.`old_posts`", true},
	} {
		if got := touchesDatabases(c.schema, c.q, tables); got != c.want {
			t.Errorf("%q in %q: %t, want %t", c.q, c.schema, got, c.want)
		}
	}
}
