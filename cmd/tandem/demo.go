package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	_ "github.com/go-sql-driver/mysql" // the shop's driver
	_ "github.com/jackc/pgx/v5/stdlib" // the ERP's driver
	"github.com/spf13/cobra"

	"github.com/tandem-sync/tandem/capture"
	cappg "github.com/tandem-sync/tandem/capture/postgres"
	"github.com/tandem-sync/tandem/demo"
	"github.com/tandem-sync/tandem/mapping"
	"github.com/tandem-sync/tandem/sink"
)

// demoFlows counts what the sinks applied, per direction (from -> to).
type demoFlows struct {
	mu      sync.Mutex
	applied map[string]int // "shop -> erp" -> events applied
	dlq     int
}

func (d *demoFlows) record(batch []sink.Report) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range batch {
		switch r.Outcome {
		case "applied":
			d.applied[r.Origin+" -> "+r.Sink]++
		case "dlq":
			d.dlq++
		}
	}
}

func (d *demoFlows) summary() (map[string]int, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]int, len(d.applied))
	for k, v := range d.applied {
		out[k] = v
	}
	return out, d.dlq
}

func newDemoCmd(g *globals) *cobra.Command {
	var (
		rate     float64
		duration time.Duration
		seed     int64
		noSeed   bool
		prefix   string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the WooCommerce/Odoo demo: fixtures, seed data, live sync and generated traffic",
		Long: `Set up and run the demo on the local stack (make up starts it):

1. load the WooCommerce-style shop schema into the MariaDB database and the
   Odoo-style ERP schema into the PostgreSQL database the config's shop and
   erp systems name (existing demo tables are dropped first);
2. seed both sides alike, as if synced before: hundreds of products with
   variants, thousands of customers, orders with lines, three warehouses;
3. run every capture and sink of the config (as tandem run does, streaming
   from now on, on topics of a fresh prefix), with the status page at
   http://<http.listen>/status and the dashboard on the terminal;
4. act as both applications at --rate operations per second: shoppers
   register and order, the ERP receives stock, changes prices, confirms,
   ships and invoices, customers ask for returns.

It runs until Ctrl-C (or --duration), then stops the traffic, lets the sync
settle, and prints what flowed each way. With --duration it exits 1 unless
events flowed both ways.`,
		Example: "  tandem demo --config deploy/examples/woocommerce-odoo.yaml\n  tandem demo -c deploy/examples/woocommerce-odoo.yaml --rate 50 --duration 60s",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			return runDemo(cmd.Context(), cfg, g, demoOptions{rate: rate, duration: duration, seed: seed, noSeed: noSeed, prefix: prefix})
		},
	}
	f := cmd.Flags()
	f.Float64Var(&rate, "rate", 10, "generated operations per second, both applications together")
	f.DurationVar(&duration, "duration", 0, "stop after this long (0: until Ctrl-C); then exit 1 unless events flowed both ways")
	f.Int64Var(&seed, "seed", 1, "seed of the generated data and traffic (0: from the clock)")
	f.BoolVar(&noSeed, "no-seed", false, "load the empty schemas only, without the seed data")
	f.StringVar(&prefix, "topic-prefix", "", "topic prefix of this run (default demo<time>, so that runs never mix)")
	return cmd
}

type demoOptions struct {
	rate     float64
	duration time.Duration
	seed     int64
	noSeed   bool
	prefix   string
}

// demoSystems finds the shop (MySQL) and ERP (PostgreSQL) systems.
func demoSystems(cfg *mapping.Config) (shop, erp *mapping.System, err error) {
	for _, name := range cfg.SystemNames() {
		s := cfg.Systems[name]
		switch {
		case s.Kind == mapping.KindMySQL && shop == nil:
			shop = s
		case s.Kind == mapping.KindPostgres && erp == nil:
			erp = s
		}
	}
	if shop == nil || erp == nil {
		return nil, nil, errors.New("the demo needs a mysql system (the shop) and a postgres system (the ERP), as deploy/examples/woocommerce-odoo.yaml has")
	}
	return shop, erp, nil
}

