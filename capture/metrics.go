package capture

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the metrics every reader shares, labelled by system.
type Metrics struct {
	Changes      *prometheus.CounterVec
	Transactions *prometheus.CounterVec
	LoopDrops    *prometheus.CounterVec
}

// NewMetrics creates the shared reader metrics and registers them with reg
// (if not nil). Create them once per process and hand them to every reader.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_capture_changes_total", Help: "Row changes delivered by the capture."}, []string{"system"}),
		Transactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_capture_transactions_total", Help: "Transactions delivered by the capture."}, []string{"system"}),
		LoopDrops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_capture_loop_dropped_transactions_total",
			Help: "Transactions not published because tandem wrote them (replication origin, skip_replication flag or checkpoint row first)."}, []string{"system"}),
	}
	if reg != nil {
		reg.MustRegister(m.Changes, m.Transactions, m.LoopDrops)
	}
	return m
}

// KeyChanged reports whether an update moved a row to another key: a key
// column whose known before and after values differ.
func KeyChanged(t *Table, before, after Row) bool {
	for i, col := range t.Columns {
		if !col.Key || i >= len(before) || i >= len(after) || IsUnchanged(before[i]) || IsUnchanged(after[i]) {
			continue
		}
		if !Equal(before[i], after[i]) {
			return true
		}
	}
	return false
}

// SystemMetrics are the shared metrics of one system, resolved once, so
// that readers do no label lookups per transaction.
type SystemMetrics struct {
	Changes, Transactions, LoopDrops prometheus.Counter
}

// For resolves the shared metrics of system.
func (m *Metrics) For(system string) SystemMetrics {
	return SystemMetrics{
		Changes:      m.Changes.WithLabelValues(system),
		Transactions: m.Transactions.WithLabelValues(system),
		LoopDrops:    m.LoopDrops.WithLabelValues(system),
	}
}
