package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/tandem-sync/tandem/capture"
)

// Store keeps the snapshot's progress durably (bus.OffsetStore in
// production). Save must return only once the value is durable.
type Store interface {
	Load(ctx context.Context, key string) ([]byte, error)
	Save(ctx context.Context, key string, value []byte) error
}

// snapshotState is the durable progress of the initial snapshot.
type snapshotState struct {
	Slot       string                    `json:"slot"`
	Consistent string                    `json:"consistent_point"` // LSN the snapshot is consistent with
	Tables     map[string]*tableProgress `json:"tables"`
	Seq        uint64                    `json:"seq"` // next event sequence
	Done       bool                      `json:"done"`
}

type tableProgress struct {
	LastKey []*string `json:"last_key,omitempty"` // text form of the key of the last acked row
	Rows    int64     `json:"rows"`
	Done    bool      `json:"done"`
}

func (s *snapshotState) clone() *snapshotState {
	c := *s
	c.Tables = map[string]*tableProgress{}
	for k, v := range s.Tables {
		tp := *v
		c.Tables[k] = &tp
	}
	return &c
}

// SnapshotPosition is the position of a snapshot chunk: the snapshot's
// consistent point, plus what the chunk finished. Acking it records the
// chunk as done.
type SnapshotPosition struct {
	Consistent LSN
	Table      string
	LastKey    []*string
	Rows       int64 // rows of Table done, including this chunk
	TableDone  bool
	NextSeq    uint64
	Final      bool // the last chunk of the whole snapshot
}

func (p SnapshotPosition) String() string {
	return fmt.Sprintf("snapshot@%s %s rows=%d", p.Consistent, p.Table, p.Rows)
}

// Key sorts a snapshot position at its consistent point, before every
// streamed transaction (they commit after it).
func (p SnapshotPosition) Key() []byte { return p.Consistent.Key() }

const snapshotKey = "postgres.snapshot"

// snapshotter tracks acked chunks and saves them, newest first, off the ack
// path: Ack only records the latest acked chunk and wakes the saver.
type snapshotter struct {
	r      *Reader
	state  *snapshotState
	mu     sync.Mutex
	latest *SnapshotPosition
	wake   chan struct{}
	saved  chan error // result of saving the final chunk
}

func (r *Reader) loadSnapshotState(ctx context.Context) (*snapshotState, error) {
	if r.opts.Store == nil {
		return nil, nil
	}
	data, err := r.opts.Store.Load(ctx, snapshotKey)
	if err != nil || data == nil {
		return nil, err
	}
	var st snapshotState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("system %s: stored snapshot progress is unreadable: %w", r.opts.System, err)
	}
	return &st, nil
}

// snapshot reads every captured table, in key order and in chunks, inside
// the exported snapshot snapName (or, when resuming after a crash, a fresh
// one), delivers each chunk as a snapshot transaction, and returns once
// every chunk is acked and the progress saved.
func (r *Reader) snapshot(ctx context.Context, st *snapshotState, snapName string) error {
	cp, err := pglogrepl.ParseLSN(st.Consistent)
	if err != nil {
		return err
	}
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
	} else {
		// The exported snapshot died with the crashed run. A fresh one is
		// newer than the consistent point; the stream, which starts at the
		// consistent point, then replays the changes in between on top, so
		// the target converges. Sequences jump past anything the crashed
		// run may have published unacked, so nothing is deduped away.
		st.Seq += 1 << 32
		r.log.Warn("resuming an interrupted snapshot in a new snapshot; rows changed since it began arrive again from the stream")
	}
	// The saver keeps its own copy: it records what Kafka acked, while st
	// runs ahead with what was read.
	sn := &snapshotter{r: r, state: st.clone(), wake: make(chan struct{}, 1), saved: make(chan error, 1)}
	r.snap.Store(sn)
	saverCtx, stopSaver := context.WithCancel(ctx)
	saverDone := make(chan struct{})
	go func() { defer close(saverDone); sn.save(saverCtx) }()
	defer func() { stopSaver(); <-saverDone; r.snap.Store(nil) }()

	progress := r.opts.Progress
	var last SnapshotPosition
	for _, table := range r.opts.Capture.Tables {
		tp := st.Tables[table]
		if tp == nil {
			tp = &tableProgress{}
			st.Tables[table] = tp
		}
		if tp.Done {
			continue
		}
		pos, err := r.snapshotTable(ctx, conn, LSN(cp), table, tp, st, progress)
		if err != nil {
			return err
		}
		last = pos
	}
	if _, err := conn.Exec(ctx, "COMMIT"); err != nil {
		return err
	}
	if last.Table == "" { // nothing left to read: just mark it done
		st.Done = true
		return r.saveState(ctx, st)
	}
	// Wait for the final chunk to be acked and saved.
	select {
	case err := <-sn.saved:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Reader) saveState(ctx context.Context, st *snapshotState) error {
	if r.opts.Store == nil {
		return nil
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return r.opts.Store.Save(ctx, snapshotKey, data)
}

// save persists the latest acked chunk each time it is woken, until the
// final chunk is saved.
func (sn *snapshotter) save(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sn.wake:
		}
		sn.mu.Lock()
		p := sn.latest
		sn.latest = nil
		sn.mu.Unlock()
		if p == nil {
			continue
		}
		st := sn.state
		tp := st.Tables[p.Table]
		if tp == nil {
			tp = &tableProgress{}
			st.Tables[p.Table] = tp
		}
		tp.LastKey, tp.Rows, tp.Done = p.LastKey, p.Rows, p.TableDone
		st.Seq = p.NextSeq
		st.Done = p.Final
		// earlier tables are done once a later table's chunk is acked
		for _, t := range sn.r.opts.Capture.Tables {
			if t == p.Table {
				break
			}
			if st.Tables[t] == nil {
				st.Tables[t] = &tableProgress{}
			}
			st.Tables[t].Done = true
		}
		err := sn.r.saveState(ctx, st)
		if err != nil {
			sn.r.log.Error("save snapshot progress", "err", err)
		}
		if p.Final {
			sn.saved <- err
			return
		}
	}
}

