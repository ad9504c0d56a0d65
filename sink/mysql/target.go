package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	drv "github.com/go-sql-driver/mysql"

	capmysql "github.com/tandem-sync/tandem/capture/mysql"
	"github.com/tandem-sync/tandem/sink"
	"github.com/tandem-sync/tandem/sink/internal/sinksql"
)

// SQLMode is the sql_mode of the target's sessions: strict for every
// table, so that a value a column cannot hold is an error (a RowError) and
// never stored truncated or adjusted. It is the same on every server, so
// that the SQL the dialect writes means one thing (backslashes escape in
// string literals).
const SQLMode = "STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"

// Options configure a Target: the checkpoint table is in the DSN's
// database unless qualified.
type Options = sinksql.Options

// Target is a MySQL or MariaDB sink target. It is safe for concurrent use;
// each Begin takes a pooled connection of its own and holds it until
// Commit or Rollback.
type Target struct {
	*sinksql.Checkpointer // Checkpoints and SetCheckpoint
	opts                  Options
	log                   *slog.Logger
	db                    *sql.DB
	ckpt                  sinksql.Checkpoints
	skipRepl              bool
}

var _ sink.Target = (*Target)(nil)

// New connects to the server of opts.DSN, failing with an error that names
// the problem and its fix when it cannot. It creates nothing; Setup does.
func New(ctx context.Context, opts Options) (*Target, error) {
	cfg, err := drv.ParseDSN(opts.DSN.Reveal())
	if err != nil {
		return nil, fmt.Errorf("system %s: the DSN does not parse", opts.System)
	}
	if opts.CheckpointTable != "" && cfg.DBName == "" && !strings.Contains(opts.CheckpointTable, ".") {
		return nil, fmt.Errorf("system %s: the checkpoint table %s names no database, and neither does the DSN; fix: add the database to systems.%s.dsn (user:password@tcp(host:port)/database)",
			opts.System, opts.CheckpointTable, opts.System)
	}
	if err := opts.Defaults("mysql", cfg.DBName); err != nil {
		return nil, err
	}
	t := &Target{
		opts: opts,
		log:  opts.Logger.With("system", opts.System, "sink", opts.Sink),
		ckpt: sinksql.Checkpoints{Dialect: Dialect{}, Table: opts.CheckpointTable, Now: "NOW(6)"},
	}
	// Values are read as text (decode parses them), TIMESTAMP in UTC, and
	// time.Time arguments are written in UTC.
	cfg.ParseTime = false
	cfg.Loc = time.UTC
	// One round trip per statement: the driver quotes the arguments.
	cfg.InterpolateParams = true
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	cfg.Params["sql_mode"] = "'" + SQLMode + "'"
	cfg.Params["skip_replication"] = "1"
	db, err := t.open(ctx, cfg)
	if refusedSkipReplication(err) {
		t.log.Warn("the server refuses skip_replication, so the sink's transactions are not tagged in the binlog; "+
			"the checkpoint row that starts each of them still keeps the capture from reading them back",
			"err", err, "fix", "on MariaDB, give the user the privilege the error names; MySQL has no such tag")
		delete(cfg.Params, "skip_replication")
		db, err = t.open(ctx, cfg)
	} else if err == nil {
		t.skipRepl = true
	}
	if err != nil {
		detail, fix := capmysql.ConnectFailure(err, cfg.User, cfg.Addr, cfg.DBName, opts.System)
		return nil, fmt.Errorf("system %s: %s; fix: %s", opts.System, detail, fix)
	}
	t.db = db
	t.Checkpointer = sinksql.NewCheckpointer(&t.ckpt, dbQueryer{db}, t.Begin)
	return t, nil
}

