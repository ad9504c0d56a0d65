//go:build integration

package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tandem-sync/tandem/internal/testenv"
)

// End-to-end latency and memory of a "tandem run" subprocess (the built
// binary, as in production) that syncs both ways between the shop
// (MariaDB) and the ERP (PostgreSQL):
//
//   - entity lat_shop: table bench_lat_shop, written in the shop, applied
//     to the ERP's bench_lat_shop;
//   - entity lat_erp: table bench_lat_erp, written in the ERP, applied to
//     the shop's bench_lat_erp.
//
// Each generated transaction inserts one row carrying a sequence number
// into the source table, and the client records the time its COMMIT
// returned. On the target, an AFTER INSERT trigger writes (seq, the
// database clock) into <table>_arr, which no flow reads; the latency of a
// row is that time minus its commit time (one machine, one clock). The
// trigger runs inside the sink's transaction, just before its commit: a
// batch's rows are stamped when they are written, so a large batch's
// commit comes slightly later than its first rows' stamps.
//
// The load is open-loop: transaction i of a direction is due at
// start + i/rate whether or not earlier ones are done, issued by a pool of
// connections; a slow source shows as generator lag (commit minus due
// time, reported as gen-lag-p99-ms), a slow tandem as latency.
//
// tandem runs with the default settings (kafka.partitions 6, sink and
// producer defaults). To try others: TANDEM_BENCH_E2E_SINK sets both
// systems' sink options (e.g. "{connections: 6}"), TANDEM_BENCH_E2E_KAFKA
// replaces "partitions: 6" in the kafka options (e.g. "partitions: 6,
// producer: {linger: 0s}"), and TANDEM_BENCH_E2E_TRACE=1 also splits the
// latency at Kafka (to-kafka-p50-ms, to-kafka-p99-ms). Each run logs
// tandem's CPU use, peak RSS, and its sink transactions and produce
// requests.

// benchLatencySeconds is how long each load runs: TANDEM_BENCH_LATENCY_SECONDS,
// 10 by default.
func benchLatencySeconds(b *testing.B) time.Duration {
	s := os.Getenv("TANDEM_BENCH_LATENCY_SECONDS")
	if s == "" {
		return 10 * time.Second
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		b.Fatalf("TANDEM_BENCH_LATENCY_SECONDS=%q: want a positive number of seconds", s)
	}
	return time.Duration(n * float64(time.Second))
}

// latSide is one database of the rig.
type latSide struct {
	system, kind, driver, schema, dsn string
	db                                *sql.DB
}

func openLatSide(b *testing.B, system, kind string) *latSide {
	s := &latSide{system: system, kind: kind, driver: "pgx", schema: "public", dsn: testenv.PostgresDSN()}
	if kind == "mysql" {
		s.driver, s.schema, s.dsn = "mysql", "tandem", testenv.MySQLDSN()
	}
	s.db = openLatDB(b, s.driver, s.dsn, 4)
	return s
}

func openLatDB(b *testing.B, driver, dsn string, conns int) *sql.DB {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	b.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		b.Fatalf("connect to %s (is the stack up? make up): %v", driver, err)
	}
	return db
}

