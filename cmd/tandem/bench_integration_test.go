//go:build integration

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tandem-sync/tandem/internal/testenv"
)

// The capture benchmarks and their raw limits (bench_raw_integration_test.go)
// share the workloads below. Every workload writes to a table of 8
// mixed-type columns, about 110 bytes a row:
//
//	id int8 key, name varchar(40) ("product name <id>"), price numeric(12,2),
//	at timestamptz (now), active bool, qty int4, note text (60 characters),
//	day date (today)
//
// MariaDB has the same columns (BIGINT, VARCHAR(40), DECIMAL(12,2),
// TIMESTAMP(6), BOOL, INT, TEXT, DATE). The rows, TANDEM_BENCH_ROWS (default
// 50,000; TANDEM_BENCH_SMALLTX_ROWS, default a fifth of it, for small
// transactions), are written while the reader is stopped, so the log holds a
// backlog; then the reader starts and the clock runs until it has seen every
// row.

// benchEnvInt reads a positive workload size from the environment.
func benchEnvInt(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number of rows", name, v)
	}
	return n
}

// benchRows is the number of row events of the bulk and update workloads.
func benchRows(b *testing.B) int { return benchEnvInt(b, "TANDEM_BENCH_ROWS", 50_000) }

// smallTxRows is the number of row events of the small-transaction
// workload, which takes the databases longer to write:
// TANDEM_BENCH_SMALLTX_ROWS, by default a fifth of TANDEM_BENCH_ROWS.
func smallTxRows(b *testing.B) int {
	return benchEnvInt(b, "TANDEM_BENCH_SMALLTX_ROWS", benchRows(b)/5)
}

// benchDialect is the SQL of the capture workloads on one database.
type benchDialect struct {
	// create makes an empty workload table, and the procedure that
	// inserts in small transactions.
	create func(table string)
	// insert adds rows from..to in one transaction.
	insert func(table string, from, to int)
	// insertSmall adds rows from..to in transactions of 1 to 5 rows.
	insertSmall func(table string, from, to int)
	// update changes name, qty and at of rows from..to in one transaction.
	update func(table string, from, to int)
}

// benchWorkload is what a capture benchmark writes: prefill runs before
// the reader starts and is not captured, load writes the measured backlog.
type benchWorkload struct {
	rows    func(b *testing.B) int
	prefill func(d benchDialect, table string, rows int)
	load    func(d benchDialect, table string, rows int)
}

// inChunks calls f for 1..rows in ranges of 1,000.
func inChunks(rows int, f func(from, to int)) {
	for j := 0; j < rows; j += 1000 {
		f(j+1, min(j+1000, rows))
	}
}

var (
	// bulkInsert: inserts in transactions of 1,000 rows.
	bulkInsert = benchWorkload{
		rows:    benchRows,
		prefill: func(benchDialect, string, int) {},
		load: func(d benchDialect, table string, rows int) {
			inChunks(rows, func(from, to int) { d.insert(table, from, to) })
		},
	}
	// smallTx: inserts in transactions of 1 to 5 rows (2, 3, 4, 5, 1, 2,
	// ... rows; 3 on average), committed by a stored procedure.
	smallTx = benchWorkload{
		rows:    smallTxRows,
		prefill: func(benchDialect, string, int) {},
		load:    func(d benchDialect, table string, rows int) { d.insertSmall(table, 1, rows) },
	}
	// updateRows: the rows exist before the reader starts; each is updated
	// once (3 columns), in transactions of 1,000 rows.
	updateRows = benchWorkload{
		rows: benchRows,
		prefill: func(d benchDialect, table string, rows int) {
			inChunks(rows, func(from, to int) { d.insert(table, from, to) })
		},
		load: func(d benchDialect, table string, rows int) {
			inChunks(rows, func(from, to int) { d.update(table, from, to) })
		},
	}
)

