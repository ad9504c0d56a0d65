package schema

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
)

// binaryReader decodes Avro binary data of one schema straight into the
// values Decoder returns (unions unwrapped; see Decoder), without goavro's
// intermediate union maps: the sink decodes every event it applies, and
// goavro's allocations were half its decoding time. The schema is compiled
// once.
type binaryReader struct{ root *avroNode }

// avroNode is one compiled schema node.
type avroNode struct {
	kind     byte // n null, b boolean, i int, l long, f float, d double, B bytes, s string, r record, e enum, a array, m map, u union, x fixed
	logical  byte // 0, D date, T timestamp-micros, t timestamp-millis, M time-micros, m time-millis, c decimal
	scale    int64
	size     int
	fields   []avroField
	symbols  []string
	items    *avroNode // array items, map values
	branches []*avroNode
	name     string // goavro's name of the type as a union branch (tests encode with it)
}

type avroField struct {
	name string
	node *avroNode
}

var errShortBuffer = errors.New("short buffer")

func newBinaryReader(schemaText string) (*binaryReader, error) {
	var parsed any
	if err := json.Unmarshal([]byte(schemaText), &parsed); err != nil {
		return nil, err
	}
	c := avroCompiler{named: map[string]*avroNode{}}
	root, err := c.compile(parsed, "")
	if err != nil {
		return nil, err
	}
	return &binaryReader{root: root}, nil
}

type avroCompiler struct{ named map[string]*avroNode }

var primitiveKinds = map[string]byte{"null": 'n', "boolean": 'b', "int": 'i', "long": 'l', "float": 'f', "double": 'd', "bytes": 'B', "string": 's'}

func (c *avroCompiler) compile(v any, ns string) (*avroNode, error) {
	switch x := v.(type) {
	case string:
		if k, ok := primitiveKinds[x]; ok {
			return &avroNode{kind: k, name: x}, nil
		}
		if n, ok := c.named[fullName(x, "", ns)]; ok {
			return n, nil
		}
		if n, ok := c.named[x]; ok {
			return n, nil
		}
		return nil, fmt.Errorf("unknown type %q", x)
	case []any:
		u := &avroNode{kind: 'u'}
		for _, b := range x {
			n, err := c.compile(b, ns)
			if err != nil {
				return nil, err
			}
			u.branches = append(u.branches, n)
		}
		return u, nil
	case map[string]any:
		t := x["type"]
		name, _ := x["name"].(string)
		space, _ := x["namespace"].(string)
		switch t {
		case "record", "error":
			full := fullName(name, space, ns)
			n := &avroNode{kind: 'r', name: full}
			c.named[full] = n // before the fields: a record may refer to itself
			inner := ""
			if i := strings.LastIndexByte(full, '.'); i >= 0 {
				inner = full[:i]
			}
			fields, _ := x["fields"].([]any)
			for _, f := range fields {
				fm, _ := f.(map[string]any)
				fname, _ := fm["name"].(string)
				fn, err := c.compile(fm["type"], inner)
				if err != nil {
					return nil, fmt.Errorf("field %s: %w", fname, err)
				}
				n.fields = append(n.fields, avroField{name: fname, node: fn})
			}
			return n, nil
		case "enum":
			n := &avroNode{kind: 'e', name: fullName(name, space, ns)}
			for _, s := range x["symbols"].([]any) {
				n.symbols = append(n.symbols, fmt.Sprint(s))
			}
			c.named[fullName(name, space, ns)] = n
			return n, nil
		case "fixed":
			size, _ := x["size"].(float64)
			n := &avroNode{kind: 'x', size: int(size), name: fullName(name, space, ns)}
			if x["logicalType"] == "decimal" {
				n.logical = 'c'
				s, _ := x["scale"].(float64)
				n.scale = int64(s)
			}
			c.named[fullName(name, space, ns)] = n
			return n, nil
		case "array":
			items, err := c.compile(x["items"], ns)
			if err != nil {
				return nil, err
			}
			return &avroNode{kind: 'a', items: items, name: "array"}, nil
		case "map":
			values, err := c.compile(x["values"], ns)
			if err != nil {
				return nil, err
			}
			return &avroNode{kind: 'm', items: values, name: "map"}, nil
		}
		// a primitive, maybe with a logical type
		base, err := c.compile(t, ns)
		if err != nil {
			return nil, err
		}
		lt, _ := x["logicalType"].(string)
		logical := map[string]byte{"date": 'D', "timestamp-micros": 'T', "timestamp-millis": 't', "time-micros": 'M', "time-millis": 'm', "decimal": 'c'}[lt]
		switch {
		case logical == 'c' && base.kind == 'B':
			s, _ := x["scale"].(float64)
			return &avroNode{kind: 'B', logical: 'c', scale: int64(s), name: "bytes.decimal"}, nil
		case logical == 'D' && base.kind == 'i', logical == 'm' && base.kind == 'i',
			(logical == 'T' || logical == 't' || logical == 'M') && base.kind == 'l':
			return &avroNode{kind: base.kind, logical: logical, name: base.name + "." + lt}, nil
		}
		return base, nil // an unknown logical type reads as its base type, as goavro does
	}
	return nil, fmt.Errorf("bad schema node %v", v)
}

