// Package status is tandem run's live status: it samples the process's
// Prometheus registry every second, computes rates per flow and per system
// from the counters, keeps the last events each sink reports, and shows
// them on an HTML page (/status, refreshing itself from /status.json) and
// as a table on a terminal.
package status

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Status.
type Options struct {
	Topology Topology
	// Gatherer is the registry the metrics are read from.
	Gatherer prometheus.Gatherer
	// Events is what the sinks report (nil: nothing; per-flow applied
	// numbers then fall back to each sink's totals).
	Events *Events
	// Diagram is the config's data flow, shown on the page.
	Diagram Diagram
	// Interval between samples (default 1s), Window the span rates are
	// computed over (default 5s), Keep the samples kept (default 60).
	Interval, Window time.Duration
	Keep             int
}

// Diagram is the data-flow diagram: an SVG when Graphviz rendered it, else
// the Mermaid text.
type Diagram struct {
	SVG     []byte
	Mermaid string
}

// Status samples the metrics and serves the view. Its methods are safe for
// concurrent use.
type Status struct {
	opts    Options
	sampler *sampler
}

// New returns a Status; call Run to sample.
func New(o Options) *Status {
	if o.Interval <= 0 {
		o.Interval = defaultInterval
	}
	if o.Window <= 0 {
		o.Window = defaultWindow
	}
	if o.Keep <= 0 {
		o.Keep = defaultKeep
	}
	return &Status{opts: o, sampler: newSampler(o.Gatherer, o.Events, o.Keep)}
}

// Run samples now and then every Interval until ctx is done.
func (s *Status) Run(ctx context.Context) {
	s.Sample(time.Now())
	s.sampler.run(ctx, s.opts.Interval)
}

// Sample takes one sample, as at now.
func (s *Status) Sample(now time.Time) { s.sampler.sample(now) }

// View computes the current view from the samples.
func (s *Status) View() View {
	// half an interval of slack: ticks jitter around the window's edge
	return buildView(s.opts.Topology, s.sampler, s.opts.Events, s.opts.Window+s.opts.Interval/2)
}