// ackSnapshot is called by Ack for snapshot positions. It never blocks.
func (r *Reader) ackSnapshot(p SnapshotPosition) {
	sn := r.snap.Load()
	if sn == nil {
		return
	}
	sn.mu.Lock()
	sn.latest = &p
	sn.mu.Unlock()
	select {
	case sn.wake <- struct{}{}:
	default:
	}
}

// snapshotTable reads one table in chunks of Capture.ChunkRows rows ordered
// by its key.
func (r *Reader) snapshotTable(ctx context.Context, conn *pgx.Conn, cp LSN, qualified string, tp *tableProgress,
	st *snapshotState, progress capture.Progress) (SnapshotPosition, error) {
	t, keyCols, err := r.catalogTable(ctx, conn, qualified)
	if err != nil {
		return SnapshotPosition{}, err
	}
	var estimate int64
	s, n := capture.SplitTable(qualified)
	_ = conn.QueryRow(ctx, `SELECT greatest(c.reltuples, 0)::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2`, s, n).Scan(&estimate)
	if progress != nil {
		progress.Start(qualified, estimate, tp.Rows)
		defer progress.Done(qualified)
	}
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = quoteIdent(c.Name)
	}
	keys := make([]string, len(keyCols))
	params := make([]string, len(keyCols))
	for i, k := range keyCols {
		keys[i] = quoteIdent(t.Columns[k].Name)
		params[i] = fmt.Sprintf("$%d", i+1)
	}
	from := pgx.Identifier{s, n}.Sanitize()
	order := strings.Join(keys, ", ")
	base := "SELECT " + strings.Join(cols, ", ") + " FROM " + from
	lastKey := tp.LastKey
	rows := tp.Rows
	chunk := r.opts.Capture.ChunkRows
	for {
		q := base
		var args [][]byte
		if lastKey != nil {
			q += " WHERE (" + order + ") > (" + strings.Join(params, ", ") + ")"
			for _, k := range lastKey {
				if k == nil {
					args = append(args, nil)
				} else {
					args = append(args, []byte(*k))
				}
			}
		}
		q += fmt.Sprintf(" ORDER BY %s LIMIT %d", order, chunk)
		res := conn.PgConn().ExecParams(ctx, q, args, nil, nil, nil)
		seq0 := st.Seq
		begun := false
		count := 0
		var keyOut []*string
		var rowBuf capture.Row
		for res.NextRow() {
			if !begun {
				begun = true
				if err := r.opts.Handler.Begin(ctx, &capture.TxBegin{ID: "snapshot", Position: cp, Snapshot: true}); err != nil {
					res.Close()
					return SnapshotPosition{}, err
				}
			}
			vals := res.Values()
			if cap(rowBuf) < len(vals) {
				rowBuf = make(capture.Row, len(vals))
			}
			row := rowBuf[:len(vals)]
			for i, v := range vals {
				if v == nil {
					row[i] = nil
					continue
				}
				dv, err := decodeText(&t.Columns[i].Type, string(v))
				if err != nil {
					res.Close()
					return SnapshotPosition{}, &capture.BadValueError{Table: qualified, Column: t.Columns[i].Name, Value: truncate(string(v)), Reason: err.Error()}
				}
				row[i] = dv
			}
			keyOut = keyOut[:0]
			for _, k := range keyCols {
				if vals[k] == nil {
					keyOut = append(keyOut, nil)
				} else {
					s := string(vals[k])
					keyOut = append(keyOut, &s)
				}
			}
			c := capture.Change{Op: capture.OpRead, Table: t, After: row, Position: cp, Seq: st.Seq}
			st.Seq++
			count++
			if err := r.opts.Handler.Change(ctx, &c); err != nil {
				res.Close()
				return SnapshotPosition{}, err
			}
		}
		if _, err := res.Close(); err != nil {
			return SnapshotPosition{}, fmt.Errorf("system %s: snapshot of %s: %w", r.opts.System, qualified, err)
		}
		rows += int64(count)
		if progress != nil {
			progress.Add(qualified, int64(count))
		}
		done := count < chunk
		pos := SnapshotPosition{Consistent: cp, Table: qualified, LastKey: append([]*string(nil), keyOut...), Rows: rows,
			TableDone: done, NextSeq: st.Seq, Final: done && r.lastPendingTable(qualified, st)}
		if count == 0 {
			pos.LastKey = lastKey
		}
		if !begun {
			if err := r.opts.Handler.Begin(ctx, &capture.TxBegin{ID: "snapshot", Position: cp, Snapshot: true}); err != nil {
				return SnapshotPosition{}, err
			}
		}
		if err := r.opts.Handler.Commit(ctx, &capture.TxEnd{ID: "snapshot", Position: pos, Changes: int(st.Seq - seq0)}); err != nil {
			return SnapshotPosition{}, err
		}
		lastKey = pos.LastKey
		if done {
			return pos, nil
		}
	}
}

