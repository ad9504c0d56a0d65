package sink

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/schema"
)

// Event is one decoded entity event, with where it was read.
type Event struct {
	Entity  string
	Op      capture.Op
	Values  map[string]any // the natural key and the changed fields, as canonical values (mapping/convert.go)
	Changed []string
	Origin  string
	EventID string
	Source  Source

	Msg kafka.Message // the record it came from (topic, partition, offset, key, value)
}

// Source is the envelope's source block, as far as the sink uses it.
type Source struct {
	System     string
	Order      string // unique and increasing per source: compared as text
	Position   string
	TxID       string
	CommitTime time.Time
}

// decodeEvent decodes an entity envelope.
func decodeEvent(ctx context.Context, dec *schema.Decoder, m kafka.Message) (*Event, error) {
	env, id, err := dec.Decode(ctx, m.Value)
	if err != nil {
		return nil, err
	}
	ev := &Event{Msg: m}
	op, _ := env["op"].(string)
	if len(op) != 1 {
		return nil, fmt.Errorf("schema %d: op %q is not c, u, d or r", id, op)
	}
	ev.Op = capture.Op(op[0])
	ev.Origin, _ = env["origin"].(string)
	ev.EventID, _ = env["event_id"].(string)
	src, _ := env["source"].(map[string]any)
	ev.Source.System, _ = src["system"].(string)
	ev.Source.Order, _ = src["order"].(string)
	ev.Source.Position, _ = src["position"].(string)
	ev.Source.TxID, _ = src["tx_id"].(string)
	ev.Source.CommitTime, _ = src["commit_time"].(time.Time)
	if ev.Source.Order == "" || ev.Source.System == "" {
		return nil, fmt.Errorf("schema %d: the event has no source.system or source.order", id)
	}
	after, _ := env["after"].(map[string]any)
	if after == nil {
		return nil, fmt.Errorf("schema %d: the event has no after record (not an entity event?)", id)
	}
	ev.Entity = entityName(dec, id, env)
	ev.Values = canonical(after).(map[string]any)
	changed := map[string]bool{}
	for _, c := range asList(env["changed"]) {
		if s, ok := c.(string); ok {
			ev.Changed = append(ev.Changed, s)
			changed[s] = true
		}
	}
	// The record holds every field of the entity; a null that the change
	// did not set is absent, not NULL: drop it, so that an insert leaves
	// the target's column default.
	for f, v := range ev.Values {
		if v == nil && !changed[f] {
			delete(ev.Values, f)
		}
	}
	return ev, nil
}

// entityName reads the entity's name from the envelope's record name,
// tandem.entity.<name>.Envelope, which the decoder reports.
func entityName(dec *schema.Decoder, id int, env map[string]any) string {
	if n := dec.RecordName(id); n != "" {
		n = strings.TrimSuffix(n, ".Envelope")
		return n[strings.LastIndexByte(n, '.')+1:]
	}
	return ""
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// canonical turns decoded Avro values into the mapping's canonical values:
// int32 into int64; records and lists recursively.
func canonical(v any) any {
	switch x := v.(type) {
	case int32:
		return int64(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = canonical(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = canonical(e)
		}
		return out
	}
	return v
}
