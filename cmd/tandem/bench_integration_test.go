//go:build integration

package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/tandem-sync/tandem/internal/testenv"
)

// benchSource prepares one source database for benchCapture.
type benchSource struct {
	// setup creates an empty table and returns the config capturing it
	// and its topic.
	setup func(system string) (cfg, topic string)
	// warm inserts the one row that proves the capture streams; settled
	// waits, after it arrived, until the capture has stored its position.
	warm    func()
	settled func(system string)
	// load inserts rows from..to in one transaction.
	load func(from, to int)
}

// benchCapture measures capture throughput into Kafka, Avro-encoded, in row
// events per second: rowsPerRun rows are inserted in transactions of 1,000
// while the capture is stopped, so the log holds a backlog; then the
// capture starts and the clock runs until Kafka holds every row. Setup is
// outside the measured time.
func benchCapture(b *testing.B, prefix string, src benchSource) {
	const rowsPerRun = 200_000
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		system := uniqueSystem(prefix)
		cfg, topic := src.setup(system)
		stop := startRun(b, cfg) // creates the slot or position, and the topics
		src.warm()
		waitRecords(b, topic, 1, time.Minute)
		src.settled(system)
		if err := stop(); err != nil {
			b.Fatal(err)
		}
		for j := 0; j < rowsPerRun; j += 1000 {
			src.load(j+1, j+1000)
		}
		b.StartTimer()
		start := time.Now()
		stop = startRun(b, cfg)
		waitRecords(b, topic, rowsPerRun+1, 5*time.Minute)
		total += time.Since(start)
		b.StopTimer()
		if err := stop(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rowsPerRun*b.N)/total.Seconds(), "rows/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkCapturePostgresBulkInsert: PostgreSQL capture throughput.
// Workload: a table of 8 mixed-type columns (int8 key, varchar(40),
// numeric(12,2), timestamptz, bool, int4, text of 60 characters, date).
func BenchmarkCapturePostgresBulkInsert(b *testing.B) {
	conn := pgConn(b)
	benchCapture(b, "bench", benchSource{
		setup: func(system string) (string, string) {
			cleanupSystem(b, conn, system)
			mustExec(b, conn, `DROP TABLE IF EXISTS bench_bulk`,
				`CREATE TABLE bench_bulk (id int8 PRIMARY KEY, name varchar(40), price numeric(12,2), at timestamptz,
					active bool, qty int4, note text, day date)`)
			return captureConfig(system, []string{"public.bench_bulk"}, ""), "tandem." + system + ".public.bench_bulk"
		},
		warm: func() {
			mustExec(b, conn, `INSERT INTO bench_bulk VALUES (0, 'warm', 1, now(), true, 1, 'n', current_date)`)
		},
		settled: func(system string) { waitStreaming(b, conn, system) },
		load: func(from, to int) {
			mustExec(b, conn, fmt.Sprintf(`INSERT INTO bench_bulk SELECT g, 'product name '||g, (g %% 100000) * 1.25, now(), g %% 2 = 0,
				g %% 1000, repeat('x', 60), current_date FROM generate_series(%d, %d) g`, from, to))
		},
	})
}

// BenchmarkCaptureMariaDBBulkInsert is the same workload from MariaDB's
// binlog.
func BenchmarkCaptureMariaDBBulkInsert(b *testing.B) {
	db := myDB(b)
	benchCapture(b, "mybench", benchSource{
		setup: func(system string) (string, string) {
			myMust(b, db, `DROP TABLE IF EXISTS tandem.bench_bulk`,
				`CREATE TABLE tandem.bench_bulk (id BIGINT PRIMARY KEY, name VARCHAR(40), price DECIMAL(12,2), at TIMESTAMP(6),
					active BOOL, qty INT, note TEXT, day DATE)`)
			return mysqlConfig(system, testenv.MySQLDSN(), []string{"tandem.bench_bulk"}, ""), "tandem." + system + ".tandem.bench_bulk"
		},
		warm: func() {
			myMust(b, db, `INSERT INTO tandem.bench_bulk VALUES (0, 'warm', 1, NOW(6), true, 1, 'n', CURDATE())`)
		},
		settled: func(string) { time.Sleep(1500 * time.Millisecond) }, // the position is saved (every second)
		load: func(from, to int) {
			myMust(b, db, fmt.Sprintf(`INSERT INTO tandem.bench_bulk SELECT seq, CONCAT('product name ', seq), (seq %% 100000) * 1.25,
				NOW(6), seq %% 2 = 0, seq %% 1000, REPEAT('x', 60), CURDATE() FROM seq_%d_to_%d`, from, to))
		},
	})
}
