package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/capture/internal/snapshot"
	"github.com/tandem-sync/tandem/internal/config"
)

// OriginPrefix starts the name of every replication origin tandem's sinks
// write under. A transaction whose Origin message starts with it was written
// by tandem and is not captured again.
const OriginPrefix = "tandem"

// HeartbeatPrefix is the prefix of the logical decoding messages the reader
// emits on an idle source so that its slot keeps moving.
const HeartbeatPrefix = "tandem.heartbeat"

// Options configure a Reader.
type Options struct {
	System          string
	DSN             config.Secret
	Capture         capture.Config
	CheckpointTable string // in schema public unless qualified
	Handler         capture.Handler
	Logger          *slog.Logger
	// SpoolDir holds large in-progress transactions; default
	// $TMPDIR/tandem-<system>-spool.
	SpoolDir string
	// StatusInterval is how often the acked position is reported to the
	// server even without a request; default 10s.
	StatusInterval time.Duration
	Metrics        *Metrics
	// Store keeps the snapshot's progress; without one an interrupted
	// snapshot starts over.
	Store Store
	// Progress shows snapshot progress; default: logged.
	Progress capture.Progress
	// StopAfterSnapshot makes Run return once the initial snapshot is
	// durable, without streaming (tandem snapshot).
	StopAfterSnapshot bool
	// ReplicationParams are extra settings of the replication session, for
	// example logical_decoding_work_mem, which decides when PostgreSQL
	// starts streaming a large transaction before its commit.
	ReplicationParams map[string]string
}

// Reader reads a PostgreSQL database's changes from a logical replication
// slot with pgoutput. See capture.Reader for the contract.
type Reader struct {
	opts      Options
	m         capture.SystemMetrics // the shared metrics, resolved for this system
	log       *slog.Logger
	repl      *pgconn.PgConn
	catalog   *pgx.Conn
	types     *typeResolver
	rels      map[uint32]*relation
	spool     *spool
	acked     atomic.Uint64 // highest LSN acked by the handler's side
	sent      pglogrepl.LSN // last LSN reported to the server
	statusAt  time.Time     // when the last status was sent
	inStream  uint32        // xid of the streamed transaction being received, or 0
	snap      *snapshot.Runner
	streaming bool   // START_REPLICATION succeeded
	ckpt      string // schema.table of the checkpoint table
	dbName    string
	tx        txState
}

type relation struct {
	table *capture.Table
	rowA  capture.Row // reused row buffers
	rowB  capture.Row
}

// txState is the transaction being assembled. Handler.Begin is delayed until
// the first change, so that a transaction written by tandem (its Origin, or
// its first change to the checkpoint table) can be dropped whole.
type txState struct {
	open       bool
	begun      bool // Handler.Begin was called
	skip       bool // written by tandem: drop
	xid        uint32
	commitLSN  LSN
	commitTime time.Time
	seq        uint64
}

// New returns a reader. It does not connect; Run does.
func New(opts Options) (*Reader, error) {
	if opts.Handler == nil {
		return nil, errors.New("postgres reader: no handler")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.StatusInterval <= 0 {
		opts.StatusInterval = 10 * time.Second
	}
	if opts.SpoolDir == "" {
		opts.SpoolDir = filepath.Join(os.TempDir(), "tandem-"+opts.System+"-spool")
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil, nil)
	}
	if opts.Progress == nil {
		opts.Progress = &capture.LogProgress{Log: opts.Logger.With("system", opts.System)}
	}
	ckpt := opts.CheckpointTable
	if !strings.Contains(ckpt, ".") {
		ckpt = "public." + ckpt
	}
	r := &Reader{
		opts: opts,
		log:  opts.Logger.With("system", opts.System, "connector", "postgres"),
		rels: map[uint32]*relation{},
		ckpt: ckpt,
	}
	r.m = opts.Metrics.For(opts.System)
	r.snap = r.snapshotRunner()
	return r, nil
}

