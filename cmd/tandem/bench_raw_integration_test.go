//go:build integration

package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	gomysqldsn "github.com/go-sql-driver/mysql"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/tandem-sync/tandem/internal/testenv"
	"github.com/tandem-sync/tandem/mapping"
)

// The raw limits: the same workloads as the capture and sink benchmarks,
// read or written by the bare client libraries with nothing of tandem in
// between. The report (bench/report) pairs BenchmarkRawX/W with
// BenchmarkCaptureX/W, BenchmarkRawKafkaProduceX with the capture
// benchmarks of source X, and the COPY and INSERT limits with the sinks.

// rawReader reads a backlog written after mark: mark runs before the load
// and returns read, which counts the table's row events until it has seen
// rows of them.
type rawReader func(b *testing.B, table string) (read func(rows int))

// benchRaw measures a bare log reader on a capture workload: rows/s from
// connecting until it has seen every row of the backlog.
func benchRaw(b *testing.B, dialect func(*testing.B) benchDialect, mark rawReader, table string, w benchWorkload) {
	rows := w.rows(b)
	d := dialect(b)
	var read func(rows int)
	benchTimed(b, rows, func() {
		d.create(table)
		w.prefill(d, table, rows)
		read = mark(b, table)
		w.load(d, table, rows)
	}, func() { read(rows) })
}

// benchTimed runs prepare, untimed, then measured, timed, b.N times, and
// reports rows/s over the measured parts.
func benchTimed(b *testing.B, rows int, prepare, measured func()) {
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		prepare()
		b.StartTimer()
		start := time.Now()
		measured()
		total += time.Since(start)
	}
	b.ReportMetric(float64(rows*b.N)/total.Seconds(), "rows/s")
	b.ReportMetric(0, "ns/op")
}

// pgRawReader creates a publication of the table and a pgoutput slot
// before the load; read streams the slot with the plugin arguments tandem
// uses, decodes every message with pglogrepl, counts inserts and updates,
// discards them, and acks the last commit every 100 ms, when the server
// asks, and at the end.
func pgRawReader(b *testing.B, table string) func(rows int) {
	conn := pgConn(b)
	name := uniqueSystem("bench_raw")
	mustExec(b, conn, fmt.Sprintf(`CREATE PUBLICATION %s FOR TABLE %s`, name, table),
		fmt.Sprintf(`SELECT pg_create_logical_replication_slot('%s', 'pgoutput')`, name))
	b.Cleanup(func() {
		deadline := time.Now().Add(15 * time.Second)
		for {
			_, err := conn.Exec(context.Background(), "SELECT pg_drop_replication_slot($1)", name)
			if err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		conn.Exec(context.Background(), "DROP PUBLICATION IF EXISTS "+name)
	})
	return func(rows int) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		dsn := testenv.PostgresDSN()
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		repl, err := pgconn.Connect(ctx, dsn+sep+"replication=database")
		if err != nil {
			b.Fatalf("replication connection: %v", err)
		}
		defer repl.Close(context.Background())
		err = pglogrepl.StartReplication(ctx, repl, name, 0, pglogrepl.StartReplicationOptions{PluginArgs: []string{
			"proto_version '2'", "publication_names '" + name + "'", "streaming 'true'", "messages 'true'"}})
		if err != nil {
			b.Fatalf("start replication: %v", err)
		}
		seen, inStream := 0, false
		var acked pglogrepl.LSN
		lastAck := time.Now()
		for seen < rows {
			msg, err := repl.ReceiveMessage(ctx)
			if err != nil {
				b.Fatalf("receive after %d of %d rows: %v", seen, rows, err)
			}
			cd, ok := msg.(*pgproto3.CopyData)
			if !ok {
				if e, ok := msg.(*pgproto3.ErrorResponse); ok {
					b.Fatalf("replication: %s", e.Message)
				}
				continue
			}
			switch cd.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(cd.Data[1:])
				if err != nil {
					b.Fatal(err)
				}
				if ka.ReplyRequested {
					rawAck(b, ctx, repl, acked)
				}
			case pglogrepl.XLogDataByteID:
				xld, err := pglogrepl.ParseXLogData(cd.Data[1:])
				if err != nil {
					b.Fatal(err)
				}
				m, err := pglogrepl.ParseV2(xld.WALData, inStream)
				if err != nil {
					b.Fatalf("decode pgoutput: %v", err)
				}
				switch m := m.(type) {
				case *pglogrepl.InsertMessageV2, *pglogrepl.UpdateMessageV2:
					seen++
				case *pglogrepl.StreamStartMessageV2:
					inStream = true
				case *pglogrepl.StreamStopMessageV2:
					inStream = false
				case *pglogrepl.CommitMessage:
					acked = m.TransactionEndLSN
				case *pglogrepl.StreamCommitMessageV2:
					acked = m.TransactionEndLSN
				}
				if time.Since(lastAck) >= 100*time.Millisecond {
					rawAck(b, ctx, repl, acked)
					lastAck = time.Now()
				}
			}
		}
		rawAck(b, ctx, repl, acked)
	}
}

