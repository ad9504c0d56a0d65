package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	cappg "github.com/tandem-sync/tandem/capture/postgres"
	"github.com/tandem-sync/tandem/sink"
	"github.com/tandem-sync/tandem/sink/internal/sinksql"
)

// Options configure a Target: the checkpoint table is in schema public
// unless qualified, and the sink's transactions run under the replication
// origins tandem_<Sink>_0 .. tandem_<Sink>_<MaxConns-1>.
type Options = sinksql.Options

// Target is a PostgreSQL sink target. It is safe for concurrent use; each
// Begin takes a pooled connection of its own and holds it until Commit or
// Rollback.
type Target struct {
	*sinksql.Checkpointer // Checkpoints and SetCheckpoint
	opts                  Options
	log                   *slog.Logger
	pool                  *pgxpool.Pool
	ckpt                  sinksql.Checkpoints
	origins               *origins
}

var _ sink.Target = (*Target)(nil)

// New connects to the database of opts.DSN, failing with an error that
// names the problem and its fix when it cannot. It creates nothing; Setup
// does.
func New(ctx context.Context, opts Options) (*Target, error) {
	if opts.Sink == "" {
		return nil, fmt.Errorf("system %s: postgres target: no sink name", opts.System)
	}
	if err := opts.Defaults("postgres", "public"); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(opts.DSN.Reveal())
	if err != nil {
		return nil, fmt.Errorf("system %s: the DSN does not parse", opts.System)
	}
	cfg.ConnConfig.RuntimeParams["TimeZone"] = "UTC"
	cfg.ConnConfig.RuntimeParams["application_name"] = "tandem-sink-" + opts.Sink
	cfg.MaxConns = int32(opts.MaxConns)
	t := &Target{
		opts:    opts,
		log:     opts.Logger.With("system", opts.System, "sink", opts.Sink),
		ckpt:    sinksql.Checkpoints{Dialect: Dialect{}, Table: opts.CheckpointTable, Now: "now()"},
		origins: newOrigins(opts.System, opts.Sink, cfg.ConnConfig.User, opts.MaxConns),
	}
	cfg.BeforeClose = t.origins.release
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("system %s: %w", opts.System, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		c := cfg.ConnConfig
		detail, fix := cappg.ConnectFailure(err, c.User, c.Host, c.Port, c.Database, opts.System)
		return nil, fmt.Errorf("system %s: %s; fix: %s", opts.System, detail, fix)
	}
	t.pool = pool
	t.Checkpointer = sinksql.NewCheckpointer(&t.ckpt, poolQueryer{pool}, t.Begin)
	return t, nil
}

// Setup creates the checkpoint table (the capture's DDL, CheckpointDDL)
// and the replication origins tandem_<sink>_0 .. tandem_<sink>_<MaxConns-1>
// where they are missing. Creating origins needs a superuser, or EXECUTE
// on pg_replication_origin_create; the error names the GRANT.
func (t *Target) Setup(ctx context.Context) error {
	if err := retryRace(func() error {
		_, err := t.pool.Exec(ctx, cappg.CheckpointDDL(t.ckpt.Table))
		return err
	}); err != nil {
		return fmt.Errorf("system %s: create checkpoint table %s: %w", t.opts.System, t.ckpt.Table, err)
	}
	var created int
	err := retryRace(func() error {
		tag, err := t.pool.Exec(ctx, `SELECT pg_catalog.pg_replication_origin_create(n) FROM unnest($1::text[]) AS n
			WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_origin o WHERE o.roname = n)`, t.origins.names)
		created = int(tag.RowsAffected())
		return err
	})
	if err != nil {
		return t.origins.explain(fmt.Sprintf("create replication origins %s_0..%d", t.origins.prefix, len(t.origins.names)-1), err)
	}
	if created > 0 {
		t.log.Info("created replication origins", "origins", created, "prefix", t.origins.prefix)
	}
	return nil
}

// retryRace runs fn again once when it lost a race with another session
// creating the same object (a unique violation in the catalog).
func retryRace(fn func() error) error { return cappg.RetryCatalogRace(fn) }

// Begin takes a pooled connection, tags it with one of the sink's
// replication origins (once per connection) and starts a transaction. It
// blocks while all MaxConns connections are in transactions.
func (t *Target) Begin(ctx context.Context) (sink.Tx, error) {
	pooled, err := t.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("system %s: begin: %w", t.opts.System, err)
	}
	if err := t.origins.claim(ctx, pooled.Conn()); err != nil {
		// Closed, not reused: a set-up that failed half way (its context
		// ended) may have left an origin on the session.
		_ = pooled.Conn().Close(context.WithoutCancel(ctx))
		pooled.Release()
		return nil, err
	}
	ptx, err := pooled.Begin(ctx)
	if err != nil {
		pooled.Release()
		return nil, fmt.Errorf("system %s: begin: %w", t.opts.System, err)
	}
	return sinksql.NewTx(&conn{pooled: pooled, tx: ptx}, &t.ckpt, quoteIdent), nil
}

// Dialect returns the PostgreSQL dialect.
func (t *Target) Dialect() sink.Dialect { return Dialect{} }

// Classify sorts an error of this target; see Classify.
func (t *Target) Classify(err error) sink.ErrorClass { return Classify(err) }

// Close closes the pool, waiting for connections in use to be released.
func (t *Target) Close() error {
	t.pool.Close()
	return nil
}

type poolQueryer struct{ pool *pgxpool.Pool }

func (q poolQueryer) Query(ctx context.Context, sql string, args []any, fn func(row []any) error) error {
	return query(ctx, q.pool, sql, args, fn)
}

// conn is the sinksql.Conn of one transaction on a pooled connection.
type conn struct {
	pooled *pgxpool.Conn
	tx     pgx.Tx
}

func (c *conn) Exec(ctx context.Context, q string, args []any) (int64, error) {
	tag, err := c.tx.Exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// ExecMany sends every statement in one pipelined batch: one round trip.
func (c *conn) ExecMany(ctx context.Context, q string, rows [][]any) error {
	b := &pgx.Batch{}
	for _, args := range rows {
		b.Queue(q, args...)
	}
	return c.tx.SendBatch(ctx, b).Close()
}

func (c *conn) Query(ctx context.Context, q string, args []any, fn func(row []any) error) error {
	return query(ctx, c.tx, q, args, fn)
}

// Insert runs q with RETURNING idColumn appended and returns that
// column's value, decoded as Query decodes it; nil when no row was
// inserted (ON CONFLICT DO NOTHING).
func (c *conn) Insert(ctx context.Context, q, idColumn string, args []any) (any, error) {
	var id any
	err := c.Query(ctx, q+" RETURNING "+quoteIdent(idColumn), args, func(row []any) error {
		id = row[0]
		return nil
	})
	return id, err
}

// Commit commits and gives the connection back. A transaction in which a
// statement failed (and was not rolled back to a savepoint) is rolled back
// by the server; Commit then returns an error.
func (c *conn) Commit(ctx context.Context) error {
	err := c.tx.Commit(ctx)
	c.pooled.Release()
	if errors.Is(err, pgx.ErrTxCommitRollback) {
		return fmt.Errorf("%w: a statement of the transaction failed, so PostgreSQL rolled it back", err)
	}
	return err
}

// Rollback rolls back and gives the connection back. It runs even when
// ctx has ended (for at most 5s).
func (c *conn) Rollback(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := c.tx.Rollback(rctx)
	c.pooled.Release()
	if errors.Is(err, pgx.ErrTxClosed) {
		return nil
	}
	return err
}

func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }
