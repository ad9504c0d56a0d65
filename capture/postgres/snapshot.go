package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/capture/internal/snapshot"
)

// Store keeps the snapshot's progress durably (bus.OffsetStore in
// production). Save must return only once the value is durable.
type Store = snapshot.Store

const snapshotKey = "postgres.snapshot"

// snapshotStart is where the stream continues after the snapshot.
type snapshotStart struct {
	Slot       string `json:"slot"`
	Consistent string `json:"consistent_point"`
}

func (r *Reader) snapshotRunner() *snapshot.Runner {
	return &snapshot.Runner{
		Store: r.opts.Store, Key: snapshotKey, Handler: r.opts.Handler, Progress: r.opts.Progress,
		Tables: r.opts.Capture.Tables, ChunkRows: r.opts.Capture.ChunkRows, Log: r.log,
	}
}

// startOf decodes the stored start of a snapshot.
func startOf(st *snapshot.State) (snapshotStart, error) {
	var s snapshotStart
	err := json.Unmarshal(st.Start, &s)
	return s, err
}

// runSnapshot reads the tables in the exported snapshot snapName, or, when
// resuming after a crash (snapName empty), in a fresh one. It returns once
// every chunk is acked and the progress saved.
func (r *Reader) runSnapshot(ctx context.Context, st *snapshot.State, cp pglogrepl.LSN, snapName string) error {
	cfg, err := pgx.ParseConfig(r.opts.DSN.Reveal())
	if err != nil {
		return err
	}
	connParams(&cfg.Config, r.opts.System)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("system %s: snapshot connection: %w", r.opts.System, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return err
	}
	if snapName != "" {
		if _, err := conn.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+snapName+"'"); err != nil {
			return fmt.Errorf("system %s: use exported snapshot: %w", r.opts.System, err)
		}
	}
	if err := r.snap.Run(ctx, st, LSN(cp), &pgSource{r: r, conn: conn}, snapName == ""); err != nil {
		return fmt.Errorf("system %s: snapshot: %w", r.opts.System, err)
	}
	_, err = conn.Exec(ctx, "COMMIT")
	return err
}

// pgSource reads tables inside the snapshot transaction of conn.
type pgSource struct {
	r    *Reader
	conn *pgx.Conn
}

func (s *pgSource) Table(ctx context.Context, qualified string) (*capture.Table, []int, int64, error) {
	t, keys, err := s.r.catalogTable(ctx, s.conn, qualified)
	if err != nil {
		return nil, nil, 0, err
	}
	var estimate int64
	_ = s.conn.QueryRow(ctx, `SELECT greatest(c.reltuples, 0)::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2`, t.Schema, t.Name).Scan(&estimate)
	return t, keys, estimate, nil
}

func (s *pgSource) Chunk(ctx context.Context, t *capture.Table, keys []int, after []*string, limit int,
	fn func(capture.Row, []*string) error) error {
	params := make([]string, len(keys))
	for i := range keys {
		params[i] = fmt.Sprintf("$%d", i+1)
	}
	order := columnList(t, keys)
	q := "SELECT " + columnList(t, nil) + " FROM " + pgx.Identifier{t.Schema, t.Name}.Sanitize()
	var args [][]byte
	if after != nil {
		q += " WHERE (" + order + ") > (" + strings.Join(params, ", ") + ")"
		for _, k := range after {
			if k == nil {
				args = append(args, nil)
			} else {
				args = append(args, []byte(*k))
			}
		}
	}
	q += fmt.Sprintf(" ORDER BY %s LIMIT %d", order, limit)
	res := s.conn.PgConn().ExecParams(ctx, q, args, nil, nil, nil)
	key := make([]*string, len(keys))
	return readRows(res, t, func(row capture.Row, vals [][]byte) error {
		for i, k := range keys {
			if vals[k] == nil {
				key[i] = nil
			} else {
				s := string(vals[k])
				key[i] = &s
			}
		}
		return fn(row, key)
	})
}

// columnList is the quoted names of the columns of t at indexes, or of
// every column when indexes is nil, separated by commas.
func columnList(t *capture.Table, indexes []int) string {
	if indexes == nil {
		indexes = make([]int, len(t.Columns))
		for i := range indexes {
			indexes[i] = i
		}
	}
	names := make([]string, len(indexes))
	for i, c := range indexes {
		names[i] = quoteIdent(t.Columns[c].Name)
	}
	return strings.Join(names, ", ")
}

