package sinksql

import (
	"context"
	"errors"
	"fmt"

	"github.com/tandem-sync/tandem/sink"
)

// Conn runs the statements of one transaction of a target, over its
// driver. Its methods get arguments already converted (Args).
type Conn interface {
	Exec(ctx context.Context, q string, args []any) (int64, error)
	Query(ctx context.Context, q string, args []any, fn func(row []any) error) error
	// Insert runs an INSERT and returns the generated id (see sink.Tx).
	Insert(ctx context.Context, q, idColumn string, args []any) (any, error)
	// ExecMany runs q once per argument list, in order, in as few round
	// trips as the driver allows.
	ExecMany(ctx context.Context, q string, rows [][]any) error
	// Commit and Rollback end the transaction; each is called once at
	// most, and never both.
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Tx is the sink.Tx of a target over its Conn: the checkpoint statements,
// savepoints, argument conversion, and the end of the transaction (Commit
// once; Rollback after the end does nothing).
type Tx struct {
	conn  Conn
	ckpt  *Checkpoints
	quote func(string) string // quotes one identifier (a savepoint's name)
	done  bool
}

var _ sink.Tx = (*Tx)(nil)

// NewTx returns the transaction of conn, whose checkpoints ckpt writes;
// quote quotes one identifier.
func NewTx(conn Conn, ckpt *Checkpoints, quote func(string) string) *Tx {
	return &Tx{conn: conn, ckpt: ckpt, quote: quote}
}

// Checkpoint upserts cps in one statement (none for an empty cps).
func (x *Tx) Checkpoint(ctx context.Context, cps []sink.Checkpoint) error {
	if len(cps) == 0 {
		return nil
	}
	q, args := x.ckpt.Upsert(cps)
	if _, err := x.conn.Exec(ctx, q, args); err != nil {
		return fmt.Errorf("write checkpoints to %s: %w", x.ckpt.Table, err)
	}
	return nil
}

// Stored reads one checkpoint, locking its row (SELECT ... FOR UPDATE).
func (x *Tx) Stored(ctx context.Context, consumer string, tp sink.TopicPartition) (sink.Checkpoint, bool, error) {
	return x.ckpt.Stored(ctx, x, consumer, tp)
}

func (x *Tx) Query(ctx context.Context, q string, args []any, fn func(row []any) error) error {
	args, err := Args(args)
	if err != nil {
		return err
	}
	return x.conn.Query(ctx, q, args, fn)
}

func (x *Tx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	args, err := Args(args)
	if err != nil {
		return 0, err
	}
	return x.conn.Exec(ctx, q, args)
}

func (x *Tx) ExecMany(ctx context.Context, q string, rows [][]any) error {
	conv := make([][]any, len(rows))
	for i, r := range rows {
		a, err := Args(r)
		if err != nil {
			return err
		}
		conv[i] = a
	}
	return x.conn.ExecMany(ctx, q, conv)
}

func (x *Tx) Insert(ctx context.Context, q string, idColumn string, args ...any) (any, error) {
	args, err := Args(args)
	if err != nil {
		return nil, err
	}
	return x.conn.Insert(ctx, q, idColumn, args)
}

func (x *Tx) Savepoint(ctx context.Context, name string) error {
	_, err := x.conn.Exec(ctx, "SAVEPOINT "+x.quote(name), nil)
	return err
}

func (x *Tx) RollbackTo(ctx context.Context, name string) error {
	_, err := x.conn.Exec(ctx, "ROLLBACK TO SAVEPOINT "+x.quote(name), nil)
	return err
}

// Commit commits; a second Commit is an error.
func (x *Tx) Commit(ctx context.Context) error {
	if x.done {
		return errors.New("commit: the transaction is already finished")
	}
	x.done = true
	if err := x.conn.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Rollback rolls back. After Commit or Rollback it does nothing and
// returns nil, so that callers can defer it.
func (x *Tx) Rollback(ctx context.Context) error {
	if x.done {
		return nil
	}
	x.done = true
	if err := x.conn.Rollback(ctx); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}
