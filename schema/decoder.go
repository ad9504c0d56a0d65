package schema

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/linkedin/goavro/v2"
)

// Decoder decodes Kafka keys and values in the Confluent wire format with
// the writer's schema, fetched from the registry by the id in the frame. It
// caches one reader per schema id (binary.go). It is safe for concurrent
// use; a call blocks on the registry only the first time it meets a schema
// id.
//
// Values come back as goavro's natives would with every union unwrapped: a
// union is its branch's value, nil for null.
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
	bin *binaryReader
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

// compile checks a schema with goavro and makes its binary reader.
func (d *Decoder) compile(text string) (*readerSchema, error) {
	if _, err := goavro.NewCodec(text); err != nil {
		return nil, err
	}
	br, err := newBinaryReader(text)
	if err != nil {
		return nil, err
	}
	return &readerSchema{bin: br}, nil
}

// RecordName returns the full name of the record schema id (e.g.
// tandem.entity.order.Envelope), once a value of it has been decoded; ""
// otherwise.
func (d *Decoder) RecordName(id int) string {
	d.mu.RLock()
	rs := d.codecs[id]
	d.mu.RUnlock()
	if rs == nil || rs.bin.root.kind != 'r' {
		return ""
	}
	return rs.bin.root.name
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