// readRows decodes the rows of res, which selected every column of t in
// order, and calls fn with each: the decoded row (reused between calls)
// and the raw text values. It closes res.
func readRows(res *pgconn.ResultReader, t *capture.Table, fn func(capture.Row, [][]byte) error) error {
	row := make(capture.Row, len(t.Columns))
	for res.NextRow() {
		vals := res.Values()
		for i, v := range vals {
			if v == nil {
				row[i] = nil
				continue
			}
			dv, err := decodeText(&t.Columns[i].Type, string(v))
			if err != nil {
				res.Close()
				return &capture.BadValueError{Table: t.QualifiedName(), Column: t.Columns[i].Name, Value: truncate(string(v)), Reason: err.Error()}
			}
			row[i] = dv
		}
		if err := fn(row, vals); err != nil {
			res.Close()
			return err
		}
	}
	if _, err := res.Close(); err != nil {
		return fmt.Errorf("read %s: %w", t.QualifiedName(), err)
	}
	return nil
}

// catalogTable builds the table's shape from the catalog, as the stream's
// Relation message will describe it (columns in attnum order, no dropped or
// generated columns), and returns the indexes of its key columns.
func (r *Reader) catalogTable(ctx context.Context, conn *pgx.Conn, qualified string) (*capture.Table, []int, error) {
	t, relid, err := readCatalogTable(ctx, conn, r.types, r.dbName, qualified)
	if err != nil {
		return nil, nil, err
	}
	keys := t.KeyIndexes()
	if len(keys) == 0 {
		return nil, nil, fmt.Errorf("table %s needs a primary key to be read in resumable chunks; fix: ALTER TABLE %s ADD PRIMARY KEY (...)",
			qualified, pgx.Identifier{t.Schema, t.Name}.Sanitize())
	}
	r.rels[relid] = &relation{table: t}
	return t, keys, nil
}

// readCatalogTable reads the shape of the table qualified (schema.table) in
// database dbName from the catalog through q, resolving column types with
// types, and returns it (Version 1) with the table's oid. A table that does
// not exist is an error wrapping pgx.ErrNoRows.
func readCatalogTable(ctx context.Context, q *pgx.Conn, types *typeResolver, dbName, qualified string) (*capture.Table, uint32, error) {
	s, n := capture.SplitTable(qualified)
	var relid uint32
	if err := q.QueryRow(ctx, `SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2`, s, n).Scan(&relid); err != nil {
		return nil, 0, fmt.Errorf("table %s: %w", qualified, err)
	}
	rows, err := q.Query(ctx, `SELECT a.attname, a.atttypid, a.atttypmod, a.attnotnull,
		coalesce(a.attnum = ANY (SELECT unnest(i.indkey) FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary), false)
		FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
		ORDER BY a.attnum`, relid)
	if err != nil {
		return nil, 0, err
	}
	type att struct {
		name          string
		oid           uint32
		typmod        int32
		notNull, isPK bool
	}
	atts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (att, error) {
		var a att
		err := row.Scan(&a.name, &a.oid, &a.typmod, &a.notNull, &a.isPK)
		return a, err
	})
	if err != nil {
		return nil, 0, err
	}
	t := &capture.Table{Database: dbName, Schema: s, Name: n, Version: 1}
	for _, a := range atts {
		typ, err := types.resolve(ctx, a.oid, a.typmod)
		if err != nil {
			return nil, 0, err
		}
		t.Columns = append(t.Columns, capture.Column{Name: a.name, Type: typ, Nullable: !a.notNull, Key: a.isPK})
	}
	return t, relid, nil
}

// createSlotWithSnapshot creates the slot and exports its snapshot. The
// snapshot stays usable while the replication connection stays idle, which
// it does until the snapshot is read.
func (r *Reader) createSlotWithSnapshot(ctx context.Context) (pglogrepl.LSN, string, error) {
	res, err := pglogrepl.CreateReplicationSlot(ctx, r.repl, r.opts.Capture.Slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "EXPORT_SNAPSHOT"})
	if err != nil {
		return 0, "", slotError(r.opts.System, r.opts.Capture.Slot, err)
	}
	lsn, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	r.log.Info("created slot with snapshot", "slot", r.opts.Capture.Slot, "consistent_point", res.ConsistentPoint)
	return lsn, res.SnapshotName, err
}
