package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	drv "github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/capture/internal/snapshot"
	"github.com/tandem-sync/tandem/internal/config"
)

// skipReplicationFlag is LOG_EVENT_SKIP_REPLICATION_F, set on the events of
// a session that ran SET SESSION skip_replication=1 (tandem's MariaDB sink).
const skipReplicationFlag = 0x8000

// Store keeps positions and snapshot progress durably (bus.OffsetStore in
// production). Save must return only once the value is durable.
type Store = snapshot.Store

const positionKey = "mysql.position"

// Options configure a Reader.
type Options struct {
	System          string
	DSN             config.Secret
	Capture         capture.Config
	CheckpointTable string // in the DSN's database unless qualified
	Handler         capture.Handler
	Logger          *slog.Logger
	Store           Store
	Progress        capture.Progress
	Metrics         *Metrics
	// StopAfterSnapshot makes Run return once the initial snapshot is
	// durable, without streaming (tandem snapshot).
	StopAfterSnapshot bool
	// SaveEvery is the most often the acked position is written to the
	// Store; default 1s. The last one is always written on Close.
	SaveEvery time.Duration
}

// Reader reads a MySQL or MariaDB binary log as a replica. See
// capture.Reader for the contract.
type Reader struct {
	opts   Options
	m      capture.SystemMetrics // the shared metrics, resolved for this system
	log    *slog.Logger
	dsn    *drv.Config
	db     *sql.DB
	flavor string // "mariadb" or "mysql"
	ckpt   string // database.table of the checkpoint table

	syncer *replication.BinlogSyncer
	tables map[uint64]*tableState // by TableMap table id
	shapes map[string]*capture.Table

	file string // current binlog file
	tx   txState
	snap *snapshot.Runner

	ackMu sync.Mutex
	acked *Position
	saved Position
	wake  chan struct{}
}

type tableState struct {
	table    *capture.Table
	captured bool
}

type txState struct {
	open   bool
	begun  bool
	skip   bool
	begin  Position
	id     string
	time   time.Time
	seq    uint64
	images int // row images of captured tables processed
	replay int // row images to skip: already delivered before a reconnect
}

// New returns a reader. It does not connect; Run does.
func New(opts Options) (*Reader, error) {
	if opts.Handler == nil {
		return nil, errors.New("mysql reader: no handler")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil, nil)
	}
	if opts.Progress == nil {
		opts.Progress = &capture.LogProgress{Log: opts.Logger.With("system", opts.System)}
	}
	if opts.SaveEvery <= 0 {
		opts.SaveEvery = time.Second
	}
	cfg, err := drv.ParseDSN(opts.DSN.Reveal())
	if err != nil {
		return nil, fmt.Errorf("system %s: the DSN does not parse", opts.System)
	}
	ckpt := opts.CheckpointTable
	if !strings.Contains(ckpt, ".") {
		ckpt = cfg.DBName + "." + ckpt
	}
	r := &Reader{
		opts: opts, dsn: cfg, ckpt: ckpt,
		log:    opts.Logger.With("system", opts.System, "connector", "mysql"),
		tables: map[uint64]*tableState{}, shapes: map[string]*capture.Table{},
		wake: make(chan struct{}, 1),
	}
	r.m = opts.Metrics.For(opts.System)
	r.snap = r.snapshotRunner()
	return r, nil
}

// Ack records that everything up to pos is durable downstream; the saver
// writes it to the Store (at most every SaveEvery, and on Close).
func (r *Reader) Ack(pos capture.Position) {
	switch p := pos.(type) {
	case Position:
		r.ackMu.Lock()
		r.acked = &p
		r.ackMu.Unlock()
		select {
		case r.wake <- struct{}{}:
		default:
		}
	case snapshot.Position:
		r.snap.Ack(p)
	}
}

// Close writes the last acked position and closes the connections. Call it
// after Run returns and after the handler has delivered its last acks.
func (r *Reader) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := r.saveAcked(ctx)
	if r.syncer != nil {
		r.syncer.Close()
	}
	if r.db != nil {
		err = errors.Join(err, r.db.Close())
	}
	return err
}

