// Package mapped applies a system's entity mappings on the capture side:
// it sits between a capture.Reader and the publisher, turns the changes of
// mapped tables into entity events (<prefix>.<system>.<aggregate>, with
// changed, origin and event_id), and passes the changes of other tables
// through as raw row events.
package mapped

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-sync/tandem/bus"
	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/mapping"
	"github.com/tandem-sync/tandem/schema"
)

// DefaultMaxPending is how many entity instances one transaction may hold
// before the handler resolves and publishes them, mid-transaction.
const DefaultMaxPending = 10_000

// Next is where the handler sends what it makes: the publisher.
type Next interface {
	capture.Handler
	// Emit queues an encoded record in the open transaction, counted
	// under unit in its END record.
	Emit(ctx context.Context, rec *bus.Record, unit string) error
}

// Encoder encodes entity events: schema.Serializer.
type Encoder interface {
	Entity(ctx context.Context, tx *capture.TxBegin, ev *schema.EntityEvent) (bus.Record, error)
}

// Options configure a Handler.
type Options struct {
	System  string
	Config  *mapping.Config
	Rows    mapping.RowSource // the system's current rows, for lookups
	Next    Next
	Encoder Encoder
	// DLQTopic receives a record per value that a field spec cannot
	// convert (the event goes out without that field), with the reason.
	DLQTopic   string
	MaxPending int // 0: DefaultMaxPending
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: no metrics
}

// Handler is a capture.Handler that publishes entity events for mapped
// tables, and raw events for the others as capture.raw_topics says. Like
// every handler it is called from the reader's goroutine only.
type Handler struct {
	opts     Options
	asm      *mapping.Assembler
	res      *mapping.Resolver
	mappedT  map[string]bool // qualified table -> an entity mapping reads it
	rawMode  string
	tx       capture.TxBegin
	seq      uint64 // the next entity event's index in the transaction
	seqBase  uint64 // added to it: see Change
	seqSet   bool
	log      *slog.Logger
	m        *metrics
	warnings *limiter
}

