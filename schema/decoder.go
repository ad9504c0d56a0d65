package schema

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/linkedin/goavro/v2"
)

// Decoder decodes Kafka keys and values in the Confluent wire format with
// the writer's schema, fetched from the registry by the id in the frame. It
// caches one codec per schema id. It is safe for concurrent use; a call
// blocks on the registry only the first time it meets a schema id.
//
// Values come back as goavro's natives with every union unwrapped: a union
// is its branch's value, nil for null (goavro alone gives {"branch": value}).
// So a field is nil or, by its Avro type: bool (boolean), int32 (int),
// int64 (long), float32 (float), float64 (double), []byte (bytes), string
// (string, uuid), *big.Rat (decimal), time.Time in UTC (date,
// timestamp-micros), time.Duration (time-micros), []any (array),
// map[string]any (record, map).
type Decoder struct {
	reg *Registry

	mu     sync.RWMutex
	codecs map[int]*readerSchema
}

type readerSchema struct {
	codec *goavro.Codec
	shape *shape
	bin   *binaryReader
}

// NewDecoder returns a Decoder that fetches schemas from reg.
func NewDecoder(reg *Registry) *Decoder {
	return &Decoder{reg: reg, codecs: map[int]*readerSchema{}}
}

// Decode decodes a framed value whose schema is a record.
func (d *Decoder) Decode(ctx context.Context, value []byte) (map[string]any, int, error) {
	v, id, err := d.DecodeAny(ctx, value)
	if err != nil {
		return nil, id, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, id, fmt.Errorf("decode with schema %d: the value is a %T, not a record", id, v)
	}
	return m, id, nil
}

// DecodeAny decodes a framed value of any schema, such as the Avro string
// key of the transactions topic.
func (d *Decoder) DecodeAny(ctx context.Context, value []byte) (any, int, error) {
	id, body, err := Unframe(value)
	if err != nil {
		return nil, 0, err
	}
	rs, err := d.schema(ctx, id)
	if err != nil {
		return nil, id, err
	}
	v, rest, err := rs.bin.decode(body)
	if err != nil {
		return nil, id, fmt.Errorf("decode with schema %d: %w", id, err)
	}
	if len(rest) != 0 {
		return nil, id, fmt.Errorf("decode with schema %d: %d bytes left after the value", id, len(rest))
	}
	return v, id, nil
}

func (d *Decoder) schema(ctx context.Context, id int) (*readerSchema, error) {
	d.mu.RLock()
	rs, ok := d.codecs[id]
	d.mu.RUnlock()
	if ok {
		return rs, nil
	}
	text, err := d.reg.SchemaByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if rs, err = d.compile(text); err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, err)
	}
	d.mu.Lock()
	d.codecs[id] = rs
	d.mu.Unlock()
	return rs, nil
}

// compile makes the readers of a schema: goavro's codec (which checks the
// schema) and the binary reader that decodes.
func (d *Decoder) compile(text string) (*readerSchema, error) {
	codec, err := goavro.NewCodec(text)
	if err != nil {
		return nil, err
	}
	var parsed any
	if err := json.Unmarshal([]byte(text), &parsed); err != nil {
		return nil, err
	}
	br, err := newBinaryReader(text)
	if err != nil {
		return nil, err
	}
	p := shapeParser{named: map[string]*shape{}}
	return &readerSchema{codec: codec, shape: p.parse(parsed, ""), bin: br}, nil
}

// RecordName returns the full name of the record schema id (e.g.
// tandem.entity.order.Envelope), once a value of it has been decoded; ""
// otherwise.
func (d *Decoder) RecordName(id int) string {
	d.mu.RLock()
	rs := d.codecs[id]
	d.mu.RUnlock()
	if rs == nil || rs.shape == nil || rs.shape.kind != 'r' {
		return ""
	}
	return rs.shape.name
}

// shape is the part of a schema that decides where unions sit. A nil
// *shape is a value with no union inside.
type shape struct {
	kind     byte // 'r' record, 'u' union, 'a' array, 'm' map
	name     string
	fields   map[string]*shape
	branches map[string]*shape // union: goavro's branch name -> shape
	items    *shape            // array items, map values
}

type shapeParser struct{ named map[string]*shape }

func (p *shapeParser) parse(v any, ns string) *shape {
	switch x := v.(type) {
	case string:
		if s, ok := p.named[fullName(x, "", ns)]; ok {
			return s
		}
		return p.named[x]
	case []any:
		u := &shape{kind: 'u', branches: map[string]*shape{}}
		for _, b := range x {
			s := p.parse(b, ns)
			switch {
			case s == nil:
			case s.kind == 'r':
				u.branches[s.name] = s
			case s.kind == 'a':
				u.branches["array"] = s
			case s.kind == 'm':
				u.branches["map"] = s
			}
		}
		return u
	case map[string]any:
		switch t := x["type"]; t {
		case "record", "error":
			name, _ := x["name"].(string)
			space, _ := x["namespace"].(string)
			full := fullName(name, space, ns)
			s := &shape{kind: 'r', name: full, fields: map[string]*shape{}}
			p.named[full] = s
			inner := ""
			if i := strings.LastIndexByte(full, '.'); i >= 0 {
				inner = full[:i]
			}
			fields, _ := x["fields"].([]any)
			for _, f := range fields {
				fm, _ := f.(map[string]any)
				fname, _ := fm["name"].(string)
				if fs := p.parse(fm["type"], inner); fs != nil {
					s.fields[fname] = fs
				}
			}
			return s
		case "array":
			return &shape{kind: 'a', items: p.parse(x["items"], ns)}
		case "map":
			return &shape{kind: 'm', items: p.parse(x["values"], ns)}
		case "enum", "fixed":
			return nil
		default: // e.g. {"type":"long","logicalType":"timestamp-micros"}
			return p.parse(t, ns)
		}
	}
	return nil
}

// fullName resolves an Avro name against its namespace attribute and the
// enclosing namespace.
func fullName(name, space, enclosing string) string {
	switch {
	case strings.Contains(name, "."):
		return name
	case space != "":
		return space + "." + name
	case enclosing != "":
		return enclosing + "." + name
	}
	return name
}

// unwrap replaces each union in v (as goavro decoded it) by its branch's
// value, in place, and returns v.
func unwrap(v any, s *shape) any {
	if s == nil || v == nil {
		return v
	}
	switch s.kind {
	case 'u':
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		for branch, x := range m {
			return unwrap(x, s.branches[branch])
		}
	case 'r':
		if m, ok := v.(map[string]any); ok {
			for k, fs := range s.fields {
				if x, ok := m[k]; ok {
					m[k] = unwrap(x, fs)
				}
			}
		}
	case 'a':
		if xs, ok := v.([]any); ok {
			for i := range xs {
				xs[i] = unwrap(xs[i], s.items)
			}
		}
	case 'm':
		if m, ok := v.(map[string]any); ok {
			for k, x := range m {
				m[k] = unwrap(x, s.items)
			}
		}
	}
	return v
}