func (r *Reader) saveAcked(ctx context.Context) error {
	r.ackMu.Lock()
	p, saved := r.acked, r.saved
	r.ackMu.Unlock()
	if p == nil || *p == saved || r.opts.Store == nil {
		return nil
	}
	data, _ := json.Marshal(p)
	if err := r.opts.Store.Save(ctx, positionKey, data); err != nil {
		return fmt.Errorf("system %s: save position %s: %w", r.opts.System, p, err)
	}
	r.ackMu.Lock()
	r.saved = *p
	r.ackMu.Unlock()
	r.opts.Metrics.Saved.WithLabelValues(r.opts.System).SetToCurrentTime()
	return nil
}

// saver writes acked positions off the ack path.
func (r *Reader) saver(ctx context.Context) error {
	t := time.NewTicker(r.opts.SaveEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := r.saveAcked(ctx); err != nil && ctx.Err() == nil {
			return err
		}
	}
}

// Run connects, checks the server, snapshots on first start as configured,
// and streams the binary log to the handler until ctx ends (then it returns
// nil) or an error occurs.
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
	start, err := r.startPosition(ctx)
	if err != nil {
		return err
	}
	if r.opts.StopAfterSnapshot {
		return nil
	}
	saveCtx, stopSaver := context.WithCancel(ctx)
	saverErr := make(chan error, 1)
	go func() { saverErr <- r.saver(saveCtx) }()
	defer func() { stopSaver(); <-saverErr }()
	return r.stream(ctx, start)
}

func (r *Reader) connect(ctx context.Context) error {
	connector, err := drv.NewConnector(r.dsn)
	if err != nil {
		return err
	}
	r.db = sql.OpenDB(connector)
	r.db.SetMaxOpenConns(4)
	var version string
	if err := r.db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		detail, fix := ConnectFailure(err, r.dsn.User, r.dsn.Addr, r.dsn.DBName, r.opts.System)
		return fmt.Errorf("system %s: %s; fix: %s", r.opts.System, detail, fix)
	}
	r.flavor = flavorOf(version)
	if f := r.opts.Capture.Flavor; f != "auto" && f != r.flavor {
		return fmt.Errorf("system %s: capture.flavor is %s but the server is %s (%s); fix: set systems.%s.capture.flavor to auto",
			r.opts.System, f, r.flavor, version, r.opts.System)
	}
	missing, err := missingPrivileges(ctx, r.db, r.flavor)
	if err != nil {
		return fmt.Errorf("system %s: read grants: %w", r.opts.System, err)
	}
	if len(missing) > 0 {
		return fmt.Errorf("system %s: user %s lacks %s; fix: GRANT %s ON *.* TO '%s'@'<tandem host>';",
			r.opts.System, r.dsn.User, strings.Join(missing, " and "), strings.Join(missing, ", "), r.dsn.User)
	}
	for name, want := range map[string]string{"log_bin": "ON", "binlog_format": "ROW", "binlog_row_image": "FULL", "binlog_row_metadata": "FULL"} {
		var n, v string
		err := r.db.QueryRowContext(ctx, "SHOW GLOBAL VARIABLES LIKE '"+name+"'").Scan(&n, &v)
		if err != nil || !strings.EqualFold(v, want) {
			if v == "" {
				v = "unset"
			}
			return fmt.Errorf("system %s: %s is %s, must be %s; fix: SET GLOBAL %s = '%s'; and %s=%s under [mysqld] in my.cnf (tandem check lists every prerequisite)",
				r.opts.System, name, v, want, name, want, name, want)
		}
	}
	return nil
}

