//go:build integration

package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/tandem-sync/tandem/internal/testenv"
)

// BenchmarkCapturePostgresBulkInsert measures PostgreSQL capture throughput
// into Kafka, Avro-encoded, in row events per second.
//
// Workload: a table of 8 mixed-type columns (int8 key, varchar(40),
// numeric(12,2), timestamptz, bool, int4, text of 60 characters, date);
// rowsPerRun rows inserted in transactions of 1,000 rows while the capture
// is stopped, so the WAL holds a backlog. The capture then starts and the
// clock runs until every row is acknowledged by Kafka (the topic holds them
// all). Slot and topic setup are outside the measured time.
func BenchmarkCapturePostgresBulkInsert(b *testing.B) {
	const rowsPerRun = 200_000
	conn := pgConn(b)
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		system := uniqueSystem("bench")
		cleanupSystem(b, conn, system)
		table := "bench_bulk"
		mustExec(b, conn, `DROP TABLE IF EXISTS `+table,
			`CREATE TABLE `+table+` (id int8 PRIMARY KEY, name varchar(40), price numeric(12,2), at timestamptz,
				active bool, qty int4, note text, day date)`)
		cfg := captureConfig(system, []string{"public." + table}, "")
		// first start creates the slot and the topics; stop it again
		stop := startRun(b, cfg)
		waitStreaming(b, conn, system)
		mustExec(b, conn, `INSERT INTO `+table+` VALUES (0, 'warm', 1, now(), true, 1, 'n', current_date)`)
		topic := "tandem." + system + ".public." + table
		waitRecords(b, topic, 1, time.Minute)
		if err := stop(); err != nil {
			b.Fatal(err)
		}
		for j := 0; j < rowsPerRun; j += 1000 {
			mustExec(b, conn, fmt.Sprintf(`INSERT INTO %s SELECT g, 'product name '||g, (g %% 100000) * 1.25, now(), g %% 2 = 0,
				g %% 1000, repeat('x', 60), current_date FROM generate_series(%d, %d) g`, table, j+1, j+1000))
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

// BenchmarkCaptureMariaDBBulkInsert is the same workload as
// BenchmarkCapturePostgresBulkInsert, from MariaDB's binlog.
func BenchmarkCaptureMariaDBBulkInsert(b *testing.B) {
	const rowsPerRun = 200_000
	db := myDB(b)
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		system := uniqueSystem("mybench")
		myMust(b, db, `DROP TABLE IF EXISTS tandem.bench_bulk`,
			`CREATE TABLE tandem.bench_bulk (id BIGINT PRIMARY KEY, name VARCHAR(40), price DECIMAL(12,2), at TIMESTAMP(6),
				active BOOL, qty INT, note TEXT, day DATE)`)
		cfg := mysqlConfig(system, testenv.MySQLDSN(), []string{"tandem.bench_bulk"}, "")
		stop := startRun(b, cfg)
		myMust(b, db, `INSERT INTO tandem.bench_bulk VALUES (0, 'warm', 1, NOW(6), true, 1, 'n', CURDATE())`)
		topic := "tandem." + system + ".tandem.bench_bulk"
		waitRecords(b, topic, 1, time.Minute)
		time.Sleep(1500 * time.Millisecond) // the position is saved
		if err := stop(); err != nil {
			b.Fatal(err)
		}
		for j := 0; j < rowsPerRun; j += 1000 {
			myMust(b, db, fmt.Sprintf(`INSERT INTO tandem.bench_bulk SELECT seq, CONCAT('product name ', seq), (seq %% 100000) * 1.25,
				NOW(6), seq %% 2 = 0, seq %% 1000, REPEAT('x', 60), CURDATE() FROM seq_%d_to_%d`, j+1, j+1000))
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
