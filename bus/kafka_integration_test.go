//go:build integration

package bus

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tandem-sync/tandem/internal/testenv"
)

func testConfig() Config {
	c := Default()
	c.Brokers = []string{testenv.KafkaBroker()}
	c.Partitions = 3
	return c
}

// TestIntegrationProduceConsume creates a topic explicitly, produces with
// acks=all and reads every record back, in order per partition.
func TestIntegrationProduceConsume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := testConfig()
	topic := fmt.Sprintf("tandem.it.produce.%d", time.Now().UnixNano())
	if err := cfg.EnsureTopics(ctx, nil, topic); err != nil {
		t.Fatalf("EnsureTopics (is Kafka up? make up): %v", err)
	}
	if err := cfg.EnsureTopics(ctx, nil, topic); err != nil {
		t.Fatalf("EnsureTopics is not idempotent: %v", err)
	}
	client, err := cfg.Client()
	if err != nil {
		t.Fatal(err)
	}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(md.Topics) != 1 || len(md.Topics[0].Partitions) != 3 {
		t.Fatalf("topic metadata: %+v %v; want 3 partitions", md, err)
	}

	tr, err := cfg.Transport()
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Topic:        topic,
		Transport:    tr,
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond,
		Balancer:     &kafka.Hash{},
	}
	const n = 300
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte(fmt.Sprintf("k%d", i%7)), Value: []byte(fmt.Sprintf("%d", i))}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("WriteMessages: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	d, err := cfg.Dialer()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{} // value -> count
	lastByKey := map[string]int{}
	for p := 0; p < 3; p++ {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: cfg.Brokers, Topic: topic, Partition: p, Dialer: d, MaxWait: 100 * time.Millisecond})
		conn, err := d.DialLeader(ctx, "tcp", cfg.Brokers[0], topic, p)
		if err != nil {
			t.Fatal(err)
		}
		last, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		for off := int64(0); off < last; off++ {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("partition %d offset %d: %v", p, off, err)
			}
			var v int
			fmt.Sscan(string(m.Value), &v)
			if prev, ok := lastByKey[string(m.Key)]; ok && v <= prev {
				t.Errorf("key %s out of order: %d after %d", m.Key, v, prev)
			}
			lastByKey[string(m.Key)] = v
			seen[string(m.Value)]++
		}
		r.Close()
	}
	if len(seen) != n {
		t.Fatalf("read %d distinct records, want %d", len(seen), n)
	}
	for v, c := range seen {
		if c != 1 {
			t.Errorf("record %s read %d times", v, c)
		}
	}
}

func TestIntegrationOffsetStore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := testConfig()
	system := fmt.Sprintf("it%d", time.Now().UnixNano())
	s, err := OpenOffsetStore(ctx, cfg, system)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.Load(ctx, "a"); err != nil || v != nil {
		t.Fatalf("empty store Load = %q, %v", v, err)
	}
	for _, kv := range [][2]string{{"a", "1"}, {"b", "x"}, {"a", "2"}} {
		if err := s.Save(ctx, kv[0], []byte(kv[1])); err != nil {
			t.Fatal(err)
		}
	}
	s2, err := OpenOffsetStore(ctx, cfg, system)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for k, want := range map[string]string{"a": "2", "b": "x", "c": ""} {
		v, err := s2.Load(ctx, k)
		if err != nil || string(v) != want {
			t.Errorf("Load(%s) = %q, %v; want %q", k, v, err, want)
		}
	}
}
