package schema

import (
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/tandem-sync/tandem/schema/entities"
)

// randomNative makes a random value of n as goavro takes it for encoding.
func randomNative(r *rand.Rand, n *avroNode, depth int) any {
	switch n.kind {
	case 'n':
		return nil
	case 'b':
		return r.IntN(2) == 1
	case 'i':
		if n.logical == 'D' {
			return time.Unix(int64(r.IntN(40000)-10000)*86400, 0).UTC()
		}
		if n.logical == 'm' {
			return time.Duration(r.IntN(86400000)) * time.Millisecond
		}
		return int32(r.Int64N(1<<32) - 1<<31)
	case 'l':
		switch n.logical {
		case 'T':
			return time.UnixMicro(r.Int64N(1<<52) - 1<<51).UTC()
		case 't':
			return time.UnixMilli(r.Int64N(1<<45) - 1<<44).UTC()
		case 'M':
			return time.Duration(r.Int64N(86400000000)) * time.Microsecond
		}
		return r.Int64() - r.Int64()
	case 'f':
		return r.Float32()
	case 'd':
		return r.NormFloat64() * 1e6
	case 'B', 'x':
		if n.logical == 'c' {
			num := new(big.Int).Lsh(new(big.Int).SetUint64(r.Uint64()), uint(r.IntN(8)))
			if r.IntN(2) == 0 {
				num.Neg(num)
			}
			return new(big.Rat).SetFrac(num, new(big.Int).Exp(big.NewInt(10), big.NewInt(n.scale), nil))
		}
		size := r.IntN(20)
		if n.kind == 'x' {
			size = n.size
		}
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return b
	case 's':
		return fmt.Sprintf("s%dé", r.IntN(1e6))
	case 'e':
		return n.symbols[r.IntN(len(n.symbols))]
	case 'u':
		b := n.branches[r.IntN(len(n.branches))]
		if depth > 4 {
			b = n.branches[0]
		}
		if b.kind == 'n' {
			return nil
		}
		return goavro.Union(b.name, randomNative(r, b, depth+1))
	case 'r':
		m := map[string]any{}
		for _, f := range n.fields {
			m[f.name] = randomNative(r, f.node, depth+1)
		}
		return m
	case 'a':
		out := []any{}
		for range r.IntN(3) {
			out = append(out, randomNative(r, n.items, depth+1))
		}
		return out
	case 'm':
		out := map[string]any{}
		for i := range r.IntN(3) {
			out[fmt.Sprint("k", i)] = randomNative(r, n.items, depth+1)
		}
		return out
	}
	panic(fmt.Sprintf("kind %q", n.kind))
}

// TestBinaryReaderMatchesGoavro: every envelope of the built-in entities,
// with random values, decodes to what goavro's decoding, unwrapped, gives.
func TestBinaryReaderMatchesGoavro(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	schemas := []string{`{"type":"record","name":"all","namespace":"t","fields":[
		{"name":"f","type":"float"},{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}},
		{"name":"x","type":{"type":"fixed","name":"F","size":3}},
		{"name":"xd","type":["null",{"type":"fixed","name":"FD","size":9,"logicalType":"decimal","precision":20,"scale":3}]},
		{"name":"m","type":{"type":"map","values":["null","long",{"type":"array","items":"string"}]}},
		{"name":"tm","type":{"type":"int","logicalType":"time-millis"}},{"name":"tu","type":{"type":"long","logicalType":"time-micros"}},
		{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},{"name":"self","type":["null","E","F"]}]}`}
	for _, e := range entities.Builtin() {
		schemas = append(schemas, EntityEnvelopeSchema(e))
	}
	for _, text := range schemas {
		codec, err := goavro.NewCodec(text)
		if err != nil {
			t.Fatal(err)
		}
		br, err := newBinaryReader(text)
		if err != nil {
			t.Fatal(err)
		}
		rs := referenceShape(t, text)
		for i := range 200 {
			native := randomNative(r, br.root, 0)
			bin, err := codec.BinaryFromNative(nil, native)
			if err != nil {
				t.Fatalf("%.60s: encode %v: %v", text, native, err)
			}
			want, _, err := codec.NativeFromBinary(bin)
			if err != nil {
				t.Fatal(err)
			}
			want = unwrap(want, rs)
			got, rest, err := br.decode(bin)
			if err != nil || len(rest) != 0 {
				t.Fatalf("%.60s #%d: %v, %d bytes left", text, i, err, len(rest))
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%.60s #%d:\n got %#v\nwant %#v", text, i, got, want)
			}
			if _, _, err := br.decode(bin[:len(bin)/2]); err == nil && len(bin) > 8 {
				t.Errorf("%.60s #%d: half the bytes decoded without an error", text, i)
			}
		}
	}
}

// BenchmarkDecodeEnvelope compares goavro and the binary reader on an
// order envelope with random values.
func BenchmarkDecodeEnvelope(b *testing.B) {
	var order entities.Entity
	for _, e := range entities.Builtin() {
		if e.Name == "order" {
			order = e
		}
	}
	text := EntityEnvelopeSchema(order)
	codec, _ := goavro.NewCodec(text)
	br, _ := newBinaryReader(text)
	rs := referenceShape(b, text)
	bin, err := codec.BinaryFromNative(nil, randomNative(rand.New(rand.NewPCG(3, 4)), br.root, 0))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("goavro", func(b *testing.B) {
		for range b.N {
			v, _, _ := codec.NativeFromBinary(bin)
			unwrap(v, rs)
		}
	})
	b.Run("binary", func(b *testing.B) {
		for range b.N {
			br.decode(bin)
		}
	})
}

// referenceShape parses where the unions of a schema sit.
func referenceShape(tb testing.TB, text string) *shape {
	tb.Helper()
	var parsed any
	if err := json.Unmarshal([]byte(text), &parsed); err != nil {
		tb.Fatal(err)
	}
	p := shapeParser{named: map[string]*shape{}}
	return p.parse(parsed, "")
}

// The reference the binary reader is checked against: goavro's natives
// with every union unwrapped, as the Decoder returned them before it read
// Avro itself.

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
