package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/term"

	"github.com/tandem-sync/tandem/internal/status"
	"github.com/tandem-sync/tandem/mapping"
	"github.com/tandem-sync/tandem/sink"
)

// How often the dashboard redraws on a terminal, and how often it logs
// otherwise.
const (
	dashboardRedraw = 2 * time.Second
	dashboardLog    = 10 * time.Second
	// diagramTimeout bounds Graphviz's rendering of the page's diagram.
	diagramTimeout = 10 * time.Second
	// recentEvents is how many events each sink's recorder keeps.
	recentEvents = 20
)

// runStatus is tandem run's live status: the sampler behind /status and
// --dashboard, and what the sinks report to it. A nil *runStatus (neither
// is on) does nothing.
type runStatus struct {
	st     *status.Status
	events *status.Events
}

// startStatus samples reg for the status page (when http.listen is set)
// and the --dashboard, and starts the dashboard. It returns nil when
// neither is on. stop ends what it started and waits for it.
func startStatus(ctx context.Context, cfg *mapping.Config, names []string, o runOptions, reg prometheus.Gatherer) (rs *runStatus, stop func()) {
	if cfg.HTTP.Listen == "" && !o.dashboard {
		return nil, func() {}
	}
	events := status.NewEvents(recentEvents)
	opts := status.Options{Topology: statusTopology(cfg, names, o.role), Gatherer: reg, Events: events}
	if cfg.HTTP.Listen != "" {
		opts.Diagram = statusDiagram(ctx, cfg, o.log)
	}
	rs = &runStatus{st: status.New(opts), events: events}
	// sample (and draw) until tandem run returns, through its drain too
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { rs.st.Run(sctx) })
	if o.dashboard {
		if o.tty != nil && term.IsTerminal(int(o.tty.Fd())) {
			wg.Go(func() { rs.st.Dashboard(sctx, o.tty, dashboardRedraw) })
		} else {
			wg.Go(func() { rs.st.LogEvery(sctx, o.log, dashboardLog) })
		}
	}
	return rs, func() { cancel(); wg.Wait() }
}

// statusTopology lists the systems tandem run runs and the flows that
// start or end at one of them.
func statusTopology(cfg *mapping.Config, names []string, role string) status.Topology {
	var topo status.Topology
	capturing, sinking := map[string]bool{}, map[string]bool{}
	for _, n := range names {
		sys := cfg.Systems[n]
		topics, _ := sink.Topics(cfg, n)
		s := status.System{Name: n, Kind: sys.Kind,
			Capture: role != roleSink && len(sys.Capture.Tables) > 0,
			Sink:    role != roleCapture && len(topics) > 0}
		capturing[n], sinking[n] = s.Capture, s.Sink
		topo.Systems = append(topo.Systems, s)
	}
	for _, f := range cfg.Flows {
		if capturing[f.From] || sinking[f.To] {
			topo.Flows = append(topo.Flows, status.Flow{Entity: f.Entity, From: f.From, To: f.To})
		}
	}
	return topo
}

// statusDiagram draws the config's data flow for the page: SVG when
// Graphviz's dot is installed (as tandem diagram --format svg does), else
// the Mermaid text.
func statusDiagram(ctx context.Context, cfg *mapping.Config, log *slog.Logger) status.Diagram {
	var d status.Diagram
	mermaid, err := cfg.Diagram(mapping.FormatMermaid)
	if err != nil {
		d.Mermaid = "no diagram: " + err.Error()
		return d
	}
	d.Mermaid = mermaid
	dot, err := cfg.Diagram(mapping.FormatDOT)
	if err != nil {
		return d
	}
	rctx, cancel := context.WithTimeout(ctx, diagramTimeout)
	defer cancel()
	if d.SVG, err = renderSVG(rctx, dot); err != nil {
		log.Debug("status page: showing the diagram as Mermaid text", "err", err)
	}
	return d
}

// sinkHook returns what sink name reports its committed batches to, or nil.
func (rs *runStatus) sinkHook(name string) func([]sink.Report) {
	if rs == nil {
		return nil
	}
	record := rs.events.Hook(name)
	return func(batch []sink.Report) {
		events := make([]status.Event, len(batch))
		for i, a := range batch {
			events[i] = status.Event{Time: a.Time, Sink: a.Sink, Entity: a.Entity, Key: a.Key, Op: a.Op,
				Origin: a.Origin, Outcome: a.Outcome, Reason: a.Reason}
		}
		record(events)
	}
}

// mount serves the status page and its JSON on mux.
func (rs *runStatus) mount(mux *http.ServeMux) {
	if rs != nil {
		rs.st.Register(mux)
	}
}

// announce logs the status page's address once the listener is up.
func (rs *runStatus) announce(addr net.Addr, log *slog.Logger) {
	if rs != nil {
		log.Info("status page: " + statusURL(addr))
	}
}

// statusURL is the page's URL on the listener's address; an unspecified
// host (":9464", "0.0.0.0") is reached at 127.0.0.1.
func statusURL(addr net.Addr) string {
	host, port := "127.0.0.1", ""
	if ta, ok := addr.(*net.TCPAddr); ok {
		port = strconv.Itoa(ta.Port)
		if !ta.IP.IsUnspecified() {
			host = ta.IP.String()
		}
	} else if h, p, err := net.SplitHostPort(addr.String()); err == nil {
		host, port = h, p
	}
	return "http://" + net.JoinHostPort(host, port) + "/status"
}
