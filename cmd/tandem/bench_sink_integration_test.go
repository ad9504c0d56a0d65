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

// sinkBenchEvents is the fixed workload of the sink benchmarks: this many
// new customers (email, first and last name, phone, external id, company
// flag, creation time), in source transactions of 100.
const sinkBenchEvents = 20_000

// preloadCustomers writes the workload, Avro-encoded as a capture would, to
// the customer topic of system src.
func preloadCustomers(b *testing.B, src string) {
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
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	var msgs []kafka.Message
	for i := range sinkBenchEvents {
		tx := &capture.TxBegin{ID: fmt.Sprint(i / 100), Position: seqPos(i / 100), CommitTime: created}
		rec, err := ser.Entity(ctx, tx, &schema.EntityEvent{Entity: "customer", Op: capture.OpInsert, Seq: uint64(i % 100),
			Values: map[string]any{"email": fmt.Sprintf("customer%06d@example.com", i), "first_name": "First", "last_name": fmt.Sprintf("Last %d", i),
				"phone": "+49 30 1234567", "external_id": fmt.Sprint(i), "is_company": i%7 == 0, "created_at": created},
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
		preloadCustomers(b, src)
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
		for count() < sinkBenchEvents {
			if time.Now().After(deadline) {
				b.Fatalf("the target has %d of %d rows after 5 minutes", count(), sinkBenchEvents)
			}
			time.Sleep(20 * time.Millisecond)
		}
		total += time.Since(start)
		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(sinkBenchEvents*b.N)/total.Seconds(), "rows/s")
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

// BenchmarkSinkApplyPostgres: sink apply into PostgreSQL. Workload:
// sinkBenchEvents new customers into a 8-column table with a unique email.
func BenchmarkSinkApplyPostgres(b *testing.B) {
	conn := pgConn(b)
	benchSink(b, func(src, dst string) (string, func() int) {
		mustExec(b, conn, `DROP TABLE IF EXISTS bench_partner`,
			`CREATE TABLE bench_partner (id serial PRIMARY KEY, email text UNIQUE, first_name text, last_name text, phone text, ref text,
				is_company bool, created_at timestamp)`)
		cfg := sinkBenchConfig(src, pgSystem(dst, ""), fmt.Sprintf(benchCustomerEntity, "public.bench_partner"))
		return replaceDst(cfg, dst), func() int { return pgCount(b, conn, "bench_partner") }
	})
}

// BenchmarkSinkApplyMariaDB is the same workload into MariaDB.
func BenchmarkSinkApplyMariaDB(b *testing.B) {
	db := myDB(b)
	benchSink(b, func(src, dst string) (string, func() int) {
		myMust(b, db, `DROP TABLE IF EXISTS tandem.bench_partner`,
			`CREATE TABLE tandem.bench_partner (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(100) UNIQUE, first_name VARCHAR(100),
				last_name VARCHAR(100), phone VARCHAR(40), ref VARCHAR(40), is_company BOOL, created_at DATETIME(6))`)
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