func rawAck(b *testing.B, ctx context.Context, conn *pgconn.PgConn, lsn pglogrepl.LSN) {
	if err := pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: lsn}); err != nil {
		b.Fatalf("ack %s: %v", lsn, err)
	}
}

// myRawReader notes the binlog position before the load; read runs a bare
// go-mysql BinlogSyncer from there (decoding rows, as tandem's reader
// does) and counts the table's rows, discarding them. An update counts
// once, although its event holds the row before and after.
func myRawReader(b *testing.B, table string) func(rows int) {
	db := myDB(b)
	var pos mysql.Position
	var skip sql.NullString
	if err := db.QueryRow("SHOW MASTER STATUS").Scan(&pos.Name, &pos.Pos, &skip, &skip); err != nil {
		b.Fatalf("SHOW MASTER STATUS: %v", err)
	}
	cfg, err := gomysqldsn.ParseDSN(testenv.MySQLDSN())
	if err != nil {
		b.Fatal(err)
	}
	host, portText, _ := strings.Cut(cfg.Addr, ":")
	port, err := strconv.Atoi(portText)
	if err != nil {
		b.Fatalf("MariaDB address %q: %v", cfg.Addr, err)
	}
	return func(rows int) {
		syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{ServerID: uint32(9000 + rand.IntN(1000)), Flavor: "mariadb",
			Host: host, Port: uint16(port), User: cfg.User, Password: cfg.Passwd, Charset: "utf8mb4", TimestampStringLocation: time.UTC,
			Logger: slog.New(slog.DiscardHandler)})
		defer syncer.Close()
		streamer, err := syncer.StartSync(pos)
		if err != nil {
			b.Fatalf("start binlog sync at %s: %v", pos, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		seen := 0
		for seen < rows {
			ev, err := streamer.GetEvent(ctx)
			if err != nil {
				b.Fatalf("binlog after %d of %d rows: %v", seen, rows, err)
			}
			re, ok := ev.Event.(*replication.RowsEvent)
			if !ok || string(re.Table.Schema) != "tandem" || string(re.Table.Table) != table {
				continue
			}
			if re.Type() == replication.EnumRowsEventTypeUpdate {
				seen += len(re.Rows) / 2
			} else {
				seen += len(re.Rows)
			}
		}
	}
}

// BenchmarkRawPostgres: the limit of BenchmarkCapturePostgres, on each of
// its workloads: a bare pglogrepl reader (decode, discard, ack every 100
// ms), row events/s from connecting until it has seen every row.
func BenchmarkRawPostgres(b *testing.B) {
	eachWorkload(b, func(b *testing.B, table string, w benchWorkload) { benchRaw(b, pgDialect, pgRawReader, table, w) })
}

// BenchmarkRawMariaDB: the limit of BenchmarkCaptureMariaDB, on each of
// its workloads: a bare go-mysql BinlogSyncer (decode, discard), row
// events/s from connecting until it has seen every row.
func BenchmarkRawMariaDB(b *testing.B) {
	eachWorkload(b, func(b *testing.B, table string, w benchWorkload) { benchRaw(b, myDialect, myRawReader, table, w) })
}

// defaultRecordSize is the record size (key and value bytes) the Kafka
// limit uses when no capture benchmark of the source ran in this process:
// about what the capture of the 8-column bench table produces.
const defaultRecordSize = 300

// perfRate finds the summary of Kafka's ProducerPerformance: "50000 records
// sent, 123456.7 records/sec (12.34 MB/sec), ...".
var perfRate = regexp.MustCompile(`(\d+) records sent, ([0-9.]+) records/sec \(([0-9.]+) MB/sec\)`)

// kafkaPerfMinRecords is the fewest records the Kafka limit sends: a
// shorter run mostly measures the JVM warming up.
const kafkaPerfMinRecords = 200_000

// benchKafkaProduce runs Kafka's ProducerPerformance (deploy/local/kafka.sh
// perf-producer) on a fresh topic of 3 partitions, with TANDEM_BENCH_ROWS
// (at least 200,000) records of the average size of the source's capture
// records in this run, and tandem's producer settings (acks=all, lz4,
// linger 5 ms, batches of up to 1 MiB). Its payloads are random letters,
// not Avro.
func benchKafkaProduce(b *testing.B, source string) {
	rows := max(benchRows(b), kafkaPerfMinRecords)
	recordSizes.Lock()
	size := defaultRecordSize
	if n := recordSizes.n[source]; n > 0 {
		size = int(recordSizes.sum[source]/n + 0.5)
	}
	recordSizes.Unlock()
	var rate float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		topic := uniqueSystem("bench_perf")
		kc := mapping.Default().Kafka
		kc.Brokers, kc.Partitions = []string{testenv.KafkaBroker()}, 3
		if err := kc.EnsureTopics(context.Background(), nil, topic); err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command("bash", filepath.Join(testenv.RepoRoot(b), "deploy/local/kafka.sh"), "perf-producer",
			"--topic", topic, "--num-records", strconv.Itoa(rows), "--record-size", strconv.Itoa(size), "--throughput", "-1",
			"--producer-props", "bootstrap.servers="+testenv.KafkaBroker(), "acks=all", "compression.type=lz4", "linger.ms=5",
			"batch.size=1048576")
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("ProducerPerformance: %v\n%s", err, out)
		}
		m := perfRate.FindAllSubmatch(out, -1)
		if len(m) == 0 {
			b.Fatalf("no summary in ProducerPerformance's output:\n%s", out)
		}
		last := m[len(m)-1]
		if sent, _ := strconv.Atoi(string(last[1])); sent != rows {
			b.Fatalf("ProducerPerformance sent %d of %d records:\n%s", sent, rows, out)
		}
		r, err := strconv.ParseFloat(string(last[2]), 64)
		if err != nil {
			b.Fatal(err)
		}
		rate += r
		deleteTopics(b, topic)
	}
	b.ReportMetric(rate/float64(b.N), "rows/s")
	b.ReportMetric(float64(size), "B/record")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkRawKafkaProducePostgres: the Kafka publish limit next to the