func (s *latSide) exec(b *testing.B, stmts ...string) {
	b.Helper()
	for _, q := range stmts {
		if _, err := s.db.Exec(q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
}

// createTable makes table (id, seq, note) and, on a target, its arrival
// table and trigger; the benchmark's end drops them.
func (s *latSide) createTable(b *testing.B, table string, target bool) {
	b.Helper()
	q, arr := s.schema+"."+table, s.schema+"."+table+"_arr"
	if s.kind == "mysql" {
		drop := `DROP TABLE IF EXISTS ` + q + `, ` + arr
		s.exec(b, drop, `CREATE TABLE `+q+` (id BIGINT AUTO_INCREMENT PRIMARY KEY, seq BIGINT NOT NULL, note VARCHAR(100), UNIQUE KEY seq (seq))`)
		b.Cleanup(func() { s.db.Exec(drop) })
		if target {
			// SYSDATE, not NOW: NOW is the statement's start.
			s.exec(b, `CREATE TABLE `+arr+` (seq BIGINT PRIMARY KEY, at_us BIGINT NOT NULL)`,
				`CREATE TRIGGER `+q+`_arrive AFTER INSERT ON `+q+` FOR EACH ROW INSERT INTO `+arr+
					` VALUES (NEW.seq, CAST(UNIX_TIMESTAMP(SYSDATE(6)) * 1000000 AS SIGNED))`)
		}
		return
	}
	fn := q + "_arrive"
	drop := []string{`DROP TABLE IF EXISTS ` + q + `, ` + arr + ` CASCADE`, `DROP FUNCTION IF EXISTS ` + fn + `()`}
	s.exec(b, drop...)
	s.exec(b, `CREATE TABLE `+q+` (id bigserial PRIMARY KEY, seq bigint NOT NULL UNIQUE, note varchar(100))`)
	b.Cleanup(func() {
		for _, d := range drop {
			s.db.Exec(d)
		}
	})
	if target {
		s.exec(b, `CREATE TABLE `+arr+` (seq bigint PRIMARY KEY, at_us bigint NOT NULL)`,
			`CREATE FUNCTION `+fn+`() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN
				INSERT INTO `+arr+` VALUES (NEW.seq, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint); RETURN NULL; END$$`,
			`CREATE TRIGGER arrive AFTER INSERT ON `+q+` FOR EACH ROW EXECUTE FUNCTION `+fn+`()`)
	}
}

// insertSQL inserts one row (seq, note) into table.
func (s *latSide) insertSQL(table string) string {
	if s.kind == "mysql" {
		return `INSERT INTO ` + s.schema + `.` + table + ` (seq, note) VALUES (?, ?)`
	}
	return `INSERT INTO ` + s.schema + `.` + table + ` (seq, note) VALUES ($1, $2)`
}

// latEntities maps both entities on a side.
func latEntities(schema string) string {
	return fmt.Sprintf(`    entities:
      lat_shop:
        table: %[1]s.bench_lat_shop
        id: id
        fields: {seq: seq, note: note}
      lat_erp:
        table: %[1]s.bench_lat_erp
        id: id
        fields: {seq: seq, note: note}
`, schema)
}

// latDir is one direction: entity's table, written in src, applied to dst.
type latDir struct {
	name, entity, table string
	src, dst            *latSide
	// by sequence number - 1, in unix microseconds, for the last load
	due, commit []int64
}

// latRig is the two databases, the tables, and tandem run syncing them.
type latRig struct {
	shop, erp *latSide
	dirs      []*latDir
	run       *benchRun
	metrics   string // its http.listen
}

// startLatRig makes the tables, starts tandem run with both flows, and
// waits until rows go through both ways.
func startLatRig(b *testing.B, bin string) *latRig {
	b.Helper()
	r := &latRig{shop: openLatSide(b, uniqueSystem("blshop"), "mysql"), erp: openLatSide(b, uniqueSystem("blerp"), "postgres")}
	pg := pgConn(b)
	cleanupSystem(b, pg, r.erp.system)
	cleanupOrigins(b, r.erp.system)
	for _, s := range []*latSide{r.shop, r.erp} {
		consumer := "tandem-sink-" + s.system
		b.Cleanup(func() { s.db.Exec("DELETE FROM tandem_checkpoint WHERE consumer = '" + consumer + "'") })
	}
	r.dirs = []*latDir{
		{name: "shop-erp", entity: "lat_shop", table: "bench_lat_shop", src: r.shop, dst: r.erp},
		{name: "erp-shop", entity: "lat_erp", table: "bench_lat_erp", src: r.erp, dst: r.shop},
	}
	for _, d := range r.dirs {
		d.src.createTable(b, d.table, false)
		d.dst.createTable(b, d.table, true)
	}
	// The defaults, unless TANDEM_BENCH_E2E_SINK (e.g. "{batch_events:
	// 50}") sets both systems' sink options, or TANDEM_BENCH_E2E_KAFKA
	// replaces "partitions: 6" in kafka: {...} (e.g. "partitions: 3,
	// producer: {linger: 0s}"), to try other settings.
	var sinkOpts string
	if v := os.Getenv("TANDEM_BENCH_E2E_SINK"); v != "" {
		sinkOpts = "    sink: " + v + "\n"
	}
	r.metrics = freeAddr(b)
	tail := strings.Replace(stackTail(6), `http: {listen: ""}`, fmt.Sprintf("http: {listen: %q}", r.metrics), 1)
	if v := os.Getenv("TANDEM_BENCH_E2E_KAFKA"); v != "" {
		tail = strings.Replace(tail, "partitions: 6}", v+"}", 1)
	}
	cfg := "systems:\n" + mysqlSystem(r.shop.system, nil, sinkOpts+latEntities("tandem")) + pgSystem(r.erp.system, sinkOpts+latEntities("public")) +
		fmt.Sprintf(`entities:
  lat_shop: {key: [seq], fields: {seq: {type: long, required: true}, note: {type: string}}}
  lat_erp: {key: [seq], fields: {seq: {type: long, required: true}, note: {type: string}}}
ownership:
  lat_shop: {owner: %[1]s}
  lat_erp: {owner: %[2]s}
flows:
  - {entity: lat_shop, from: %[1]s, to: %[2]s}
  - {entity: lat_erp, from: %[2]s, to: %[1]s}
`, r.shop.system, r.erp.system) + tail
	r.run = startBenchRun(b, bin, cfg)
	// Warm-up rows (sequence numbers 0 and below), in two rounds: the
	// first may come through a capture's initial snapshot; the second
	// comes through the streams, into sinks that have their partitions.
	for round, seqs := range [][]int64{{0}, {-1, -2, -3, -4, -5, -6}} {
		for _, d := range r.dirs {
			for _, seq := range seqs {
				if _, err := d.src.db.Exec(d.src.insertSQL(d.table), seq, "warm-up"); err != nil {
					b.Fatal(err)
				}
			}
		}
		for _, d := range r.dirs {
			r.waitArrived(b, d, "seq <= 0", 1+round*len(seqs), 2*time.Minute)
		}
	}
	return r
}

// arrived counts the rows of d's arrival table that match where.
func (d *latDir) arrived(b *testing.B, where string) int {
	var n int
	if err := d.dst.db.QueryRow(`SELECT count(*) FROM ` + d.dst.schema + `.` + d.table + `_arr WHERE ` + where).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// waitArrived waits until d's arrival table holds want rows matching where.
func (r *latRig) waitArrived(b *testing.B, d *latDir, where string, want int, within time.Duration) {
	b.Helper()
	r.run.waitCount(b, fmt.Sprintf("%s: rows (%s) arrived", d.name, where), int64(want), within, func() int64 { return int64(d.arrived(b, where)) })
}

// latTrace, with TANDEM_BENCH_E2E_TRACE=1, also reads the entity topics
// from the test and records when each row's event could be read from
// Kafka, which splits the latency into capture (commit to Kafka) and sink
// (Kafka to the target's write). It costs CPU that tandem then lacks.
type latTrace struct {
	mu      sync.Mutex
	seen    map[string]map[int64]int64 // direction -> seq -> unix µs
	readers []*kafka.Reader
	wg      sync.WaitGroup
}

func startTrace(b *testing.B, dirs []*latDir) *latTrace {
	b.Helper()
	if os.Getenv("TANDEM_BENCH_E2E_TRACE") != "1" {
		return nil
	}
	tr := &latTrace{seen: map[string]map[int64]int64{}}
	dec := decoder()
	conn, err := kafka.Dial("tcp", testenv.KafkaBroker())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	for _, d := range dirs {
		topic := "tandem." + d.src.system + "." + d.entity
		parts, err := conn.ReadPartitions(topic)
		if err != nil {
			b.Fatal(err)
		}
		seen := map[int64]int64{}
		tr.seen[d.name] = seen
		for _, p := range parts {
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{testenv.KafkaBroker()}, Topic: topic, Partition: p.ID, MinBytes: 1, MaxBytes: 4 << 20, MaxWait: 100 * time.Millisecond})
			if err := r.SetOffset(kafka.LastOffset); err != nil {
				b.Fatal(err)
			}
			tr.readers = append(tr.readers, r)
			tr.wg.Add(1)
			go func() {
				defer tr.wg.Done()
				for {
					m, err := r.ReadMessage(context.Background())
					if err != nil {
						return
					}
					at := time.Now().UnixMicro()
					ev, _, err := dec.Decode(context.Background(), m.Value)
					if after, _ := ev["after"].(map[string]any); err == nil && after != nil {
						seq, _ := after["seq"].(int64)
						tr.mu.Lock()
						seen[seq] = at
						tr.mu.Unlock()
					}
				}
			}()
		}
	}
	return tr
}

// stop ends the readers and returns, per direction, the time from commit
// to Kafka of each row (ms).
func (tr *latTrace) stop(dirs []*latDir) map[string][]float64 {
	for _, r := range tr.readers {
		r.Close()
	}
	tr.wg.Wait()
	out := map[string][]float64{}
	for _, d := range dirs {
		for seq, at := range tr.seen[d.name] {
			if seq > 0 {
				out[d.name] = append(out[d.name], float64(at-d.commit[seq-1])/1000)
			}
		}
	}
	return out
}

// latResult is what one load measured.
type latResult struct {
	toKafka map[string][]float64 // with the trace: commit to Kafka in ms by direction
	lat     map[string][]float64 // latency in ms by direction
	lag     []float64            // generator lag in ms (commit - due)
	txs     int
	elapsed time.Duration // from the start to the last commit
}

// load runs rate transactions a second, half in each direction, for dur,
// waits until every row arrived, and returns the latencies.
func (r *latRig) load(b *testing.B, rate int, dur time.Duration) latResult {
	b.Helper()
	perDir := float64(rate) / float64(len(r.dirs))
	n := int(perDir * dur.Seconds())
	workers := min(max(int(perDir/50), 4), 32)
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	tr := startTrace(b, r.dirs)
	cpu := r.run.cpuSeconds()
	start := time.Now().Add(100 * time.Millisecond)
	for _, d := range r.dirs {
		d.due, d.commit = make([]int64, n), make([]int64, n)
		db := openLatDB(b, d.src.driver, d.src.dsn, workers)
		stmt, err := db.Prepare(d.src.insertSQL(d.table))
		if err != nil {
			b.Fatal(err)
		}
		var next atomic.Int64
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for failed.Load() == nil {
					i := int(next.Add(1)) - 1
					if i >= n {
						return
					}
					due := start.Add(time.Duration(float64(i) / perDir * float64(time.Second)))
					time.Sleep(time.Until(due))
					if _, err := stmt.Exec(i+1, "latency probe "+strconv.Itoa(i+1)); err != nil {
						err = fmt.Errorf("%s: insert %d: %w", d.name, i+1, err)
						failed.CompareAndSwap(nil, &err)
						return
					}
					d.commit[i], d.due[i] = time.Now().UnixMicro(), due.UnixMicro()
				}
			}()
		}
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	res := latResult{lat: map[string][]float64{}}
	var last int64
	for _, d := range r.dirs {
		r.waitArrived(b, d, "seq > 0", n, time.Minute+dur)
		rows, err := d.dst.db.Query(`SELECT seq, at_us FROM ` + d.dst.schema + `.` + d.table + `_arr WHERE seq > 0`)
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			var seq, at int64
			if err := rows.Scan(&seq, &at); err != nil {
				b.Fatal(err)
			}
			res.lat[d.name] = append(res.lat[d.name], float64(at-d.commit[seq-1])/1000)
		}
		if err := rows.Close(); err != nil {
			b.Fatal(err)
		}
		for i := range n {
			res.lag = append(res.lag, float64(d.commit[i]-d.due[i])/1000)
			last = max(last, d.commit[i])
		}
		res.txs += n
	}
	res.elapsed = time.UnixMicro(last).Sub(start)
	if tr != nil {
		res.toKafka = tr.stop(r.dirs)
	}
	b.Logf("rate %d: tandem run used %.0f%% of a core from the start of the load until every row arrived (%s), peak RSS %.0f MB; %s",
		rate, 100*(r.run.cpuSeconds()-cpu)/time.Since(start).Seconds(), time.Since(start).Round(100*time.Millisecond), r.run.peakRSS(b), r.batches())
	return res
}

