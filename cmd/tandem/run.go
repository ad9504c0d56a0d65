package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/tandem-sync/tandem/bus"
	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/capture/mapped"
	capmysql "github.com/tandem-sync/tandem/capture/mysql"
	cappg "github.com/tandem-sync/tandem/capture/postgres"
	"github.com/tandem-sync/tandem/capture/publish"
	"github.com/tandem-sync/tandem/mapping"
	"github.com/tandem-sync/tandem/schema"
	"github.com/tandem-sync/tandem/sink"
	sinkmy "github.com/tandem-sync/tandem/sink/mysql"
	sinkpg "github.com/tandem-sync/tandem/sink/postgres"
)

func newRunCmd(g *globals) *cobra.Command {
	var (
		systems   []string
		withPprof bool
		drain     time.Duration
		role      string
		dashboard bool
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Capture every system's changes to Kafka, and apply the flows into each system, until interrupted",
		Long: `Run the capture of each system in the config: read its change log, publish
each row change as an Avro event on Kafka (registering schemas in the schema
registry), and move the source's position only once Kafka has acknowledged
every event up to it.

On first start each system's slot is created and its tables are snapshotted
(capture.snapshot: initial), with progress shown; an interrupted snapshot
resumes after its last acknowledged chunk.

Topics: <prefix>.<system>.<entity> for the entities a system maps (one per
aggregate: an order's lines travel with it; the event carries the natural
key, the fields the change set in "changed", origin and event_id),
<prefix>.<system>.<schema>.<table> for captured tables no mapping reads (the
raw row; capture.raw_topics changes which), <prefix>.<system>.transactions
(BEGIN/END with counts), <prefix>.<system>.dlq (values a mapping cannot
convert, with the reason) and <prefix>.<system>.offsets (compacted;
positions and snapshot progress).

For each system that flows go to, run its sink too: read the flows' topics
in the consumer group sink.group, from the checkpoints stored in the
system's checkpoint_table, and apply each batch in one transaction tagged so
that the system's own capture drops it (exactly once in effect, no loops).
Events that wait for a missing reference are retried; bad events go to
<prefix>.<system>.dlq, conflicts to <prefix>.conflicts. --role capture or
--role sink runs one side only.

On SIGINT or SIGTERM it stops reading, waits for Kafka to acknowledge what is
in flight (at most --drain), reports the final position, and exits 0.

Metrics are served at http://<http.listen>/metrics, health at /healthz, and
a live status page (rates per flow, capture lag, the sinks' last events, the
data-flow diagram) at /status, its data at /status.json. --dashboard shows
the same numbers on the terminal (or logs them every 10 s when stderr is not
one).`,
		Example: "  tandem run --config deploy/examples/local.yaml\n  tandem run -c tandem.yaml --system erp --pprof",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			names, err := runnable(cfg, systems)
			if err != nil {
				return &exitError{code: exitBadUsage, err: err}
			}
			log := g.logger(cfg.Log)
			return runSystems(cmd.Context(), cfg, names, runOptions{log: log, pprof: withPprof, drain: drain, tty: g.tty, role: role, dashboard: dashboard})
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&systems, "system", nil, "run only these systems (default: every system with captured tables)")
	f.BoolVar(&withPprof, "pprof", false, "serve /debug/pprof on the http.listen address")
	f.DurationVar(&drain, "drain", 30*time.Second, "on shutdown, how long to wait for Kafka to acknowledge what is in flight")
	f.StringVar(&role, "role", roleAll, "what to run for each system: all (capture and sink), capture, or sink")
	f.BoolVar(&dashboard, "dashboard", false, "show rates per flow, capture lag and the last events on the terminal every 2s (a log line every 10s when stderr is not a terminal)")
	return cmd
}

// Roles of tandem run.
const (
	roleAll     = "all"
	roleCapture = "capture"
	roleSink    = "sink"
)

// runOptions are tandem run's flags.
type runOptions struct {
	log   *slog.Logger
	pprof bool
	drain time.Duration
	tty   *os.File
	role  string
	// dashboard shows the status on tty (status.go).
	dashboard bool
	// onApplied, if set, also receives every sink's reports (tandem demo
	// counts what flowed).
	onApplied func([]sink.Report)
}

