package publish

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are updated once per batch, never per record. The gauges are
// read when scraped.
type metrics struct {
	records     *prometheus.CounterVec
	bytes       prometheus.Counter
	writeErrors prometheus.Counter
	batchSize   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, p *Publisher) (*metrics, error) {
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_publish_records_total",
			Help: "Records written to Kafka and acknowledged by it (acks=all), by topic.",
		}, []string{"topic"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tandem_publish_bytes_total",
			Help: "Bytes (topic, key, value and headers) of the records written to Kafka.",
		}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tandem_publish_write_errors_total",
			Help: "Batches whose write to Kafka failed after the writer's retries; the first one stops the publisher.",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tandem_publish_batch_records",
			Help:    "Records per produce request.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8), // 1 .. 16384
		}),
	}
	if reg == nil {
		return m, nil
	}
	inFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tandem_publish_in_flight_bytes",
		Help: "Bytes queued or being written and not yet acknowledged by Kafka.",
	}, func() float64 { return float64(p.inFlightBytes()) })
	ackAge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tandem_publish_last_ack_age_seconds",
		Help: "Seconds since a position was last acked to the reader (since start before the first ack).",
	}, func() float64 { return time.Since(time.Unix(0, p.lastAck.Load())).Seconds() })
	cs := []prometheus.Collector{m.records, m.bytes, m.writeErrors, m.batchSize, inFlight, ackAge}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("publish: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) batchWritten(topic string, records, bytes int) {
	m.records.WithLabelValues(topic).Add(float64(records))
	m.bytes.Add(float64(bytes))
	m.batchSize.Observe(float64(records))
}
