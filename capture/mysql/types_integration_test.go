//go:build integration

package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/big"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	drv "github.com/go-sql-driver/mysql"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/internal/testenv"
)

// tyEnv is a connection to the local MariaDB (session time zone UTC, as
// decodeText wants it) and what a binlog syncer needs to reach it.
type tyEnv struct {
	db   *sql.DB
	conn *sql.Conn
	cfg  *drv.Config
}

func tyOpen(t *testing.T) *tyEnv {
	t.Helper()
	cfg, err := drv.ParseDSN(testenv.MySQLDSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ParseTime = false
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	connector, err := drv.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err == nil {
		err = conn.PingContext(ctx)
	}
	if err != nil {
		db.Close()
		t.Fatalf("connect to MariaDB at %s (is the stack up? make up): %v", cfg.Addr, err)
	}
	t.Cleanup(func() { conn.Close(); db.Close() })
	return &tyEnv{db: db, conn: conn, cfg: cfg}
}

func (e *tyEnv) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := e.conn.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// position is SHOW MASTER STATUS: the end of the binlog.
func (e *tyEnv) position(t *testing.T) gomysql.Position {
	t.Helper()
	rows, err := e.conn.QueryContext(context.Background(), "SHOW MASTER STATUS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		t.Fatal("SHOW MASTER STATUS returned nothing: is log_bin on?")
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	pos, err := strconv.ParseUint(string(vals[1]), 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return gomysql.Position{Name: string(vals[0]), Pos: uint32(pos)}
}

// rowsEvents reads the binlog from `from` with a syncer configured as the
// reader's (ParseTime off, UseDecimal off, TIMESTAMP strings in UTC) until
// it has seen `want` row images of database.table.
func (e *tyEnv) rowsEvents(t *testing.T, from gomysql.Position, table string, want int) []*replication.RowsEvent {
	t.Helper()
	host, port, err := net.SplitHostPort(e.cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID:                uint32(9900 + rand.IntN(90)),
		Flavor:                  "mariadb",
		Host:                    host,
		Port:                    uint16(p),
		User:                    e.cfg.User,
		Password:                e.cfg.Passwd,
		Charset:                 "utf8mb4",
		TimestampStringLocation: time.UTC,
		Logger:                  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	defer syncer.Close()
	st, err := syncer.StartSync(from)
	if err != nil {
		t.Fatalf("start binlog sync at %s: %v", from, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []*replication.RowsEvent
	for n := 0; n < want; {
		ev, err := st.GetEvent(ctx)
		if err != nil {
			t.Fatalf("read the binlog from %s (%d of %d rows of %s seen): %v", from, n, want, table, err)
		}
		re, ok := ev.Event.(*replication.RowsEvent)
		if !ok || string(re.Table.Schema) != e.cfg.DBName || string(re.Table.Table) != table {
			continue
		}
		out = append(out, re)
		n += len(re.Rows)
	}
	return out
}

// selectRows reads every row of table ordered by id through go-sql-driver,
// selecting snapshotSelectExpr of each column, and decodes it with
// decodeText. With binaryProtocol the query has an argument, so the driver
// uses a prepared statement (the binary protocol) instead of the text
// protocol.
func (e *tyEnv) selectRows(t *testing.T, tab *capture.Table, binaryProtocol bool) []capture.Row {
	t.Helper()
	exprs := make([]string, len(tab.Columns))
	for i := range tab.Columns {
		exprs[i] = snapshotSelectExpr(&tab.Columns[i])
	}
	q := "SELECT " + strings.Join(exprs, ", ") + " FROM " + quote(tab.Name)
	var args []any
	if binaryProtocol {
		q += " WHERE id >= ?"
		args = append(args, 0)
	}
	rows, err := e.conn.QueryContext(context.Background(), q+" ORDER BY id", args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	raw := make([]sql.RawBytes, len(tab.Columns))
	ptrs := make([]any, len(raw))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	var out []capture.Row
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make(capture.Row, len(raw))
		for i, b := range raw {
			v, err := decodeText(&tab.Columns[i].Type, b)
			if err != nil {
				t.Fatalf("decodeText of %s = %q: %v", tab.Columns[i].Name, b, err)
			}
			row[i] = v
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func tyName(prefix string) string {
	return fmt.Sprintf("%s_%d_%d", prefix, time.Now().UnixNano()%1e6, rand.IntN(1000))
}

// tyCol is one column of the all-types table: its DDL and the capture type
// both paths must give it.
type tyCol struct {
	name, ddl string
	want      capture.Type
	nullable  bool
}

func kind(k capture.Kind, source string) capture.Type { return capture.Type{Kind: k, Source: source} }

var tyColumns = []tyCol{
	{"id", "INT NOT NULL PRIMARY KEY", kind(capture.KindInt32, "int"), false},
	{"c_year", "YEAR", kind(capture.KindInt32, "year"), true},
	{"c_tiny", "TINYINT", kind(capture.KindInt16, "tinyint"), true},
	{"c_tiny_u", "TINYINT UNSIGNED", kind(capture.KindInt16, "tinyint unsigned"), true},
	{"c_small", "SMALLINT", kind(capture.KindInt16, "smallint"), true},
	{"c_small_u", "SMALLINT UNSIGNED", kind(capture.KindInt32, "smallint unsigned"), true},
	{"c_medium", "MEDIUMINT", kind(capture.KindInt32, "mediumint"), true},
	{"c_medium_u", "MEDIUMINT UNSIGNED ZEROFILL", kind(capture.KindInt32, "mediumint unsigned"), true},
	{"c_int", "INT", kind(capture.KindInt32, "int"), true},
	{"c_int_u", "INT UNSIGNED", kind(capture.KindInt64, "int unsigned"), true},
	{"c_big", "BIGINT", kind(capture.KindInt64, "bigint"), true},
	{"c_big_u", "BIGINT UNSIGNED", kind(capture.KindUint64, "bigint unsigned"), true},
	{"c_dec", "DECIMAL(26,8)", capture.Type{Kind: capture.KindDecimal, Precision: 26, Scale: 8, Source: "decimal(26,8)"}, true},
	{"c_dec_u", "DECIMAL(10,2) UNSIGNED", capture.Type{Kind: capture.KindDecimal, Precision: 10, Scale: 2, Source: "decimal(10,2) unsigned"}, true},
	{"c_dec0", "DECIMAL(5,0)", capture.Type{Kind: capture.KindDecimal, Precision: 5, Scale: 0, Source: "decimal(5,0)"}, true},
	{"c_float", "FLOAT", kind(capture.KindFloat32, "float"), true},
	{"c_double", "DOUBLE", kind(capture.KindFloat64, "double"), true},
	{"c_bit1", "BIT(1)", kind(capture.KindBool, "bit(1)"), true},
	{"c_bit8", "BIT(8)", kind(capture.KindBytes, "bit(8)"), true},
	{"c_bit12", "BIT(12)", kind(capture.KindBytes, "bit(12)"), true},
	{"c_bit64", "BIT(64)", kind(capture.KindBytes, "bit(64)"), true},
	{"c_date", "DATE", kind(capture.KindDate, "date"), true},
	{"c_dt", "DATETIME", kind(capture.KindTimestamp, "datetime"), true},
	{"c_dt3", "DATETIME(3)", kind(capture.KindTimestamp, "datetime(3)"), true},
	{"c_dt6", "DATETIME(6)", kind(capture.KindTimestamp, "datetime(6)"), true},
	{"c_ts", "TIMESTAMP NULL", kind(capture.KindTimestampTZ, "timestamp"), true},
	{"c_ts6", "TIMESTAMP(6) NULL", kind(capture.KindTimestampTZ, "timestamp(6)"), true},
	{"c_time", "TIME", kind(capture.KindTime, "time"), true},
	{"c_time2", "TIME(2)", kind(capture.KindTime, "time(2)"), true},
	{"c_time6", "TIME(6)", kind(capture.KindTime, "time(6)"), true},
	{"c_geo", "GEOMETRY", kind(capture.KindBytes, "geometry"), true},
	{"c_point", "POINT", kind(capture.KindBytes, "geometry"), true},
	{"c_char", "CHAR(10)", kind(capture.KindString, "char"), true},
	{"c_varchar", "VARCHAR(100)", kind(capture.KindString, "varchar"), true},
	{"c_tinytext", "TINYTEXT", kind(capture.KindString, "tinytext"), true},
	{"c_text", "TEXT", kind(capture.KindString, "text"), true},
	{"c_mediumtext", "MEDIUMTEXT", kind(capture.KindString, "mediumtext"), true},
	{"c_longtext", "LONGTEXT", kind(capture.KindString, "longtext"), true},
	{"c_utf8mb3", "VARCHAR(20) CHARACTER SET utf8mb3", kind(capture.KindString, "varchar"), true},
	{"c_ascii", "VARCHAR(20) CHARACTER SET ascii", kind(capture.KindString, "varchar"), true},
	{"c_latin1", "VARCHAR(300) CHARACTER SET latin1", kind(capture.KindString, "varchar character set latin1"), true},
	{"c_latin1_text", "TEXT CHARACTER SET latin1", kind(capture.KindString, "text character set latin1"), true},
	{"c_latin1_char", "CHAR(5) CHARACTER SET latin1", kind(capture.KindString, "char character set latin1"), true},
	{"c_bin", "BINARY(4)", kind(capture.KindBytes, "binary(4)"), true},
	{"c_varbin", "VARBINARY(20)", kind(capture.KindBytes, "varbinary"), true},
	{"c_tinyblob", "TINYBLOB", kind(capture.KindBytes, "tinyblob"), true},
	{"c_blob", "BLOB", kind(capture.KindBytes, "blob"), true},
	{"c_mediumblob", "MEDIUMBLOB", kind(capture.KindBytes, "mediumblob"), true},
	{"c_longblob", "LONGBLOB", kind(capture.KindBytes, "longblob"), true},
	{"c_json", "JSON", kind(capture.KindString, "longtext"), true},
	{"c_enum", `ENUM('small','medium','large','it''s','café','a,b','back\\slash')`,
		capture.Type{Kind: capture.KindEnum, Source: "enum", Symbols: []string{"small", "medium", "large", "it's", "café", "a,b", `back\slash`}}, true},
	{"c_enum_latin1", "ENUM('é','x') CHARACTER SET latin1",
		capture.Type{Kind: capture.KindEnum, Source: "enum", Symbols: []string{"é", "x"}}, true},
	{"c_set", "SET('red','green','blue','it''s')",
		capture.Type{Kind: capture.KindString, Source: "set", Symbols: []string{"red", "green", "blue", "it's"}}, true},
	{"c_gen_v", "INT AS (c_small * 2) VIRTUAL", kind(capture.KindInt32, "int"), true},
	{"c_gen_s", "VARCHAR(120) AS (UPPER(c_varchar)) STORED", kind(capture.KindString, "varchar"), true},
	{"c_notnull", "VARCHAR(10) NOT NULL DEFAULT ''", kind(capture.KindString, "varchar"), false},
}

// oracleOnly marks an expected value that is checked only against SELECT.
type oracleOnly struct{}

func utc(y int, m time.Month, d, h, mi, s, us int) time.Time {
	return time.Date(y, m, d, h, mi, s, us*1000, time.UTC)
}

func rat(s string) *big.Rat { r, _ := new(big.Rat).SetString(s); return r }

func pointWKB(x, y float64) []byte {
	b := []byte{0, 0, 0, 0, 1, 1, 0, 0, 0} // SRID 0, little-endian, type 1 (point)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(y))
}

func TestIntegrationTypesBinlogAndSelectAgree(t *testing.T) {
	e := tyOpen(t)
	table := tyName("types")
	defs := make([]string, len(tyColumns))
	for i, c := range tyColumns {
		defs[i] = quote(c.name) + " " + c.ddl
	}
	e.exec(t, "CREATE TABLE "+quote(table)+" ("+strings.Join(defs, ",\n")+") DEFAULT CHARSET=utf8mb4")
	t.Cleanup(func() { e.exec(t, "DROP TABLE IF EXISTS "+quote(table)) })
	from := e.position(t)

	var allLatin1 []byte
	for c := 0x20; c <= 0xff; c++ {
		allLatin1 = append(allLatin1, byte(c))
	}
	ins := func(vals map[string]string) {
		t.Helper()
		var cols, exprs []string
		for _, c := range tyColumns {
			if v, ok := vals[c.name]; ok {
				cols, exprs = append(cols, quote(c.name)), append(exprs, v)
			}
		}
		e.exec(t, "INSERT INTO "+quote(table)+" ("+strings.Join(cols, ", ")+") VALUES ("+strings.Join(exprs, ", ")+")")
	}
	ins(map[string]string{
		"id": "1", "c_year": "2024", "c_tiny": "-128", "c_tiny_u": "255", "c_small": "-32768", "c_small_u": "65535",
		"c_medium": "-8388608", "c_medium_u": "16777215", "c_int": "-2147483648", "c_int_u": "4294967295",
		"c_big": "-9223372036854775808", "c_big_u": "18446744073709551615",
		"c_dec": "'12345678901234567.12345678'", "c_dec_u": "99999999.99", "c_dec0": "-99999",
		"c_float": "3.1415927", "c_double": "0.1e0 + 0.2e0",
		"c_bit1": "b'1'", "c_bit8": "b'10100101'", "c_bit12": "b'100000000001'", "c_bit64": "0xFFFFFFFFFFFFFFFF",
		"c_date": "'2024-02-29'", "c_dt": "'2024-02-29 13:14:15'", "c_dt3": "'2024-02-29 13:14:15.123'",
		"c_dt6": "'2024-02-29 13:14:15.123456'", "c_ts": "'2038-01-19 03:14:07'", "c_ts6": "'2024-02-29 13:14:15.000001'",
		"c_time": "'838:59:59'", "c_time2": "'-00:00:00.01'", "c_time6": "'-838:59:59.000000'",
		"c_geo": "ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))')", "c_point": "POINT(1.5, -2.25)",
		"c_char": "'abc'", "c_varchar": "'héllo 😀 wörld'", "c_tinytext": "'😀'", "c_text": "'text'",
		"c_mediumtext": "REPEAT('m', 70000)", "c_longtext": "'long'", "c_utf8mb3": "'ümlaut'", "c_ascii": "'plain'",
		"c_latin1": "X'80E9FF81'", "c_latin1_text": fmt.Sprintf("X'%X'", allLatin1), "c_latin1_char": "'é'",
		"c_bin": "X'0102'", "c_varbin": "X'00FF00'", "c_tinyblob": "X''", "c_blob": "X'DEADBEEF'",
		"c_mediumblob": "REPEAT(X'AB', 70000)", "c_longblob": "X'00'",
		"c_json": `'{"a": [1, 2.50, "x"], "b": null}'`, "c_enum": "'café'", "c_enum_latin1": "'é'",
		"c_set": "'it''s,blue,red'", "c_notnull": "''",
	})
	ins(map[string]string{
		"id": "2", "c_year": "0", "c_tiny": "0", "c_tiny_u": "0", "c_small": "0", "c_small_u": "0",
		"c_medium": "8388607", "c_medium_u": "0", "c_int": "2147483647", "c_int_u": "0",
		"c_big": "9223372036854775807", "c_big_u": "9223372036854775808",
		"c_dec": "'-12345678901234567.12345678'", "c_dec_u": "0", "c_dec0": "0",
		"c_float": "-0.1", "c_double": "-1.7976931348623157e308",
		"c_bit1": "b'0'", "c_bit8": "b'0'", "c_bit12": "b'1'", "c_bit64": "1",
		"c_date": "'1000-01-01'", "c_dt": "'9999-12-31 23:59:59'", "c_dt3": "'1000-01-01 00:00:00.001'",
		"c_dt6": "'1970-01-01 00:00:00.000000'", "c_ts": "'1970-01-01 00:00:01'", "c_ts6": "'2038-01-19 03:14:07.999999'",
		"c_time": "'-00:00:01'", "c_time2": "'100:00:00.5'", "c_time6": "'24:00:00.000001'",
		"c_char": "''", "c_varchar": "''", "c_tinytext": "''", "c_text": "''", "c_mediumtext": "''", "c_longtext": "''",
		"c_utf8mb3": "''", "c_ascii": "''", "c_latin1": "''", "c_latin1_text": "''", "c_latin1_char": "''",
		"c_bin": "X''", "c_varbin": "X''", "c_tinyblob": "X''", "c_blob": "X''", "c_mediumblob": "X''", "c_longblob": "X''",
		"c_json": "'[]'", "c_enum": "'small'", "c_enum_latin1": "'x'", "c_set": "''", "c_notnull": "'x'",
	})
	ins(map[string]string{"id": "3"})
	// ENUM's "error" value (index 0) needs a non-strict session.
	e.exec(t, "SET SESSION sql_mode = ''")
	ins(map[string]string{"id": "4", "c_enum": "'no such label'", "c_set": "'red,green,blue,it''s'", "c_enum_latin1": "2"})
	e.exec(t, "SET SESSION sql_mode = DEFAULT")
	ins(map[string]string{"id": "5", "c_enum": `'back\\slash'`, "c_set": "'green'"})

	events := e.rowsEvents(t, from, table, 5)
	fromMap, err := tableFromMap(events[0].Table)
	if err != nil {
		t.Fatal(err)
	}
	fromCatalog, err := tableFromCatalog(context.Background(), e.conn, e.cfg.DBName, table)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range tyColumns {
		for _, got := range []struct {
			path string
			tab  *capture.Table
		}{{"binlog", fromMap}, {"catalog", fromCatalog}} {
			if i >= len(got.tab.Columns) {
				t.Fatalf("%s: %d columns, want %d", got.path, len(got.tab.Columns), len(tyColumns))
			}
			gc := got.tab.Columns[i]
			want := capture.Column{Name: c.name, Type: c.want, Nullable: c.nullable, Key: c.name == "id"}
			if gc.Name != want.Name || gc.Nullable != want.Nullable || gc.Key != want.Key || !gc.Type.Equal(want.Type) {
				t.Errorf("%s column %d:\n got %+v\nwant %+v", got.path, i, gc, want)
			}
		}
	}
	if !fromMap.SameShape(fromCatalog) {
		t.Fatal("binlog and catalog shapes differ")
	}
	if fromMap.Database != e.cfg.DBName || fromMap.Schema != e.cfg.DBName || fromMap.Name != table || fromMap.Version != 0 {
		t.Errorf("table identity: %+v", fromMap)
	}

	var got []capture.Row
	for _, ev := range events {
		if !fromMap.SameShape(mustTable(t, ev.Table)) {
			t.Fatal("the table map changed between inserts")
		}
		for i, raw := range ev.Rows {
			markSkipped(raw, ev.SkippedColumns[i])
			row, err := convertRow(fromMap, raw)
			if err != nil {
				t.Fatalf("convertRow of row %d: %v", len(got)+1, err)
			}
			got = append(got, row)
		}
	}

	null := func(except map[string]any) map[string]any {
		m := map[string]any{}
		for _, c := range tyColumns {
			m[c.name] = nil
		}
		for k, v := range except {
			m[k] = v
		}
		return m
	}
	want := []map[string]any{{
		"id": int64(1), "c_year": int64(2024), "c_tiny": int64(-128), "c_tiny_u": int64(255), "c_small": int64(-32768),
		"c_small_u": int64(65535), "c_medium": int64(-8388608), "c_medium_u": int64(16777215), "c_int": int64(math.MinInt32),
		"c_int_u": int64(math.MaxUint32), "c_big": int64(math.MinInt64), "c_big_u": uint64(math.MaxUint64),
		"c_dec": rat("12345678901234567.12345678"), "c_dec_u": rat("99999999.99"), "c_dec0": rat("-99999"),
		"c_float": float32(3.1415927), "c_double": 0.30000000000000004, // 0.1e0 + 0.2e0 in doubles
		"c_bit1": true, "c_bit8": []byte{0xa5}, "c_bit12": []byte{0x08, 0x01}, "c_bit64": bytes.Repeat([]byte{0xff}, 8),
		"c_date": utc(2024, 2, 29, 0, 0, 0, 0), "c_dt": utc(2024, 2, 29, 13, 14, 15, 0),
		"c_dt3": utc(2024, 2, 29, 13, 14, 15, 123000), "c_dt6": utc(2024, 2, 29, 13, 14, 15, 123456),
		"c_ts": utc(2038, 1, 19, 3, 14, 7, 0), "c_ts6": utc(2024, 2, 29, 13, 14, 15, 1),
		"c_time": 838*time.Hour + 59*time.Minute + 59*time.Second, "c_time2": -10 * time.Millisecond,
		"c_time6": -(838*time.Hour + 59*time.Minute + 59*time.Second), "c_geo": oracleOnly{}, "c_point": pointWKB(1.5, -2.25),
		"c_char": "abc", "c_varchar": "héllo 😀 wörld", "c_tinytext": "😀", "c_text": "text",
		"c_mediumtext": strings.Repeat("m", 70000), "c_longtext": "long", "c_utf8mb3": "ümlaut", "c_ascii": "plain",
		"c_latin1": "€éÿ\u0081", "c_latin1_text": oracleOnly{}, "c_latin1_char": "é",
		"c_bin": []byte{1, 2, 0, 0}, "c_varbin": []byte{0, 0xff, 0}, "c_tinyblob": []byte{}, "c_blob": []byte{0xde, 0xad, 0xbe, 0xef},
		"c_mediumblob": bytes.Repeat([]byte{0xab}, 70000), "c_longblob": []byte{0},
		"c_json": `{"a": [1, 2.50, "x"], "b": null}`, "c_enum": "café", "c_enum_latin1": "é", "c_set": "red,blue,it's",
		"c_gen_v": int64(-65536), "c_gen_s": "HÉLLO 😀 WÖRLD", "c_notnull": "",
	}, {
		"id": int64(2), "c_year": int64(0), "c_tiny": int64(0), "c_tiny_u": int64(0), "c_small": int64(0), "c_small_u": int64(0),
		"c_medium": int64(8388607), "c_medium_u": int64(0), "c_int": int64(math.MaxInt32), "c_int_u": int64(0),
		"c_big": int64(math.MaxInt64), "c_big_u": uint64(1) << 63,
		"c_dec": rat("-12345678901234567.12345678"), "c_dec_u": rat("0"), "c_dec0": rat("0"),
		"c_float": float32(-0.1), "c_double": -math.MaxFloat64,
		"c_bit1": false, "c_bit8": []byte{0}, "c_bit12": []byte{0, 1}, "c_bit64": []byte{0, 0, 0, 0, 0, 0, 0, 1},
		"c_date": utc(1000, 1, 1, 0, 0, 0, 0), "c_dt": utc(9999, 12, 31, 23, 59, 59, 0),
		"c_dt3": utc(1000, 1, 1, 0, 0, 0, 1000), "c_dt6": utc(1970, 1, 1, 0, 0, 0, 0),
		"c_ts": utc(1970, 1, 1, 0, 0, 1, 0), "c_ts6": utc(2038, 1, 19, 3, 14, 7, 999999),
		"c_time": -time.Second, "c_time2": 100*time.Hour + 500*time.Millisecond, "c_time6": 24*time.Hour + time.Microsecond,
		"c_geo": nil, "c_point": nil,
		"c_char": "", "c_varchar": "", "c_tinytext": "", "c_text": "", "c_mediumtext": "", "c_longtext": "",
		"c_utf8mb3": "", "c_ascii": "", "c_latin1": "", "c_latin1_text": "", "c_latin1_char": "",
		"c_bin": []byte{0, 0, 0, 0}, "c_varbin": []byte{}, "c_tinyblob": []byte{}, "c_blob": []byte{}, "c_mediumblob": []byte{}, "c_longblob": []byte{},
		"c_json": "[]", "c_enum": "small", "c_enum_latin1": "x", "c_set": "",
		"c_gen_v": int64(0), "c_gen_s": "", "c_notnull": "x",
	},
		null(map[string]any{"id": int64(3), "c_notnull": ""}),
		null(map[string]any{"id": int64(4), "c_notnull": "", "c_enum": "", "c_set": "red,green,blue,it's", "c_enum_latin1": "x"}),
		null(map[string]any{"id": int64(5), "c_notnull": "", "c_enum": `back\slash`, "c_set": "green"}),
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows in the binlog, want %d", len(got), len(want))
	}
	for r := range want {
		for i, c := range tyColumns {
			w, ok := want[r][c.name]
			if !ok {
				t.Fatalf("row %d: no expected value for %s", r+1, c.name)
			}
			if _, skip := w.(oracleOnly); skip {
				continue
			}
			if !capture.Equal(got[r][i], w) {
				t.Errorf("row %d %s: convertRow gave %#v (%T), want %#v (%T)", r+1, c.name, got[r][i], got[r][i], w, w)
			}
		}
	}

	// The snapshot path gives the same values, through the text protocol
	// and through the binary protocol of a prepared statement.
	for _, binaryProtocol := range []bool{false, true} {
		sel := e.selectRows(t, fromCatalog, binaryProtocol)
		if len(sel) != len(got) {
			t.Fatalf("SELECT gave %d rows, the binlog %d", len(sel), len(got))
		}
		for r := range sel {
			for i, c := range fromCatalog.Columns {
				if !capture.Equal(sel[r][i], got[r][i]) {
					t.Errorf("row %d %s (binary protocol %v): decodeText gave %#v (%T), convertRow %#v (%T)",
						r+1, c.Name, binaryProtocol, sel[r][i], sel[r][i], got[r][i], got[r][i])
				}
			}
		}
	}
}

func mustTable(t *testing.T, tm *replication.TableMapEvent) *capture.Table {
	t.Helper()
	tab, err := tableFromMap(tm)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// Zero and invalid dates are a BadValueError naming the table and column in
// both paths, never NULL and never another date.
func TestIntegrationZeroDatesAreBadValues(t *testing.T) {
	e := tyOpen(t)
	table := tyName("zerodates")
	e.exec(t, "CREATE TABLE "+quote(table)+" (id INT PRIMARY KEY, d DATE NULL, dt DATETIME(6) NULL, ts TIMESTAMP NULL)")
	t.Cleanup(func() { e.exec(t, "DROP TABLE IF EXISTS "+quote(table)) })
	from := e.position(t)
	e.exec(t, "SET SESSION sql_mode = 'ALLOW_INVALID_DATES'")
	cases := []struct{ col, value string }{
		{"d", "'0000-00-00'"},
		{"dt", "'0000-00-00 00:00:00'"},
		{"ts", "'0000-00-00 00:00:00'"},
		{"d", "'2024-00-10'"},
		{"dt", "'2024-02-30 10:00:00'"},
	}
	for i, c := range cases {
		e.exec(t, fmt.Sprintf("INSERT INTO %s (id, %s) VALUES (%d, %s)", quote(table), c.col, i+1, c.value))
	}
	e.exec(t, "SET SESSION sql_mode = DEFAULT")
	events := e.rowsEvents(t, from, table, len(cases))
	tab := mustTable(t, events[0].Table)
	var n int
	for _, ev := range events {
		for _, raw := range ev.Rows {
			c := cases[n]
			n++
			_, err := convertRow(tab, raw)
			var bad *capture.BadValueError
			if !errors.As(err, &bad) || bad.Column != c.col || bad.Table != tab.QualifiedName() {
				t.Errorf("%s = %s: convertRow error %v, want a BadValueError naming %s.%s", c.col, c.value, err, tab.QualifiedName(), c.col)
			}
		}
	}
	rows, err := e.conn.QueryContext(context.Background(), "SELECT id, d, dt, ts FROM "+quote(table)+" ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int
		vals := make([]sql.RawBytes, 3)
		if err := rows.Scan(&id, &vals[0], &vals[1], &vals[2]); err != nil {
			t.Fatal(err)
		}
		c := cases[id-1]
		i := tab.ColumnIndex(c.col)
		if _, err := decodeText(&tab.Columns[i].Type, vals[i-1]); err == nil {
			t.Errorf("%s = %s: decodeText(%q) accepted it", c.col, c.value, vals[i-1])
		}
	}
}

// A column added in the middle of a table: each rows event decodes with the
// names of its own table map, also when it is read after the ALTER.
func TestIntegrationTableMapAcrossAlter(t *testing.T) {
	e := tyOpen(t)
	table := tyName("alter")
	e.exec(t, "CREATE TABLE "+quote(table)+" (id INT PRIMARY KEY, a VARCHAR(10), b INT)")
	t.Cleanup(func() { e.exec(t, "DROP TABLE IF EXISTS "+quote(table)) })
	from := e.position(t)
	e.exec(t, "INSERT INTO "+quote(table)+" VALUES (1, 'x', 10)")
	names := func(tab *capture.Table) string {
		var out []string
		for _, c := range tab.Columns {
			out = append(out, c.Name)
		}
		return strings.Join(out, ",")
	}
	first := mustTable(t, e.rowsEvents(t, from, table, 1)[0].Table)
	if got := names(first); got != "id,a,b" {
		t.Fatalf("columns before the ALTER: %s, want id,a,b", got)
	}

	e.exec(t, "ALTER TABLE "+quote(table)+" ADD COLUMN mid DECIMAL(12,2) NOT NULL DEFAULT 7.50 AFTER id")
	e.exec(t, "INSERT INTO "+quote(table)+" (id, a, b) VALUES (2, 'y', 20)")

	// Read again from before the first insert, now that the live table has
	// the new column.
	events := e.rowsEvents(t, from, table, 2)
	if len(events) != 2 {
		t.Fatalf("%d rows events, want 2", len(events))
	}
	live, err := tableFromCatalog(context.Background(), e.conn, e.cfg.DBName, table)
	if err != nil {
		t.Fatal(err)
	}
	before, after := mustTable(t, events[0].Table), mustTable(t, events[1].Table)
	if got := names(before); got != "id,a,b" {
		t.Errorf("first event's columns, read after the ALTER: %s, want id,a,b", got)
	}
	if got := names(after); got != "id,mid,a,b" {
		t.Errorf("second event's columns %s, want id,mid,a,b", got)
	}
	if !before.SameShape(first) || before.SameShape(live) || !after.SameShape(live) {
		t.Errorf("the first event should keep its old shape and only the second have the live one")
	}
	if c := after.Columns[1]; c.Type.Source != "decimal(12,2)" || c.Nullable {
		t.Errorf("new column: %+v", c)
	}
	check := func(tab *capture.Table, raw []any, want ...any) {
		t.Helper()
		row, err := convertRow(tab, raw)
		if err != nil {
			t.Fatal(err)
		}
		if len(row) != len(want) {
			t.Fatalf("row %v, want %v", row, want)
		}
		for i := range want {
			if !capture.Equal(row[i], want[i]) {
				t.Errorf("%s = %#v, want %#v", tab.Columns[i].Name, row[i], want[i])
			}
		}
	}
	check(before, events[0].Rows[0], int64(1), "x", int64(10))
	check(after, events[1].Rows[0], int64(2), rat("7.5"), "y", int64(20))
}

// Key columns agree between the paths: a composite key in another order
// than the columns, and a table whose only key is UNIQUE NOT NULL.
func TestIntegrationKeysAgree(t *testing.T) {
	e := tyOpen(t)
	for _, tc := range []struct{ ddl, keys string }{
		{"(a INT NOT NULL, b VARCHAR(10) NOT NULL, c INT, PRIMARY KEY (b, a))", "a,b"},
		// The server treats the first UNIQUE NOT NULL key as the primary key
		// when there is none, in the binlog and in COLUMN_KEY alike.
		{"(a INT NOT NULL, b VARCHAR(10), UNIQUE KEY (a))", "a"},
		{"(a INT, b VARCHAR(10))", ""},
		{"(a VARCHAR(100) NOT NULL, b INT, PRIMARY KEY (a(10)))", "a"},
	} {
		ddl := tc.ddl
		table := tyName("keys")
		e.exec(t, "CREATE TABLE "+quote(table)+" "+ddl)
		from := e.position(t)
		e.exec(t, "INSERT INTO "+quote(table)+" (a, b) VALUES (1, '1')")
		ev := e.rowsEvents(t, from, table, 1)
		fromMap := mustTable(t, ev[0].Table)
		fromCatalog, err := tableFromCatalog(context.Background(), e.conn, e.cfg.DBName, table)
		if err != nil {
			t.Fatal(err)
		}
		if !fromMap.SameShape(fromCatalog) {
			t.Errorf("%s: binlog %+v, catalog %+v", ddl, fromMap.Columns, fromCatalog.Columns)
		}
		var keys []string
		for _, k := range fromMap.KeyIndexes() {
			keys = append(keys, fromMap.Columns[k].Name)
		}
		if got := strings.Join(keys, ","); got != tc.keys {
			t.Errorf("%s: key columns %q, want %q", ddl, got, tc.keys)
		}
		e.exec(t, "DROP TABLE "+quote(table))
	}
}

// charsetOfCollation knows the character set of every collation of the
// server that it claims, and claims no collation of another character set.
func TestIntegrationCollationCharsets(t *testing.T) {
	e := tyOpen(t)
	rows, err := e.conn.QueryContext(context.Background(),
		"SELECT ID, CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLLATION_CHARACTER_SET_APPLICABILITY")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	supported := map[string]bool{"utf8mb4": true, "utf8mb3": true, "ascii": true, "latin1": true, "binary": true}
	n := 0
	for rows.Next() {
		var id uint64
		var cs, name string
		if err := rows.Scan(&id, &cs, &name); err != nil {
			t.Fatal(err)
		}
		n++
		want := normalCharset(cs)
		if !supported[want] {
			want = ""
		}
		if got := charsetOfCollation(id); got != want {
			t.Errorf("collation %s (id %d, %s): charsetOfCollation = %q, want %q", name, id, cs, got, want)
		}
	}
	if n < 100 {
		t.Fatalf("only %d collations", n)
	}
}

// A table with a column in a character set tandem does not decode is
// refused by both paths, naming the table and column.
func TestIntegrationUnsupportedCharset(t *testing.T) {
	e := tyOpen(t)
	table := tyName("cp1251")
	e.exec(t, "CREATE TABLE "+quote(table)+" (id INT PRIMARY KEY, name VARCHAR(10) CHARACTER SET cp1251)")
	t.Cleanup(func() { e.exec(t, "DROP TABLE IF EXISTS "+quote(table)) })
	from := e.position(t)
	e.exec(t, "INSERT INTO "+quote(table)+" VALUES (1, 'x')")
	ev := e.rowsEvents(t, from, table, 1)
	_, err1 := tableFromMap(ev[0].Table)
	_, err2 := tableFromCatalog(context.Background(), e.conn, e.cfg.DBName, table)
	for _, err := range []error{err1, err2} {
		if err == nil || !strings.Contains(err.Error(), table) || !strings.Contains(err.Error(), "column name") {
			t.Errorf("error %v, want one naming %s and column name", err, table)
		}
	}
}
