package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	capmysql "github.com/tandem-sync/tandem/capture/mysql"
	cappg "github.com/tandem-sync/tandem/capture/postgres"
	"github.com/tandem-sync/tandem/mapping"
	"github.com/tandem-sync/tandem/schema"
)

func newSnapshotCmd(g *globals) *cobra.Command {
	var (
		system string
		force  bool
	)
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Re-create a system's slot and snapshot its tables again (recovery)",
		Long: `Take a new initial snapshot of one system: drop its replication slot, forget
the stored snapshot progress, create the slot again and publish every row of
the captured tables as op r, then exit. 'tandem run' streams from there.

This is the recovery when a slot was invalidated (PostgreSQL removed WAL the
slot still needed, so changes were lost; 'tandem run' and 'tandem check' say
so). tandem never drops a slot on its own: a healthy slot is only dropped
with --force, and a slot in use never (stop 'tandem run' first).

Consumers see every row again; sinks apply them idempotently.`,
		Example: "  tandem snapshot --config tandem.yaml --system erp",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			names, err := runnable(cfg, []string{system})
			if err != nil {
				return &exitError{code: exitBadUsage, err: err}
			}
			return takeSnapshot(cmd.Context(), cfg, names[0], force, g)
		},
	}
	cmd.Flags().StringVar(&system, "system", "", "the system to snapshot (required)")
	cmd.Flags().BoolVar(&force, "force", false, "drop and re-create the slot even though it is healthy")
	_ = cmd.MarkFlagRequired("system")
	return cmd
}

func takeSnapshot(ctx context.Context, cfg *mapping.Config, name string, force bool, g *globals) error {
	log := g.logger(cfg.Log)
	sys := cfg.Systems[name]
	p, err := newPipeline(ctx, cfg, name, schema.NewRegistry(cfg.Registry), prometheus.NewRegistry(),
		readerMetrics{pg: cappg.NewMetrics(nil, nil), my: capmysql.NewMetrics(nil, nil)}, log, g.tty, 30*time.Second, true)
	if err != nil {
		return err
	}
	defer p.close()
	switch sys.Kind {
	case mapping.KindPostgres:
		opts := cappg.Options{System: name, DSN: sys.DSN, Capture: sys.Capture, CheckpointTable: sys.CheckpointTable, Store: p.store}
		err = cappg.ResetSlot(ctx, opts, force)
		if errors.Is(err, cappg.ErrHealthySlot) {
			return &exitError{code: exitFailed, err: err}
		}
	case mapping.KindMySQL:
		if !force {
			return &exitError{code: exitFailed, err: fmt.Errorf("system %s: a new snapshot publishes every row again as op r and restarts the stream from the snapshot's position; pass --force to do it", name)}
		}
		err = capmysql.Reset(ctx, p.store)
	}
	if err != nil {
		return err
	}
	pubCtx, stopPub := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPub()
	var eg errgroup.Group
	eg.Go(func() error { return p.pub.Run(pubCtx) })
	readErr := p.reader.Run(ctx)
	closeErr := p.pub.Close()
	stopPub()
	if err := errors.Join(readErr, closeErr, eg.Wait()); err != nil {
		return fmt.Errorf("system %s: snapshot: %w", name, err)
	}
	if ctx.Err() != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("system %s: snapshot interrupted; tandem run resumes it", name)}
	}
	fmt.Fprintf(g.stdout, "system %s: snapshot done; run tandem run to stream from it\n", name)
	return nil
}
