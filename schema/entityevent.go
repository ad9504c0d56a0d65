package schema

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/tandem-sync/tandem/bus"
	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/schema/entities"
)

// EntityEvent is one change of a canonical entity (schema/entities) in one
// system: what the mapping's assembler produced, with its natural key
// resolved.
type EntityEvent struct {
	Entity  string
	Op      capture.Op
	Values  map[string]any // canonical values of the natural key and the changed fields; records as map[string]any, lists as []any
	Changed []string       // the fields this change set (sorted)
	Table   *capture.Table // the source table the change came from
	Seq     uint64         // index of the event in its transaction
}

// EntityTopic is the topic of an entity's aggregate,
// <prefix>.<system>.<aggregate root>: an order_line travels in its order's
// topic, so that they keep their commit order.
func EntityTopic(prefix, system string, e entities.Entity) string {
	return prefix + "." + system + "." + e.Aggregate
}

// EntityEnvelopeSchema is the envelope of an entity's events: the familiar
// op/before/after/changed/source/origin/event_id around the canonical
// record. Its full name, tandem.entity.<name>.Envelope, names its subject
// (<topic>-<full name>, the TopicRecordNameStrategy), since a root's topic
// carries its children's envelopes too.
func EntityEnvelopeSchema(e entities.Entity) string {
	return marshal(object{{"type", "record"}, {"name", "Envelope"}, {"namespace", e.FullName()}, {"fields", []any{
		object{{"name", "op"}, {"type", "string"}, {"doc", "c insert, u update, d delete, r snapshot read"}},
		object{{"name", "before"}, {"type", []any{"null", json.RawMessage(e.Schema)}}, {"default", nil}, {"doc", "the entity before the change, where known"}},
		object{{"name", "after"}, {"type", []any{"null", e.FullName()}}, {"default", nil}, {"doc", "the entity after the change: its natural key and the changed fields"}},
		object{{"name", "changed"}, {"type", stringArray()}, {"doc", "the fields this change set; apply only these"}},
		object{{"name", "source"}, {"type", sourceSchema(false)}},
		object{{"name", "origin"}, {"type", "string"}, {"doc", "the system where the change first happened"}},
		object{{"name", "event_id"}, {"type", "string"}, {"doc", "<system>:<entity>:<order>, deterministic, for downstream dedupe"}},
	}}})
}

// entityKeySchema is the Kafka key of an aggregate's topic: the root's
// natural key.
func entityKeySchema(root entities.Entity) string {
	var fields []any
	for _, k := range root.NaturalKey {
		f, _ := root.Field(k)
		fields = append(fields, object{{"name", k}, {"type", avroPrimitive(f)}})
	}
	return marshal(object{{"type", "record"}, {"name", "Key"}, {"namespace", root.FullName()}, {"fields", fields}})
}

func avroPrimitive(f entities.Field) any {
	switch f.Type {
	case "decimal":
		return object{{"type", "bytes"}, {"logicalType", "decimal"}, {"precision", f.Precision}, {"scale", f.Scale}}
	case "timestamp":
		return object{{"type", "long"}, {"logicalType", "timestamp-micros"}}
	case "date":
		return object{{"type", "int"}, {"logicalType", "date"}}
	}
	return f.Type
}

type entityCodec struct {
	topic          string
	keyID, valueID int
	key, value     *goavro.Codec
	e, root        entities.Entity
}