// pgDialect writes the workloads to PostgreSQL. (Not with
// synchronous_commit off: the server sends the log only as far as it is
// flushed, so the reader would wait for the WAL writer.)
func pgDialect(b *testing.B) benchDialect {
	conn := pgConn(b)
	return benchDialect{
		create: func(table string) {
			mustExec(b, conn, `DROP TABLE IF EXISTS `+table,
				`CREATE TABLE `+table+` (id int8 PRIMARY KEY, name varchar(40), price numeric(12,2), at timestamptz,
					active bool, qty int4, note text, day date)`,
				fmt.Sprintf(`CREATE OR REPLACE PROCEDURE %[1]s_small(a int8, b int8) LANGUAGE plpgsql AS $$
				DECLARE i int8 := a; k int8;
				BEGIN
					WHILE i <= b LOOP
						k := least(1 + i %% 5, b - i + 1);
						INSERT INTO %[1]s SELECT g, 'product name '||g, (g %% 100000) * 1.25, now(), g %% 2 = 0,
							g %% 1000, repeat('x', 60), current_date FROM generate_series(i, i + k - 1) g;
						COMMIT;
						i := i + k;
					END LOOP;
				END $$`, table))
		},
		insert: func(table string, from, to int) {
			mustExec(b, conn, fmt.Sprintf(`INSERT INTO %s SELECT g, 'product name '||g, (g %% 100000) * 1.25, now(), g %% 2 = 0,
				g %% 1000, repeat('x', 60), current_date FROM generate_series(%d, %d) g`, table, from, to))
		},
		insertSmall: func(table string, from, to int) {
			mustExec(b, conn, fmt.Sprintf(`CALL %s_small(%d, %d)`, table, from, to))
		},
		update: func(table string, from, to int) {
			mustExec(b, conn, fmt.Sprintf(`UPDATE %s SET name = 'updated '||id, qty = qty + 1, at = now() WHERE id BETWEEN %d AND %d`,
				table, from, to))
		},
	}
}

// myDialect writes the workloads to MariaDB database tandem.
func myDialect(b *testing.B) benchDialect {
	db := myDB(b)
	return benchDialect{
		create: func(table string) {
			myMust(b, db, `DROP TABLE IF EXISTS tandem.`+table,
				`CREATE TABLE tandem.`+table+` (id BIGINT PRIMARY KEY, name VARCHAR(40), price DECIMAL(12,2), at TIMESTAMP(6),
					active BOOL, qty INT, note TEXT, day DATE)`,
				`DROP PROCEDURE IF EXISTS tandem.`+table+`_small`,
				fmt.Sprintf(`CREATE PROCEDURE tandem.%[1]s_small(IN a BIGINT, IN b BIGINT)
				BEGIN
					DECLARE i BIGINT DEFAULT a;
					DECLARE k BIGINT;
					WHILE i <= b DO
						SET k = LEAST(1 + i %% 5, b - i + 1);
						START TRANSACTION;
						INSERT INTO tandem.%[1]s SELECT i + seq - 1, CONCAT('product name ', i + seq - 1), ((i + seq - 1) %% 100000) * 1.25,
							NOW(6), (i + seq - 1) %% 2 = 0, (i + seq - 1) %% 1000, REPEAT('x', 60), CURDATE() FROM seq_1_to_5 WHERE seq <= k;
						COMMIT;
						SET i = i + k;
					END WHILE;
				END`, table))
		},
		insert: func(table string, from, to int) {
			myMust(b, db, fmt.Sprintf(`INSERT INTO tandem.%s SELECT seq, CONCAT('product name ', seq), (seq %% 100000) * 1.25,
				NOW(6), seq %% 2 = 0, seq %% 1000, REPEAT('x', 60), CURDATE() FROM seq_%d_to_%d`, table, from, to))
		},
		insertSmall: func(table string, from, to int) {
			myMust(b, db, fmt.Sprintf(`CALL tandem.%s_small(%d, %d)`, table, from, to))
		},
		update: func(table string, from, to int) {
			myMust(b, db, fmt.Sprintf(`UPDATE tandem.%s SET name = CONCAT('updated ', id), qty = qty + 1, at = NOW(6)
				WHERE id BETWEEN %d AND %d`, table, from, to))
		},
	}
}

