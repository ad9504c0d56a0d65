package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/internal/config"
)

// CheckpointDDL creates the checkpoint table that tandem's sinks write as the
// first row of every transaction they apply. The capture keeps it in its
// publication so that it can recognise (and drop) those transactions.
func CheckpointDDL(qualified string) string {
	s, t := capture.SplitTable(qualified)
	return `CREATE TABLE IF NOT EXISTS ` + pgx.Identifier{s, t}.Sanitize() + ` (
  consumer        text        NOT NULL,
  topic           text        NOT NULL,
  kafka_partition integer     NOT NULL,
  kafka_offset    bigint      NOT NULL,
  source_position text        NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, topic, kafka_partition))`
}

// RetryCatalogRace runs fn again when it lost a race with another session
// creating the same catalog object: CREATE ... IF NOT EXISTS in two
// sessions at once can fail with a unique violation in the catalog
// (SQLSTATE 23505); the second try sees the object.
func RetryCatalogRace(fn func() error) error {
	err := fn()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		err = fn()
	}
	return err
}

func (r *Reader) ensureCheckpointTable(ctx context.Context) error {
	if err := RetryCatalogRace(func() error { _, err := r.catalog.Exec(ctx, CheckpointDDL(r.ckpt)); return err }); err != nil {
		return fmt.Errorf("system %s: create checkpoint table %s: %w", r.opts.System, r.ckpt, err)
	}
	return nil
}

// ensurePublication creates the publication for the captured tables and the
// checkpoint table, or makes an existing one hold exactly those tables.
func (r *Reader) ensurePublication(ctx context.Context) error {
	name := r.opts.Capture.Publication
	want := append(append([]string{}, r.opts.Capture.Tables...), r.ckpt)
	for _, t := range r.opts.Capture.Tables {
		if err := r.checkTable(ctx, t); err != nil {
			return err
		}
	}
	list := strings.Join(quoteAll(want), ", ")
	var allTables bool
	err := r.catalog.QueryRow(ctx, "SELECT puballtables FROM pg_publication WHERE pubname = $1", name).Scan(&allTables)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := r.catalog.Exec(ctx, "CREATE PUBLICATION "+quoteIdent(name)+" FOR TABLE "+list); err != nil {
			return fmt.Errorf("system %s: create publication %s: %w; fix: as the tables' owner run CREATE PUBLICATION %s FOR TABLE %s;",
				r.opts.System, name, err, quoteIdent(name), list)
		}
		r.log.Info("created publication", "publication", name, "tables", len(want))
		return nil
	case err != nil:
		return fmt.Errorf("system %s: read publication %s: %w", r.opts.System, name, err)
	case allTables:
		return nil
	}
	rows, err := r.catalog.Query(ctx, "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = $1", name)
	if err != nil {
		return fmt.Errorf("system %s: read publication %s: %w", r.opts.System, name, err)
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	sort.Strings(have)
	sorted := append([]string{}, want...)
	sort.Strings(sorted)
	if strings.Join(have, ",") == strings.Join(sorted, ",") {
		return nil
	}
	if _, err := r.catalog.Exec(ctx, "ALTER PUBLICATION "+quoteIdent(name)+" SET TABLE "+list); err != nil {
		return fmt.Errorf("system %s: update publication %s to the configured tables: %w; fix: as the tables' owner run ALTER PUBLICATION %s SET TABLE %s;",
			r.opts.System, name, err, quoteIdent(name), list)
	}
	r.log.Info("updated publication to the configured tables", "publication", name, "tables", len(want))
	return nil
}

// checkTable refuses a table whose updates and deletes would carry no key.
func (r *Reader) checkTable(ctx context.Context, qualified string) error {
	s, t := capture.SplitTable(qualified)
	var ident string
	var hasPK bool
	err := r.catalog.QueryRow(ctx, `SELECT c.relreplident::text,
		EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r','p')`, s, t).Scan(&ident, &hasPK)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("system %s: captured table %s does not exist; fix: create it or remove it from systems.%s.capture.tables",
			r.opts.System, qualified, r.opts.System)
	}
	if err != nil {
		return fmt.Errorf("system %s: inspect table %s: %w", r.opts.System, qualified, err)
	}
	quoted := pgx.Identifier{s, t}.Sanitize()
	if ident == "n" || (ident == "d" && !hasPK) {
		return fmt.Errorf("system %s: table %s has no primary key or replica identity, so its updates and deletes carry no key; fix: ALTER TABLE %s ADD PRIMARY KEY (...); or ALTER TABLE %s REPLICA IDENTITY FULL;",
			r.opts.System, qualified, quoted, quoted)
	}
	return nil
}

