package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/capture/internal/snapshot"
)

const snapshotKey = "mysql.snapshot"

func (r *Reader) snapshotRunner() *snapshot.Runner {
	return &snapshot.Runner{
		Store: r.opts.Store, Key: snapshotKey, Handler: r.opts.Handler, Progress: r.opts.Progress,
		Tables: r.opts.Capture.Tables, ChunkRows: r.opts.Capture.ChunkRows, Log: r.log,
	}
}

// consistentView opens a transaction with a consistent snapshot on its own
// connection and returns the binlog position that snapshot corresponds to.
//
// MariaDB: START TRANSACTION WITH CONSISTENT SNAPSHOT, then the
// binlog_snapshot_file and binlog_snapshot_position status variables (which
// MariaDB keeps consistent with the snapshot) and BINLOG_GTID_POS: no lock
// at all. MySQL has no such variables: FLUSH TABLES WITH READ LOCK is held
// only while the snapshot starts and the position is read (milliseconds),
// which needs the RELOAD privilege.
func (r *Reader) consistentView(ctx context.Context) (*sql.Conn, Position, error) {
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return nil, Position{}, err
	}
	fail := func(step string, err error) (*sql.Conn, Position, error) {
		conn.Close()
		return nil, Position{}, fmt.Errorf("system %s: snapshot: %s: %w", r.opts.System, step, err)
	}
	if _, err := conn.ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		return fail("isolation level", err)
	}
	// SELECT returns TIMESTAMP in the session's zone; the binlog path reads
	// it in UTC, and both must agree.
	if _, err := conn.ExecContext(ctx, "SET SESSION time_zone = '+00:00'"); err != nil {
		return fail("time zone", err)
	}
	var pos Position
	if r.flavor == "mariadb" {
		if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
			return fail("start transaction", err)
		}
		for _, v := range []string{"binlog_snapshot_file", "binlog_snapshot_position"} {
			var name, value string
			if err := conn.QueryRowContext(ctx, "SHOW STATUS LIKE '"+v+"'").Scan(&name, &value); err != nil {
				return fail("read "+v, err)
			}
			if v == "binlog_snapshot_file" {
				pos.File = value
			} else {
				p, _ := strconv.ParseUint(value, 10, 32)
				pos.Pos = uint32(p)
			}
		}
		if err := conn.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", pos.File, pos.Pos).Scan(&pos.GTID); err != nil {
			return fail("BINLOG_GTID_POS", err)
		}
		return conn, pos, nil
	}
	if _, err := conn.ExecContext(ctx, "FLUSH TABLES WITH READ LOCK"); err != nil {
		return fail("FLUSH TABLES WITH READ LOCK (needs RELOAD)", err)
	}
	unlock := func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "UNLOCK TABLES") }
	if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		unlock()
		return fail("start transaction", err)
	}
	pos, err = r.currentPosition(ctx, conn)
	unlock()
	if err != nil {
		conn.Close()
		return nil, Position{}, err
	}
	return conn, pos, nil
}

// newSnapshot snapshots every table and returns the position to stream
// from: the snapshot's own.
func (r *Reader) newSnapshot(ctx context.Context) (Position, error) {
	conn, pos, err := r.consistentView(ctx)
	if err != nil {
		return Position{}, err
	}
	defer conn.Close()
	r.log.Info("snapshot", "position", pos.String())
	st, err := r.snap.New(ctx, pos)
	if err != nil {
		return Position{}, fmt.Errorf("system %s: %w", r.opts.System, err)
	}
	if err := r.snap.Run(ctx, st, pos, &mySource{r: r, conn: conn}, false); err != nil {
		return Position{}, fmt.Errorf("system %s: snapshot: %w", r.opts.System, err)
	}
	_, _ = conn.ExecContext(ctx, "COMMIT")
	return pos, r.snapshotDone(ctx, pos)
}

// snapshotDone stores the position the stream continues from: every chunk
// is durable, so a crash from here on streams instead of snapshotting again.
func (r *Reader) snapshotDone(ctx context.Context, pos Position) error {
	r.ackMu.Lock()
	r.acked = &pos
	r.ackMu.Unlock()
	return r.saveAcked(ctx)
}

// Reset forgets the stored position and snapshot progress, so that the next
// Run snapshots every table again (tandem snapshot).
func Reset(ctx context.Context, store Store) error {
	if err := store.Save(ctx, positionKey, nil); err != nil {
		return err
	}
	return store.Save(ctx, snapshotKey, nil)
}

