package status

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// metricPrefix selects the families the sampler keeps: tandem's own, not
// the Go runtime's.
const metricPrefix = "tandem_"

// flowEventsSeries names the synthetic counters of what the sinks report
// through Events, sampled beside the registry's.
const flowEventsSeries = "status_sink_flow_events"

// labels are a series' label pairs.
type labels map[string]string

// key is the labels in a canonical form.
func (l labels) key() string {
	names := make([]string, 0, len(l))
	for n := range l {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(l[n])
		b.WriteByte(',')
	}
	return b.String()
}

// matches reports whether l has every pair of want.
func (l labels) matches(want labels) bool {
	for n, v := range want {
		if l[n] != v {
			return false
		}
	}
	return true
}

type seriesValue struct {
	name   string
	labels labels
	value  float64
}

// sample is the values of every kept series at one time, by series id
// (name and canonical labels).
type sample struct {
	at     time.Time
	values map[string]float64
}

// sampler keeps the last samples of a gatherer's tandem_* counters and
// gauges (and of what Events counts), and computes rates between them.
type sampler struct {
	gather prometheus.Gatherer
	events *Events
	keep   int

	mu      sync.Mutex
	samples []sample          // oldest first, at most keep
	series  map[string]series // every series seen, by id
	err     error             // of the last Gather
}

type series struct {
	name   string
	labels labels
}

func newSampler(g prometheus.Gatherer, events *Events, keep int) *sampler {
	return &sampler{gather: g, events: events, keep: max(keep, 2), series: map[string]series{}}
}

// run samples every interval until ctx is done.
func (s *sampler) run(ctx context.Context, interval time.Duration) {
	tick(ctx, interval, func() { s.sample(time.Now()) })
}

// sample gathers the values at now. A failed Gather still keeps what it
// returned; the error is kept for the view.
func (s *sampler) sample(now time.Time) {
	var mfs []*dto.MetricFamily
	var err error
	if s.gather != nil {
		mfs, err = s.gather.Gather()
	}
	vals := s.events.series()
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), metricPrefix) {
			continue
		}
		for _, m := range mf.GetMetric() {
			v, ok := value(mf.GetType(), m)
			if !ok {
				continue
			}
			l := make(labels, len(m.GetLabel()))
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			vals = append(vals, seriesValue{name: mf.GetName(), labels: l, value: v})
		}
	}
	smp := sample{at: now, values: make(map[string]float64, len(vals))}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range vals {
		id := v.name + "{" + v.labels.key() + "}"
		if _, ok := s.series[id]; !ok {
			s.series[id] = series{name: v.name, labels: v.labels}
		}
		smp.values[id] = v.value
	}
	s.samples = append(s.samples, smp)
	if len(s.samples) > s.keep {
		s.samples = append(s.samples[:0], s.samples[len(s.samples)-s.keep:]...)
	}
	s.err = err
}

// value is a counter's or gauge's value; histograms and summaries count
// their observations.
func value(t dto.MetricType, m *dto.Metric) (float64, bool) {
	switch t {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue(), true
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue(), true
	case dto.MetricType_UNTYPED:
		return m.GetUntyped().GetValue(), true
	case dto.MetricType_HISTOGRAM:
		return float64(m.GetHistogram().GetSampleCount()), true
	case dto.MetricType_SUMMARY:
		return float64(m.GetSummary().GetSampleCount()), true
	}
	return 0, false
}

// window is a consistent read of the samples: the last one, and the one
// rates are computed from.
type window struct {
	s           *sampler
	first, last *sample
}

// window returns the newest sample and the oldest one at most span before
// it (the one before the newest when none is that recent). Hold it only
// while reading: it holds the sampler's lock until done is called.
func (s *sampler) window(span time.Duration) (w window, done func()) {
	s.mu.Lock()
	w.s = s
	if n := len(s.samples); n > 0 {
		w.last = &s.samples[n-1]
		for i := n - 2; i >= 0; i-- {
			if w.last.at.Sub(s.samples[i].at) > span && w.first != nil {
				break
			}
			w.first = &s.samples[i]
		}
	}
	return w, s.mu.Unlock
}

// seconds is the time the window's rates cover; 0 before two samples.
func (w window) seconds() float64 {
	if w.first == nil {
		return 0
	}
	return w.last.at.Sub(w.first.at).Seconds()
}

// sum adds up the last values of the series of name whose labels include
// match; ok is false when there is none.
func (w window) sum(name string, match labels) (total float64, ok bool) {
	if w.last == nil {
		return 0, false
	}
	for id, v := range w.last.values {
		if sr := w.s.series[id]; sr.name == name && sr.labels.matches(match) {
			total += v
			ok = true
		}
	}
	return total, ok
}

// count is the total and the per-second rate of the counters of name whose
// labels include match. A series new in the window counts from 0, and one
// whose value went down (a restarted counter) from its new value.
func (w window) count(name string, match labels) Count {
	total, _ := w.sum(name, match)
	c := Count{Total: total}
	secs := w.seconds()
	if secs <= 0 {
		return c
	}
	var inc float64
	for id, v := range w.last.values {
		if sr := w.s.series[id]; sr.name != name || !sr.labels.matches(match) {
			continue
		}
		before := w.first.values[id]
		if v >= before {
			inc += v - before
		} else {
			inc += v
		}
	}
	c.Rate = inc / secs
	return c
}

// gauge is the sum of the last values of the gauges of name whose labels
// include match, or nil when there is none.
func (w window) gauge(name string, match labels) *float64 {
	v, ok := w.sum(name, match)
	if !ok {
		return nil
	}
	return &v
}