// batches sums up tandem run's batches so far (warm-up included): the
// sinks' target transactions and the publishers' produce requests.
func (r *latRig) batches() string {
	sinks := scrapeSums(r.metrics, "sink", "tandem_sink_batch_seconds_", "tandem_sink_events_total")
	pubs := scrapeSums(r.metrics, "system", "tandem_publish_batch_records_")
	var out []string
	for _, s := range []*latSide{r.erp, r.shop} {
		n := sinks["tandem_sink_batch_seconds_count"][s.system]
		out = append(out, fmt.Sprintf("sink into %s: %.0f transactions of %.1f events and %.1f ms on average", s.kind, n,
			sinks["tandem_sink_events_total"][s.system]/n, 1000*sinks["tandem_sink_batch_seconds_sum"][s.system]/n))
		n = pubs["tandem_publish_batch_records_count"][s.system]
		out = append(out, fmt.Sprintf("capture of %s: %.0f produce requests of %.1f records on average", s.kind, n,
			pubs["tandem_publish_batch_records_sum"][s.system]/n))
	}
	return strings.Join(out, "; ")
}

// BenchmarkE2ELatency: latency from commit in the source to the row being
// written in the target, both ways between the shop (MariaDB) and the ERP
// (PostgreSQL), under an open-loop load of rate one-row transactions a
// second (half in each direction) for TANDEM_BENCH_LATENCY_SECONDS. Each
// rate gets a fresh tandem run with the default sink and producer settings.
func BenchmarkE2ELatency(b *testing.B) {
	bin := buildTandem(b)
	dur := benchLatencySeconds(b)
	for _, rate := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			all := map[string][]float64{}
			var lag, toKafka []float64
			var txs int
			var elapsed time.Duration
			for range b.N {
				r := startLatRig(b, bin)
				res := r.load(b, rate, dur)
				r.run.stop(b)
				for _, v := range res.toKafka {
					toKafka = append(toKafka, v...)
				}
				for k, v := range res.lat {
					all[k] = append(all[k], v...)
					all[""] = append(all[""], v...)
				}
				lag, txs, elapsed = append(lag, res.lag...), txs+res.txs, elapsed+res.elapsed
			}
			for _, dir := range []string{"", "shop-erp", "erp-shop"} {
				p := percentiles(all[dir], 50, 95, 99, 100)
				unit := dir + "-"
				if dir == "" {
					unit = ""
					b.ReportMetric(p[3], "max-ms")
				}
				b.ReportMetric(p[0], unit+"p50-ms")
				b.ReportMetric(p[1], unit+"p95-ms")
				b.ReportMetric(p[2], unit+"p99-ms")
			}
			b.ReportMetric(percentiles(lag, 99)[0], "gen-lag-p99-ms")
			if len(toKafka) > 0 {
				p := percentiles(toKafka, 50, 99)
				b.ReportMetric(p[0], "to-kafka-p50-ms")
				b.ReportMetric(p[1], "to-kafka-p99-ms")
			}
			b.ReportMetric(float64(txs)/elapsed.Seconds(), "achieved-tx/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkMemoryRSS: the peak resident set size (VmHWM) of a tandem run
// subprocess. steady: syncing both ways under the 1,000 tx/s load of
// BenchmarkE2ELatency for TANDEM_BENCH_LATENCY_SECONDS. tx1M: capturing
// and publishing one PostgreSQL transaction of 1,000,000 rows (a narrow
// table), with the default producer settings; rows/s is from its commit to
// the last row on Kafka (the capture receives the rows of a large
// transaction while it runs, and spools them until its commit).
func BenchmarkMemoryRSS(b *testing.B) {
	bin := buildTandem(b)
	b.Run("steady", func(b *testing.B) {
		var peak float64
		var txs int
		var elapsed time.Duration
		for range b.N {
			r := startLatRig(b, bin)
			res := r.load(b, 1000, benchLatencySeconds(b))
			peak = max(peak, r.run.peakRSS(b))
			r.run.stop(b)
			txs, elapsed = txs+res.txs, elapsed+res.elapsed
		}
		b.ReportMetric(peak, "peak-rss-MB")
		b.ReportMetric(float64(txs)/elapsed.Seconds(), "achieved-tx/s")
		b.ReportMetric(0, "ns/op")
	})
	b.Run("tx1M", func(b *testing.B) {
		const rows = 1_000_000
		conn := pgConn(b)
		var peak float64
		var took time.Duration
		for range b.N {
			system := uniqueSystem("bmem")
			cleanupSystem(b, conn, system)
			mustExec(b, conn, `DROP TABLE IF EXISTS bench_mem_1m`, `CREATE TABLE bench_mem_1m (id int8 PRIMARY KEY, v int4 NOT NULL)`)
			b.Cleanup(func() { conn.Exec(context.Background(), `DROP TABLE IF EXISTS bench_mem_1m`) })
			topic := "tandem." + system + ".public.bench_mem_1m"
			run := startBenchRun(b, bin, captureConfig(system, []string{"public.bench_mem_1m"}, ""))
			waitStreaming(b, conn, system)
			mustExec(b, conn, `INSERT INTO bench_mem_1m VALUES (0, 0)`)
			waitTopic(b, run, topic, 1, time.Minute)
			b.Logf("peak RSS before the transaction: %.0f MB", run.peakRSS(b))
			began := time.Now()
			mustExec(b, conn, fmt.Sprintf(`INSERT INTO bench_mem_1m SELECT g, g %% 1000 FROM generate_series(1, %d) g`, rows))
			committed := time.Now()
			waitTopic(b, run, topic, rows+1, 5*time.Minute)
			took += time.Since(committed)
			b.Logf("the INSERT took %s; all rows on Kafka %s after its commit", committed.Sub(began).Round(time.Millisecond),
				time.Since(committed).Round(time.Millisecond))
			peak = max(peak, run.peakRSS(b))
			run.stop(b)
		}
		b.ReportMetric(peak, "peak-rss-MB")
		b.ReportMetric(float64(rows*b.N)/took.Seconds(), "rows/s")
		b.ReportMetric(0, "ns/op")
	})
}

// waitTopic waits until topic holds n records.
func waitTopic(b *testing.B, run *benchRun, topic string, n int64, within time.Duration) {
	b.Helper()
	run.waitCount(b, "records on "+topic, n, within, func() int64 { return testenv.TopicSize(b, topic) })
}
