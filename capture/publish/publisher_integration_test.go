//go:build integration

package publish

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/tandem-sync/tandem/bus"
	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/internal/testenv"
)

// itEncoder is a trivial Encoder: a change's record is keyed by its first
// After value and holds "<global sequence>"; BEGIN and END are keyed by the
// transaction id and hold "BEGIN <id>" and "END <id> <count>".
type itEncoder struct{ data, txs string }

func (e itEncoder) Begin(_ context.Context, tx *capture.TxBegin) (bus.Record, error) {
	return bus.Record{Topic: e.txs, Key: []byte(tx.ID), Value: []byte("BEGIN " + tx.ID)}, nil
}

func (e itEncoder) Change(_ context.Context, _ *capture.TxBegin, c *capture.Change) (bus.Record, error) {
	return bus.Record{Topic: e.data, Key: []byte(c.After[0].(string)), Value: []byte(strconv.Itoa(int(c.Seq))),
		Headers: map[string][]byte{"table": []byte(c.Table.QualifiedName())}}, nil
}

func (e itEncoder) End(_ context.Context, tx *capture.TxEnd, perTable map[string]int) (bus.Record, error) {
	return bus.Record{Topic: e.txs, Key: []byte(tx.ID), Value: fmt.Appendf(nil, "END %s %d", tx.ID, perTable[items.QualifiedName()])}, nil
}

// readAll reads every record of every partition of topic, per partition.
func readAll(ctx context.Context, t *testing.T, cfg bus.Config, topic string) map[int][]kafka.Message {
	t.Helper()
	d, err := cfg.Dialer()
	if err != nil {
		t.Fatal(err)
	}
	out := map[int][]kafka.Message{}
	for p := range cfg.Partitions {
		conn, err := d.DialLeader(ctx, "tcp", cfg.Brokers[0], topic, p)
		if err != nil {
			t.Fatalf("dial leader of %s[%d]: %v", topic, p, err)
		}
		last, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: cfg.Brokers, Topic: topic, Partition: p, Dialer: d, MaxWait: 100 * time.Millisecond})
		for off := int64(0); off < last; off++ {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("read %s[%d] at %d: %v", topic, p, off, err)
			}
			out[p] = append(out[p], m)
		}
		r.Close()
	}
	return out
}

// TestIntegrationPublish publishes 3 transactions through the real local
// Kafka into fresh topics of 3 partitions, waits for the acks, and reads
// everything back: every change exactly once, per-key order kept, and the
// BEGIN/END records of each transaction, in order.
func TestIntegrationPublish(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := bus.Default()
	cfg.Brokers = []string{testenv.KafkaBroker()}
	cfg.Partitions = 3
	cfg.Producer.BatchSize = 50 // several batches per partition
	cfg.TopicPrefix = fmt.Sprintf("tandem-it-%d", time.Now().UnixNano())
	enc := itEncoder{data: cfg.Topic("shop", "item"), txs: cfg.Topic("shop", "transactions")}

	acked := make(chan capture.Position, 16)
	reg := prometheus.NewRegistry()
	p, err := New(Options{
		Kafka:      cfg,
		Encoder:    enc,
		Ack:        func(pos capture.Position) { acked <- pos },
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(runCtx) }()

	const txs, perTx = 3, 300
	seq := 0
	for i := 1; i <= txs; i++ {
		id := fmt.Sprintf("tx%d", i)
		if err := p.Begin(ctx, &capture.TxBegin{ID: id, Position: pos(i)}); err != nil {
			t.Fatalf("Begin (is Kafka up? make up): %v", err)
		}
		for range perTx {
			c := &capture.Change{Op: capture.OpInsert, Table: items, After: capture.Row{fmt.Sprintf("sku-%d", seq%17)}, Seq: uint64(seq)}
			if err := p.Change(ctx, c); err != nil {
				t.Fatal(err)
			}
			seq++
		}
		if err := p.Commit(ctx, &capture.TxEnd{ID: id, Position: pos(i), Changes: perTx}); err != nil {
			t.Fatal(err)
		}
	}
	var last capture.Position
	for last != pos(txs) {
		select {
		case a := <-acked:
			if last != nil && a.(pos) <= last.(pos) {
				t.Fatalf("ack %v after %v", a, last)
			}
			last = a
		case err := <-runErr:
			t.Fatalf("Run returned %v before the last ack", err)
		case <-ctx.Done():
			t.Fatalf("no ack of %v; last %v", pos(txs), last)
		}
	}
	stop()
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Each lane batch went out as one produce request, whole.
	stats := p.io.StatsFn()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var batches uint64
	for _, f := range fams {
		if f.GetName() == "tandem_publish_batch_records" {
			batches = f.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	records := int64(txs*perTx + 2*txs)
	// Writes counts attempts: retries (after a retriable error) come on top.
	if stats.Writes-stats.Retries != int64(batches) || stats.Messages < records {
		t.Errorf("writer stats: %d produce requests (%d retries) of %d records; want %d requests (one per lane batch) of %d",
			stats.Writes, stats.Retries, stats.Messages, batches, records)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	seen := map[int]int{}
	lastByKey := map[string]int{}
	for part, msgs := range readAll(ctx, t, cfg, enc.data) {
		for _, m := range msgs {
			v, err := strconv.Atoi(string(m.Value))
			if err != nil {
				t.Fatalf("record %q: %v", m.Value, err)
			}
			if want := partitionOf(m.Key, []int{0, 1, 2}); part != want {
				t.Errorf("key %s in partition %d, want %d", m.Key, part, want)
			}
			if prev, ok := lastByKey[string(m.Key)]; ok && v <= prev {
				t.Errorf("key %s: %d after %d", m.Key, v, prev)
			}
			lastByKey[string(m.Key)] = v
			seen[v]++
			if len(m.Headers) != 1 || m.Headers[0].Key != "table" || string(m.Headers[0].Value) != "public.items" {
				t.Errorf("record %d has headers %v", v, m.Headers)
			}
		}
	}
	if len(seen) != txs*perTx {
		t.Errorf("read %d distinct changes, want %d", len(seen), txs*perTx)
	}
	for v, n := range seen {
		if n != 1 {
			t.Errorf("change %d read %d times", v, n)
		}
	}

	markers := map[string][]string{}
	for _, msgs := range readAll(ctx, t, cfg, enc.txs) {
		for _, m := range msgs {
			markers[string(m.Key)] = append(markers[string(m.Key)], string(m.Value))
		}
	}
	for i := 1; i <= txs; i++ {
		id := fmt.Sprintf("tx%d", i)
		want := []string{"BEGIN " + id, fmt.Sprintf("END %s %d", id, perTx)}
		if got := markers[id]; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("transaction records of %s: %q, want %q", id, got, want)
		}
	}
}
