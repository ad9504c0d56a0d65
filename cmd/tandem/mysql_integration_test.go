//go:build integration

package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/tandem-sync/tandem/bus"
	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/internal/testenv"
)

// mysqlConfig is a config for one MySQL/MariaDB system capturing tables,
// with a random capture.server_id and small snapshot chunks; extra goes at
// the top level.
func mysqlConfig(system, dsn string, tables []string, extra string) string {
	return sourceConfig(system, "mysql", dsn, tables,
		fmt.Sprintf("      server_id: %d\n      chunk_rows: 1000\n", 6000+rand.IntN(3000)), "", extra)
}

func myDB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", testenv.MySQLDSN())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(); err != nil {
		t.Fatalf("connect to MariaDB (is the stack up? make up): %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func myMust(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestIntegrationMySQLTypesThroughKafka(t *testing.T) {
	db := myDB(t)
	system := uniqueSystem("mytypes")
	myMust(t, db, `DROP TABLE IF EXISTS tandem.my_types`,
		`CREATE TABLE tandem.my_types (
			id BIGINT PRIMARY KEY, amount DECIMAL(26,8), big BIGINT UNSIGNED, at DATETIME(6), ts TIMESTAMP(6) NULL,
			name VARCHAR(100) CHARACTER SET utf8mb4, doc JSON, size ENUM('s','m','l'), tags SET('a','b','c'),
			empty VARCHAR(10), nothing VARCHAR(10), raw VARBINARY(8)) CHARACTER SET utf8mb4`)
	stop := startRun(t, mysqlConfig(system, testenv.MySQLDSN(), []string{"tandem.my_types"}, ""))
	topic := "tandem." + system + ".tandem.my_types"
	time.Sleep(2 * time.Second) // the snapshot of the empty table is done
	myMust(t, db, `INSERT INTO tandem.my_types VALUES (1, 12345678901234567.12345678, 18446744073709551615,
		'2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.654321', 'emoji 😀', '{"a": [1, 2]}', 'm', 'a,c', '', NULL, X'00FF')`)
	waitRecords(t, topic, 1, time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	evs := readOps(t, topic, "c")
	if len(evs) != 1 {
		t.Fatalf("%d inserts on %s, want 1", len(evs), topic)
	}
	after := evs[0]["after"].(map[string]any)
	rat := func(s string) *big.Rat { r, _ := new(big.Rat).SetString(s); return r }
	ts := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	want := map[string]any{
		"id": int64(1), "amount": rat("12345678901234567.12345678"), "big": rat("18446744073709551615"),
		"at": ts("2024-02-29T13:14:15.123456Z"), "ts": ts("2024-02-29T13:14:15.654321Z"), "name": "emoji 😀",
		"size": "m", "tags": "a,c", "empty": "", "nothing": nil, "raw": []byte{0, 0xff},
	}
	for k, w := range want {
		if !capture.Equal(after[k], w) {
			t.Errorf("%s = %#v (%T), want %#v", k, after[k], after[k], w)
		}
	}
	if doc, _ := after["doc"].(string); !strings.Contains(strings.ReplaceAll(doc, " ", ""), `{"a":[1,2]}`) {
		t.Errorf("doc = %#v", after["doc"])
	}
	if am := after["amount"].(*big.Rat); am.FloatString(8) != "12345678901234567.12345678" {
		t.Errorf("DECIMAL(26,8) lost digits: %s", am.FloatString(8))
	}
}

func TestIntegrationMySQLLoopFilter(t *testing.T) {
	db := myDB(t)
	system := uniqueSystem("myloop")
	myMust(t, db, `DROP TABLE IF EXISTS tandem.my_loop`, `CREATE TABLE tandem.my_loop (id INT PRIMARY KEY, v TEXT)`,
		"CREATE TABLE IF NOT EXISTS tandem.tandem_checkpoint (consumer VARCHAR(200) NOT NULL, topic VARCHAR(249) NOT NULL, kafka_partition INT NOT NULL, kafka_offset BIGINT NOT NULL, source_position TEXT NOT NULL, updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (consumer, topic, kafka_partition))")
	stop := startRun(t, mysqlConfig(system, testenv.MySQLDSN(), []string{"tandem.my_loop"}, ""))
	time.Sleep(2 * time.Second)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// 1: a session with skip_replication=1, as tandem's MariaDB sink runs
	for _, s := range []string{"SET SESSION skip_replication = 1", "INSERT INTO tandem.my_loop VALUES (1, 'sink, skip_replication')", "SET SESSION skip_replication = 0"} {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	// 2: a transaction whose first row is the checkpoint row
	for _, s := range []string{"BEGIN",
		"INSERT INTO tandem.tandem_checkpoint (consumer, topic, kafka_partition, kafka_offset, source_position) VALUES ('it', 't', 0, 1, 'x') ON DUPLICATE KEY UPDATE kafka_offset = kafka_offset + 1",
		"INSERT INTO tandem.my_loop VALUES (2, 'sink, checkpoint first')", "COMMIT"} {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	// 3: anyone else
	myMust(t, db, "INSERT INTO tandem.my_loop VALUES (3, 'application')")
	topic := "tandem." + system + ".tandem.my_loop"
	waitRecords(t, topic, 1, time.Minute)
	time.Sleep(2 * time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	evs := readOps(t, topic, "c")
	if len(evs) != 1 || evs[0]["after"].(map[string]any)["id"] != int32(3) {
		t.Fatalf("published %v, want only the application's row 3", evs)
	}
}

func TestIntegrationMySQLSnapshotThenStreamNoGapNoOverlap(t *testing.T) {
	db := myDB(t)
	system := uniqueSystem("mysnap")
	myMust(t, db, `DROP TABLE IF EXISTS tandem.my_snap`, `CREATE TABLE tandem.my_snap (id BIGINT PRIMARY KEY, v VARCHAR(20))`)
	for i := 0; i < 10; i++ {
		myMust(t, db, fmt.Sprintf(`INSERT INTO tandem.my_snap SELECT seq, 'seed' FROM seq_%d_to_%d`, i*1000+1, i*1000+1000))
	}
	var next atomic.Int64
	next.Store(10001)
	stopWriters := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stopWriters:
				return
			default:
			}
			id := next.Add(1) - 1
			if _, err := db.Exec("INSERT INTO tandem.my_snap VALUES (?, 'live')", id); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	stop := startRun(t, mysqlConfig(system, testenv.MySQLDSN(), []string{"tandem.my_snap"}, ""))
	time.Sleep(3 * time.Second)
	close(stopWriters)
	wg.Wait()
	last := next.Load() - 1
	topic := "tandem." + system + ".tandem.my_snap"
	waitRecords(t, topic, last, 2*time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	seen := map[int64][]string{}
	for _, op := range []string{"r", "c"} {
		for _, ev := range readOps(t, topic, op) {
			id := ev["after"].(map[string]any)["id"].(int64)
			seen[id] = append(seen[id], op)
		}
	}
	reads := 0
	for id := int64(1); id <= last; id++ {
		if len(seen[id]) != 1 {
			t.Fatalf("id %d delivered as %v, want exactly once as r or c", id, seen[id])
		}
		if seen[id][0] == "r" {
			reads++
		}
	}
	if reads < 10000 || last <= 10000 {
		t.Fatalf("%d snapshot reads of %d rows (live inserts up to %d)", reads, last, last)
	}
}

func TestIntegrationMySQLBadInput(t *testing.T) {
	db := myDB(t)
	testenv.StartInstance(t, "mariadb", "INSTANCE=mariadb-stmt", "MARIADB_PORT=53307", "MARIADB_BINLOG_FORMAT=STATEMENT")
	myMust(t, db, `DROP TABLE IF EXISTS tandem.my_bad`, `CREATE TABLE tandem.my_bad (id INT PRIMARY KEY)`,
		"CREATE USER IF NOT EXISTS 'tandem_noslave'@'127.0.0.1' IDENTIFIED BY 'n'",
		"GRANT SELECT ON tandem.* TO 'tandem_noslave'@'127.0.0.1'")
	stmtDSN := "tandem:tandem@tcp(127.0.0.1:53307)/tandem"
	noSlave := "tandem_noslave:n@tcp(127.0.0.1:53306)/tandem"
	cases := []struct{ name, dsn, want string }{
		{"binlog_format STATEMENT", stmtDSN, "binlog_format is STATEMENT, must be ROW; fix: SET GLOBAL binlog_format = 'ROW'"},
		{"no replication privileges", noSlave, "fix: GRANT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, code := run(t, "run", "--config", tempConfig(t, mysqlConfig(uniqueSystem("mybad"), c.dsn, []string{"tandem.my_bad"}, "")))
			if code != exitFailed || !strings.Contains(out, c.want) {
				t.Fatalf("exit %d, want 1 with %q:\n%s", code, c.want, out)
			}
		})
	}
}

// TestIntegrationMySQLServerRestartSurvived restarts MariaDB while the
// capture streams; the capture reconnects and nothing is lost.
func TestIntegrationMySQLServerRestartSurvived(t *testing.T) {
	db := myDB(t)
	system := uniqueSystem("myrestart")
	myMust(t, db, `DROP TABLE IF EXISTS tandem.my_restart`, `CREATE TABLE tandem.my_restart (id INT PRIMARY KEY, v TEXT)`)
	stop := startRun(t, mysqlConfig(system, testenv.MySQLDSN(), []string{"tandem.my_restart"}, ""))
	topic := "tandem." + system + ".tandem.my_restart"
	time.Sleep(2 * time.Second)
	myMust(t, db, `INSERT INTO tandem.my_restart SELECT seq, 'before' FROM seq_1_to_500`)
	waitRecords(t, topic, 500, time.Minute)
	restart := func(verb string) {
		out, err := exec.Command("bash", filepath.Join(testenv.RepoRoot(t), "deploy", "local", "mariadb.sh"), verb).CombinedOutput()
		if err != nil {
			t.Fatalf("mariadb.sh %s: %v\n%s", verb, err, out)
		}
	}
	restart("down")
	time.Sleep(2 * time.Second)
	restart("up")
	db2 := myDB(t)
	myMust(t, db2, `INSERT INTO tandem.my_restart SELECT seq, 'after' FROM seq_501_to_1000`)
	waitRecords(t, topic, 1000, 2*time.Minute)
	if err := stop(); err != nil {
		t.Fatalf("the capture did not survive the restart: %v", err)
	}
	ids := map[int32]bool{}
	for _, ev := range readOps(t, topic, "c") {
		ids[ev["after"].(map[string]any)["id"].(int32)] = true
	}
	for id := int32(1); id <= 1000; id++ {
		if !ids[id] {
			t.Fatalf("row %d is missing after the restart", id)
		}
	}
}

// TestIntegrationMySQLDuplicateServerID runs two captures with the same
// server_id: the one pushed out stops with an error naming the fix.
func TestIntegrationMySQLDuplicateServerID(t *testing.T) {
	db := myDB(t)
	myMust(t, db, `DROP TABLE IF EXISTS tandem.my_dup`, `CREATE TABLE tandem.my_dup (id INT PRIMARY KEY)`)
	cfgA := mysqlConfig(uniqueSystem("mydupa"), testenv.MySQLDSN(), []string{"tandem.my_dup"}, "")
	cfgB := mysqlConfig(uniqueSystem("mydupb"), testenv.MySQLDSN(), []string{"tandem.my_dup"}, "")
	cfgB = cfgB[:strings.Index(cfgB, "server_id:")] + cfgA[strings.Index(cfgA, "server_id:"):strings.Index(cfgA, "server_id:")+16] + cfgB[strings.Index(cfgB, "server_id:")+16:]
	stopA := startRun(t, cfgA)
	time.Sleep(2 * time.Second)
	stopB := startRun(t, cfgB)
	time.Sleep(3 * time.Second)
	errA, errB := stopA(), stopB()
	got := fmt.Sprint(errA, " | ", errB)
	if !strings.Contains(got, "another replica uses server_id") || !strings.Contains(got, "fix: set systems.") {
		t.Fatalf("want one capture to stop naming the server_id collision and its fix; got: %s", got)
	}
}

// TestIntegrationMySQLPurgedBinlog stores a position, purges the binlog past
// it, and expects a clear error (and a new snapshot with when_needed).
func TestIntegrationMySQLPurgedBinlog(t *testing.T) {
	db := myDB(t)
	system := uniqueSystem("mypurge")
	myMust(t, db, `DROP TABLE IF EXISTS tandem.my_purge`, `CREATE TABLE tandem.my_purge (id INT PRIMARY KEY)`,
		`INSERT INTO tandem.my_purge VALUES (1)`)
	cfgText := mysqlConfig(system, testenv.MySQLDSN(), []string{"tandem.my_purge"}, "")
	stop := startRun(t, cfgText)
	topic := "tandem." + system + ".tandem.my_purge"
	waitRecords(t, topic, 1, time.Minute)
	time.Sleep(2 * time.Second) // the position is saved
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	myMust(t, db, `FLUSH BINARY LOGS`, `INSERT INTO tandem.my_purge VALUES (2)`, `FLUSH BINARY LOGS`)
	var file string
	var pos int64
	rows, err := db.Query("SHOW MASTER STATUS")
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	for i := range vals {
		vals[i] = new(sql.RawBytes)
	}
	rows.Next()
	rows.Scan(vals...)
	file = string(*vals[0].(*sql.RawBytes))
	fmt.Sscan(string(*vals[1].(*sql.RawBytes)), &pos)
	rows.Close()
	myMust(t, db, "PURGE BINARY LOGS TO '"+file+"'")

	out, code := run(t, "run", "--config", tempConfig(t, cfgText))
	if code != exitFailed || !strings.Contains(out, "purged") || !strings.Contains(out, "capture.snapshot: when_needed") {
		t.Fatalf("exit %d, want 1 naming the purge and the fix:\n%s", code, out)
	}
	stop = startRun(t, strings.Replace(cfgText, "chunk_rows: 1000", "chunk_rows: 1000\n      snapshot: when_needed", 1))
	waitRecords(t, topic, 3, time.Minute) // 1 from the first run, then a new snapshot of both rows
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := len(readOps(t, topic, "r")); n != 3 {
		t.Errorf("%d snapshot reads, want 1 + 2 from the new snapshot", n)
	}
}

// TestIntegrationMySQLAlterMidColumnList: rows written before and after an
// ADD COLUMN in the middle of the column list both decode with their own
// column names, and the statement is on the schema_changes topic.
func TestIntegrationMySQLAlterMidColumnList(t *testing.T) {
	db := myDB(t)
	system := uniqueSystem("myalter")
	myMust(t, db, `DROP TABLE IF EXISTS tandem.my_alter`, `CREATE TABLE tandem.my_alter (id INT PRIMARY KEY, a VARCHAR(10), b INT)`)
	stop := startRun(t, mysqlConfig(system, testenv.MySQLDSN(), []string{"tandem.my_alter"}, ""))
	time.Sleep(2 * time.Second)
	myMust(t, db, `INSERT INTO tandem.my_alter VALUES (1, 'one', 10)`,
		`ALTER TABLE tandem.my_alter ADD COLUMN mid DECIMAL(8,2) AFTER id`,
		`INSERT INTO tandem.my_alter VALUES (2, 2.50, 'two', 20)`)
	topic := "tandem." + system + ".tandem.my_alter"
	waitRecords(t, topic, 2, time.Minute)
	waitRecords(t, "tandem."+system+".schema_changes", 1, time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	rows := map[int32]map[string]any{}
	for _, ev := range readOps(t, topic, "c") {
		after := ev["after"].(map[string]any)
		rows[after["id"].(int32)] = after
	}
	if r := rows[1]; r == nil || r["a"] != "one" || r["b"] != int32(10) || r["mid"] != nil {
		t.Errorf("row before the ALTER: %v", r)
	}
	if _, has := rows[1]["mid"]; has {
		t.Errorf("row before the ALTER decodes with the new column: %v", rows[1])
	}
	r2 := rows[2]
	if r2 == nil || r2["a"] != "two" || r2["b"] != int32(20) || r2["mid"].(*big.Rat).FloatString(2) != "2.50" {
		t.Errorf("row after the ALTER: %v", r2)
	}
	dec := decoder()
	found := false
	for _, m := range testenv.ReadTopic(t, "tandem."+system+".schema_changes") {
		ev, _, err := dec.Decode(context.Background(), m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if s, _ := ev["statement"].(string); strings.Contains(s, "ADD COLUMN mid") && ev["database"] == "tandem" {
			found = true
		}
	}
	if !found {
		t.Errorf("the ALTER statement is not on the schema_changes topic")
	}
}

// TestIntegrationMySQLStoredPositionMovesWhenFiltered: with activity only on
// tables that are not captured, the stored position still moves.
func TestIntegrationMySQLStoredPositionMovesWhenFiltered(t *testing.T) {
	db := myDB(t)
	system := uniqueSystem("myidle")
	myMust(t, db, `DROP TABLE IF EXISTS tandem.my_idle`, `CREATE TABLE tandem.my_idle (id INT PRIMARY KEY)`,
		`DROP TABLE IF EXISTS tandem.my_other`, `CREATE TABLE tandem.my_other (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT)`)
	stop := startRun(t, mysqlConfig(system, testenv.MySQLDSN(), []string{"tandem.my_idle"}, ""))
	kc := bus.Default()
	kc.Brokers = []string{testenv.KafkaBroker()}
	store, err := bus.OpenOffsetStore(context.Background(), kc, system)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	load := func() string {
		v, err := store.Load(context.Background(), "mysql.position")
		if err != nil {
			t.Fatal(err)
		}
		return string(v)
	}
	deadline := time.Now().Add(30 * time.Second)
	first := load()
	for first == "" && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		first = load()
	}
	if first == "" {
		t.Fatal("no position stored after the snapshot")
	}
	for i := 0; i < 5; i++ {
		myMust(t, db, `INSERT INTO tandem.my_other (v) VALUES ('x')`)
	}
	moved := ""
	for deadline = time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if v := load(); v != first {
			moved = v
			break
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if moved == "" {
		t.Fatalf("the stored position stayed at %s while only uncaptured tables changed", first)
	}
	if n := testenv.TopicSize(t, "tandem."+system+".tandem.my_idle"); n > 0 {
		t.Errorf("%d events from an idle table", n)
	}
}