func runDemo(ctx context.Context, cfg *mapping.Config, g *globals, o demoOptions) error {
	log := g.logger(cfg.Log)
	shop, erp, err := demoSystems(cfg)
	if err != nil {
		return &exitError{code: exitBadUsage, err: err}
	}
	shopDB, err := databaseName(shop)
	if err != nil {
		return err
	}
	erpDB, err := databaseName(erp)
	if err != nil {
		return err
	}
	say := func(format string, args ...any) { fmt.Fprintf(g.stderr, format+"\n", args...) }

	// 1. fresh schemas; the ERP's slot from an earlier run would replay
	// the reset, so it goes too
	say("demo: loading the shop schema into MariaDB database %s and the ERP schema into PostgreSQL database %s", shopDB, erpDB)
	if err := cappg.ResetSlot(ctx, cappg.Options{System: erp.Name, DSN: erp.DSN, Capture: erp.Capture}, true); err != nil {
		log.Debug("no slot to reset", "err", err)
	}
	if err := demo.ResetFixtures(ctx, shop.DSN.Reveal(), erp.DSN.Reveal(), shopDB, erpDB); err != nil {
		return err
	}
	shopConn, err := sql.Open("mysql", shop.DSN.Reveal())
	if err != nil {
		return err
	}
	defer shopConn.Close()
	erpConn, err := sql.Open("pgx", erp.DSN.Reveal())
	if err != nil {
		return err
	}
	defer erpConn.Close()

	// 2. seed
	if !o.noSeed {
		start := time.Now()
		st, err := demo.Seed(ctx, shopConn, erpConn, demo.SeedOptions{Seed: o.seed})
		if err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		say("demo: seeded %d rows in %s: %d products, %d customers, %d orders", st.Rows, time.Since(start).Round(time.Millisecond),
			st.Products, st.Customers, st.Orders)
	}

	// 3. the sync, streaming from now on, on topics of their own
	if o.prefix == "" {
		o.prefix = "demo" + time.Now().UTC().Format("20060102150405")
	}
	cfg.Kafka.TopicPrefix = o.prefix
	for _, s := range cfg.Systems {
		s.Capture.Snapshot = capture.SnapshotNever
	}
	names, err := runnable(cfg, nil)
	if err != nil {
		return err
	}
	flows := &demoFlows{applied: map[string]int{}}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	runDone := make(chan error, 1)
	go func() {
		runDone <- runSystems(runCtx, cfg, names, runOptions{log: log, drain: 30 * time.Second, tty: g.tty,
			dashboard: o.duration == 0, onApplied: flows.record})
	}()
	say("demo: syncing %s on topics %s.*; status page: http://%s/status", strings.Join(names, " and "), o.prefix, cfg.HTTP.Listen)
	time.Sleep(3 * time.Second) // the captures start streaming

	// 4. the applications
	genCtx := ctx
	var stopGen context.CancelFunc = func() {}
	if o.duration > 0 {
		genCtx, stopGen = context.WithTimeout(ctx, o.duration)
	}
	defer stopGen()
	gopts := demo.DefaultGenerateOptions()
	gopts.Rate, gopts.Seed, gopts.Logger = o.rate, o.seed, log
	gopts.Progress = func(st demo.GenerateStats) { log.Info("traffic", "operations", st.Total()) }
	var genErr error
	var stats demo.GenerateStats
	genDone := make(chan struct{})
	go func() {
		defer close(genDone)
		stats, genErr = demo.Generate(genCtx, shopConn, erpConn, gopts)
	}()
	select {
	case <-genDone:
	case err := <-runDone:
		stopGen()
		<-genDone
		if err == nil {
			err = errors.New("the sync stopped")
		}
		return err
	}
	say("demo: traffic stopped; letting the sync settle")
	if ctx.Err() == nil {
		time.Sleep(10 * time.Second)
	}
	stopRun()
	runErr := <-runDone
	fmt.Fprintln(g.stdout, stats.String())
	applied, dlq := flows.summary()
	printFlows(g.stdout, applied, dlq)
	if err := errors.Join(genErr, runErr); err != nil {
		return err
	}
	if o.duration > 0 {
		if applied[shop.Name+" -> "+erp.Name] == 0 || applied[erp.Name+" -> "+shop.Name] == 0 {
			return &exitError{code: exitFailed, err: fmt.Errorf("events did not flow both ways: %v", applied)}
		}
	}
	return nil
}

func printFlows(w io.Writer, applied map[string]int, dlq int) {
	dirs := make([]string, 0, len(applied))
	for d := range applied {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	fmt.Fprintln(w, "applied by the sinks:")
	for _, d := range dirs {
		fmt.Fprintf(w, "  %-16s %d events\n", d, applied[d])
	}
	fmt.Fprintf(w, "  dead-lettered    %d events\n", dlq)
}
