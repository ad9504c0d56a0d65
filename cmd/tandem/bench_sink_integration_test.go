//go:build integration

package main

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/internal/testenv"
	"github.com/tandem-sync/tandem/mapping"
	"github.com/tandem-sync/tandem/schema"
)

// seqPos is a source position for generated events: a counter.
type seqPos uint64

func (p seqPos) String() string { return fmt.Sprintf("bench:%d", uint64(p)) }
func (p seqPos) Key() []byte    { return binary.BigEndian.AppendUint64(nil, uint64(p)) }

// sinkRows is the workload size of the sink benchmarks and their limits:
// TANDEM_BENCH_SINK_ROWS (default 20,000) new customers, in source
// transactions of 100.
func sinkRows(b *testing.B) int { return benchEnvInt(b, "TANDEM_BENCH_SINK_ROWS", 20_000) }

// benchCustomer is customer i of the sink workload: email (24 characters),
// first and last name, phone, external id, company flag (every 7th) and
// creation time.
type benchCustomer struct {
	email, first, last, phone, ref string
	company                        bool
	created                        time.Time
}

func newBenchCustomer(i int) benchCustomer {
	return benchCustomer{email: fmt.Sprintf("customer%06d@example.com", i), first: "First", last: fmt.Sprintf("Last %d", i),
		phone: "+49 30 1234567", ref: fmt.Sprint(i), company: i%7 == 0, created: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// The sink benchmarks' target tables, in PostgreSQL and in MariaDB; %s is
// the table.
const (
	benchPartnerPG = `CREATE TABLE %s (id serial PRIMARY KEY, email text UNIQUE, first_name text, last_name text, phone text, ref text,
		is_company bool, created_at timestamp)`
	benchPartnerMy = `CREATE TABLE %s (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(100) UNIQUE, first_name VARCHAR(100),
		last_name VARCHAR(100), phone VARCHAR(40), ref VARCHAR(40), is_company BOOL, created_at DATETIME(6))`
)

// preloadCustomers writes the workload (n customers), Avro-encoded as a
// capture would, to the customer topic of system src.
func preloadCustomers(b *testing.B, src string, n int) {
	b.Helper()
	ctx := context.Background()
	rc := schema.DefaultRegistry()
	rc.URL = testenv.RegistryURL()
	ser, err := schema.NewSerializer(schema.NewRegistry(rc), schema.SerializerOptions{System: src, Connector: "mysql", Database: "bench", TopicPrefix: "tandem"})
	if err != nil {
		b.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(testenv.KafkaBroker()), RequiredAcks: kafka.RequireAll, BatchSize: 1000, BatchTimeout: 5 * time.Millisecond,
		Balancer: &kafka.Hash{}, AllowAutoTopicCreation: true}
	defer w.Close()
	var msgs []kafka.Message
	for i := range n {
		c := newBenchCustomer(i)
		tx := &capture.TxBegin{ID: fmt.Sprint(i / 100), Position: seqPos(i / 100), CommitTime: c.created}
		rec, err := ser.Entity(ctx, tx, &schema.EntityEvent{Entity: "customer", Op: capture.OpInsert, Seq: uint64(i % 100),
			Values: map[string]any{"email": c.email, "first_name": c.first, "last_name": c.last,
				"phone": c.phone, "external_id": c.ref, "is_company": c.company, "created_at": c.created},
			Changed: []string{"created_at", "email", "external_id", "first_name", "is_company", "last_name", "phone"}})
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Topic: rec.Topic, Key: rec.Key, Value: rec.Value})
	}
	for i := 0; i < len(msgs); i += 1000 {
		if err := w.WriteMessages(ctx, msgs[i:min(i+1000, len(msgs))]...); err != nil {
			b.Fatal(err)
		}
	}
}