// Entity encodes an entity event of transaction tx.
func (s *Serializer) Entity(ctx context.Context, tx *capture.TxBegin, ev *EntityEvent) (bus.Record, error) {
	if tx == nil || tx.Position == nil {
		return bus.Record{}, fmt.Errorf("encode %s: the transaction has no position", ev.Entity)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.entityCodec(ctx, ev.Entity)
	if err != nil {
		return bus.Record{}, err
	}
	after, err := entityNative(c.e.Fields, ev.Values, c.e.FullName())
	if err != nil {
		return bus.Record{}, &EncodeError{Topic: c.topic, Column: ev.Entity, Reason: err.Error()}
	}
	keyVals := map[string]any{}
	for i, k := range c.root.NaturalKey {
		from := k
		if i < len(c.e.AggregateKey) {
			from = c.e.AggregateKey[i]
		}
		v, ok := ev.Values[from]
		if !ok || v == nil {
			return bus.Record{}, &EncodeError{Topic: c.topic, Column: from, Reason: "the key field has no value"}
		}
		f, _ := c.root.Field(k)
		if keyVals[k], err = fieldNative(f, v); err != nil {
			return bus.Record{}, &EncodeError{Topic: c.topic, Column: k, Reason: err.Error()}
		}
	}
	order := hex.EncodeToString(tx.Position.Key()) + fmt.Sprintf("%016x", ev.Seq)
	var commit any
	if !tx.CommitTime.IsZero() {
		commit = map[string]any{"long.timestamp-micros": tx.CommitTime.UTC()}
	}
	src := map[string]any{
		"system": s.opts.System, "connector": s.opts.Connector, "database": s.opts.Database,
		"schema": "", "table": "", "position": tx.Position.String(), "order": order, "tx_id": tx.ID,
		"commit_time": commit, "snapshot": tx.Snapshot, "sequence": int64(ev.Seq), "table_version": int32(0),
	}
	if ev.Table != nil {
		src["schema"], src["table"], src["table_version"] = ev.Table.Schema, ev.Table.Name, int32(ev.Table.Version)
	}
	changed := ev.Changed
	if changed == nil {
		changed = []string{}
	}
	value := map[string]any{
		"op": ev.Op.String(), "before": nil, "after": map[string]any{c.e.FullName(): after},
		"changed": changed, "source": src, "origin": s.opts.System, "event_id": s.opts.System + ":" + ev.Entity + ":" + order,
	}
	key, err := c.key.BinaryFromNative(AppendFrame(nil, c.keyID), keyVals)
	if err != nil {
		return bus.Record{}, fmt.Errorf("encode the key of %s: %w", ev.Entity, err)
	}
	val, err := c.value.BinaryFromNative(AppendFrame(nil, c.valueID), value)
	if err != nil {
		return bus.Record{}, fmt.Errorf("encode %s: %w", ev.Entity, err)
	}
	return bus.Record{Topic: c.topic, Key: key, Value: val}, nil
}

func builtinEntity(name string) (entities.Entity, error) {
	if e, ok := entities.Lookup(name); ok {
		return e, nil
	}
	return entities.Entity{}, fmt.Errorf("unknown entity %q", name)
}

func (s *Serializer) entityCodec(ctx context.Context, name string) (*entityCodec, error) {
	if c := s.entities[name]; c != nil {
		return c, nil
	}
	lookup := s.opts.Entity
	if lookup == nil {
		lookup = builtinEntity
	}
	e, err := lookup(name)
	if err != nil {
		return nil, err
	}
	root := e
	if !e.Root() {
		if root, err = lookup(e.Aggregate); err != nil {
			return nil, fmt.Errorf("the aggregate of %s: %w", name, err)
		}
	}
	c := &entityCodec{topic: EntityTopic(s.opts.TopicPrefix, s.opts.System, e), e: e, root: root}
	keySchema, valueSchema := entityKeySchema(root), EntityEnvelopeSchema(e)
	if c.key, err = goavro.NewCodec(keySchema); err != nil {
		return nil, fmt.Errorf("key schema of %s: %w", c.topic, err)
	}
	if c.value, err = goavro.NewCodec(valueSchema); err != nil {
		return nil, fmt.Errorf("envelope schema of %s: %w", name, err)
	}
	if c.keyID, err = s.reg.Register(ctx, c.topic+"-key", keySchema); err != nil {
		return nil, fmt.Errorf("register the key of %s: %w", c.topic, err)
	}
	if c.valueID, err = s.reg.Register(ctx, c.topic+"-"+e.FullName()+".Envelope", valueSchema); err != nil {
		return nil, fmt.Errorf("register the envelope of %s: %w", name, err)
	}
	if s.entities == nil {
		s.entities = map[string]*entityCodec{}
	}
	s.entities[name] = c
	return c, nil
}

// entityNative converts canonical values into goavro's native form of the
// record with fields (unions as {branch: value}).
func entityNative(fields []entities.Field, vals map[string]any, record string) (map[string]any, error) {
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		v, ok := vals[f.Name]
		if f.Required {
			if !ok || v == nil {
				return nil, fmt.Errorf("%s: the key field %s has no value", record, f.Name)
			}
			n, err := fieldNative(f, v)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", record, f.Name, err)
			}
			out[f.Name] = n
			continue
		}
		if !ok || v == nil {
			out[f.Name] = nil
			continue
		}
		n, err := fieldNative(f, v)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", record, f.Name, err)
		}
		out[f.Name] = map[string]any{branchName(f): n}
	}
	return out, nil
}

func branchName(f entities.Field) string {
	switch f.Type {
	case "decimal":
		return "bytes.decimal"
	case "timestamp":
		return "long.timestamp-micros"
	case "date":
		return "int.date"
	case "record":
		return entities.Namespace + "." + f.Record
	}
	return f.Type
}

// fieldNative converts one canonical value to goavro's native value of f,
// refusing anything it would have to round.
func fieldNative(f entities.Field, v any) (any, error) {
	switch f.Type {
	case "string":
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%v is not a string", v)
		}
		return s, nil
	case "long", "int":
		n, ok := v.(int64)
		if !ok {
			return nil, fmt.Errorf("%v is not a whole number", v)
		}
		if f.Type == "int" {
			if n < -1<<31 || n > 1<<31-1 {
				return nil, fmt.Errorf("%d does not fit an int", n)
			}
			return int32(n), nil
		}
		return n, nil
	case "boolean":
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("%v is not true or false", v)
		}
		return b, nil
	case "decimal":
		r, ok := v.(*big.Rat)
		if !ok {
			return nil, fmt.Errorf("%v is not a decimal", v)
		}
		scaled := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(f.Scale)), nil)))
		if !scaled.IsInt() {
			return nil, fmt.Errorf("%s has more than %d decimal places", r.FloatString(f.Scale+4), f.Scale)
		}
		if digits := len(new(big.Int).Abs(scaled.Num()).String()); digits > f.Precision {
			return nil, fmt.Errorf("%s has more than %d digits", r.FloatString(f.Scale), f.Precision)
		}
		return r, nil
	case "timestamp", "date":
		t, ok := v.(time.Time)
		if !ok {
			return nil, fmt.Errorf("%v is not a time", v)
		}
		if f.Type == "timestamp" && t.Nanosecond()%1000 != 0 {
			return nil, fmt.Errorf("%s is finer than a microsecond", t)
		}
		return t.UTC(), nil
	case "record":
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%v is not a record", v)
		}
		return entityNative(f.Fields, m, f.Record)
	case "array":
		list, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%v is not a list", v)
		}
		out := make([]any, len(list))
		for i, item := range list {
			m, ok := item.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("item %d is not a record", i)
			}
			n, err := entityNative(f.Fields, m, f.Record)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported type %s", f.Type)
}