// connParams fixes the output formats the text decoder relies on.
func connParams(cfg *pgconn.Config, system string) {
	cfg.RuntimeParams["DateStyle"] = "ISO, MDY"
	cfg.RuntimeParams["IntervalStyle"] = "iso_8601"
	cfg.RuntimeParams["TimeZone"] = "UTC"
	cfg.RuntimeParams["extra_float_digits"] = "3"
	cfg.RuntimeParams["bytea_output"] = "hex"
	cfg.RuntimeParams["application_name"] = "tandem-" + system
}

// Ack records that everything up to pos is durable downstream. The next
// standby status update reports it to the server as flushed.
func (r *Reader) Ack(pos capture.Position) {
	if sp, ok := pos.(snapshot.Position); ok {
		r.snap.Ack(sp)
		return
	}
	l, ok := pos.(LSN)
	if !ok {
		return
	}
	for {
		cur := r.acked.Load()
		if uint64(l) <= cur || r.acked.CompareAndSwap(cur, uint64(l)) {
			return
		}
	}
}

// Close reports the last acked position to the server and closes the
// connections. Call it after Run returns, and after the handler has
// delivered its last acks.
func (r *Reader) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if r.spool != nil {
		r.spool.close()
	}
	var errs []error
	if r.repl != nil && r.streaming && !r.repl.IsClosed() {
		if err := r.sendStatus(ctx, true); err != nil {
			r.log.Warn("final status", "err", err)
		}
	}
	if r.repl != nil {
		errs = append(errs, r.repl.Close(ctx))
	}
	if r.catalog != nil {
		errs = append(errs, r.catalog.Close(ctx))
	}
	return errors.Join(errs...)
}

// Run connects, makes sure the publication and the slot exist, and streams
// changes to the handler until ctx ends or an error occurs. It returns nil
// when ctx ends.
func (r *Reader) Run(ctx context.Context) error {
	err := r.run(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (r *Reader) run(ctx context.Context) error {
	if err := r.connect(ctx); err != nil {
		return err
	}
	sp, err := newSpool(r.opts.SpoolDir)
	if err != nil {
		return err
	}
	r.spool = sp
	if err := r.ensureCheckpointTable(ctx); err != nil {
		return err
	}
	if err := r.ensurePublication(ctx); err != nil {
		return err
	}
	start, err := r.prepareSlot(ctx)
	if err != nil {
		return err
	}
	r.acked.Store(uint64(start))
	r.sent = start
	if r.opts.StopAfterSnapshot {
		return nil
	}
	err = pglogrepl.StartReplication(ctx, r.repl, r.opts.Capture.Slot, start, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{
			"proto_version '2'",
			"publication_names '" + r.opts.Capture.Publication + "'",
			"streaming 'true'",
			"messages 'true'",
		},
	})
	if err != nil {
		return fmt.Errorf("start replication from slot %s: %w", r.opts.Capture.Slot, err)
	}
	r.streaming = true
	r.log.Info("streaming", "slot", r.opts.Capture.Slot, "publication", r.opts.Capture.Publication, "from", start.String())

	hbCtx, stopHB := context.WithCancel(ctx)
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); r.heartbeats(hbCtx) }()
	defer func() { stopHB(); <-hbDone }()
	return r.receive(ctx)
}

// prepareSlot makes sure the slot exists, runs or resumes the initial
// snapshot as configured, and returns the position to stream from.
func (r *Reader) prepareSlot(ctx context.Context) (pglogrepl.LSN, error) {
	st, err := r.snap.Load(ctx)
	if err != nil {
		return 0, fmt.Errorf("system %s: %w", r.opts.System, err)
	}
	start, exists, err := r.existingSlot(ctx)
	if err != nil {
		return 0, err
	}
	slot := r.opts.Capture.Slot
	if exists && st != nil && !st.Done {
		if from, err := startOf(st); err == nil && from.Slot == slot {
			r.log.Info("resuming the interrupted snapshot", "slot", slot, "consistent_point", from.Consistent)
			cp, err := pglogrepl.ParseLSN(from.Consistent)
			if err != nil {
				return 0, err
			}
			return start, r.runSnapshot(ctx, st, cp, "")
		}
	}
	switch {
	case exists:
		return start, nil
	case r.opts.Capture.Snapshot == capture.SnapshotNever:
		return r.createSlot(ctx)
	}
	cp, name, err := r.createSlotWithSnapshot(ctx)
	if err != nil {
		return 0, err
	}
	st, err = r.snap.New(ctx, snapshotStart{Slot: slot, Consistent: cp.String()})
	if err != nil {
		return 0, fmt.Errorf("system %s: %w", r.opts.System, err)
	}
	return cp, r.runSnapshot(ctx, st, cp, name)
}

