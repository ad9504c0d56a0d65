// Package sinksql holds the SQL that sink/postgres and sink/mysql share:
// qualified names, multi-row inserts, the checkpoint table's statements
// (written in either dialect) and the conversion of arguments the drivers
// do not take.
//
// Data flow: a target's Tx builds its checkpoint statements here, with its
// own sink.Dialect, and runs them on its own connection.
package sinksql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strings"

	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/sink"
)

// QuoteQualified quotes name part by part (schema.table, database.table)
// with part, which quotes one identifier.
func QuoteQualified(name string, part func(string) string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = part(p)
	}
	return strings.Join(parts, ".")
}

// Insert writes INSERT INTO table (cols) VALUES (...), (...) with rows rows
// of placeholders, numbered from 1 across the rows.
func Insert(d sink.Dialect, table string, cols []string, rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(d.Quote(table))
	b.WriteString(" (")
	b.WriteString(QuoteList(d, cols))
	b.WriteString(") VALUES ")
	n := 0
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			n++
			b.WriteString(d.Placeholder(n))
		}
		b.WriteByte(')')
	}
	return b.String()
}

// QuoteList quotes each name and joins them with ", ".
func QuoteList(d sink.Dialect, names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = d.Quote(n)
	}
	return strings.Join(q, ", ")
}

// SplitPath splits a dot-separated JSON path into its keys.
func SplitPath(path string) []string {
	return strings.Split(path, ".")
}

// Args returns args with the values the drivers do not take converted: a
// *big.Rat becomes its exact decimal text, which both servers parse as the
// column's type. args itself is not modified.
func Args(args []any) ([]any, error) {
	var out []any
	for i, a := range args {
		r, ok := a.(*big.Rat)
		if !ok {
			continue
		}
		if out == nil {
			out = slices.Clone(args)
		}
		if r == nil {
			out[i] = nil
			continue
		}
		s, err := Decimal(r)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
		out[i] = s
	}
	if out == nil {
		return args, nil
	}
	return out, nil
}

var (
	big2  = big.NewInt(2)
	big5  = big.NewInt(5)
	big10 = big.NewInt(10)
)

// Decimal is the exact decimal text of r ("-12.5", "3"). A fraction with no
// finite decimal form (1/3) is an error: writing it would round.
func Decimal(r *big.Rat) (string, error) {
	if r.IsInt() {
		return r.Num().String(), nil
	}
	// r has a finite decimal form iff its denominator is 2^a * 5^b; it
	// then needs max(a, b) fraction digits.
	d := new(big.Int).Set(r.Denom())
	twos, fives := divideOut(d, big2), divideOut(d, big5)
	if d.Cmp(big.NewInt(1)) != 0 {
		return "", fmt.Errorf("%s has no exact decimal form", r.RatString())
	}
	return r.FloatString(max(twos, fives)), nil
}

// divideOut divides d by p as often as it goes, and returns how often.
func divideOut(d, p *big.Int) int {
	var q, m big.Int
	n := 0
	for {
		q.QuoRem(d, p, &m)
		if m.Sign() != 0 {
			return n
		}
		d.Set(&q)
		n++
	}
}

// RatFromDecimal parses a decimal's text (as the servers print it).
func RatFromDecimal(s string) (*big.Rat, error) {
	r, ok := new(big.Rat).SetString(s)
	if !ok || strings.Contains(s, "/") {
		return nil, fmt.Errorf("%q is not a decimal", s)
	}
	return r, nil
}

// RatFromScaled is unscaled * 10^exp.
func RatFromScaled(unscaled *big.Int, exp int32) *big.Rat {
	if exp >= 0 {
		m := new(big.Int).Exp(big10, big.NewInt(int64(exp)), nil)
		return new(big.Rat).SetInt(m.Mul(m, unscaled))
	}
	d := new(big.Int).Exp(big10, big.NewInt(int64(-exp)), nil)
	return new(big.Rat).SetFrac(unscaled, d)
}

// Options configure a target (sink/postgres and sink/mysql alias it).
type Options struct {
	System string // the target system's name, for messages
	// Sink names the sink (its consumer). On PostgreSQL its transactions
	// run under the replication origins tandem_<Sink>_<n>.
	Sink string
	DSN  config.Secret
	// CheckpointTable is schema.table (PostgreSQL) or database.table
	// (MySQL), or a bare name in schema public or the DSN's database.
	CheckpointTable string
	// MaxConns bounds the pool, and so the concurrent transactions (and on
	// PostgreSQL the number of replication origins); default 4.
	MaxConns int
	Logger   *slog.Logger // default slog.Default()
}

