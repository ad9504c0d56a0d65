//go:build integration

package main

import (
	"fmt"
	"testing"
	"time"
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