// decode reads one value of the whole schema; the rest of b comes back.
func (r *binaryReader) decode(b []byte) (any, []byte, error) {
	return decodeNode(r.root, b)
}

func readLong(b []byte) (int64, []byte, error) {
	u, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, b, errShortBuffer
	}
	return int64(u>>1) ^ -int64(u&1), b[n:], nil
}

func readBytes(b []byte) ([]byte, []byte, error) {
	n, b, err := readLong(b)
	if err != nil {
		return nil, b, err
	}
	if n < 0 || int64(len(b)) < n {
		return nil, b, fmt.Errorf("bytes of length %d: %w", n, errShortBuffer)
	}
	return b[:n], b[n:], nil
}

// decimalRat is the value of a two's-complement big-endian unscaled
// integer with scale digits after the point.
func decimalRat(raw []byte, scale int64) *big.Rat {
	i := new(big.Int).SetBytes(raw)
	if len(raw) > 0 && raw[0]&0x80 != 0 {
		i.Sub(i, new(big.Int).Lsh(big.NewInt(1), uint(len(raw))*8))
	}
	return new(big.Rat).SetFrac(i, new(big.Int).Exp(big.NewInt(10), big.NewInt(scale), nil))
}

func decodeNode(n *avroNode, b []byte) (any, []byte, error) {
	switch n.kind {
	case 'n':
		return nil, b, nil
	case 'b':
		if len(b) < 1 {
			return nil, b, errShortBuffer
		}
		return b[0] != 0, b[1:], nil
	case 'i', 'l':
		v, rest, err := readLong(b)
		if err != nil {
			return nil, b, err
		}
		switch n.logical {
		case 'D':
			return time.Unix(v*86400, 0).UTC(), rest, nil
		case 'm':
			return time.Duration(v) * time.Millisecond, rest, nil
		case 'T':
			return time.UnixMicro(v).UTC(), rest, nil
		case 't':
			return time.UnixMilli(v).UTC(), rest, nil
		case 'M':
			return time.Duration(v) * time.Microsecond, rest, nil
		}
		if n.kind == 'i' {
			return int32(v), rest, nil
		}
		return v, rest, nil
	case 'f':
		if len(b) < 4 {
			return nil, b, errShortBuffer
		}
		return math.Float32frombits(binary.LittleEndian.Uint32(b)), b[4:], nil
	case 'd':
		if len(b) < 8 {
			return nil, b, errShortBuffer
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), b[8:], nil
	case 'B', 's':
		raw, rest, err := readBytes(b)
		if err != nil {
			return nil, b, err
		}
		switch {
		case n.kind == 's':
			return string(raw), rest, nil
		case n.logical == 'c':
			return decimalRat(raw, n.scale), rest, nil
		}
		return append([]byte(nil), raw...), rest, nil
	case 'x':
		if len(b) < n.size {
			return nil, b, errShortBuffer
		}
		if n.logical == 'c' {
			return decimalRat(b[:n.size], n.scale), b[n.size:], nil
		}
		return append([]byte(nil), b[:n.size]...), b[n.size:], nil
	case 'e':
		i, rest, err := readLong(b)
		if err != nil {
			return nil, b, err
		}
		if i < 0 || i >= int64(len(n.symbols)) {
			return nil, b, fmt.Errorf("enum index %d of %d symbols", i, len(n.symbols))
		}
		return n.symbols[i], rest, nil
	case 'u':
		i, rest, err := readLong(b)
		if err != nil {
			return nil, b, err
		}
		if i < 0 || i >= int64(len(n.branches)) {
			return nil, b, fmt.Errorf("union branch %d of %d", i, len(n.branches))
		}
		return decodeNode(n.branches[i], rest)
	case 'r':
		m := make(map[string]any, len(n.fields))
		for _, f := range n.fields {
			v, rest, err := decodeNode(f.node, b)
			if err != nil {
				return nil, b, fmt.Errorf("%s: %w", f.name, err)
			}
			m[f.name], b = v, rest
		}
		return m, b, nil
	case 'a', 'm':
		var list []any
		var m map[string]any
		if n.kind == 'a' {
			list = []any{}
		} else {
			m = map[string]any{}
		}
		for {
			count, rest, err := readLong(b)
			if err != nil {
				return nil, b, err
			}
			b = rest
			if count == 0 {
				break
			}
			if count < 0 { // a block with its size in bytes
				count = -count
				if _, b, err = readLong(b); err != nil {
					return nil, b, err
				}
			}
			for range count {
				var key string
				if m != nil {
					raw, rest, err := readBytes(b)
					if err != nil {
						return nil, b, err
					}
					key, b = string(raw), rest
				}
				v, rest, err := decodeNode(n.items, b)
				if err != nil {
					return nil, b, err
				}
				b = rest
				if m != nil {
					m[key] = v
				} else {
					list = append(list, v)
				}
			}
		}
		if m != nil {
			return m, b, nil
		}
		return list, b, nil
	}
	return nil, b, fmt.Errorf("unknown node kind %q", n.kind)
}