// existingSlot returns the confirmed position of the slot, and whether it
// exists. A slot that cannot be used is an error naming the fix. It never
// drops a slot.
func (r *Reader) existingSlot(ctx context.Context) (pglogrepl.LSN, bool, error) {
	name := r.opts.Capture.Slot
	var plugin, walStatus string
	var confirmed *string
	err := r.catalog.QueryRow(ctx, `SELECT coalesce(plugin,''), coalesce(wal_status,''), confirmed_flush_lsn::text
		FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()`, name).Scan(&plugin, &walStatus, &confirmed)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("system %s: read slot %s: %w", r.opts.System, name, err)
	}
	switch {
	case plugin != "pgoutput":
		return 0, false, fmt.Errorf("system %s: slot %s uses plugin %q, not pgoutput; fix: choose another systems.%s.capture.slot", r.opts.System, name, plugin, r.opts.System)
	case walStatus == "lost":
		return 0, false, fmt.Errorf("system %s: slot %s is invalidated: PostgreSQL removed WAL it still needed, so changes were lost; fix: run tandem snapshot --system %s to re-create the slot and re-read the tables",
			r.opts.System, name, r.opts.System)
	case confirmed == nil:
		return 0, false, fmt.Errorf("system %s: slot %s has no confirmed position", r.opts.System, name)
	}
	lsn, err := pglogrepl.ParseLSN(*confirmed)
	return lsn, true, err
}

// createSlot creates the slot without a snapshot and returns its
// consistent point.
func (r *Reader) createSlot(ctx context.Context) (pglogrepl.LSN, error) {
	name := r.opts.Capture.Slot
	res, err := pglogrepl.CreateReplicationSlot(ctx, r.repl, name, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "NOEXPORT_SNAPSHOT"})
	if err != nil {
		return 0, slotError(r.opts.System, name, err)
	}
	r.log.Info("created slot", "slot", name, "consistent_point", res.ConsistentPoint)
	return pglogrepl.ParseLSN(res.ConsistentPoint)
}

func slotError(system, name string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "53400" {
		return fmt.Errorf("system %s: create slot %s: all replication slots are in use; fix: ALTER SYSTEM SET max_replication_slots = <more>; then restart PostgreSQL", system, name)
	}
	return fmt.Errorf("system %s: create slot %s: %w", system, name, err)
}

// ParseDSN returns the database name of a PostgreSQL DSN.
func ParseDSN(dsn config.Secret) (string, error) {
	cfg, err := pgconn.ParseConfig(dsn.Reveal())
	if err != nil {
		return "", errors.New("the DSN does not parse")
	}
	return cfg.Database, nil
}

// ErrHealthySlot is returned by ResetSlot for a usable slot without force.
var ErrHealthySlot = errors.New("slot is healthy")

// ResetSlot drops the system's slot and forgets its snapshot progress, so
// that the next Run creates the slot again and snapshots every table. It
// refuses a healthy slot unless force is set, and a slot in use always.
// This is the explicit recovery from an invalidated slot; nothing else ever
// drops a slot.
func ResetSlot(ctx context.Context, opts Options, force bool) error {
	cfg, err := pgx.ParseConfig(opts.DSN.Reveal())
	if err != nil {
		return fmt.Errorf("system %s: the DSN does not parse", opts.System)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		detail, fix := ConnectFailure(err, cfg.User, cfg.Host, cfg.Port, cfg.Database, opts.System)
		return fmt.Errorf("system %s: %s; fix: %s", opts.System, detail, fix)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	slot := opts.Capture.Slot
	var walStatus string
	var active bool
	err = conn.QueryRow(ctx, `SELECT coalesce(wal_status, ''), active FROM pg_replication_slots
		WHERE slot_name = $1 AND database = current_database()`, slot).Scan(&walStatus, &active)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return fmt.Errorf("system %s: read slot %s: %w", opts.System, slot, err)
	case active:
		return fmt.Errorf("system %s: slot %s is in use; stop tandem run for this system first", opts.System, slot)
	case walStatus != "lost" && !force:
		return fmt.Errorf("system %s: %w: %s (wal_status %s); a new snapshot publishes every row again as op r; pass --force to do it anyway",
			opts.System, ErrHealthySlot, slot, walStatus)
	default:
		if _, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot($1)", slot); err != nil {
			return fmt.Errorf("system %s: drop slot %s: %w", opts.System, slot, err)
		}
	}
	if opts.Store != nil {
		if err := opts.Store.Save(ctx, snapshotKey, nil); err != nil {
			return fmt.Errorf("system %s: forget snapshot progress: %w", opts.System, err)
		}
	}
	return nil
}
