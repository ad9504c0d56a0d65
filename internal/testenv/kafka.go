package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// ReadTopic returns every record of every partition of topic, from the start
// to the end offsets at the time of the call, in partition then offset order.
func ReadTopic(t testing.TB, topic string) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := kafka.DialContext(ctx, "tcp", KafkaBroker())
	if err != nil {
		t.Fatalf("dial Kafka (is the stack up? make up): %v", err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		t.Fatalf("partitions of %s: %v", topic, err)
	}
	var out []kafka.Message
	for _, p := range parts {
		lc, err := kafka.DialLeader(ctx, "tcp", KafkaBroker(), topic, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		first, last, err := lc.ReadOffsets()
		lc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last <= first {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{KafkaBroker()}, Topic: topic, Partition: p.ID,
			MinBytes: 1, MaxBytes: 32 << 20, MaxWait: 100 * time.Millisecond})
		if err := r.SetOffset(first); err != nil {
			t.Fatal(err)
		}
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				t.Fatalf("read %s[%d]: %v", topic, p.ID, err)
			}
			out = append(out, m)
			if m.Offset >= last-1 {
				break
			}
		}
		r.Close()
	}
	return out
}

// TopicSize returns the number of records in topic (sum of end minus start
// offsets), or -1 when the topic does not exist yet.
func TopicSize(t testing.TB, topic string) int64 {
	t.Helper()
	conn, err := kafka.Dial("tcp", KafkaBroker())
	if err != nil {
		t.Fatalf("dial Kafka: %v", err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil || len(parts) == 0 {
		return -1
	}
	var n int64
	for _, p := range parts {
		lc, err := kafka.DialLeader(context.Background(), "tcp", KafkaBroker(), topic, p.ID)
		if err != nil {
			return -1
		}
		first, last, err := lc.ReadOffsets()
		lc.Close()
		if err != nil {
			return -1
		}
		n += last - first
	}
	return n
}