// startPosition returns where to stream from: the stored position, or the
// position of a new snapshot, or the server's current position.
func (r *Reader) startPosition(ctx context.Context) (Position, error) {
	st, err := r.snap.Load(ctx)
	if err != nil {
		return Position{}, fmt.Errorf("system %s: %w", r.opts.System, err)
	}
	var stored *Position
	if r.opts.Store != nil {
		data, err := r.opts.Store.Load(ctx, positionKey)
		if err != nil {
			return Position{}, fmt.Errorf("system %s: load stored position: %w", r.opts.System, err)
		}
		if data != nil {
			var p Position
			if err := json.Unmarshal(data, &p); err != nil {
				return Position{}, fmt.Errorf("system %s: the stored position is unreadable: %w", r.opts.System, err)
			}
			stored = &p
		}
	}
	switch {
	case st != nil && !st.Done:
		r.log.Info("resuming the interrupted snapshot")
		return r.resumeSnapshot(ctx, st)
	case stored != nil:
		if err := r.checkNotPurged(ctx, *stored); err != nil {
			if r.opts.Capture.Snapshot != capture.SnapshotWhenNeeded {
				return Position{}, err
			}
			r.log.Warn("the stored position was purged; taking a new snapshot (capture.snapshot: when_needed)", "err", err)
			return r.newSnapshot(ctx)
		}
		r.ackMu.Lock()
		r.saved = *stored
		r.ackMu.Unlock()
		return *stored, nil
	case r.opts.Capture.Snapshot == capture.SnapshotNever:
		return r.currentPosition(ctx, r.db)
	}
	return r.newSnapshot(ctx)
}

// currentPosition reads the server's current binlog position.
func (r *Reader) currentPosition(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}) (Position, error) {
	var p Position
	rows, err := r.db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return p, fmt.Errorf("system %s: SHOW MASTER STATUS: %w; fix: GRANT BINLOG MONITOR (MariaDB) or REPLICATION CLIENT (MySQL)", r.opts.System, err)
	}
	cols, _ := rows.Columns()
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return p, err
		}
		p.File = string(vals[0])
		pos, _ := strconv.ParseUint(string(vals[1]), 10, 32)
		p.Pos = uint32(pos)
	}
	rows.Close()
	if p.File == "" {
		return p, fmt.Errorf("system %s: SHOW MASTER STATUS is empty: the binary log is off; fix: log_bin under [mysqld] in my.cnf", r.opts.System)
	}
	if r.flavor == "mariadb" {
		err = q.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", p.File, p.Pos).Scan(&p.GTID)
	} else {
		err = q.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_executed").Scan(&p.GTID)
	}
	if err != nil {
		return p, fmt.Errorf("system %s: read the GTID position: %w", r.opts.System, err)
	}
	return p, nil
}

// checkNotPurged fails when the binlog at pos is gone from the server.
func (r *Reader) checkNotPurged(ctx context.Context, pos Position) error {
	rows, err := r.db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return fmt.Errorf("system %s: SHOW BINARY LOGS: %w", r.opts.System, err)
	}
	defer rows.Close()
	var oldest string
	for rows.Next() {
		cols, _ := rows.Columns()
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if oldest == "" {
			oldest = string(vals[0])
		}
	}
	if oldest != "" && pos.File != "" && pos.File < oldest {
		return fmt.Errorf("system %s: the binlog at the stored position %s has been purged (the oldest is %s), so changes were lost; fix: set systems.%s.capture.snapshot: when_needed, or run tandem snapshot --system %s",
			r.opts.System, pos, oldest, r.opts.System, r.opts.System)
	}
	return nil
}

// stream reads the binlog from start.
func (r *Reader) stream(ctx context.Context, start Position) error {
	host, portStr, err := net.SplitHostPort(r.dsn.Addr)
	if err != nil {
		return fmt.Errorf("system %s: DSN address %q: %w", r.opts.System, r.dsn.Addr, err)
	}
	port, _ := strconv.Atoi(portStr)
	r.syncer = replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID:                r.opts.Capture.ServerID,
		Flavor:                  r.flavor,
		Host:                    host,
		Port:                    uint16(port),
		User:                    r.dsn.User,
		Password:                r.dsn.Passwd,
		Charset:                 "utf8mb4",
		TimestampStringLocation: time.UTC,
		// MySQL binary JSON rendered as MySQL prints it, key order kept,
		// so that it equals what the snapshot's SELECT returns.
		RenderJSONAsMySQLText: r.flavor == "mysql",
		HeartbeatPeriod:       r.opts.Capture.Heartbeat,
		ReadTimeout:           r.opts.Capture.Heartbeat*3 + 10*time.Second,
		MaxReconnectAttempts:  0, // retry forever; Run's caller decides when to stop
		Logger:                slog.New(slog.DiscardHandler),
	})
	var streamer *replication.BinlogStreamer
	if start.GTID != "" {
		set, err := gomysql.ParseGTIDSet(r.flavor, start.GTID)
		if err != nil {
			return fmt.Errorf("system %s: stored GTID set %q: %w", r.opts.System, start.GTID, err)
		}
		streamer, err = r.syncer.StartSyncGTID(set)
		if err != nil {
			return r.syncError(err)
		}
	} else {
		streamer, err = r.syncer.StartSync(gomysql.Position{Name: start.File, Pos: start.Pos})
		if err != nil {
			return r.syncError(err)
		}
	}
	r.file = start.File
	r.log.Info("streaming", "from", start.String(), "server_id", r.opts.Capture.ServerID, "flavor", r.flavor)
	for {
		ev, err := streamer.GetEvent(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return r.syncError(err)
		}
		if err := r.handle(ctx, ev); err != nil {
			return err
		}
	}
}