// benchSink measures sink apply throughput in rows per second: the
// workload is preloaded on Kafka, then a sink starts from the beginning
// and the clock runs until the target holds every row.
func benchSink(b *testing.B, target func(src, dst string) (cfg string, count func() int)) {
	rows := sinkRows(b)
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		src, dst := uniqueSystem("bsrc"), uniqueSystem("bdst")
		cleanupOrigins(b, dst)
		kc := mapping.Default().Kafka
		kc.Brokers, kc.Partitions = []string{testenv.KafkaBroker()}, 3
		if err := kc.EnsureTopics(context.Background(), nil, "tandem."+src+".customer"); err != nil {
			b.Fatal(err)
		}
		preloadCustomers(b, src, rows)
		cfgText, count := target(src, dst)
		cfg, err := mapping.Load("bench.yaml", []byte(cfgText), config.Env{Lookup: os.LookupEnv})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		b.StartTimer()
		start := time.Now()
		go func() {
			done <- runSystems(ctx, cfg, []string{dst}, runOptions{log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
				drain: time.Second, role: roleSink})
		}()
		deadline := time.Now().Add(5 * time.Minute)
		for count() < rows {
			if time.Now().After(deadline) {
				b.Fatalf("the target has %d of %d rows after 5 minutes", count(), rows)
			}
			time.Sleep(20 * time.Millisecond) // count(*) is not free: poll no more often
		}
		total += time.Since(start)
		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows*b.N)/total.Seconds(), "rows/s")
	b.ReportMetric(0, "ns/op")
}

// sinkBenchConfig is the config of a sink benchmark: src (never run) sends
// customers to dst.
func sinkBenchConfig(src, dstSystem, dstEntity string) string {
	return "systems:\n" + fmt.Sprintf("  %s:\n    kind: mysql\n    dsn: \"u:p@tcp(127.0.0.1:1)/none\"\n    capture: {server_id: 9}\n", src) +
		`    entities:
      customer:
        table: none.customer
        id: id
        fields: {email: email}
` + dstSystem + dstEntity + fmt.Sprintf(`ownership: {customer: {owner: %[1]s}}
flows: [{entity: customer, from: %[1]s, to: %[2]s}]
`, src, "DST") + stackTail()
}

const benchCustomerEntity = `    entities:
      customer:
        table: %s
        id: id
        fields:
          email: email
          first_name: first_name
          last_name: last_name
          phone: phone
          external_id: ref
          is_company: is_company
          created_at: {column: created_at, timezone: UTC}
`

// BenchmarkSinkApplyPostgres: sink apply into PostgreSQL, rows/s.
// Workload: TANDEM_BENCH_SINK_ROWS new customers (Avro entity events on a
// topic of 3 partitions, preloaded; source transactions of 100) inserted
// into an 8-column table (serial key, unique email, 4 short texts, bool,
// timestamp; about 80 bytes a row). The clock runs from the sink's start
// until the table holds every row.
func BenchmarkSinkApplyPostgres(b *testing.B) {
	conn := pgConn(b)
	benchSink(b, func(src, dst string) (string, func() int) {
		mustExec(b, conn, `DROP TABLE IF EXISTS bench_partner`, fmt.Sprintf(benchPartnerPG, "bench_partner"))
		cfg := sinkBenchConfig(src, pgSystem(dst, ""), fmt.Sprintf(benchCustomerEntity, "public.bench_partner"))
		return replaceDst(cfg, dst), func() int { return pgCount(b, conn, "bench_partner") }
	})
}

// BenchmarkSinkApplyMariaDB: sink apply into MariaDB, rows/s. Workload: as
// BenchmarkSinkApplyPostgres, into the same table shape (BIGINT
// AUTO_INCREMENT key, unique VARCHAR email, DATETIME(6)).
func BenchmarkSinkApplyMariaDB(b *testing.B) {
	db := myDB(b)
	benchSink(b, func(src, dst string) (string, func() int) {
		myMust(b, db, `DROP TABLE IF EXISTS tandem.bench_partner`, fmt.Sprintf(benchPartnerMy, "tandem.bench_partner"))
		cfg := sinkBenchConfig(src, mysqlSystem(dst, nil, ""), fmt.Sprintf(benchCustomerEntity, "tandem.bench_partner"))
		return replaceDst(cfg, dst), func() int { return myCount(b, db, "tandem.bench_partner") }
	})
}

func replaceDst(cfg, dst string) string {
	return strings.ReplaceAll(cfg, "DST", dst)
}

func pgCount(b testing.TB, conn *pgx.Conn, table string) int {
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

func myCount(b testing.TB, db *sql.DB, table string) int {
	var n int
	if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}
