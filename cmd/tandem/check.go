package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/tandem-sync/tandem/bus"
	capmysql "github.com/tandem-sync/tandem/capture/mysql"
	cappg "github.com/tandem-sync/tandem/capture/postgres"
	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/internal/preflight"
	"github.com/tandem-sync/tandem/mapping"
	"github.com/tandem-sync/tandem/schema"
)

func newCheckCmd(g *globals) *cobra.Command {
	var (
		timeout time.Duration
		output  string
		systems []string
	)
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Verify every prerequisite and print the fix for each failure",
		Long: `Connect to every system, to Kafka and to the schema registry, and check
each prerequisite of capture and sync. Prints one row per prerequisite:
pass, warn or FAIL, what was found, and for each failure the exact fix.

PostgreSQL: server version, wal_level=logical, free replication slots and WAL
senders, the REPLICATION attribute, a working replication connection, a
primary key or replica identity and SELECT on each captured table, the
publication and the slot.

MySQL/MariaDB: version, log_bin, binlog_format=ROW, binlog_row_image=FULL,
binlog_row_metadata=FULL, server_id (and no collision with tandem's), GTIDs,
REPLICATION SLAVE and REPLICATION CLIENT (BINLOG MONITOR) privileges, a
primary key and SELECT on each captured table.

Kafka: the brokers answer with the configured TLS/SASL, and the replication
factor fits the cluster. Schema registry: the Confluent API answers.

It changes nothing anywhere. Exit code 0 only when every check passes
(warnings do not fail), 1 when any fails, 2 when the config is invalid.`,
		Example: "  tandem check --config deploy/examples/local.yaml\n  tandem check -c tandem.yaml --output json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return &exitError{code: exitBadUsage, err: fmt.Errorf("--output %q is not one of table, json", output)}
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			for _, s := range systems {
				if _, ok := cfg.Systems[s]; !ok {
					return &exitError{code: exitBadUsage, err: fmt.Errorf("--system %q is not in %s (systems: %s)", s, g.configPath, strings.Join(cfg.SystemNames(), ", "))}
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			results := runChecks(ctx, cfg, systems)
			if output == "json" {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(results); err != nil {
					return err
				}
			} else {
				printResults(g.stdout, results)
			}
			if !preflight.OK(results) {
				return &exitError{code: exitFailed, quiet: true}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&timeout, "timeout", 20*time.Second, "give up on checks that take longer than this")
	f.StringVarP(&output, "output", "o", "table", "table or json")
	f.StringSliceVar(&systems, "system", nil, "check only these systems (default: all, plus Kafka and the registry)")
	return cmd
}

// runChecks runs the checks of every target at once and returns their
// results in a stable order: systems by name, then Kafka, then the registry.
func runChecks(ctx context.Context, cfg *mapping.Config, only []string) []preflight.Result {
	type job struct {
		run func(context.Context) []preflight.Result
		out []preflight.Result
	}
	var jobs []*job
	names := cfg.SystemNames()
	if len(only) > 0 {
		names = only
	}
	for _, name := range names {
		s := cfg.Systems[name]
		switch s.Kind {
		case mapping.KindPostgres:
			t := cappg.Target{System: name, DSN: s.DSN, Capture: s.Capture, CheckpointTable: s.CheckpointTable, Mapped: cfg.MappedTables(name)}
			jobs = append(jobs, &job{run: func(ctx context.Context) []preflight.Result {
				return append(cappg.Preflight(ctx, t), checkMapping(ctx, cfg, name, cappg.ColumnLookup)...)
			}})
		case mapping.KindMySQL:
			t := capmysql.Target{System: name, DSN: s.DSN, Capture: s.Capture, CheckpointTable: s.CheckpointTable}
			jobs = append(jobs, &job{run: func(ctx context.Context) []preflight.Result {
				return append(capmysql.Preflight(ctx, t), checkMapping(ctx, cfg, name, capmysql.ColumnLookup)...)
			}})
		}
		if run := sinkPreflight(cfg, name); run != nil {
			jobs = append(jobs, &job{run: run})
		}
	}
	if len(only) == 0 {
		jobs = append(jobs, &job{run: func(context.Context) []preflight.Result { return checkClocks(cfg) }})
		jobs = append(jobs,
			&job{run: func(ctx context.Context) []preflight.Result { return bus.Preflight(ctx, cfg.Kafka) }},
			&job{run: func(ctx context.Context) []preflight.Result { return schema.Preflight(ctx, cfg.Registry) }},
		)
	}
	var eg errgroup.Group
	for _, j := range jobs {
		eg.Go(func() error {
			j.out = j.run(ctx)
			return nil
		})
	}
	_ = eg.Wait()
	var all []preflight.Result
	for _, j := range jobs {
		all = append(all, j.out...)
	}
	return all
}

func printResults(w io.Writer, results []preflight.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tCHECK\tRESULT\tDETAIL")
	var failed, warned int
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Target, r.Check, r.Status, r.Detail)
		if r.Fix != "" && r.Status != preflight.Pass {
			fmt.Fprintf(tw, "\t\t\t  fix: %s\n", r.Fix)
		}
		switch r.Status {
		case preflight.Fail, preflight.Skip:
			failed++
		case preflight.Warn:
			warned++
		}
	}
	tw.Flush()
	switch {
	case failed > 0:
		fmt.Fprintf(w, "\n%d of %d checks failed, %d warnings.\n", failed, len(results), warned)
	case warned > 0:
		fmt.Fprintf(w, "\nAll %d checks passed, with %d warnings.\n", len(results), warned)
	default:
		fmt.Fprintf(w, "\nAll %d checks passed.\n", len(results))
	}
}

// checkMapping checks a system's entity mappings against its live schema.
func checkMapping(ctx context.Context, cfg *mapping.Config, name string,
	open func(context.Context, config.Secret) (func(string) (map[string]string, bool, error), func(), error)) []preflight.Result {
	s := cfg.Systems[name]
	if len(s.Entities) == 0 {
		return nil
	}
	lookup, done, err := open(ctx, s.DSN)
	if err != nil {
		rec := &preflight.Recorder{Target: name + " (" + s.Kind + ")"}
		rec.Skip("mapping", "cannot connect to read the schema")
		return rec.Results
	}
	defer done()
	return cfg.CheckSchema(name, lookup)
}

// checkClocks warns about fields both systems may change on an entity that
// a system maps without updated_at (mapping.Config.ClocklessBoth).
func checkClocks(cfg *mapping.Config) []preflight.Result {
	rec := preflight.Recorder{Target: "config"}
	missing := cfg.ClocklessBoth()
	for _, ent := range slices.Sorted(maps.Keys(cfg.Ownership)) {
		o := cfg.Ownership[ent]
		if o == nil || len(o.Both) == 0 {
			continue
		}
		check := "last writer wins: " + ent
		if sys := missing[ent]; len(sys) > 0 {
			rec.Warn(check, fmt.Sprintf("%s changed on both sides (%s) is decided by updated_at, which %s does not map for %s: a change there always wins, and two changes at once can end swapped",
				strings.Join(o.Both, ", "), "ownership."+ent+".both", strings.Join(sys, " and "), ent),
				fmt.Sprintf("map the row's modification time as updated_at in systems.%s.entities.%s.fields (for example updated_at: {column: write_date, timezone: UTC})", sys[0], ent))
			continue
		}
		rec.Pass(check, fmt.Sprintf("%s decided by updated_at, mapped on every system", strings.Join(o.Both, ", ")))
	}
	return rec.Results
}