// syncError explains a replication failure and names the fix.
func (r *Reader) syncError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "same server_uuid/server_id") || strings.Contains(msg, "same server_id"):
		return fmt.Errorf("system %s: another replica uses server_id %d; fix: set systems.%s.capture.server_id to a number no other replica uses (%v)",
			r.opts.System, r.opts.Capture.ServerID, r.opts.System, err)
	case strings.Contains(msg, "Could not find GTID state") || strings.Contains(msg, "could not find next log") ||
		strings.Contains(msg, "purged") || strings.Contains(msg, "Could not find first log"):
		return fmt.Errorf("system %s: the binlog at the stored position is gone from the server (purged), so changes were lost; fix: set systems.%s.capture.snapshot: when_needed, or run tandem snapshot --system %s (%v)",
			r.opts.System, r.opts.System, r.opts.System, err)
	case strings.Contains(msg, "Access denied") || strings.Contains(msg, "1227"):
		return fmt.Errorf("system %s: not allowed to read the binlog; fix: GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO '%s' (MySQL: REPLICATION CLIENT) (%v)",
			r.opts.System, r.dsn.User, err)
	}
	return fmt.Errorf("system %s: read binlog: %w", r.opts.System, err)
}

// handle processes one binlog event.
func (r *Reader) handle(ctx context.Context, ev *replication.BinlogEvent) error {
	h := ev.Header
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		r.file = string(e.NextLogName)
	case *replication.MariadbGTIDEvent:
		r.beginTx(e.GTID.String(), h)
		if e.IsStandalone() {
			r.tx.open = true // a DDL or non-transactional statement follows, no BEGIN
		}
	case *replication.GTIDEvent:
		r.beginTx(fmt.Sprintf("%d", e.GNO), h)
	case *replication.QueryEvent:
		q := strings.TrimSpace(string(e.Query))
		switch {
		case strings.EqualFold(q, "BEGIN"):
			if !r.tx.open {
				r.beginTx("", h)
			}
			if h.Flags&skipReplicationFlag != 0 {
				r.tx.skip = true
			}
		case strings.EqualFold(q, "COMMIT"):
			return r.commit(ctx, h, e.GSet)
		default:
			// DDL (or a statement outside a transaction). The next TableMap
			// of a changed table brings its new shape.
			return r.ddl(ctx, h, e, q)
		}
	case *replication.TableMapEvent:
		return r.tableMap(e)
	case *replication.RowsEvent:
		return r.rows(ctx, h, ev.Header.EventType, e)
	case *replication.XIDEvent:
		return r.commit(ctx, h, e.GSet)
	case *replication.GenericEvent:
		if h.EventType == replication.HEARTBEAT_EVENT && !r.tx.open {
			return r.heartbeat(ctx, h)
		}
	}
	return nil
}

func (r *Reader) beginTx(id string, h *replication.EventHeader) {
	if r.tx.open && r.tx.begun && id != "" && id == r.tx.id {
		// The connection dropped mid-transaction and go-mysql reconnected
		// from the GTID set before it: the same transaction comes again.
		// Keep it open and skip the row images already delivered.
		r.tx.replay = r.tx.images
		r.tx.images = 0
		r.opts.Metrics.Reconnects.WithLabelValues(r.opts.System).Inc()
		r.log.Info("reconnected mid-transaction; skipping what was already delivered", "gtid", id, "rows", r.tx.replay)
		return
	}
	r.tx = txState{
		open: true, id: id, time: time.Unix(int64(h.Timestamp), 0).UTC(),
		begin: Position{File: r.file, Pos: h.LogPos},
		skip:  h.Flags&skipReplicationFlag != 0,
	}
	if id == "" { // GTIDs off: the transaction is named by where it starts
		r.tx.id = r.tx.begin.String()
	}
}

