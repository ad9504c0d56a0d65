package publish

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tandem-sync/tandem/bus"
)

const (
	// writeAttempts is how often the writer tries one produce request
	// before the publisher gives up (and stops).
	writeAttempts = 10
	// topicWait bounds the wait for a new topic to show in the writer's
	// metadata.
	topicWait = 30 * time.Second
)

// newKafkaIO wires the publisher to one kafka.Writer shared by all lanes.
//
// Each lane hands WriteMessages one batch for one partition and waits for
// it. The writer must send that batch as one produce request and not mix
// it with other records, so that a failed request is the lane's last: its
// BatchSize is the lane's (a batch never holds more), its BatchBytes is as
// large as a request can be (it never splits by bytes), and its
// BatchTimeout is tiny (a partial batch goes at once; all of a call's
// records join its batch before the timer can act, because kafka-go adds
// them under the partition's lock). The assigned balancer keeps the
// partition that the publisher chose.
func newKafkaIO(cfg bus.Config) (kafkaIO, error) {
	tr, err := cfg.Transport()
	if err != nil {
		return kafkaIO{}, err
	}
	comp, err := compression(cfg.Producer.Compression)
	if err != nil {
		return kafkaIO{}, err
	}
	w := &kafka.Writer{
		Addr:            kafka.TCP(cfg.Brokers...),
		Transport:       tr,
		Balancer:        assigned{},
		MaxAttempts:     writeAttempts,
		WriteBackoffMin: 100 * time.Millisecond,
		WriteBackoffMax: 2 * time.Second,
		BatchSize:       cfg.Producer.BatchSize,
		BatchBytes:      math.MaxInt32,
		BatchTimeout:    time.Nanosecond,
		RequiredAcks:    kafka.RequireAll,
		Compression:     comp,
	}
	meta := &kafka.Client{Addr: w.Addr, Transport: tr, Timeout: 30 * time.Second}
	return kafkaIO{
		PartitionsFn: func(ctx context.Context, topic string) (int, error) {
			if err := cfg.EnsureTopicsWith(ctx, meta, nil, topic); err != nil {
				return 0, err
			}
			return waitForTopic(ctx, meta, topic)
		},
		WriteFn: func(ctx context.Context, _ string, _ int, msgs []kafka.Message) error {
			return firstWriteError(w.WriteMessages(ctx, msgs...))
		},
		CloseFn: func() error {
			err := w.Close()
			tr.CloseIdleConnections()
			return err
		},
		StatsFn: w.Stats,
	}, nil
}

// waitForTopic waits until topic, with all its partitions led, is in the
// metadata that the writer's transport caches, and returns its partition
// count. The writer fails, without retrying, a write to a topic missing
// from that cache. A topic created through the transport is there at once;
// one that already existed is there since the cache's last refresh (every
// few seconds). It asks every 10 ms: each topic's first record waits for
// this, one topic after the other.
func waitForTopic(ctx context.Context, client *kafka.Client, topic string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, topicWait)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err == nil {
			var n int
			if n, err = ledPartitions(md, topic); err == nil {
				return n, nil
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("topic %s is not ready after %s: %w", topic, topicWait, last)
		case <-tick.C:
		}
	}
}

func ledPartitions(md *kafka.MetadataResponse, topic string) (int, error) {
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return 0, t.Error
		}
		if len(t.Partitions) == 0 {
			return 0, errors.New("no partitions yet")
		}
		for _, p := range t.Partitions {
			if p.Error != nil {
				return 0, fmt.Errorf("partition %d: %w", p.ID, p.Error)
			}
		}
		return len(t.Partitions), nil
	}
	return 0, kafka.UnknownTopicOrPartition
}

// firstWriteError turns kafka-go's per-message errors into the batch's
// error: the lane writes one batch, so they are all the same.
func firstWriteError(err error) error {
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) {
		for _, e := range werrs {
			if e != nil {
				return e
			}
		}
	}
	return err
}

// assigned routes each message to the partition the publisher set on it.
type assigned struct{}

func (assigned) Balance(msg kafka.Message, _ ...int) int { return msg.Partition }

func compression(name string) (kafka.Compression, error) {
	switch name {
	case "", "none":
		return 0, nil
	case "gzip":
		return kafka.Gzip, nil
	case "snappy":
		return kafka.Snappy, nil
	case "lz4":
		return kafka.Lz4, nil
	case "zstd":
		return kafka.Zstd, nil
	}
	return 0, fmt.Errorf("kafka.producer.compression %q is not supported", name)
}