// New builds the handler of opts.System.
func New(opts Options) (*Handler, error) {
	sys := opts.Config.Systems[opts.System]
	if sys == nil {
		return nil, fmt.Errorf("no system %q", opts.System)
	}
	if opts.Next == nil || opts.Encoder == nil || opts.Rows == nil {
		return nil, errors.New("mapped: Next, Encoder and Rows are required")
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	asm, err := mapping.NewAssembler(opts.Config, opts.System)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	h := &Handler{opts: opts, asm: asm, mappedT: map[string]bool{}, rawMode: sys.Capture.RawTopics,
		log: opts.Logger, m: m, warnings: newLimiter(time.Minute)}
	h.res, err = mapping.NewResolver(opts.Config, opts.System, &countingRows{src: opts.Rows, m: m}, sys.Capture.KeyCache)
	if err != nil {
		return nil, err
	}
	h.res.Unresolved = h.unresolved
	h.res.Bad = func(b *mapping.BadValue) { h.badValue(context.Background(), b) }
	for _, t := range asm.Tables() {
		h.mappedT[t] = true
	}
	return h, nil
}

// MappedTables returns the tables whose changes become entity events.
func (h *Handler) MappedTables() []string { return h.asm.Tables() }

// Begin starts a transaction.
func (h *Handler) Begin(ctx context.Context, tx *capture.TxBegin) error {
	h.tx, h.seq, h.seqBase, h.seqSet = *tx, 0, 0, false
	return h.opts.Next.Begin(ctx, tx)
}

// Change folds a mapped table's change into the transaction's entities,
// and passes it on raw where raw topics want it.
func (h *Handler) Change(ctx context.Context, c *capture.Change) error {
	mapped := h.mappedT[c.Table.QualifiedName()]
	if !h.seqSet {
		// Entity events are ordered by the transaction's position and
		// their sequence. Snapshot chunks share one position, and their
		// changes number on across chunks (and resumes): start each
		// chunk's events from its first change's number, with room for
		// 4,096 events per change, so that order keeps growing.
		h.seqBase, h.seqSet = c.Seq<<12, true
	}
	if mapped {
		if err := h.asm.Add(c); err != nil {
			var bad mapping.BadValues
			if !errors.As(err, &bad) {
				return fmt.Errorf("table %s at %s: %w", c.Table.QualifiedName(), position(c.Position), err)
			}
			for _, b := range bad {
				if err := h.badValue(ctx, b); err != nil {
					return err
				}
			}
		}
		if h.asm.Pending() >= h.opts.MaxPending {
			if err := h.flush(ctx); err != nil {
				return err
			}
		}
	}
	if h.rawMode == capture.RawAll || (h.rawMode == capture.RawUnmapped && !mapped) {
		return h.opts.Next.Change(ctx, c)
	}
	return nil
}

// Commit publishes the transaction's entity events, then its END.
func (h *Handler) Commit(ctx context.Context, tx *capture.TxEnd) error {
	if err := h.flush(ctx); err != nil {
		return err
	}
	return h.opts.Next.Commit(ctx, tx)
}

// Heartbeat passes on.
func (h *Handler) Heartbeat(ctx context.Context, pos capture.Position) error {
	return h.opts.Next.Heartbeat(ctx, pos)
}

// DDL passes on to a publisher that publishes DDL, and is a heartbeat
// otherwise.
func (h *Handler) DDL(ctx context.Context, d *capture.DDL) error {
	if next, ok := h.opts.Next.(capture.DDLHandler); ok {
		return next.DDL(ctx, d)
	}
	return h.opts.Next.Heartbeat(ctx, d.Position)
}

// flush resolves the pending deltas and publishes their events.
func (h *Handler) flush(ctx context.Context) error {
	deltas := h.asm.Flush()
	if len(deltas) == 0 {
		return nil
	}
	resolved, err := h.res.Resolve(ctx, deltas)
	if err != nil {
		return fmt.Errorf("resolve tx %s: %w", h.tx.ID, err)
	}
	for _, r := range resolved {
		ev := &schema.EntityEvent{Entity: r.Delta.Entity, Op: r.Delta.Op, Values: r.Values, Changed: r.Changed,
			Table: r.Delta.Table, Seq: h.seqBase + h.seq}
		h.seq++
		rec, err := h.opts.Encoder.Entity(ctx, &h.tx, ev)
		if err != nil {
			var ee *schema.EncodeError
			if errors.As(err, &ee) {
				// the values do not fit the entity's schema: a poison
				// event, published to the dead-letter topic instead
				if err := h.deadLetter(ctx, r.Delta.Entity, tableName(r.Delta.Table), ee.Column, "", err.Error()); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("encode %s %s: %w", r.Delta.Entity, r.Delta.LocalID, err)
		}
		if err := h.opts.Next.Emit(ctx, &rec, r.Delta.Entity); err != nil {
			return err
		}
		h.m.events.WithLabelValues(r.Delta.Entity, r.Delta.Op.String()).Inc()
	}
	return nil
}

func (h *Handler) unresolved(entity, reason string) {
	h.m.unresolved.WithLabelValues(entity, reasonLabel(reason)).Inc()
	if reason == mapping.ReasonNoKey {
		h.log.Debug("entity change without a natural key skipped", "entity", entity, "tx", h.tx.ID)
		return
	}
	if n, ok := h.warnings.allow(entity + reason); ok {
		h.log.Warn("entity change skipped: it cannot be identified", "entity", entity, "reason", reason,
			"tx", h.tx.ID, "similar_since_last_warning", n)
	}
}

func reasonLabel(reason string) string {
	switch reason {
	case mapping.ReasonNoKey:
		return "no_key"
	}
	return "unresolved"
}

// badValue reports a value a field spec cannot convert: a metric, a
// (rate-limited) warning, and a dead-letter record with the reason.
func (h *Handler) badValue(ctx context.Context, b *mapping.BadValue) error {
	field, value := "", ""
	var ve *mapping.ValueError
	if errors.As(b.Err, &ve) {
		field, value = ve.Field, ve.Value
	}
	h.m.badValues.WithLabelValues(b.Entity).Inc()
	if n, ok := h.warnings.allow("bad" + b.Entity + field); ok {
		h.log.Warn("a value cannot be converted; the event goes out without the field, and the value to the dead-letter topic",
			"entity", b.Entity, "table", b.Table, "field", field, "err", b.Err, "dlq", h.opts.DLQTopic, "similar_since_last_warning", n)
	}
	return h.deadLetter(ctx, b.Entity, b.Table, field, value, b.Err.Error())
}

// deadLetter queues a dead-letter record in the open transaction, so that
// it is as durable as the events around it.
func (h *Handler) deadLetter(ctx context.Context, entity, table, field, value, reason string) error {
	if h.opts.DLQTopic == "" {
		return nil
	}
	pos := position(h.tx.Position)
	body, _ := json.Marshal(map[string]any{
		"system": h.opts.System, "entity": entity, "table": table, "field": field, "value": value,
		"reason": reason, "tx_id": h.tx.ID, "position": pos, "commit_time": h.tx.CommitTime,
	})
	rec := &bus.Record{Topic: h.opts.DLQTopic, Key: []byte(entity), Value: body, Headers: map[string][]byte{
		"tandem.reason": []byte(reason), "tandem.stage": []byte("capture"), "tandem.system": []byte(h.opts.System),
		"tandem.entity": []byte(entity), "tandem.table": []byte(table), "tandem.position": []byte(pos),
	}}
	return h.opts.Next.Emit(ctx, rec, "dlq")
}

func position(p capture.Position) string {
	if p == nil {
		return ""
	}
	return p.String()
}

func tableName(t *capture.Table) string {
	if t == nil {
		return ""
	}
	return t.QualifiedName()
}

// countingRows times and counts the resolver's lookups.
type countingRows struct {
	src mapping.RowSource
	m   *metrics
}

func (c *countingRows) Rows(ctx context.Context, table, column string, values []string) (*capture.Table, []capture.Row, error) {
	start := time.Now()
	t, rows, err := c.src.Rows(ctx, table, column, values)
	c.m.lookups.WithLabelValues(table).Inc()
	c.m.lookupSeconds.Observe(time.Since(start).Seconds())
	return t, rows, err
}

// limiter lets one warning per key through per interval, counting the
// ones it holds back.
type limiter struct {
	mu    sync.Mutex
	every time.Duration
	last  map[string]time.Time
	held  map[string]int
}

func newLimiter(every time.Duration) *limiter {
	return &limiter{every: every, last: map[string]time.Time{}, held: map[string]int{}}
}

func (l *limiter) allow(key string) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if t, ok := l.last[key]; ok && now.Sub(t) < l.every {
		l.held[key]++
		return 0, false
	}
	if len(l.last) > 10_000 { // keys are entity and field names; bound them anyway
		l.last, l.held = map[string]time.Time{}, map[string]int{}
	}
	n := l.held[key]
	l.last[key], l.held[key] = now, 0
	return n, true
}

type metrics struct {
	events        *prometheus.CounterVec
	unresolved    *prometheus.CounterVec
	badValues     *prometheus.CounterVec
	lookups       *prometheus.CounterVec
	lookupSeconds prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_entity_events_total",
			Help: "Entity events built from captured changes, by entity and op.",
		}, []string{"entity", "op"}),
		unresolved: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_entity_skipped_total",
			Help: "Entity changes not published: no natural key (no_key), or an instance that cannot be identified (unresolved).",
		}, []string{"entity", "reason"}),
		badValues: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_entity_bad_values_total",
			Help: "Stored values a field spec could not convert; each went to the dead-letter topic and its event without the field.",
		}, []string{"entity"}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_entity_lookups_total",
			Help: "Queries on the source for what changes do not carry (natural keys, parents, references, via joins), by table.",
		}, []string{"table"}),
		lookupSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tandem_entity_lookup_seconds",
			Help:    "Time per lookup query on the source.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 8),
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.events, m.unresolved, m.badValues, m.lookups, m.lookupSeconds} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("mapped: register metrics: %w", err)
		}
	}
	return m, nil
}