// runnable picks the systems to run: those named, or every system that has
// tables to capture or flows into it.
func runnable(cfg *mapping.Config, only []string) ([]string, error) {
	var names []string
	if len(only) > 0 {
		for _, n := range only {
			if _, ok := cfg.Systems[n]; !ok {
				return nil, fmt.Errorf("--system %q is not in the config (systems: %s)", n, strings.Join(cfg.SystemNames(), ", "))
			}
		}
		names = only
	} else {
		for _, n := range cfg.SystemNames() {
			if topics, _ := sink.Topics(cfg, n); len(cfg.Systems[n].Capture.Tables) > 0 || len(topics) > 0 {
				names = append(names, n)
			}
		}
	}
	if len(names) == 0 {
		return nil, errors.New("no system has tables to capture or flows into it: list tables under systems.<name>.capture.tables, or map entities and flows")
	}
	return names, nil
}

// logger builds the structured logger the config asks for, on stderr.
func (g *globals) logger(c mapping.LogConfig) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(g.stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(g.stderr, opts))
}

// capturePipeline is one system's reader and publisher, with the mapping
// stage between them when the system maps entities.
type capturePipeline struct {
	name   string
	reader capture.Reader
	pub    *publish.Publisher
	store  *bus.OffsetStore
	rows   io.Closer // the mapping stage's lookups, if any
}

// readerMetrics are the metrics of every kind of reader, registered once.
type readerMetrics struct {
	pg *cappg.Metrics
	my *capmysql.Metrics
}

