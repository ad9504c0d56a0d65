package testenv

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// ReadTopic returns every record of every partition of topic, from the start
// to the end offsets at the time of the call, in partition then offset order.
func ReadTopic(t testing.TB, topic string) []kafka.Message {
	t.Helper()
	return ReadTopicAt(t, KafkaBroker(), topic)
}

// ReadTopicAt is ReadTopic from another broker.
func ReadTopicAt(t testing.TB, broker, topic string) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := kafka.DialContext(ctx, "tcp", broker)
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
		lc, err := kafka.DialLeader(ctx, "tcp", broker, topic, p.ID)
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
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, Topic: topic, Partition: p.ID,
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

// EndOffsets returns, for every topic on broker whose name starts with
// prefix, the sum of its partitions' end offsets (records ever written).
// An error means the broker did not answer (it may be restarting).
func EndOffsets(broker, prefix string) (map[string]int64, error) {
	conn, err := kafka.Dial("tcp", broker)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, p := range parts {
		if strings.HasPrefix(p.Topic, prefix) {
			req.Topics[p.Topic] = append(req.Topics[p.Topic], kafka.LastOffsetOf(p.ID))
		}
	}
	out := map[string]int64{}
	if len(req.Topics) == 0 {
		return out, nil
	}
	resp, err := (&kafka.Client{Addr: kafka.TCP(broker)}).ListOffsets(ctx, req)
	if err != nil {
		return nil, err
	}
	for topic, ps := range resp.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return nil, fmt.Errorf("%s[%d]: %w", topic, p.Partition, p.Error)
			}
			out[topic] += p.LastOffset
		}
	}
	return out, nil
}
