package schema

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/tandem-sync/tandem/bus"
	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/schema/entities"
)

// SerializerOptions says where a capture's events go and how their source
// is named.
type SerializerOptions struct {
	System      string // the tandem system: a topic part, the events' origin and source.system
	Connector   string // "postgres" or "mysql"
	Database    string // source.database
	TopicPrefix string // first part of every topic, as bus.Config.TopicPrefix
	// Entity returns an entity by name, for Serializer.Entity: the
	// mapping's (*Config).Entity, which knows the config's own entities.
	// Nil means the built-ins only (entities.Lookup).
	Entity func(name string) (entities.Entity, error)
}

// Validate reports every problem in o at once.
func (o SerializerOptions) Validate() error {
	var ps config.Problems
	if o.System == "" {
		ps.Add("system", "required")
	} else if topicPart(o.System) != o.System {
		ps.Add("system", fmt.Sprintf("%q must be letters, digits, '_' or '-'", o.System))
	}
	if msg, ok := config.OneOf(o.Connector, "postgres", "mysql"); !ok {
		ps.Add("connector", msg)
	}
	if o.TopicPrefix == "" {
		ps.Add("topic_prefix", "required, for example tandem")
	}
	return ps.Err()
}

// Serializer turns captured changes into Kafka records: Avro in the
// Confluent wire format, with schemas registered in the schema registry. It
// implements publish.Encoder (asserted in a test, so that this package does
// not import publish).
//
// A table's change goes to its raw topic (TableTopic) as an Envelope, keyed
// by the table's key columns (a KeySchema record); a table without key
// columns, and every truncate, has no Kafka key. BEGIN and END records go
// to the system's transactions topic, keyed by the transaction id.
//
// On the first change of a table version, Change generates the version's
// schemas, checks them against the version it saw before on the same topic
// (see "Schema evolution" in the package documentation), registers them
// (which blocks on the registry) and caches their codecs; later changes of
// that version only encode. Each returned record owns its Key and Value.
//
// The registered schemas carry Avro logical types (decimal, date,
// timestamp-micros, time-micros, uuid). The goavro codecs that encode are
// built from the same schemas with the logical types left out, whose binary
// encoding is identical: the Serializer converts values itself, exactly
// (a decimal to its unscaled two's-complement bytes, refusing any rounding),
// instead of through goavro's conversions, which truncate decimals silently
// and allocate about ten big integers per decimal value. Consumers decode
// with the registered schema (see Decoder).
//
// A Serializer is safe for concurrent use, but calls are serialized: it is
// meant for the publisher's single caller goroutine.
type Serializer struct {
	reg  *Registry
	opts SerializerOptions

	system, connector, database any // boxed once, for the envelope

	mu     sync.Mutex
	tables map[tableKey]*tableCodec
	latest map[string]*layout // topic -> the layout of the last version prepared
	tx     *txCodec
	begun  struct {
		id       string
		snapshot bool
	}
	cur txBoxed // the current transaction's boxed values
	buf []byte  // encoding scratch, copied into each record
	ddl ddlCodec

	entities map[string]*entityCodec // by entity name
	sc       scratch                 // big-number scratch
}

type tableKey struct {
	schema, name string
	version      int
}

// NewSerializer returns a Serializer that registers schemas in reg. It does
// not contact the registry until the first change.
func NewSerializer(reg *Registry, opts SerializerOptions) (*Serializer, error) {
	if reg == nil {
		return nil, errors.New("serializer: no schema registry")
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("serializer options: %w", err)
	}
	return &Serializer{
		reg:       reg,
		opts:      opts,
		system:    opts.System,
		connector: opts.Connector,
		database:  opts.Database,
		tables:    map[tableKey]*tableCodec{},
		latest:    map[string]*layout{},
	}, nil
}

// tableCodec is what one version of one table needs to encode: ids,
// codecs, and the native maps goavro reads, reused from change to change.
type tableCodec struct {
	topic      string
	l          *layout
	keyID      int
	valueID    int
	keyCodec   *goavro.Codec // nil without key columns
	valueCodec *goavro.Codec
	cols       []*valueCodec
	names      []any // boxed Avro field names

	env, source, key map[string]any
	before, after    rowNative
	commitTime       map[string]any
	changed, unknown []any
	beforeUnknown    []any
	schema, table    any
	version          any
}