func (r *Reader) connect(ctx context.Context) error {
	cfg, err := pgconn.ParseConfig(r.opts.DSN.Reveal())
	if err != nil {
		return fmt.Errorf("system %s: the DSN does not parse", r.opts.System)
	}
	connParams(cfg, r.opts.System)
	r.dbName = cfg.Database
	catCfg, _ := pgx.ParseConfig(r.opts.DSN.Reveal())
	connParams(&catCfg.Config, r.opts.System)
	if r.catalog, err = pgx.ConnectConfig(ctx, catCfg); err != nil {
		detail, fix := ConnectFailure(err, cfg.User, cfg.Host, cfg.Port, cfg.Database, r.opts.System)
		return fmt.Errorf("system %s: %s; fix: %s", r.opts.System, detail, fix)
	}
	var walLevel string
	if err := r.catalog.QueryRow(ctx, "SELECT current_setting('wal_level')").Scan(&walLevel); err != nil {
		return fmt.Errorf("system %s: read wal_level: %w", r.opts.System, err)
	}
	if walLevel != "logical" {
		return fmt.Errorf("system %s: wal_level is %s; fix: ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL", r.opts.System, walLevel)
	}
	r.types = &typeResolver{conn: r.catalog, info: map[uint32]*pgTypeInfo{}}
	cfg.RuntimeParams["replication"] = "database"
	for k, v := range r.opts.ReplicationParams {
		cfg.RuntimeParams[k] = v
	}
	if r.repl, err = pgconn.ConnectConfig(ctx, cfg); err != nil {
		detail, fix := ConnectFailure(err, cfg.User, cfg.Host, cfg.Port, cfg.Database, r.opts.System)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42501" {
			fix = fmt.Sprintf("ALTER ROLE %s WITH REPLICATION;", quoteIdent(cfg.User))
		}
		return fmt.Errorf("system %s: replication connection: %s; fix: %s", r.opts.System, detail, fix)
	}
	return nil
}

// receive is the main loop: it reads replication messages, answers
// keepalives, and reports the acked position.
func (r *Reader) receive(ctx context.Context) error {
	lastStatus := time.Now()
	for {
		if time.Since(lastStatus) >= time.Second {
			if err := r.sendStatus(ctx, false); err != nil {
				return err
			}
			lastStatus = time.Now()
		}
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		raw, err := r.repl.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if pgconn.Timeout(err) {
				continue
			}
			return fmt.Errorf("system %s: receive from slot %s: %w", r.opts.System, r.opts.Capture.Slot, err)
		}
		switch msg := raw.(type) {
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("system %s: replication error: %w", r.opts.System, pgconn.ErrorResponseToPgError(msg))
		case *pgproto3.CopyData:
			if len(msg.Data) == 0 {
				continue
			}
			switch msg.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(msg.Data[1:])
				if err != nil {
					return fmt.Errorf("parse keepalive: %w", err)
				}
				if ka.ReplyRequested {
					if err := r.sendStatus(ctx, true); err != nil {
						return err
					}
					lastStatus = time.Now()
				}
			case pglogrepl.XLogDataByteID:
				xld, err := pglogrepl.ParseXLogData(msg.Data[1:])
				if err != nil {
					return fmt.Errorf("parse XLogData: %w", err)
				}
				if err := r.handleWAL(ctx, LSN(xld.WALStart), xld.WALData); err != nil {
					return err
				}
			}
		}
	}
}

// sendStatus reports the acked position as written, flushed and applied.
func (r *Reader) sendStatus(ctx context.Context, force bool) error {
	acked := pglogrepl.LSN(r.acked.Load())
	// Nothing new: still report every StatusInterval so the server knows
	// we are alive.
	if !force && acked == r.sent && time.Since(r.statusAt) < r.opts.StatusInterval {
		return nil
	}
	err := pglogrepl.SendStandbyStatusUpdate(ctx, r.repl, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: acked, WALFlushPosition: acked, WALApplyPosition: acked,
	})
	if err != nil {
		return fmt.Errorf("system %s: send standby status: %w", r.opts.System, err)
	}
	if acked != r.sent {
		r.opts.Metrics.Confirmed.WithLabelValues(r.opts.System).Set(float64(acked))
	}
	r.sent = acked
	r.statusAt = time.Now()
	return nil
}