func runSystems(ctx context.Context, cfg *mapping.Config, names []string, o runOptions) error {
	log, withPprof, drain, stderr := o.log, o.pprof, o.drain, o.tty
	if o.role == "" {
		o.role = roleAll
	}
	switch o.role {
	case roleAll, roleCapture, roleSink:
	default:
		return &exitError{code: exitBadUsage, err: fmt.Errorf("--role %q: want all, capture or sink", o.role)}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	common := capture.NewMetrics(reg)
	metrics := readerMetrics{pg: cappg.NewMetrics(reg, common), my: capmysql.NewMetrics(reg, common)}
	registry := schema.NewRegistry(cfg.Registry)
	var healthy atomic.Bool

	st, stopStatus := startStatus(ctx, cfg, names, o, reg)
	defer stopStatus()
	srv, err := serveHTTP(cfg.HTTP.Listen, reg, &healthy, withPprof, st, log)
	if err != nil {
		return err
	}
	if srv != nil {
		defer srv.Close()
	}

	var pipes []*capturePipeline
	for _, name := range names {
		if o.role == roleSink || len(cfg.Systems[name].Capture.Tables) == 0 {
			continue
		}
		p, err := newPipeline(ctx, cfg, name, registry, reg, metrics, log, stderr, drain, false)
		if err != nil {
			for _, q := range pipes {
				q.close()
			}
			return err
		}
		pipes = append(pipes, p)
	}
	// Readers stop with ctx (the signal); publishers get their own context,
	// cancelled only after they have drained, so the last acks still land.
	pubCtx, stopPubs := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPubs()
	readers, rctx := errgroup.WithContext(ctx)
	pubs := &errgroup.Group{}
	failed := make(chan struct{})
	var failOnce atomic.Bool
	for _, p := range pipes {
		pubs.Go(func() error {
			err := p.pub.Run(pubCtx)
			if err != nil && failOnce.CompareAndSwap(false, true) {
				close(failed)
			}
			if err != nil {
				return fmt.Errorf("system %s: publish: %w", p.name, err)
			}
			return nil
		})
		readers.Go(func() error {
			// a failed publisher stops its reader too
			rc, cancel := context.WithCancel(rctx)
			defer cancel()
			go func() {
				select {
				case <-failed:
					cancel()
				case <-rc.Done():
				}
			}()
			if err := p.reader.Run(rc); err != nil {
				return err
			}
			return nil
		})
	}
	var sinks []*runningSink
	if o.role != roleCapture {
		for _, name := range names {
			if topics, _ := sink.Topics(cfg, name); len(topics) == 0 {
				continue
			}
			rs, err := newSink(ctx, cfg, name, registry, reg, chainReports(st.sinkHook(name), o.onApplied), log)
			if err != nil {
				for _, q := range sinks {
					q.target.Close()
				}
				for _, q := range pipes {
					q.close()
				}
				return err
			}
			sinks = append(sinks, rs)
		}
	}
	for _, rs := range sinks {
		readers.Go(func() error {
			defer rs.target.Close()
			return rs.sink.Run(rctx) // its errors name the sink
		})
	}
	healthy.Store(true)
	log.Info("running", "systems", names, "role", o.role)
	readErr := readers.Wait()
	healthy.Store(false)
	log.Info("stopping: draining what Kafka has not acknowledged yet", "timeout", drain.String())
	for _, p := range pipes {
		if err := p.pub.Close(); err != nil {
			log.Warn("drain", "system", p.name, "err", err)
		}
	}
	stopPubs()
	pubErr := pubs.Wait()
	for _, p := range pipes {
		p.close()
	}
	if err := errors.Join(readErr, pubErr); err != nil {
		return err
	}
	log.Info("stopped cleanly")
	return nil
}

func newPipeline(ctx context.Context, cfg *mapping.Config, name string, registry *schema.Registry,
	reg prometheus.Registerer, metrics readerMetrics, log *slog.Logger, stderr *os.File, drain time.Duration,
	stopAfterSnapshot bool) (*capturePipeline, error) {
	sys := cfg.Systems[name]
	store, err := bus.OpenOffsetStore(ctx, cfg.Kafka, name)
	if err != nil {
		return nil, fmt.Errorf("system %s: offsets topic: %w", name, err)
	}
	p := &capturePipeline{name: name, store: store}
	fail := func(err error) (*capturePipeline, error) {
		p.close()
		return nil, err
	}
	db, err := databaseName(sys)
	if err != nil {
		return fail(err)
	}
	ser, err := schema.NewSerializer(registry, schema.SerializerOptions{
		System: name, Connector: sys.Kind, Database: db, TopicPrefix: cfg.Kafka.TopicPrefix, Entity: cfg.Entity,
	})
	if err != nil {
		return fail(err)
	}
	p.pub, err = publish.New(publish.Options{
		Kafka:        cfg.Kafka,
		Encoder:      ser,
		Ack:          func(pos capture.Position) { p.reader.Ack(pos) },
		Logger:       log.With("system", name),
		Registerer:   prometheus.WrapRegistererWith(prometheus.Labels{"system": name}, reg),
		DrainTimeout: drain,
	})
	if err != nil {
		return fail(err)
	}
	var handler capture.Handler = p.pub
	if len(sys.Entities) > 0 {
		if handler, err = p.mappingStage(ctx, cfg, sys, ser, reg, log); err != nil {
			return fail(err)
		}
	}
	progress := newProgress(stderr, log.With("system", name))
	switch sys.Kind {
	case mapping.KindPostgres:
		p.reader, err = cappg.New(cappg.Options{
			System: name, DSN: sys.DSN, Capture: sys.Capture, CheckpointTable: sys.CheckpointTable,
			Handler: handler, Logger: log, Store: store, Progress: progress, Metrics: metrics.pg,
			StopAfterSnapshot: stopAfterSnapshot,
		})
	case mapping.KindMySQL:
		p.reader, err = capmysql.New(capmysql.Options{
			System: name, DSN: sys.DSN, Capture: sys.Capture, CheckpointTable: sys.CheckpointTable,
			Handler: handler, Logger: log, Store: store, Progress: progress, Metrics: metrics.my,
			StopAfterSnapshot: stopAfterSnapshot,
		})
	}
	if err != nil {
		p.reader = nil // a typed nil: nothing to close
		return fail(err)
	}
	return p, nil
}

// chainReports calls each non-nil hook in turn.
func chainReports(hooks ...func([]sink.Report)) func([]sink.Report) {
	var live []func([]sink.Report)
	for _, h := range hooks {
		if h != nil {
			live = append(live, h)
		}
	}
	if len(live) == 0 {
		return nil
	}
	return func(r []sink.Report) {
		for _, h := range live {
			h(r)
		}
	}
}

// runningSink is one system's sink and its target connection.
type runningSink struct {
	name   string
	sink   *sink.Sink
	target sink.Target
}

// newSink connects to the target database of system name and builds its
// sink.
func newSink(ctx context.Context, cfg *mapping.Config, name string, registry *schema.Registry, reg prometheus.Registerer,
	onApplied func([]sink.Report), log *slog.Logger) (*runningSink, error) {
	sys := cfg.Systems[name]
	var target sink.Target
	var err error
	switch sys.Kind {
	case mapping.KindPostgres:
		target, err = sinkpg.New(ctx, sinkpg.Options{System: name, Sink: name, DSN: sys.DSN, CheckpointTable: sys.CheckpointTable, MaxConns: sys.Sink.Connections, Logger: log})
	case mapping.KindMySQL:
		target, err = sinkmy.New(ctx, sinkmy.Options{System: name, Sink: name, DSN: sys.DSN, CheckpointTable: sys.CheckpointTable, MaxConns: sys.Sink.Connections, Logger: log})
	}
	if err != nil {
		return nil, fmt.Errorf("sink %s: connect to the target: %w", name, err)
	}
	s, err := sink.New(sink.Options{System: name, Config: cfg, Target: target, Registry: registry, Logger: log,
		Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"sink": name}, reg), OnApplied: onApplied})
	if err != nil {
		target.Close()
		return nil, fmt.Errorf("sink %s: %w", name, err)
	}
	return &runningSink{name: name, sink: s, target: target}, nil
}