// lastPendingTable reports whether table is the last captured table not yet
// done.
func (r *Reader) lastPendingTable(table string, st *snapshotState) bool {
	seen := false
	for _, t := range r.opts.Capture.Tables {
		if t == table {
			seen = true
			continue
		}
		if seen && (st.Tables[t] == nil || !st.Tables[t].Done) {
			return false
		}
	}
	return true
}

// catalogTable builds the table's shape from the catalog, as the stream's
// Relation message will describe it (columns in attnum order, no dropped or
// generated columns), and returns the indexes of its key columns.
func (r *Reader) catalogTable(ctx context.Context, conn *pgx.Conn, qualified string) (*capture.Table, []int, error) {
	s, n := capture.SplitTable(qualified)
	var relid uint32
	if err := conn.QueryRow(ctx, `SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2`, s, n).Scan(&relid); err != nil {
		return nil, nil, fmt.Errorf("system %s: snapshot of %s: %w", r.opts.System, qualified, err)
	}
	rows, err := conn.Query(ctx, `SELECT a.attname, a.atttypid, a.atttypmod, a.attnotnull,
		coalesce(a.attnum = ANY (SELECT unnest(i.indkey) FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary), false)
		FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
		ORDER BY a.attnum`, relid)
	if err != nil {
		return nil, nil, err
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
		return nil, nil, err
	}
	t := &capture.Table{Database: r.dbName, Schema: s, Name: n, Version: 1}
	var keys []int
	for i, a := range atts {
		typ, err := r.types.resolve(ctx, a.oid, a.typmod)
		if err != nil {
			return nil, nil, err
		}
		t.Columns = append(t.Columns, capture.Column{Name: a.name, Type: typ, Nullable: !a.notNull, Key: a.isPK})
		if a.isPK {
			keys = append(keys, i)
		}
	}
	if len(keys) == 0 {
		return nil, nil, fmt.Errorf("system %s: snapshot of %s needs a primary key to read it in resumable chunks; fix: ALTER TABLE %s ADD PRIMARY KEY (...)",
			r.opts.System, qualified, pgx.Identifier{s, n}.Sanitize())
	}
	r.rels[relid] = &relation{table: t}
	return t, keys, nil
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