// handleWAL dispatches one pgoutput message, spooling those of streamed
// in-progress transactions.
func (r *Reader) handleWAL(ctx context.Context, at LSN, data []byte) error {
	if r.inStream != 0 && data[0] != byte(pglogrepl.MessageTypeStreamStop) {
		return r.spool.add(r.inStream, data)
	}
	msg, err := pglogrepl.ParseV2(data, false)
	if err != nil {
		return fmt.Errorf("system %s: parse pgoutput message %q at %s: %w", r.opts.System, data[0], at, err)
	}
	switch m := msg.(type) {
	case *pglogrepl.StreamStartMessageV2:
		r.inStream = m.Xid
		return nil
	case *pglogrepl.StreamStopMessageV2:
		r.inStream = 0
		return nil
	case *pglogrepl.StreamAbortMessageV2:
		r.spool.abort(m.Xid, m.SubXid)
		r.opts.Metrics.StreamAborts.WithLabelValues(r.opts.System).Inc()
		return nil
	case *pglogrepl.StreamCommitMessageV2:
		r.opts.Metrics.Streamed.WithLabelValues(r.opts.System).Inc()
		return r.replayStream(ctx, m)
	}
	return r.apply(ctx, msg, at)
}

// replayStream delivers a streamed transaction at its commit.
func (r *Reader) replayStream(ctx context.Context, m *pglogrepl.StreamCommitMessageV2) error {
	r.tx = txState{open: true, xid: m.Xid, commitLSN: LSN(m.CommitLSN), commitTime: m.CommitTime.UTC()}
	err := r.spool.replay(m.Xid, func(data []byte, aborted map[uint32]bool) error {
		msg, err := pglogrepl.ParseV2(data, true)
		if err != nil {
			return fmt.Errorf("system %s: parse spooled message of transaction %d: %w", r.opts.System, m.Xid, err)
		}
		if x := streamXid(msg); x != 0 && aborted[x] {
			return nil
		}
		return r.apply(ctx, msg, LSN(m.CommitLSN))
	})
	if err != nil {
		return err
	}
	return r.commit(ctx, LSN(m.TransactionEndLSN), m.CommitTime)
}

func streamXid(msg pglogrepl.Message) uint32 {
	switch m := msg.(type) {
	case *pglogrepl.InsertMessageV2:
		return m.Xid
	case *pglogrepl.UpdateMessageV2:
		return m.Xid
	case *pglogrepl.DeleteMessageV2:
		return m.Xid
	case *pglogrepl.TruncateMessageV2:
		return m.Xid
	}
	return 0
}

// apply handles one decoded message of a transaction (live or replayed).
func (r *Reader) apply(ctx context.Context, msg pglogrepl.Message, at LSN) error {
	switch m := msg.(type) {
	case *pglogrepl.BeginMessage:
		r.tx = txState{open: true, xid: m.Xid, commitLSN: LSN(m.FinalLSN), commitTime: m.CommitTime.UTC()}
	case *pglogrepl.OriginMessage:
		if strings.HasPrefix(m.Name, OriginPrefix) && !r.tx.begun {
			r.tx.skip = true
		}
	case *pglogrepl.CommitMessage:
		return r.commit(ctx, LSN(m.TransactionEndLSN), m.CommitTime)
	case *pglogrepl.RelationMessageV2:
		return r.relation(ctx, &m.RelationMessage)
	case *pglogrepl.RelationMessage:
		return r.relation(ctx, m)
	case *pglogrepl.TypeMessageV2, *pglogrepl.TypeMessage:
		r.types.forget() // a user type changed: read it again
	case *pglogrepl.InsertMessageV2:
		return r.change(ctx, m.RelationID, capture.OpInsert, nil, m.Tuple, at)
	case *pglogrepl.UpdateMessageV2:
		return r.change(ctx, m.RelationID, capture.OpUpdate, m.OldTuple, m.NewTuple, at)
	case *pglogrepl.DeleteMessageV2:
		return r.change(ctx, m.RelationID, capture.OpDelete, m.OldTuple, nil, at)
	case *pglogrepl.TruncateMessageV2:
		for _, id := range m.RelationIDs {
			if err := r.change(ctx, id, capture.OpTruncate, nil, nil, at); err != nil {
				return err
			}
		}
	case *pglogrepl.LogicalDecodingMessageV2:
		if !m.Transactional && m.Prefix == HeartbeatPrefix && !r.tx.open {
			return r.opts.Handler.Heartbeat(ctx, LSN(m.LSN))
		}
	}
	return nil
}