// PostgreSQL capture benchmarks: Kafka's ProducerPerformance sending
// TANDEM_BENCH_ROWS (at least 200,000) records of their average record size
// (random letters, not Avro; 300 bytes when no capture benchmark ran
// before it) to a topic of 3 partitions with tandem's producer settings
// (acks=all, lz4, linger 5 ms, batches up to 1 MiB); records/s, one record
// per row event.
func BenchmarkRawKafkaProducePostgres(b *testing.B) { benchKafkaProduce(b, pgSource.name) }

// BenchmarkRawKafkaProduceMariaDB: the Kafka publish limit next to the
// MariaDB capture benchmarks, with their average record size.
func BenchmarkRawKafkaProduceMariaDB(b *testing.B) { benchKafkaProduce(b, mySource.name) }

// benchRawSink measures a bare bulk write of the sink workload: write
// stores rows customers into a fresh table; rows/s over the write.
func benchRawSink(b *testing.B, create func(), write func(cs []benchCustomer)) {
	rows := sinkRows(b)
	cs := make([]benchCustomer, rows)
	for i := range cs {
		cs[i] = newBenchCustomer(i)
	}
	benchTimed(b, rows, create, func() { write(cs) })
}

// BenchmarkRawCopyPostgres: the limit of BenchmarkSinkApplyPostgres, same
// rows and table shape: one COPY (pgx CopyFrom) of every row.
func BenchmarkRawCopyPostgres(b *testing.B) {
	conn := pgConn(b)
	benchRawSink(b, func() {
		mustExec(b, conn, `DROP TABLE IF EXISTS bench_partner_raw`, fmt.Sprintf(benchPartnerPG, "bench_partner_raw"))
	}, func(cs []benchCustomer) {
		n, err := conn.CopyFrom(context.Background(), pgx.Identifier{"bench_partner_raw"},
			[]string{"email", "first_name", "last_name", "phone", "ref", "is_company", "created_at"},
			pgx.CopyFromSlice(len(cs), func(i int) ([]any, error) {
				c := cs[i]
				return []any{c.email, c.first, c.last, c.phone, c.ref, c.company, c.created}, nil
			}))
		if err != nil || int(n) != len(cs) {
			b.Fatalf("COPY: %d of %d rows: %v", n, len(cs), err)
		}
	})
}

// rawInsertBatch is the rows of one multi-row INSERT of
// BenchmarkRawInsertMariaDB.
const rawInsertBatch = 500

// BenchmarkRawInsertMariaDB: the limit of BenchmarkSinkApplyMariaDB, same
// rows and table shape: prepared multi-row INSERTs of 500 rows, each its
// own transaction.
func BenchmarkRawInsertMariaDB(b *testing.B) {
	db := myDB(b)
	const cols = "(email, first_name, last_name, phone, ref, is_company, created_at)"
	insert := func(n int) string {
		return "INSERT INTO tandem.bench_partner_raw " + cols + " VALUES " + strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?), ", n), ", ")
	}
	benchRawSink(b, func() {
		myMust(b, db, `DROP TABLE IF EXISTS tandem.bench_partner_raw`, fmt.Sprintf(benchPartnerMy, "tandem.bench_partner_raw"))
	}, func(cs []benchCustomer) {
		full, err := db.Prepare(insert(rawInsertBatch))
		if err != nil {
			b.Fatal(err)
		}
		defer full.Close()
		args := make([]any, 0, 7*rawInsertBatch)
		for i := 0; i < len(cs); i += rawInsertBatch {
			batch := cs[i:min(i+rawInsertBatch, len(cs))]
			args = args[:0]
			for _, c := range batch {
				args = append(args, c.email, c.first, c.last, c.phone, c.ref, c.company, c.created)
			}
			var err error
			if len(batch) == rawInsertBatch {
				_, err = full.Exec(args...)
			} else {
				_, err = db.Exec(insert(len(batch)), args...)
			}
			if err != nil {
				b.Fatalf("insert rows %d..%d: %v", i, i+len(batch), err)
			}
		}
	})
}
