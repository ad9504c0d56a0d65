package capture

import (
	"context"
	"fmt"
	"time"
)

// Op is what a change did to a row.
type Op byte

// Ops, with the letters of the event envelope.
const (
	OpInsert   Op = 'c'
	OpUpdate   Op = 'u'
	OpDelete   Op = 'd'
	OpRead     Op = 'r' // a row read by a snapshot
	OpTruncate Op = 't' // the whole table was emptied; the change has no rows
)

func (o Op) String() string { return string(rune(o)) }

// Position is a point in one source's log. Each reader has its own concrete
// type (an LSN for PostgreSQL, a GTID set with file:pos for MySQL). Within
// one source, positions are totally ordered by Key.
type Position interface {
	// String is the human-readable form, e.g. "0/16B3748".
	String() string
	// Key is a fixed-width byte string that sorts bytewise in log order.
	Key() []byte
}

// TxBegin opens a transaction. Position is the transaction's commit
// position when the reader knows it at the start (PostgreSQL does; a
// snapshot chunk uses the snapshot's consistent point).
type TxBegin struct {
	ID         string    // the source's transaction id
	Position   Position  // commit position (ordering key of the tx's events)
	CommitTime time.Time // UTC; zero when unknown
	Snapshot   bool      // the transaction is a chunk of a snapshot
}

// TxEnd closes the transaction opened by the last TxBegin. Position is what
// the handler passes to Reader.Ack once every event of the transaction (and
// of every earlier one) is durable downstream.
type TxEnd struct {
	ID         string
	Position   Position
	CommitTime time.Time
	Changes    int // number of changes delivered between TxBegin and TxEnd
}

// Change is one row change inside a transaction.
//
// Before and After hold one value per Table.Columns entry. A nil row means
// the image is not known (no Before for an insert; no After for a delete;
// Before under PostgreSQL's default replica identity holds only the key).
// Within a row, a nil value is SQL NULL and the Unchanged sentinel means the
// value is not known (an unchanged TOAST value): it must never be written as
// NULL, and it is not among the changed fields.
type Change struct {
	Op       Op
	Table    *Table
	Before   Row
	After    Row
	Position Position // the change's own log position, for diagnostics
	Seq      uint64   // index in its transaction from 0; in a snapshot, running across chunks
}

// Row is one image of a row: a value per column, in Table.Columns order.
type Row []any

type unchanged struct{}

func (unchanged) String() string { return "<unchanged>" }

// Unchanged marks a value that the log does not carry (an unchanged TOAST
// value in PostgreSQL). It is never NULL and never "changed".
var Unchanged any = unchanged{}

// IsUnchanged reports whether v is the Unchanged sentinel.
func IsUnchanged(v any) bool { _, ok := v.(unchanged); return ok }

// Changed returns the indexes of the columns an update set: those whose
// After value is known and differs from a known Before value. For an insert
// or a snapshot read it is every known After column; for a delete, none.
func (c *Change) Changed() []int {
	var out []int
	for i := range c.Table.Columns {
		switch c.Op {
		case OpDelete, OpTruncate:
			return nil
		case OpUpdate:
			if c.After == nil || IsUnchanged(c.After[i]) {
				continue
			}
			if c.Before != nil && !IsUnchanged(c.Before[i]) && Equal(c.Before[i], c.After[i]) && !c.Table.Columns[i].Key {
				continue
			}
			out = append(out, i)
		default:
			if c.After != nil && !IsUnchanged(c.After[i]) {
				out = append(out, i)
			}
		}
	}
	return out
}

// Handler receives what a Reader reads, in log order: TxBegin, its
// Changes, TxEnd; and Heartbeats between transactions. Calls come from the
// reader's Run goroutine, one at a time. A call may block to apply
// backpressure. A handler must not keep a Change or its rows after the call
// returns unless it copies them (readers reuse buffers); a *Table is never
// modified once delivered, so keeping it is safe.
//
// An update that changes a row's key arrives as a delete of the old key
// followed by an insert of the new one, so that each key's partition sees
// its own history.
// An error stops the reader's Run with that error.
type Handler interface {
	Begin(ctx context.Context, tx *TxBegin) error
	Change(ctx context.Context, c *Change) error
	Commit(ctx context.Context, tx *TxEnd) error
	// Heartbeat carries a position with no events, from an idle or fully
	// filtered source; acking it lets the source move on.
	Heartbeat(ctx context.Context, pos Position) error
}

// Reader tails one database's change log.
//
// Run reads until ctx ends or an error occurs, calling the Handler it was
// built with. Ack tells the reader that everything up to and including pos
// (a TxEnd or Heartbeat position it delivered) is durable downstream; it is
// the only thing that moves the source's stored position. Ack is safe to
// call from any goroutine while Run runs; positions must be acked in the
// order they were delivered. Close releases the connections; call it after
// Run returns.
type Reader interface {
	Run(ctx context.Context) error
	Ack(pos Position)
	Close() error
}

// BadValueError is a value the reader cannot represent exactly (for
// example a NaN in a numeric column). It names the table and column.
type BadValueError struct {
	Table  string
	Column string
	Value  string
	Reason string
}

func (e *BadValueError) Error() string {
	return fmt.Sprintf("table %s, column %s: cannot capture value %q: %s", e.Table, e.Column, e.Value, e.Reason)
}

// DDL is a schema change statement read from the log (MySQL and MariaDB
// write them to the binlog), published for downstream consumers. The
// reader delivers it between transactions; it also appears as a new table
// version on the next change to that table.
type DDL struct {
	Database  string // the statement's default database
	Statement string
	Position  Position // acked like a transaction's end
	Time      time.Time
}

// DDLHandler is implemented by handlers that publish DDL statements. A
// reader calls DDL instead of Heartbeat for a DDL statement when its
// handler implements it.
type DDLHandler interface {
	DDL(ctx context.Context, d *DDL) error
}