func (r *Reader) commit(ctx context.Context, end LSN, commitTime time.Time) error {
	tx := r.tx
	r.tx = txState{}
	switch {
	case tx.begun:
		r.m.Transactions.Inc()
		r.m.Changes.Add(float64(tx.seq))
		return r.opts.Handler.Commit(ctx, &capture.TxEnd{
			ID: fmt.Sprint(tx.xid), Position: end, CommitTime: commitTime.UTC(), Changes: int(tx.seq),
		})
	case tx.skip:
		r.m.LoopDrops.Inc()
	}
	// Nothing was published: let the slot move past it all the same.
	return r.opts.Handler.Heartbeat(ctx, end)
}

func (r *Reader) relation(ctx context.Context, m *pglogrepl.RelationMessage) error {
	meta, err := r.types.columnMeta(ctx, m.RelationID)
	if err != nil {
		return err
	}
	hasPK := false
	for _, cm := range meta {
		hasPK = hasPK || cm.pk
	}
	t := &capture.Table{Database: r.dbName, Schema: m.Namespace, Name: m.RelationName, Version: 1}
	for _, c := range m.Columns {
		typ, err := r.types.resolve(ctx, c.DataType, c.TypeModifier)
		if err != nil {
			return fmt.Errorf("table %s.%s column %s: %w", m.Namespace, m.RelationName, c.Name, err)
		}
		cm, known := meta[c.Name]
		key := c.Flags&1 != 0
		if hasPK {
			key = cm.pk
		}
		t.Columns = append(t.Columns, capture.Column{Name: c.Name, Type: typ, Nullable: !known || !cm.notNull, Key: key})
	}
	if old := r.rels[m.RelationID]; old != nil {
		if old.table.SameShape(t) {
			return nil
		}
		t.Version = old.table.Version + 1
		r.log.Info("table changed", "table", t.QualifiedName(), "version", t.Version, "columns", len(t.Columns))
	}
	r.rels[m.RelationID] = &relation{table: t}
	return nil
}

func (r *Reader) change(ctx context.Context, relID uint32, op capture.Op, before, after *pglogrepl.TupleData, at LSN) error {
	rel := r.rels[relID]
	if rel == nil {
		return fmt.Errorf("system %s: change to relation %d before its Relation message", r.opts.System, relID)
	}
	t := rel.table
	if !r.tx.open {
		return fmt.Errorf("system %s: change to %s outside a transaction", r.opts.System, t.QualifiedName())
	}
	if r.tx.skip {
		return nil
	}
	isCkpt := t.QualifiedName() == r.ckpt
	if !r.tx.begun {
		if isCkpt {
			r.tx.skip = true // written by a tandem sink: its checkpoint row comes first
			return nil
		}
		r.tx.begun = true
		err := r.opts.Handler.Begin(ctx, &capture.TxBegin{
			ID: fmt.Sprint(r.tx.xid), Position: r.tx.commitLSN, CommitTime: r.tx.commitTime,
		})
		if err != nil {
			return err
		}
	}
	if isCkpt {
		return nil
	}
	c := capture.Change{Op: op, Table: t, Position: at, Seq: r.tx.seq}
	var err error
	if before != nil {
		if c.Before, err = r.row(t, before, &rel.rowB); err != nil {
			return err
		}
	}
	if after != nil {
		if c.After, err = r.row(t, after, &rel.rowA); err != nil {
			return err
		}
	}
	if op == capture.OpUpdate && c.Before != nil && capture.KeyChanged(t, c.Before, c.After) {
		del := capture.Change{Op: capture.OpDelete, Table: t, Before: c.Before, Position: at, Seq: r.tx.seq}
		r.tx.seq++
		if err := r.opts.Handler.Change(ctx, &del); err != nil {
			return err
		}
		c = capture.Change{Op: capture.OpInsert, Table: t, After: c.After, Position: at, Seq: r.tx.seq}
	}
	r.tx.seq++
	return r.opts.Handler.Change(ctx, &c)
}

