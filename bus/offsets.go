package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// OffsetStore keeps small durable values (source positions, snapshot
// progress) by key in a compacted, single-partition topic,
// <prefix>.<system>.offsets. Save returns only once Kafka has the value with
// acks=all; Load returns the last value saved under a key.
//
// One process writes a given key at a time. Save and Load are safe for
// concurrent use.
type OffsetStore struct {
	cfg   Config
	topic string
	w     *kafka.Writer
}

// OffsetsTopic names a system's offsets topic.
func (c Config) OffsetsTopic(system string) string { return c.Topic(system, "offsets") }

// OpenOffsetStore creates the topic if needed (compacted, one partition) and
// returns a store on it.
func OpenOffsetStore(ctx context.Context, cfg Config, system string) (*OffsetStore, error) {
	topic := cfg.OffsetsTopic(system)
	one := cfg
	one.Partitions = 1
	if err := one.EnsureTopics(ctx, map[string]string{"cleanup.policy": "compact"}, topic); err != nil {
		return nil, err
	}
	tr, err := cfg.Transport()
	if err != nil {
		return nil, err
	}
	w := &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Topic:        topic,
		Transport:    tr,
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond,
		MaxAttempts:  10,
	}
	return &OffsetStore{cfg: cfg, topic: topic, w: w}, nil
}

// Save stores value under key and returns once Kafka has acknowledged it.
func (s *OffsetStore) Save(ctx context.Context, key string, value []byte) error {
	if err := s.w.WriteMessages(ctx, kafka.Message{Key: []byte(key), Value: value}); err != nil {
		return fmt.Errorf("save %s to %s: %w", key, s.topic, err)
	}
	return nil
}

// Load returns the last value saved under key, or nil when there is none. It
// reads the topic from its start to its current end.
func (s *OffsetStore) Load(ctx context.Context, key string) ([]byte, error) {
	d, err := s.cfg.Dialer()
	if err != nil {
		return nil, err
	}
	conn, err := d.DialLeader(ctx, "tcp", s.cfg.Brokers[0], s.topic, 0)
	if err != nil {
		return nil, fmt.Errorf("load %s from %s: %w", key, s.topic, err)
	}
	first, last, err := conn.ReadOffsets()
	conn.Close()
	if err != nil {
		return nil, fmt.Errorf("load %s from %s: %w", key, s.topic, err)
	}
	if last <= first {
		return nil, nil
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: s.cfg.Brokers, Topic: s.topic, Partition: 0, Dialer: d,
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond,
	})
	defer r.Close()
	if err := r.SetOffset(first); err != nil {
		return nil, err
	}
	var value []byte
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return nil, fmt.Errorf("load %s from %s: %w", key, s.topic, err)
		}
		if string(m.Key) == key {
			value = m.Value // a nil value is a delete (tombstone)
		}
		if m.Offset >= last-1 {
			return value, nil
		}
	}
}

// Close flushes and closes the writer.
func (s *OffsetStore) Close() error { return s.w.Close() }