// mappingStage builds the handler that turns the system's mapped tables
// into entity events, with its own connections for lookups.
func (p *capturePipeline) mappingStage(ctx context.Context, cfg *mapping.Config, sys *mapping.System, ser *schema.Serializer,
	reg prometheus.Registerer, log *slog.Logger) (capture.Handler, error) {
	var rows interface {
		mapping.RowSource
		io.Closer
	}
	var err error
	switch sys.Kind {
	case mapping.KindPostgres:
		rows, err = cappg.NewRowSource(ctx, sys.DSN)
	case mapping.KindMySQL:
		rows, err = capmysql.NewRowSource(ctx, sys.DSN)
	}
	if err != nil {
		return nil, fmt.Errorf("system %s: the mapping's lookup connection: %w", p.name, err)
	}
	p.rows = rows
	h, err := mapped.New(mapped.Options{
		System: p.name, Config: cfg, Rows: rows, Next: p.pub, Encoder: ser,
		DLQTopic: cfg.Kafka.Topic(p.name, "dlq"), Logger: log.With("system", p.name),
		Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"system": p.name}, reg),
	})
	if err != nil {
		return nil, fmt.Errorf("system %s: %w", p.name, err)
	}
	log.Info("entity mapping", "system", p.name, "tables", len(h.MappedTables()), "raw_topics", sys.Capture.RawTopics)
	return h, nil
}

func (p *capturePipeline) close() {
	if p.reader != nil {
		p.reader.Close()
	}
	if p.rows != nil {
		p.rows.Close()
	}
	if p.store != nil {
		p.store.Close()
	}
}

func databaseName(sys *mapping.System) (string, error) {
	parse := cappg.ParseDSN
	if sys.Kind == mapping.KindMySQL {
		parse = capmysql.ParseDSN
	}
	c, err := parse(sys.DSN)
	if err != nil {
		return "", fmt.Errorf("system %s: %w", sys.Name, err)
	}
	return c, nil
}

// serveHTTP starts the metrics and health listener, or returns nil when
// listen is empty.
func serveHTTP(listen string, reg *prometheus.Registry, healthy *atomic.Bool, withPprof bool, st *runStatus, log *slog.Logger) (*http.Server, error) {
	if listen == "" {
		return nil, nil
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if healthy.Load() {
			fmt.Fprintln(w, "ok")
			return
		}
		http.Error(w, "not running", http.StatusServiceUnavailable)
	})
	st.mount(mux)
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("http.listen %s: %w (is another tandem running? set http.listen to a free address, or empty to turn it off)", listen, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http listener", "err", err)
		}
	}()
	log.Info("http listening", "addr", ln.Addr().String(), "pprof", withPprof)
	st.announce(ln.Addr(), log)
	return srv, nil
}