func (r *Reader) heartbeat(ctx context.Context, h *replication.EventHeader) error {
	r.ackMu.Lock()
	last := r.saved
	if r.acked != nil {
		last = *r.acked
	}
	r.ackMu.Unlock()
	if last.GTID == "" && last.File == "" {
		return nil
	}
	return r.opts.Handler.Heartbeat(ctx, Position{GTID: last.GTID, File: r.file, Pos: h.LogPos})
}

// ddl publishes a DDL statement (when the handler publishes DDL) and moves
// the position past it.
func (r *Reader) ddl(ctx context.Context, h *replication.EventHeader, e *replication.QueryEvent, q string) error {
	if r.tx.begun {
		// a statement inside a transaction with captured rows: it commits
		// implicitly (MySQL DDL does), so end the transaction first
		if err := r.commit(ctx, h, e.GSet); err != nil {
			return err
		}
	}
	skip := r.tx.skip
	r.tx = txState{}
	end := Position{File: r.file, Pos: h.LogPos}
	if e.GSet != nil {
		end.GTID = e.GSet.String()
	}
	if !isDDL(q) || skip || !touchesDatabases(string(e.Schema), q, r.opts.Capture.Tables) {
		return r.opts.Handler.Heartbeat(ctx, end)
	}
	r.opts.Metrics.DDL.WithLabelValues(r.opts.System).Inc()
	r.log.Info("DDL", "database", string(e.Schema), "statement", truncate(q, 200))
	if dh, ok := r.opts.Handler.(capture.DDLHandler); ok {
		return dh.DDL(ctx, &capture.DDL{Database: string(e.Schema), Statement: q, Position: end,
			Time: time.Unix(int64(h.Timestamp), 0).UTC()})
	}
	return r.opts.Handler.Heartbeat(ctx, end)
}

// touchesDatabases reports whether a DDL statement, run with schema as the
// session's database, may change a database of the captured tables: it
// runs in one, or names one as a qualifier (shop.t, `shop`.t). The binlog
// holds every database's DDL; another application's must not reach this
// system's schema_changes topic.
func touchesDatabases(schema, q string, tables []string) bool {
	lq := strings.ToLower(q)
	for _, t := range tables {
		db, _, ok := strings.Cut(t, ".")
		if !ok {
			continue
		}
		db = strings.ToLower(db)
		if strings.EqualFold(schema, db) || strings.Contains(lq, db+".") || strings.Contains(lq, "`"+db+"`.") {
			return true
		}
	}
	return false
}

// isDDL reports whether a statement outside a transaction changes schema.
func isDDL(q string) bool {
	f := strings.Fields(strings.ToUpper(q))
	if len(f) == 0 {
		return false
	}
	switch f[0] {
	case "CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE":
		return true
	}
	return false
}

func (r *Reader) tableMap(tm *replication.TableMapEvent) error {
	qualified := string(tm.Schema) + "." + string(tm.Table)
	captured := qualified == r.ckpt
	for _, t := range r.opts.Capture.Tables {
		if t == qualified {
			captured = true
		}
	}
	if !captured {
		r.tables[tm.TableID] = &tableState{}
		return nil
	}
	t, err := tableFromMap(tm)
	if err != nil {
		return fmt.Errorf("system %s: %w", r.opts.System, err)
	}
	if old := r.shapes[qualified]; old != nil && old.SameShape(t) {
		t = old
	} else {
		t.Version = 1
		if old != nil {
			t.Version = old.Version + 1
			r.log.Info("table changed", "table", qualified, "version", t.Version, "columns", len(t.Columns))
		}
		r.shapes[qualified] = t
	}
	r.tables[tm.TableID] = &tableState{table: t, captured: true}
	return nil
}