// benchSource is how tandem captures one kind of database.
type benchSource struct {
	name    string // Postgres or MariaDB, for recordSizes
	prefix  string // of the system name
	dialect func(b *testing.B) benchDialect
	// config is the config capturing table (no snapshot) and its topic.
	config func(b *testing.B, system, table string) (cfg, topic string)
	// ready waits until the capture has its start position: a change
	// made then is captured.
	ready func(b *testing.B, system string)
}

var (
	pgSource = benchSource{
		name: "Postgres", prefix: "bench", dialect: pgDialect,
		config: func(b *testing.B, system, table string) (string, string) {
			cleanupSystem(b, pgConn(b), system)
			return sourceConfig(system, "postgres", testenv.PostgresDSN(), []string{"public." + table}, "      snapshot: never\n", "", ""),
				"tandem." + system + ".public." + table
		},
		ready: func(b *testing.B, system string) { waitStreaming(b, pgConn(b), system) },
	}
	mySource = benchSource{
		name: "MariaDB", prefix: "mybench", dialect: myDialect,
		config: func(b *testing.B, system, table string) (string, string) {
			return sourceConfig(system, "mysql", testenv.MySQLDSN(), []string{"tandem." + table},
					fmt.Sprintf("      server_id: %d\n      snapshot: never\n", 6000+rand.IntN(3000)), "", ""),
				"tandem." + system + ".tandem." + table
		},
		// No signal: warmUp writes again until an event arrives. (The
		// reader saves its acked position when it closes, so the restart
		// resumes after the warm-up row.)
		ready: func(*testing.B, string) {},
	}
)

// recordSizes holds the average size (key and value bytes) of the records
// each source's capture benchmarks produced in this process, for the Kafka
// produce limit.
var recordSizes = struct {
	sync.Mutex
	sum, n map[string]float64
}{sum: map[string]float64{}, n: map[string]float64{}}

// benchCapture measures capture throughput into Kafka, Avro-encoded, in row
// events per second: the workload's backlog is written while the capture
// is stopped; then the capture starts (the clock starts with it, so it
// includes connecting and resuming) and the clock runs until Kafka holds
// every row. Setup is outside the measured time. It also reports the
// average record size in bytes (key and value), B/record.
func benchCapture(b *testing.B, src benchSource, table string, w benchWorkload) {
	rows := w.rows(b)
	d := src.dialect(b)
	var total, startup time.Duration
	var size float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		t0 := time.Now()
		system := uniqueSystem(src.prefix)
		d.create(table)
		w.prefill(d, table, rows)
		cfg, topic := src.config(b, system, table)
		stop := startRun(b, cfg) // creates the slot or position, and the topics
		src.ready(b, system)
		warmUp(b, d, table, topic)
		if err := stop(); err != nil {
			b.Fatal(err)
		}
		watch := newTopicWatch(b, topic)
		base := watch.size()
		t1 := time.Now()
		w.load(d, table, rows)
		b.StartTimer()
		start := time.Now()
		stop = startRun(b, cfg)
		first := watch.wait(base+int64(rows), 5*time.Minute)
		took := time.Since(start)
		total += took
		startup += first.Sub(start)
		b.StopTimer()
		t2 := time.Now()
		if err := stop(); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		size = sampleRecordSize(b, topic)
		deleteTopics(b, topic)
		b.Logf("setup and warm-up %s, load %s, capture %s, stop %s, cleanup %s", t1.Sub(t0).Round(time.Millisecond),
			start.Sub(t1).Round(time.Millisecond), took.Round(time.Millisecond), t3.Sub(t2).Round(time.Millisecond), time.Since(t3).Round(time.Millisecond))
	}
	recordSizes.Lock()
	recordSizes.sum[src.name] += size
	recordSizes.n[src.name]++
	recordSizes.Unlock()
	b.ReportMetric(float64(rows*b.N)/total.Seconds(), "rows/s")
	// the rate once the first event is out, without the start (connect,
	// topics, schemas), which weighs on short runs
	b.ReportMetric(float64(rows*b.N)/(total-startup).Seconds(), "streaming-rows/s")
	b.ReportMetric(float64(startup.Milliseconds())/float64(b.N), "startup-ms")
	b.ReportMetric(size, "B/record")
	b.ReportMetric(0, "ns/op")
}