// rowNative is a row record for goavro: field -> nil or a one-entry union
// map {branch: value}; the union maps are kept and refilled.
type rowNative struct {
	wrapped map[string]any // {row record full name: fields}
	fields  map[string]any
	unions  []map[string]any
}

func newRowNative(l *layout) rowNative {
	r := rowNative{fields: make(map[string]any, len(l.fields)), unions: make([]map[string]any, len(l.fields))}
	for i := range l.fields {
		r.unions[i] = map[string]any{l.types[i].prim: nil}
	}
	r.wrapped = map[string]any{l.fullName: r.fields}
	return r
}

// Change encodes c, a change of tx, for the table's raw topic.
func (s *Serializer) Change(ctx context.Context, tx *capture.TxBegin, c *capture.Change) (bus.Record, error) {
	if tx == nil || tx.Position == nil {
		return bus.Record{}, errors.New("encode change: the transaction has no position")
	}
	if c == nil || c.Table == nil {
		return bus.Record{}, errors.New("encode change: no table")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tc, err := s.prepare(ctx, c.Table)
	if err != nil {
		return bus.Record{}, err
	}
	if len(c.Table.Columns) != len(tc.l.fields) {
		return bus.Record{}, fmt.Errorf("encode change of %s: version %d has %d columns, but %d were seen before for that version",
			c.Table.QualifiedName(), c.Table.Version, len(c.Table.Columns), len(tc.l.fields))
	}

	env := tc.env
	tc.changed, tc.unknown, tc.beforeUnknown = tc.changed[:0], tc.unknown[:0], tc.beforeUnknown[:0]
	env["before"], env["after"] = nil, nil
	switch c.Op {
	case capture.OpInsert, capture.OpUpdate, capture.OpDelete, capture.OpRead:
		if c.Before != nil {
			if env["before"], tc.beforeUnknown, err = s.row(tc, &tc.before, c.Before, tc.beforeUnknown); err != nil {
				return bus.Record{}, err
			}
		}
		if c.After != nil {
			if env["after"], tc.unknown, err = s.row(tc, &tc.after, c.After, tc.unknown); err != nil {
				return bus.Record{}, err
			}
		}
		for _, i := range c.Changed() {
			tc.changed = append(tc.changed, tc.names[i])
		}
	case capture.OpTruncate:
	default:
		return bus.Record{}, &EncodeError{Topic: tc.topic, Reason: fmt.Sprintf("unknown op %q", byte(c.Op))}
	}
	env["op"] = opString(c.Op)
	env["changed"], env["unknown"], env["before_unknown"] = list(tc.changed), list(tc.unknown), list(tc.beforeUnknown)

	if c.Seq > math.MaxInt64 {
		return bus.Record{}, &EncodeError{Topic: tc.topic, Reason: fmt.Sprintf("sequence %d does not fit a long", c.Seq)}
	}
	txv, err := s.txValues(tx)
	if err != nil {
		return bus.Record{}, &EncodeError{Topic: tc.topic, Reason: err.Error()}
	}
	eventID, order := s.eventID(tx.Position, c.Seq)
	src := tc.source
	pos := tx.Position
	if c.Position != nil {
		pos = c.Position
	}
	src["position"] = pos.String()
	src["order"] = order
	src["tx_id"] = txv.id
	src["commit_time"] = nil
	if txv.commit != nil {
		tc.commitTime["long"] = txv.commit
		src["commit_time"] = tc.commitTime
	}
	src["snapshot"] = tx.Snapshot
	src["sequence"] = int64(c.Seq)
	env["event_id"] = eventID

	buf := s.buf[:0]
	keyLen := 0
	if tc.keyCodec != nil && c.Op != capture.OpTruncate {
		if err := s.keyNative(tc, c); err != nil {
			return bus.Record{}, err
		}
		buf = AppendFrame(buf, tc.keyID)
		if buf, err = tc.keyCodec.BinaryFromNative(buf, tc.key); err != nil {
			return bus.Record{}, fmt.Errorf("encode key for topic %s: %w", tc.topic, err)
		}
		keyLen = len(buf)
	}
	buf = AppendFrame(buf, tc.valueID)
	if buf, err = tc.valueCodec.BinaryFromNative(buf, env); err != nil {
		return bus.Record{}, fmt.Errorf("encode value for topic %s: %w", tc.topic, err)
	}
	out := s.detach(buf)
	rec := bus.Record{Topic: tc.topic, Value: out[keyLen:]}
	if keyLen > 0 {
		rec.Key = out[:keyLen:keyLen]
	}
	return rec, nil
}

func opString(op capture.Op) any {
	switch op {
	case capture.OpInsert:
		return "c"
	case capture.OpUpdate:
		return "u"
	case capture.OpDelete:
		return "d"
	case capture.OpRead:
		return "r"
	}
	return "t"
}

// emptyList is the boxed empty array, so that an empty list costs nothing.
var emptyList any = []any{}

func list(xs []any) any {
	if len(xs) == 0 {
		return emptyList
	}
	return xs
}

// txBoxed holds the boxed values of the transaction being encoded, which
// every change of the transaction shares.
type txBoxed struct {
	key      string
	commit   time.Time
	id       any // the tx id
	commitTS any // commit time in microseconds, or nil when unknown
}

type txValues struct{ id, commit any }

func (s *Serializer) txValues(tx *capture.TxBegin) (txValues, error) {
	b := &s.cur
	if b.id == nil || b.key != tx.ID || !b.commit.Equal(tx.CommitTime) {
		b.key, b.commit, b.id, b.commitTS = tx.ID, tx.CommitTime, tx.ID, nil
		if !tx.CommitTime.IsZero() {
			us, why := micros(tx.CommitTime)
			if why != "" {
				b.id = nil
				return txValues{}, errors.New("commit time: " + why)
			}
			b.commitTS = us
		}
	}
	return txValues{id: b.id, commit: b.commitTS}, nil
}

// eventID returns the event's id, <system>:<order>, and its order: the
// lower-case hex of the transaction's position key, then the sequence as
// 16 hex digits. The order is a substring of the id (one allocation).
func (s *Serializer) eventID(pos capture.Position, seq uint64) (id, order string) {
	k := pos.Key()
	var b strings.Builder
	b.Grow(len(s.opts.System) + 1 + 2*len(k) + 16)
	b.WriteString(s.opts.System)
	b.WriteByte(':')
	const digits = "0123456789abcdef"
	for _, c := range k {
		b.WriteByte(digits[c>>4])
		b.WriteByte(digits[c&15])
	}
	for shift := 60; shift >= 0; shift -= 4 {
		b.WriteByte(digits[(seq>>uint(shift))&15])
	}
	id = b.String()
	return id, id[len(s.opts.System)+1:]
}

// row fills rn from row and returns the union value for the envelope, and
// unknown with the names of the fields whose value is Unchanged appended.
func (s *Serializer) row(tc *tableCodec, rn *rowNative, row capture.Row, unknown []any) (any, []any, error) {
	if len(row) != len(tc.cols) {
		return nil, unknown, &EncodeError{Topic: tc.topic, Reason: fmt.Sprintf("a row has %d values for %d columns", len(row), len(tc.cols))}
	}
	for i, v := range row {
		f := tc.l.fields[i]
		if v == nil {
			rn.fields[f] = nil
			continue
		}
		if capture.IsUnchanged(v) {
			rn.fields[f] = nil
			unknown = append(unknown, tc.names[i])
			continue
		}
		n, why := tc.cols[i].native(v, &s.sc)
		if why != "" {
			return nil, unknown, &EncodeError{Topic: tc.topic, Column: tc.l.table.Columns[i].Name, Reason: why}
		}
		u := rn.unions[i]
		u[tc.l.types[i].prim] = n
		rn.fields[f] = u
	}
	return rn.wrapped, unknown, nil
}

// keyNative fills tc.key from the change: each key column from After where
// it is known, else from Before (a delete has only Before).
func (s *Serializer) keyNative(tc *tableCodec, c *capture.Change) error {
	for _, i := range tc.l.keys {
		var v any
		if c.After != nil && c.Op != capture.OpDelete {
			v = c.After[i]
		}
		if (v == nil || capture.IsUnchanged(v)) && c.Before != nil {
			v = c.Before[i]
		}
		col := tc.l.table.Columns[i].Name
		if v == nil || capture.IsUnchanged(v) {
			return &EncodeError{Topic: tc.topic, Column: col, Reason: "the key column has no known value"}
		}
		n, why := tc.cols[i].native(v, &s.sc)
		if why != "" {
			return &EncodeError{Topic: tc.topic, Column: col, Reason: why}
		}
		tc.key[tc.l.fields[i]] = n
	}
	return nil
}

// prepare returns the codec of t's version, building and registering it
// on first use.
func (s *Serializer) prepare(ctx context.Context, t *capture.Table) (*tableCodec, error) {
	k := tableKey{t.Schema, t.Name, t.Version}
	if tc, ok := s.tables[k]; ok {
		return tc, nil
	}
	topic := TableTopic(s.opts.TopicPrefix, s.opts.System, t)
	l, err := newLayout(Namespace(s.opts.TopicPrefix, s.opts.System, t.Schema), cloneTable(t))
	if err != nil {
		return nil, fmt.Errorf("schema of %s: %w", t.QualifiedName(), err)
	}
	if prev := s.latest[topic]; prev != nil {
		if err := checkEvolution(topic, prev, l); err != nil {
			return nil, err
		}
	}
	tc := &tableCodec{
		topic:      topic,
		l:          l,
		cols:       make([]*valueCodec, len(l.types)),
		names:      make([]any, len(l.fields)),
		env:        map[string]any{"origin": s.system},
		key:        make(map[string]any, len(l.keys)),
		before:     newRowNative(l),
		after:      newRowNative(l),
		commitTime: map[string]any{"long": nil},
		schema:     t.Schema,
		table:      t.Name,
		version:    int32(t.Version),
	}
	for i, a := range l.types {
		tc.cols[i] = newValueCodec(a)
		tc.names[i] = l.fields[i]
	}
	tc.source = map[string]any{
		"system": s.system, "connector": s.connector, "database": s.database,
		"schema": tc.schema, "table": tc.table, "table_version": tc.version,
	}
	tc.env["source"] = tc.source

	if len(l.keys) > 0 {
		if tc.keyCodec, err = goavro.NewCodec(marshal(l.keySchema(true))); err != nil {
			return nil, fmt.Errorf("key schema of %s: %w", t.QualifiedName(), err)
		}
		if tc.keyID, err = s.register(ctx, topic, topic+"-key", marshal(l.keySchema(false))); err != nil {
			return nil, err
		}
	}
	if tc.valueCodec, err = goavro.NewCodec(marshal(l.envelopeSchema(true))); err != nil {
		return nil, fmt.Errorf("value schema of %s: %w", t.QualifiedName(), err)
	}
	if tc.valueID, err = s.register(ctx, topic, topic+"-value", marshal(l.envelopeSchema(false))); err != nil {
		return nil, err
	}
	s.tables[k] = tc
	if prev := s.latest[topic]; prev == nil || prev.table.Version <= t.Version {
		s.latest[topic] = l
	}
	return tc, nil
}

// register registers schema under subject, turning the registry's 409 into
// an *IncompatibleError.
func (s *Serializer) register(ctx context.Context, topic, subject, schema string) (int, error) {
	id, err := s.reg.Register(ctx, subject, schema)
	var re *RegistryError
	if errors.As(err, &re) && re.Status == http.StatusConflict {
		return 0, &IncompatibleError{Topic: topic, Err: err}
	}
	return id, err
}

// cloneTable copies t deeply: a handler must not keep a reader's Table.
func cloneTable(t *capture.Table) *capture.Table {
	c := *t
	c.Columns = make([]capture.Column, len(t.Columns))
	for i, col := range t.Columns {
		col.Type = cloneType(col.Type)
		c.Columns[i] = col
	}
	return &c
}

func cloneType(t capture.Type) capture.Type {
	t.Symbols = append([]string(nil), t.Symbols...)
	if t.Elem != nil {
		e := cloneType(*t.Elem)
		t.Elem = &e
	}
	return t
}

// txCodec encodes the transactions topic's records.
type txCodec struct {
	topic       string
	keyID       int
	valueID     int
	keyCodec    *goavro.Codec
	valueCodec  *goavro.Codec
	native      map[string]any
	commitTime  map[string]any
	eventCount  map[string]any
	dataColls   map[string]any
	collections []any
}

func (s *Serializer) txCodec(ctx context.Context) (*txCodec, error) {
	if s.tx != nil {
		return s.tx, nil
	}
	topic := TransactionsTopic(s.opts.TopicPrefix, s.opts.System)
	tc := &txCodec{
		topic:      topic,
		native:     map[string]any{"system": s.system},
		commitTime: map[string]any{"long": nil},
		eventCount: map[string]any{"long": nil},
		dataColls:  map[string]any{"array": nil},
	}
	var err error
	if tc.keyCodec, err = goavro.NewCodec(TransactionKeySchema); err != nil {
		return nil, err
	}
	if tc.valueCodec, err = goavro.NewCodec(transactionSchema(true)); err != nil {
		return nil, err
	}
	if tc.keyID, err = s.register(ctx, topic, topic+"-key", TransactionKeySchema); err != nil {
		return nil, err
	}
	if tc.valueID, err = s.register(ctx, topic, topic+"-value", TransactionSchema()); err != nil {
		return nil, err
	}
	s.tx = tc
	return tc, nil
}

// Begin encodes the BEGIN record of tx for the transactions topic.
func (s *Serializer) Begin(ctx context.Context, tx *capture.TxBegin) (bus.Record, error) {
	if tx == nil || tx.Position == nil {
		return bus.Record{}, errors.New("encode BEGIN: the transaction has no position")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.begun.id, s.begun.snapshot = tx.ID, tx.Snapshot
	return s.txRecord(ctx, "BEGIN", tx.ID, tx.Position, tx.CommitTime, tx.Snapshot, nil, nil)
}

// End encodes the END record of tx with its event count and its counts per
// table (qualified name -> count). The snapshot flag comes from the BEGIN
// of the same transaction id, the last one encoded.
func (s *Serializer) End(ctx context.Context, tx *capture.TxEnd, perTable map[string]int) (bus.Record, error) {
	if tx == nil || tx.Position == nil {
		return bus.Record{}, errors.New("encode END: the transaction has no position")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	snapshot := s.begun.snapshot && s.begun.id == tx.ID
	count := int64(tx.Changes)
	return s.txRecord(ctx, "END", tx.ID, tx.Position, tx.CommitTime, snapshot, &count, perTable)
}

func (s *Serializer) txRecord(ctx context.Context, status, id string, pos capture.Position, commit time.Time,
	snapshot bool, count *int64, perTable map[string]int) (bus.Record, error) {
	tc, err := s.txCodec(ctx)
	if err != nil {
		return bus.Record{}, err
	}
	n := tc.native
	n["status"] = status
	n["id"] = id
	n["position"] = pos.String()
	n["order"] = hex.EncodeToString(pos.Key())
	n["snapshot"] = snapshot
	n["commit_time"] = nil
	if !commit.IsZero() {
		us, why := micros(commit)
		if why != "" {
			return bus.Record{}, &EncodeError{Topic: tc.topic, Reason: "commit time: " + why}
		}
		tc.commitTime["long"] = us
		n["commit_time"] = tc.commitTime
	}
	n["event_count"], n["data_collections"] = nil, nil
	if count != nil {
		tc.eventCount["long"] = *count
		n["event_count"] = tc.eventCount
		names := make([]string, 0, len(perTable))
		for name := range perTable {
			names = append(names, name)
		}
		sort.Strings(names)
		tc.collections = tc.collections[:0]
		for _, name := range names {
			tc.collections = append(tc.collections, map[string]any{"name": name, "event_count": int64(perTable[name])})
		}
		tc.dataColls["array"] = tc.collections
		n["data_collections"] = tc.dataColls
	}
	buf := AppendFrame(s.buf[:0], tc.keyID)
	if buf, err = tc.keyCodec.BinaryFromNative(buf, id); err != nil {
		return bus.Record{}, fmt.Errorf("encode %s key for topic %s: %w", status, tc.topic, err)
	}
	keyLen := len(buf)
	buf = AppendFrame(buf, tc.valueID)
	if buf, err = tc.valueCodec.BinaryFromNative(buf, n); err != nil {
		return bus.Record{}, fmt.Errorf("encode %s for topic %s: %w", status, tc.topic, err)
	}
	out := s.detach(buf)
	return bus.Record{Topic: tc.topic, Key: out[:keyLen:keyLen], Value: out[keyLen:]}, nil
}

// maxKeptBuffer is the largest encoding buffer kept for the next record: one
// huge row must not pin its size in memory for good.
const maxKeptBuffer = 1 << 20

// detach copies the encoded key and value out of the scratch buffer, in one
// allocation that the record owns, and keeps buf for the next record.
func (s *Serializer) detach(buf []byte) []byte {
	out := make([]byte, len(buf))
	copy(out, buf)
	if cap(buf) <= maxKeptBuffer {
		s.buf = buf
	} else {
		s.buf = nil
	}
	return out
}