// Defaults fills what o leaves out, and qualifies its checkpoint table
// with schema, which a bare name is in.
func (o *Options) Defaults(kind, schema string) error {
	if o.CheckpointTable == "" {
		return fmt.Errorf("system %s: %s target: no checkpoint table", o.System, kind)
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 4
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if !strings.Contains(o.CheckpointTable, ".") {
		o.CheckpointTable = schema + "." + o.CheckpointTable
	}
	return nil
}

// Queryer runs a query and calls fn with each row's decoded values: a
// sink.Tx, or a target's own reader outside a transaction.
type Queryer interface {
	Query(ctx context.Context, sql string, args []any, fn func(row []any) error) error
}

// Checkpoints writes the statements of one checkpoint table.
type Checkpoints struct {
	Dialect sink.Dialect
	Table   string // qualified
	Now     string // the dialect's current time: now() or NOW(6)
}

var (
	ckptCols   = []string{"consumer", "topic", "kafka_partition", "kafka_offset", "source_position"}
	ckptKey    = ckptCols[:3]
	ckptUpdate = ckptCols[3:]
)

// Upsert returns the statement and arguments that write cps: one
// multi-row upsert that also sets updated_at. Checkpoints of one partition
// given twice are written once, the last one winning; the rows are sorted
// by their key, so that concurrent transactions lock them in one order.
func (c Checkpoints) Upsert(cps []sink.Checkpoint) (string, []any) {
	type key struct {
		consumer, topic string
		partition       int
	}
	last := make(map[key]int, len(cps))
	for i, cp := range cps {
		last[key{cp.Consumer, cp.Topic, cp.Partition}] = i
	}
	rows := make([]sink.Checkpoint, 0, len(last))
	for i, cp := range cps {
		if last[key{cp.Consumer, cp.Topic, cp.Partition}] == i {
			rows = append(rows, cp)
		}
	}
	slices.SortFunc(rows, func(a, b sink.Checkpoint) int {
		if x := strings.Compare(a.Consumer, b.Consumer); x != 0 {
			return x
		}
		if x := strings.Compare(a.Topic, b.Topic); x != 0 {
			return x
		}
		return a.Partition - b.Partition
	})
	args := make([]any, 0, len(rows)*len(ckptCols))
	for _, cp := range rows {
		args = append(args, cp.Consumer, cp.Topic, int32(cp.Partition), cp.Offset, cp.Position)
	}
	q := c.Dialect.Upsert(c.Table, ckptCols, len(rows), ckptKey, ckptUpdate) + ", updated_at = " + c.Now
	return q, args
}

// Stored reads the checkpoint of one partition, locking its row.
func (c Checkpoints) Stored(ctx context.Context, q Queryer, consumer string, tp sink.TopicPartition) (sink.Checkpoint, bool, error) {
	d := c.Dialect
	sql := "SELECT topic, kafka_partition, kafka_offset, source_position FROM " + d.Quote(c.Table) +
		" WHERE consumer = " + d.Placeholder(1) + " AND topic = " + d.Placeholder(2) +
		" AND kafka_partition = " + d.Placeholder(3) + " FOR UPDATE"
	var cp sink.Checkpoint
	found := false
	err := q.Query(ctx, sql, []any{consumer, tp.Topic, int32(tp.Partition)}, func(row []any) error {
		var err error
		cp, err = checkpointRow(consumer, row)
		found = true
		return err
	})
	if err != nil {
		return sink.Checkpoint{}, false, fmt.Errorf("read the checkpoint of %s[%d] from %s: %w", tp.Topic, tp.Partition, c.Table, err)
	}
	return cp, found, nil
}

// List reads every checkpoint of consumer.
func (c Checkpoints) List(ctx context.Context, q Queryer, consumer string) (map[sink.TopicPartition]sink.Checkpoint, error) {
	d := c.Dialect
	sql := "SELECT topic, kafka_partition, kafka_offset, source_position FROM " + d.Quote(c.Table) +
		" WHERE consumer = " + d.Placeholder(1)
	out := map[sink.TopicPartition]sink.Checkpoint{}
	err := q.Query(ctx, sql, []any{consumer}, func(row []any) error {
		cp, err := checkpointRow(consumer, row)
		out[sink.TopicPartition{Topic: cp.Topic, Partition: cp.Partition}] = cp
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the checkpoints of %s from %s: %w", consumer, c.Table, err)
	}
	return out, nil
}

// checkpointRow decodes topic, kafka_partition, kafka_offset,
// source_position.
func checkpointRow(consumer string, row []any) (sink.Checkpoint, error) {
	topic, ok1 := row[0].(string)
	part, ok2 := row[1].(int64)
	off, ok3 := row[2].(int64)
	pos, ok4 := row[3].(string)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return sink.Checkpoint{}, errors.New("the checkpoint table has unexpected column types")
	}
	return sink.Checkpoint{Consumer: consumer, Topic: topic, Partition: int(part), Offset: off, Position: pos}, nil
}

// Checkpointer is the part of a sink.Target that reads and sets
// checkpoints outside the apply transactions; a target embeds it.
type Checkpointer struct {
	stmts  *Checkpoints
	reader Queryer
	begin  func(context.Context) (sink.Tx, error)
}

// NewCheckpointer reads checkpoints with reader (outside any transaction)
// and sets them in transactions of begin.
func NewCheckpointer(stmts *Checkpoints, reader Queryer, begin func(context.Context) (sink.Tx, error)) *Checkpointer {
	return &Checkpointer{stmts: stmts, reader: reader, begin: begin}
}

// Checkpoints reads the stored checkpoints of consumer.
func (c *Checkpointer) Checkpoints(ctx context.Context, consumer string) (map[sink.TopicPartition]sink.Checkpoint, error) {
	return c.stmts.List(ctx, c.reader, consumer)
}

// SetCheckpoint overwrites one checkpoint in a transaction of its own.
func (c *Checkpointer) SetCheckpoint(ctx context.Context, cp sink.Checkpoint) error {
	tx, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := tx.Checkpoint(ctx, []sink.Checkpoint{cp}); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