// warmUp writes row 0 and waits until its event is on the topic, which
// proves that the capture streams. The capture takes no snapshot, so a
// change made before it has its start position is not captured: when the
// source gives no sign of that (MariaDB), row 0 is updated again every
// 300 ms until one event arrives. (Should one of those updates still be
// unpublished when the capture stops, the measured run counts it: one
// event in TANDEM_BENCH_ROWS.)
func warmUp(b *testing.B, d benchDialect, table, topic string) {
	b.Helper()
	d.insert(table, 0, 0)
	deadline := time.Now().Add(time.Minute)
	for next := time.Now().Add(300 * time.Millisecond); testenv.TopicSize(b, topic) < 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("no event on %s after a minute: the capture does not stream", topic)
		}
		if time.Now().After(next) {
			d.update(table, 0, 0)
			next = time.Now().Add(300 * time.Millisecond)
		}
	}
}

// topicWatch follows the end offsets of a topic's partitions over open
// connections, so that polling it every few milliseconds is cheap.
type topicWatch struct {
	b     *testing.B
	topic string
	conns []*kafka.Conn
}

func newTopicWatch(b *testing.B, topic string) *topicWatch {
	b.Helper()
	w := &topicWatch{b: b, topic: topic}
	b.Cleanup(func() {
		for _, c := range w.conns {
			c.Close()
		}
	})
	// every topic has a partition 0, whose leader also lists the others
	for id, parts := 0, []kafka.Partition{{ID: 0}}; id < len(parts); id++ {
		lc, err := kafka.DialLeader(context.Background(), "tcp", testenv.KafkaBroker(), topic, parts[id].ID)
		if err != nil {
			b.Fatalf("leader of %s[%d] (is the stack up? make up): %v", topic, parts[id].ID, err)
		}
		w.conns = append(w.conns, lc)
		if id == 0 {
			if parts, err = lc.ReadPartitions(topic); err != nil {
				b.Fatalf("partitions of %s: %v", topic, err)
			}
			slices.SortFunc(parts, func(x, y kafka.Partition) int { return x.ID - y.ID })
		}
	}
	return w
}

// size is the sum of the partitions' end offsets (the records ever
// written; the benchmark topics are never trimmed).
func (w *topicWatch) size() int64 {
	var n int64
	for _, c := range w.conns {
		last, err := c.ReadLastOffset()
		if err != nil {
			w.b.Fatalf("end offset of %s: %v", w.topic, err)
		}
		n += last
	}
	return n
}