// row decodes a tuple into buf (reused across changes). Under the default
// replica identity an old tuple carries only the key: the other columns are
// NULL in the message but unknown in truth, so they become Unchanged.
func (r *Reader) row(t *capture.Table, td *pglogrepl.TupleData, buf *capture.Row) (capture.Row, error) {
	if cap(*buf) < len(t.Columns) {
		*buf = make(capture.Row, len(t.Columns))
	}
	row := (*buf)[:len(t.Columns)]
	for i := range row {
		if i >= len(td.Columns) {
			row[i] = capture.Unchanged
			continue
		}
		col := td.Columns[i]
		switch col.DataType {
		case pglogrepl.TupleDataTypeNull:
			row[i] = nil
		case pglogrepl.TupleDataTypeToast:
			row[i] = capture.Unchanged
		case pglogrepl.TupleDataTypeText:
			v, err := decodeText(&t.Columns[i].Type, string(col.Data))
			if err != nil {
				return nil, &capture.BadValueError{Table: t.QualifiedName(), Column: t.Columns[i].Name, Value: truncate(string(col.Data)), Reason: err.Error()}
			}
			row[i] = v
		default:
			return nil, fmt.Errorf("table %s column %s: unexpected tuple data type %q", t.QualifiedName(), t.Columns[i].Name, col.DataType)
		}
	}
	return row, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// heartbeats emits a non-transactional logical decoding message every
// Capture.Heartbeat. It travels through the slot even when no captured table
// changes, and its position is acked like a transaction's, so the slot's
// confirmed_flush_lsn moves and WAL does not pile up.
func (r *Reader) heartbeats(ctx context.Context) {
	cfg, err := pgx.ParseConfig(r.opts.DSN.Reveal())
	if err != nil {
		return
	}
	connParams(&cfg.Config, r.opts.System)
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	t := time.NewTicker(r.opts.Capture.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if conn == nil || conn.IsClosed() {
			if conn, err = pgx.ConnectConfig(ctx, cfg); err != nil {
				r.log.Warn("heartbeat connection failed", "err", err)
				conn = nil
				continue
			}
		}
		if _, err := conn.Exec(ctx, "SELECT pg_logical_emit_message(false, $1, '')", HeartbeatPrefix); err != nil && ctx.Err() == nil {
			r.log.Warn("heartbeat failed", "err", err)
			conn.Close(context.Background())
			conn = nil
		}
	}
}

// Metrics are the reader's Prometheus metrics.
type Metrics struct {
	*capture.Metrics
	StreamAborts *prometheus.CounterVec
	Streamed     *prometheus.CounterVec
	Confirmed    *prometheus.GaugeVec
}

// NewMetrics creates the reader's own metrics and registers them with reg
// (if not nil); common are the metrics every reader shares (nil: new ones).
func NewMetrics(reg prometheus.Registerer, common *capture.Metrics) *Metrics {
	if common == nil {
		common = capture.NewMetrics(reg)
	}
	m := &Metrics{
		Metrics: common,
		StreamAborts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_capture_stream_aborts_total", Help: "Streamed in-progress transactions (or subtransactions) that aborted."}, []string{"system"}),
		Streamed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_capture_streamed_transactions_total", Help: "Large transactions received while in progress (spooled to disk) and delivered at commit."}, []string{"system"}),
		Confirmed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tandem_capture_confirmed_lsn", Help: "Last position confirmed to the source (PostgreSQL LSN as a number)."}, []string{"system"}),
	}
	if reg != nil {
		reg.MustRegister(m.StreamAborts, m.Streamed, m.Confirmed)
	}
	return m
}
