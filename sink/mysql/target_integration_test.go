//go:build integration

package mysql

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"strings"
	"testing"

	drv "github.com/go-sql-driver/mysql"

	capmysql "github.com/tandem-sync/tandem/capture/mysql"
	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/internal/testenv"
	"github.com/tandem-sync/tandem/sink"
	"github.com/tandem-sync/tandem/sink/internal/sinktest"
)

// myExec runs statements on a connection of the test's own (session time
// zone UTC).
func myExec(t *testing.T, stmts ...string) {
	t.Helper()
	cfg, err := drv.ParseDSN(testenv.MySQLDSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Params = map[string]string{"time_zone": "'+00:00'"}
	connector, err := drv.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func dbName(t *testing.T) string {
	cfg, err := drv.ParseDSN(testenv.MySQLDSN())
	if err != nil {
		t.Fatal(err)
	}
	return cfg.DBName
}

// openTarget returns a set-up target; when the test ends it is closed and
// its checkpoint table dropped.
func openTarget(t *testing.T, sinkName, ckpt string, conns int) *Target {
	t.Helper()
	ctx := context.Background()
	t.Cleanup(func() { myExec(t, "DROP TABLE IF EXISTS "+quoteIdent(ckpt)) })
	tg, err := New(ctx, Options{System: "it", Sink: sinkName, DSN: config.Secret(testenv.MySQLDSN()), CheckpointTable: ckpt, MaxConns: conns})
	tg = sinktest.Ready(t, tg, err)
	if !tg.SkipReplication() {
		t.Error("the local MariaDB refused skip_replication")
	}
	return tg
}

// runCapture runs the MySQL capture on tables, from the current position,
// until the test ends.
func runCapture(t *testing.T, tables []string, ckpt string) *sinktest.Recorder {
	t.Helper()
	capCfg := sinktest.CaptureConfig(sinktest.Unique("it"), tables)
	capCfg.ServerID = uint32(30000 + rand.IntN(20000))
	rec := &sinktest.Recorder{}
	rd, err := capmysql.New(capmysql.Options{
		System: "it", DSN: config.Secret(testenv.MySQLDSN()), Capture: capCfg, CheckpointTable: ckpt, Handler: rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	sinktest.Start(t, rd, rec)
	return rec
}

func myDB(t *testing.T) sinktest.DB {
	db := dbName(t)
	return sinktest.DB{
		Open: func(t *testing.T, sinkName, ckpt string, conns int) sink.Target {
			return openTarget(t, sinkName, ckpt, conns)
		},
		Exec:    myExec,
		Qualify: func(name string) string { return db + "." + name },
		ItemsDDL: func(table string) string {
			return "CREATE TABLE " + Dialect{}.Quote(table) + ` (id BIGINT AUTO_INCREMENT PRIMARY KEY, k VARCHAR(100) NOT NULL UNIQUE,
				n INT NOT NULL, price DECIMAL(12,2), doc JSON)`
		},
		Capture: runCapture,
	}
}

func TestIntegrationSinkTargetMySQL(t *testing.T) {
	sinktest.Run(t, myDB(t))
}

func TestIntegrationSinkTargetMySQLQueryDecodes(t *testing.T) {
	tg := openTarget(t, sinktest.Unique("it"), sinktest.Unique("sink_ckpt"), 2)
	table := dbName(t) + "." + sinktest.Unique("sink_types")
	myExec(t, "CREATE TABLE "+Dialect{}.Quote(table)+` (id BIGINT PRIMARY KEY, flag TINYINT(1), i INT, ub BIGINT UNSIGNED,
			amount DECIMAL(26,8), f FLOAT, dbl DOUBLE, name VARCHAR(50), raw VARBINARY(10), blb BLOB, d DATE,
			dt DATETIME(6), ts TIMESTAMP(6) NULL, doc JSON, mood ENUM('sad','ok','happy'), tags SET('a','b'),
			b BIT(8), zero DATETIME NULL, nothing TEXT)`,
		`INSERT INTO `+Dialect{}.Quote(table)+` VALUES (1, 1, -2147483648, 18446744073709551615,
			12345678901234567.12345678, 0.1, -2.5e-300, 'emoji 😀', X'00ff', X'0102', '2024-02-29',
			'2024-02-29 13:14:15.123456', '2024-02-29 11:14:15.654321', '{"a": [1, 2]}', 'happy', 'a,b',
			b'00000101', '0000-00-00 00:00:00', NULL)`)
	t.Cleanup(func() { myExec(t, "DROP TABLE IF EXISTS "+Dialect{}.Quote(table)) })
	names := []string{"id", "flag", "i", "ub", "amount", "f", "dbl", "name", "raw", "blb", "d", "dt", "ts", "doc", "mood", "tags", "b", "zero", "nothing", "amount * 3"}
	want := []any{int64(1), int64(1), int64(-2147483648), sinktest.Rat("18446744073709551615"),
		sinktest.Rat("12345678901234567.12345678"), 0.1, -2.5e-300, "emoji 😀", []byte{0, 0xff}, []byte{1, 2}, sinktest.Time("2024-02-29T00:00:00Z"),
		sinktest.Time("2024-02-29T13:14:15.123456Z"), sinktest.Time("2024-02-29T11:14:15.654321Z"), `{"a": [1, 2]}`, "happy", "a,b",
		int64(5), nil, nil, sinktest.Rat("37037036703703701.37037034")}
	q := "SELECT " + strings.Join(names, ", ") + " FROM " + Dialect{}.Quote(table)
	for _, rows := range [][][]any{sinktest.Rows(t, tg, q), sinktest.Rows(t, tg, q+" WHERE id = ?", int64(1))} {
		if len(rows) != 1 {
			t.Fatalf("%d rows", len(rows))
		}
		sinktest.CheckRow(t, names, rows[0], want)
	}
}

// TestIntegrationSinkTargetMySQLStrict: the session is strict for every
// table, so a value the column cannot hold is an error, not a truncation.
func TestIntegrationSinkTargetMySQLStrict(t *testing.T) {
	tg := openTarget(t, sinktest.Unique("it"), sinktest.Unique("sink_ckpt"), 2)
	table := dbName(t) + "." + sinktest.Unique("sink_strict")
	myExec(t, "CREATE TABLE "+Dialect{}.Quote(table)+" (k VARCHAR(3)) ENGINE=MyISAM") // not transactional: STRICT_TRANS_TABLES would only warn
	t.Cleanup(func() { myExec(t, "DROP TABLE IF EXISTS "+Dialect{}.Quote(table)) })
	tx, err := tg.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	_, err = tx.Exec(context.Background(), "INSERT INTO "+Dialect{}.Quote(table)+" VALUES (?)", "too long")
	if err == nil {
		t.Fatal("a value too long for its column was stored")
	}
	if got := tg.Classify(err); got != sink.RowError {
		t.Errorf("Classify = %v, want RowError (%v)", got, err)
	}
}