// wait polls every 5 ms until the topic holds n records, and returns when
// it first grew.
func (w *topicWatch) wait(n int64, within time.Duration) (first time.Time) {
	deadline := time.Now().Add(within)
	base := w.size()
	for {
		size := w.size()
		if first.IsZero() && size > base {
			first = time.Now()
		}
		if size >= n {
			if first.IsZero() {
				first = time.Now()
			}
			return first
		}
		if time.Now().After(deadline) {
			w.b.Fatalf("%s has %d records after %s, want %d", w.topic, size, within, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sampleRecordSize is the average key plus value size of the last records
// (up to 500) of the topic's first partition.
func sampleRecordSize(b *testing.B, topic string) float64 {
	b.Helper()
	lc, err := kafka.DialLeader(context.Background(), "tcp", testenv.KafkaBroker(), topic, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer lc.Close()
	first, last, err := lc.ReadOffsets()
	if err != nil || last <= first {
		b.Fatalf("%s[0] holds no records (%d..%d): %v", topic, first, last, err)
	}
	from := max(first, last-500)
	if _, err := lc.Seek(from, kafka.SeekAbsolute); err != nil {
		b.Fatal(err)
	}
	lc.SetReadDeadline(time.Now().Add(time.Minute))
	var bytes, n int
	for n < int(last-from) {
		batch := lc.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: 8 << 20, MaxWait: time.Second})
		for {
			m, err := batch.ReadMessage()
			if err != nil {
				break
			}
			if m.Offset >= from && m.Offset < last {
				bytes += len(m.Key) + len(m.Value)
				n++
			}
		}
		if err := batch.Close(); err != nil {
			b.Fatalf("read %s[0]: %v", topic, err)
		}
		if _, err := lc.Seek(from+int64(n), kafka.SeekAbsolute); err != nil {
			b.Fatal(err)
		}
	}
	return float64(bytes) / float64(n)
}

// deleteTopics removes benchmark topics, so that repeated runs do not fill
// the local broker's disk.
func deleteTopics(b *testing.B, topics ...string) {
	b.Helper()
	cl := &kafka.Client{Addr: kafka.TCP(testenv.KafkaBroker()), Timeout: 30 * time.Second}
	res, err := cl.DeleteTopics(context.Background(), &kafka.DeleteTopicsRequest{Topics: topics})
	if err != nil {
		b.Fatalf("delete topics %v: %v", topics, err)
	}
	for t, err := range res.Errors {
		if err != nil {
			b.Fatalf("delete topic %s: %v", t, err)
		}
	}
}

// captureWorkloads are the sub-benchmarks of the capture benchmarks and
// of their raw limits, with their tables.
var captureWorkloads = []struct {
	name, table string
	w           benchWorkload
}{
	{"BulkInsert", "bench_cap_bulk", bulkInsert},
	{"SmallTx", "bench_cap_small", smallTx},
	{"Update", "bench_cap_update", updateRows},
}

// eachWorkload runs f as one sub-benchmark per capture workload.
func eachWorkload(b *testing.B, f func(b *testing.B, table string, w benchWorkload)) {
	for _, c := range captureWorkloads {
		b.Run(c.name, func(b *testing.B) { f(b, c.table, c.w) })
	}
}

// BenchmarkCapturePostgres: PostgreSQL capture to Kafka (Avro), row
// events/s, from the capture's start until Kafka holds every row. Table:
// int8 key, varchar(40), numeric(12,2), timestamptz, bool, int4, text of
// 60 characters, date; about 110 bytes a row. BulkInsert:
// TANDEM_BENCH_ROWS inserts in transactions of 1,000 rows. SmallTx:
// TANDEM_BENCH_SMALLTX_ROWS inserts in transactions of 1 to 5 rows (3 on
// average), committed by a procedure. Update: TANDEM_BENCH_ROWS existing
// rows each updated once (name, qty, at) in transactions of 1,000;
// replica identity default, so the log holds the new row only.
func BenchmarkCapturePostgres(b *testing.B) {
	eachWorkload(b, func(b *testing.B, table string, w benchWorkload) { benchCapture(b, pgSource, table, w) })
}

// BenchmarkCaptureMariaDB: MariaDB capture to Kafka (Avro), row events/s;
// the workloads of BenchmarkCapturePostgres on the same columns (BIGINT,
// VARCHAR(40), DECIMAL(12,2), TIMESTAMP(6), BOOL, INT, TEXT, DATE), from
// the binlog in ROW format with full row images (an update holds the row
// before and after).
func BenchmarkCaptureMariaDB(b *testing.B) {
	eachWorkload(b, func(b *testing.B, table string, w benchWorkload) { benchCapture(b, mySource, table, w) })
}