// open opens a pool on cfg and checks that a connection opens.
func (t *Target) open(ctx context.Context, cfg *drv.Config) (*sql.DB, error) {
	connector, err := drv.NewConnector(cfg)
	if err != nil && cfg.InterpolateParams {
		// a connection collation whose escaping is unsafe to interpolate
		cfg.InterpolateParams = false
		connector, err = drv.NewConnector(cfg)
	}
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(t.opts.MaxConns)
	db.SetMaxIdleConns(t.opts.MaxConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// refusedSkipReplication reports the server's refusal of
// skip_replication: MySQL does not know it (1193), or the user may not set
// it (1227).
func refusedSkipReplication(err error) bool {
	var myErr *drv.MySQLError
	return errors.As(err, &myErr) && (myErr.Number == 1193 || myErr.Number == 1227)
}

// SkipReplication reports whether the target's sessions run with
// skip_replication = 1 (false on MySQL, or where MariaDB refused it).
func (t *Target) SkipReplication() bool { return t.skipRepl }

// CheckpointDDL creates the checkpoint table: the columns of the
// PostgreSQL one, with case-sensitive (binary) keys as Kafka's topic names
// are.
func CheckpointDDL(qualified string) string {
	return `CREATE TABLE IF NOT EXISTS ` + Dialect{}.Quote(qualified) + ` (
  consumer        VARCHAR(200) NOT NULL,
  topic           VARCHAR(249) NOT NULL,
  kafka_partition INT          NOT NULL,
  kafka_offset    BIGINT       NOT NULL,
  source_position TEXT         NOT NULL,
  updated_at      TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (consumer, topic, kafka_partition)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`
}

// Setup creates the checkpoint table if it is missing.
func (t *Target) Setup(ctx context.Context) error {
	if _, err := t.db.ExecContext(ctx, CheckpointDDL(t.ckpt.Table)); err != nil {
		return fmt.Errorf("system %s: create checkpoint table %s: %w", t.opts.System, t.ckpt.Table, err)
	}
	return nil
}

// Begin starts a transaction on a pooled connection. It blocks while all
// MaxConns connections are in transactions. When ctx ends before Commit,
// database/sql rolls the transaction back.
func (t *Target) Begin(ctx context.Context) (sink.Tx, error) {
	stx, err := t.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted}) // no gap locks: partitions inserting side by side do not deadlock
	if err != nil {
		return nil, fmt.Errorf("system %s: begin: %w", t.opts.System, err)
	}
	return sinksql.NewTx(conn{stx}, &t.ckpt, quoteIdent), nil
}

// Dialect returns the MySQL dialect.
func (t *Target) Dialect() sink.Dialect { return Dialect{} }

// Classify sorts an error of this target; see Classify.
func (t *Target) Classify(err error) sink.ErrorClass { return Classify(err) }

// Close closes the pool.
func (t *Target) Close() error { return t.db.Close() }

type dbQueryer struct{ db *sql.DB }

func (q dbQueryer) Query(ctx context.Context, stmt string, args []any, fn func(row []any) error) error {
	return query(ctx, q.db, stmt, args, fn)
}

// conn is the sinksql.Conn of one transaction.
type conn struct{ tx *sql.Tx }

func (c conn) Exec(ctx context.Context, q string, args []any) (int64, error) {
	res, err := c.tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ExecMany prepares q once and runs it per argument list.
func (c conn) ExecMany(ctx context.Context, q string, rows [][]any) error {
	stmt, err := c.tx.PrepareContext(ctx, q)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, args := range rows {
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

func (c conn) Query(ctx context.Context, q string, args []any, fn func(row []any) error) error {
	return query(ctx, c.tx, q, args, fn)
}

// Insert runs q and returns LAST_INSERT_ID() as an int64: the
// AUTO_INCREMENT value of the (first) row it inserted; nil when it
// generated none (no AUTO_INCREMENT column, or nothing inserted).
// idColumn is not needed on MySQL.
func (c conn) Insert(ctx context.Context, q, _ string, args []any) (any, error) {
	res, err := c.tx.ExecContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	id, err := res.LastInsertId()
	if err != nil || id == 0 {
		return nil, err
	}
	return id, nil
}

func (c conn) Commit(context.Context) error { return c.tx.Commit() }

// Rollback rolls back; a transaction database/sql rolled back already,
// for an ended context, is no error.
func (c conn) Rollback(context.Context) error {
	if err := c.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return err
	}
	return nil
}
