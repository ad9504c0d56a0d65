package schema

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"reflect"
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
		var dec Decoder
		rs, err := dec.compile(text)
		if err != nil {
			t.Fatal(err)
		}
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
			want = unwrap(want, rs.shape)
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
	var dec Decoder
	rs, _ := dec.compile(text)
	bin, err := codec.BinaryFromNative(nil, randomNative(rand.New(rand.NewPCG(3, 4)), br.root, 0))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("goavro", func(b *testing.B) {
		for range b.N {
			v, _, _ := codec.NativeFromBinary(bin)
			unwrap(v, rs.shape)
		}
	})
	b.Run("binary", func(b *testing.B) {
		for range b.N {
			br.decode(bin)
		}
	})
}