// resumeSnapshot finishes an interrupted snapshot in a new consistent view
// and returns the position the snapshot began at, to stream from there.
func (r *Reader) resumeSnapshot(ctx context.Context, st *snapshot.State) (Position, error) {
	var start Position
	if err := json.Unmarshal(st.Start, &start); err != nil {
		return Position{}, fmt.Errorf("system %s: stored snapshot start is unreadable: %w", r.opts.System, err)
	}
	conn, _, err := r.consistentView(ctx)
	if err != nil {
		return Position{}, err
	}
	defer conn.Close()
	if err := r.snap.Run(ctx, st, start, &mySource{r: r, conn: conn}, true); err != nil {
		return Position{}, fmt.Errorf("system %s: snapshot: %w", r.opts.System, err)
	}
	_, _ = conn.ExecContext(ctx, "COMMIT")
	return start, r.snapshotDone(ctx, start)
}

// mySource reads tables inside the consistent-snapshot transaction of conn.
type mySource struct {
	r    *Reader
	conn *sql.Conn
}

func (s *mySource) Table(ctx context.Context, qualified string) (*capture.Table, []int, int64, error) {
	db, name := capture.SplitTable(qualified)
	t, err := tableFromCatalog(ctx, s.conn, db, name)
	if err != nil {
		return nil, nil, 0, err
	}
	keys := t.KeyIndexes()
	if len(keys) == 0 {
		return nil, nil, 0, fmt.Errorf("table %s needs a primary key to be read in resumable chunks; fix: ALTER TABLE %s.%s ADD PRIMARY KEY (...)",
			qualified, quote(db), quote(name))
	}
	t.Version = 1
	s.r.shapes[qualified] = t
	var estimate sql.NullInt64
	_ = s.conn.QueryRowContext(ctx, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", db, name).Scan(&estimate)
	return t, keys, estimate.Int64, nil
}

func (s *mySource) Chunk(ctx context.Context, t *capture.Table, keys []int, after []*string, limit int,
	fn func(capture.Row, []*string) error) error {
	marks := make([]string, len(keys))
	for i := range keys {
		marks[i] = "?"
	}
	order := quotedNames(t, keys)
	q := "SELECT " + selectList(t) + " FROM " + quote(t.Database) + "." + quote(t.Name)
	var args []any
	if after != nil {
		q += " WHERE (" + order + ") > (" + strings.Join(marks, ", ") + ")"
		for _, k := range after {
			if k == nil {
				args = append(args, nil)
			} else {
				args = append(args, *k)
			}
		}
	}
	q += fmt.Sprintf(" ORDER BY %s LIMIT %d", order, limit)
	rows, err := s.conn.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read %s: %w", t.QualifiedName(), err)
	}
	defer rows.Close()
	key := make([]*string, len(keys))
	return readRows(rows, t, func(row capture.Row, raw []sql.RawBytes) error {
		for i, k := range keys {
			if raw[k] == nil {
				key[i] = nil
			} else {
				s := string(raw[k])
				key[i] = &s
			}
		}
		return fn(row, key)
	})
}

// quotedNames is the quoted names of the columns of t at indexes,
// separated by commas.
func quotedNames(t *capture.Table, indexes []int) string {
	names := make([]string, len(indexes))
	for i, c := range indexes {
		names[i] = quote(t.Columns[c].Name)
	}
	return strings.Join(names, ", ")
}

// selectList is the SELECT list of every column of t, in order, as
// decodeText reads them (snapshotSelectExpr).
func selectList(t *capture.Table) string {
	cols := make([]string, len(t.Columns))
	for i := range t.Columns {
		cols[i] = snapshotSelectExpr(&t.Columns[i])
	}
	return strings.Join(cols, ", ")
}

// readRows decodes the rows of rows, which selected selectList(t), and
// calls fn with each: the decoded row (reused between calls) and the raw
// values (valid until fn returns).
func readRows(rows *sql.Rows, t *capture.Table, fn func(capture.Row, []sql.RawBytes) error) error {
	raw := make([]sql.RawBytes, len(t.Columns))
	ptrs := make([]any, len(raw))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	row := make(capture.Row, len(t.Columns))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i, b := range raw {
			if b == nil {
				row[i] = nil
				continue
			}
			v, err := decodeText(&t.Columns[i].Type, b)
			if err != nil {
				return &capture.BadValueError{Table: t.QualifiedName(), Column: t.Columns[i].Name, Value: truncate(string(b), 64), Reason: err.Error()}
			}
			row[i] = v
		}
		if err := fn(row, raw); err != nil {
			return err
		}
	}
	return rows.Err()
}
