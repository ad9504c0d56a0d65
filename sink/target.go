package sink

import (
	"context"
	"time"
)

// Checkpoint is a sink's progress on one partition, stored in the target
// database's checkpoint table (systems.<name>.checkpoint_table) in the same
// transaction as the writes it covers.
type Checkpoint struct {
	Consumer  string // the sink's name: tandem-sink-<system> unless configured
	Topic     string
	Partition int
	Offset    int64  // the last Kafka offset applied (or skipped)
	Position  string // the source order (envelope source.order) of that event
}

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int
}

// Target is a sink's target database: sink/postgres and sink/mysql
// implement it. It is safe for concurrent use; each Begin takes a
// connection of its own.
type Target interface {
	// Setup creates what the sink needs and is missing: the checkpoint
	// table, and on PostgreSQL the replication origin its transactions
	// are tagged with. It is idempotent.
	Setup(ctx context.Context) error
	// Checkpoints reads the stored checkpoints of consumer.
	Checkpoints(ctx context.Context, consumer string) (map[TopicPartition]Checkpoint, error)
	// SetCheckpoint overwrites the stored checkpoint of one partition, in a
	// transaction of its own (tandem replay uses it while the sink is
	// stopped). Offset -1 means "from the start".
	SetCheckpoint(ctx context.Context, cp Checkpoint) error
	// Begin starts an apply transaction, tagged so that the target's own
	// capture drops it: on PostgreSQL under the replication origin
	// tandem_<sink>_<n> (one origin per pooled connection, since an origin
	// tags one session at a time), on MariaDB with skip_replication=1.
	Begin(ctx context.Context) (Tx, error)
	// Dialect returns the target's SQL dialect.
	Dialect() Dialect
	// Classify sorts an error returned by a Tx or Target method.
	Classify(err error) ErrorClass
	Close() error
}

// Tx is one apply transaction. Its first statement must be Checkpoint, so
// that the target's capture recognises (and drops) the transaction even
// where the database-native tag is not available.
type Tx interface {
	// Checkpoint upserts the checkpoint rows of the partitions this
	// transaction covers. Called first, and again before Commit when the
	// batch moved them.
	Checkpoint(ctx context.Context, cps []Checkpoint) error
	// Stored reads the stored checkpoint of one partition inside the
	// transaction, locking it (SELECT ... FOR UPDATE), so that two sink
	// workers never apply one partition at once. ok is false when there is
	// none.
	Stored(ctx context.Context, consumer string, tp TopicPartition) (cp Checkpoint, ok bool, err error)
	// Query runs a query with args (placeholders as Dialect.Placeholder
	// writes them) and calls fn with each row's values, decoded to Go
	// values: int64, float64, string, []byte, bool, time.Time, *big.Rat for
	// decimals, nil for NULL. fn must not keep the slice.
	Query(ctx context.Context, sql string, args []any, fn func(row []any) error) error
	// Exec runs a statement and returns the rows it affected.
	Exec(ctx context.Context, sql string, args ...any) (int64, error)
	// ExecMany runs one statement once per argument list, in order, in as
	// few round trips as the driver allows (pipelined on PostgreSQL,
	// prepared once on MySQL).
	ExecMany(ctx context.Context, sql string, rows [][]any) error
	// Insert runs an INSERT and returns the generated id of the row (the
	// id column's value; PostgreSQL RETURNING, MySQL LAST_INSERT_ID()).
	Insert(ctx context.Context, sql string, idColumn string, args ...any) (any, error)
	// Savepoint and RollbackTo isolate one event, so that a bad row can be
	// undone without the rest of the batch.
	Savepoint(ctx context.Context, name string) error
	RollbackTo(ctx context.Context, name string) error
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Dialect is what differs in SQL between the targets.
type Dialect interface {
	// Name is postgres or mysql.
	Name() string
	// Quote quotes an identifier; a qualified table name (schema.table or
	// database.table) is quoted part by part.
	Quote(ident string) string
	// Placeholder is the n-th (1-based) parameter marker: $n or ?.
	Placeholder(n int) string
	// JSONSet is an expression that sets path (dot-separated keys) in the
	// JSON document of column to the text value of the parameter param,
	// keeping the rest of the document (a NULL document becomes {}).
	JSONSet(column, path, param string) string
	// Upsert writes a multi-row insert of cols into table, with rows rows,
	// that updates update (a subset of cols) when a row with the same
	// conflict columns exists: INSERT ... ON CONFLICT (...) DO UPDATE on
	// PostgreSQL, INSERT ... ON DUPLICATE KEY UPDATE on MySQL.
	Upsert(table string, cols []string, rows int, conflict []string, update []string) string
}

// ErrorClass sorts database errors for the apply loop.
type ErrorClass int

const (
	// Transient errors (a lost connection, a deadlock, a serialization
	// failure, a lock wait timeout, the server shutting down) are retried
	// with backoff and never dead-lettered.
	Transient ErrorClass = iota + 1
	// RowError is an error about the data of one event (a constraint
	// violation, a value the column rejects): that event goes to the
	// dead-letter topic and the rest of the batch is applied.
	RowError
	// Fatal errors (missing privileges, a missing table) stop the sink with
	// the error.
	Fatal
)

// Backoff bounds the retries of transient errors.
type Backoff struct {
	Initial, Max time.Duration
}