func (r *Reader) rows(ctx context.Context, h *replication.EventHeader, typ replication.EventType, e *replication.RowsEvent) error {
	ts := r.tables[e.TableID]
	if ts == nil || !ts.captured {
		return nil
	}
	t := ts.table
	if !r.tx.open {
		r.beginTx("", h)
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
		if err := r.opts.Handler.Begin(ctx, &capture.TxBegin{ID: r.tx.id, Position: r.tx.begin, CommitTime: r.tx.time}); err != nil {
			return err
		}
	}
	if isCkpt {
		return nil
	}
	at := Position{File: r.file, Pos: h.LogPos}
	emit := func(op capture.Op, before, after []any) error {
		c := capture.Change{Op: op, Table: t, Position: at, Seq: r.tx.seq}
		var err error
		if before != nil {
			if c.Before, err = convertRow(t, before); err != nil {
				return err
			}
		}
		if after != nil {
			if c.After, err = convertRow(t, after); err != nil {
				return err
			}
		}
		if op == capture.OpUpdate && capture.KeyChanged(t, c.Before, c.After) {
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
	for i, row := range e.Rows {
		if i < len(e.SkippedColumns) {
			markSkipped(row, e.SkippedColumns[i])
		}
	}
	rows := e.Rows
	step := 1
	if typ == replication.UPDATE_ROWS_EVENTv1 || typ == replication.UPDATE_ROWS_EVENTv2 || typ == replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1 {
		step = 2
	}
	skip := min(r.tx.replay, len(rows)/step)
	r.tx.replay -= skip
	r.tx.images += len(rows) / step
	rows = rows[skip*step:]
	switch typ {
	case replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2, replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1:
		for _, row := range rows {
			if err := emit(capture.OpInsert, nil, row); err != nil {
				return err
			}
		}
	case replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2, replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		for _, row := range rows {
			if err := emit(capture.OpDelete, row, nil); err != nil {
				return err
			}
		}
	case replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2, replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1:
		for i := 0; i+1 < len(rows); i += 2 {
			if err := emit(capture.OpUpdate, rows[i], rows[i+1]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *Reader) commit(ctx context.Context, h *replication.EventHeader, gset gomysql.GTIDSet) error {
	tx := r.tx
	r.tx = txState{}
	end := Position{File: r.file, Pos: h.LogPos}
	if gset != nil {
		end.GTID = gset.String()
	}
	switch {
	case tx.begun:
		r.m.Transactions.Inc()
		r.m.Changes.Add(float64(tx.seq))
		return r.opts.Handler.Commit(ctx, &capture.TxEnd{ID: tx.id, Position: end, CommitTime: tx.time, Changes: int(tx.seq)})
	case tx.skip:
		r.m.LoopDrops.Inc()
	}
	return r.opts.Handler.Heartbeat(ctx, end)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// Metrics are the reader's Prometheus metrics.
type Metrics struct {
	*capture.Metrics
	DDL        *prometheus.CounterVec
	Reconnects *prometheus.CounterVec
	Saved      *prometheus.GaugeVec
}

// NewMetrics creates the reader's own metrics and registers them with reg
// (if not nil); common are the metrics every reader shares (nil: new ones).
func NewMetrics(reg prometheus.Registerer, common *capture.Metrics) *Metrics {
	if common == nil {
		common = capture.NewMetrics(reg)
	}
	m := &Metrics{
		Metrics: common,
		DDL: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_capture_mysql_ddl_total", Help: "DDL statements seen in the binlog."}, []string{"system"}),
		Reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_capture_mysql_midtx_reconnects_total", Help: "Reconnects in the middle of a transaction, resumed without repeating rows."}, []string{"system"}),
		Saved: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tandem_capture_mysql_position_saved_timestamp_seconds", Help: "When the acked position was last stored."}, []string{"system"}),
	}
	if reg != nil {
		reg.MustRegister(m.DDL, m.Reconnects, m.Saved)
	}
	return m
}

// ParseDSN returns the database name of a MySQL DSN.
func ParseDSN(dsn config.Secret) (string, error) {
	cfg, err := drv.ParseDSN(dsn.Reveal())
	if err != nil {
		return "", errors.New("the DSN does not parse")
	}
	return cfg.DBName, nil
}
