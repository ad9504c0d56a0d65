package schema

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/tandem-sync/tandem/capture"
)

// valueCodec converts a captured column value (the Go type documented on its
// capture.Kind) into the native goavro encodes for the column's Avro type in
// its encoding form (see Serializer): a decimal becomes the bytes of its
// unscaled two's-complement integer, a date an int32 of days, a timestamp
// an int64 of microseconds, a time an int64 of microseconds.
type valueCodec struct {
	typ   *avroType
	elem  *valueCodec
	pow10 *big.Int // decimal: 10^scale
	limit *big.Int // decimal: 10^precision, the bound on |unscaled value|
}

func newValueCodec(a *avroType) *valueCodec {
	c := &valueCodec{typ: a}
	if a.logical == "decimal" {
		c.pow10 = new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(a.scale)), nil)
		c.limit = new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(a.precision)), nil)
	}
	if a.elem != nil {
		c.elem = newValueCodec(a.elem)
	}
	return c
}

// scratch is big-number working space, reused from value to value.
type scratch struct{ n, q, r big.Int }

// native converts v, which is neither nil nor capture.Unchanged. The
// returned string is the reason v cannot be encoded, for an EncodeError.
func (c *valueCodec) native(v any, sc *scratch) (any, string) {
	switch c.typ.kind {
	case capture.KindBool:
		if _, ok := v.(bool); ok {
			return v, ""
		}
	case capture.KindInt16, capture.KindInt32:
		if x, ok := v.(int64); ok {
			if x < math.MinInt32 || x > math.MaxInt32 {
				return nil, fmt.Sprintf("%d does not fit a 32-bit int", x)
			}
			return v, ""
		}
	case capture.KindInt64:
		if _, ok := v.(int64); ok {
			return v, ""
		}
	case capture.KindUint64:
		if x, ok := v.(uint64); ok {
			return appendTwos(nil, sc.n.SetUint64(x), &sc.q), ""
		}
	case capture.KindFloat32:
		if _, ok := v.(float32); ok {
			return v, ""
		}
	case capture.KindFloat64:
		if _, ok := v.(float64); ok {
			return v, ""
		}
	case capture.KindDecimal:
		r, ok := v.(*big.Rat)
		if !ok || r == nil {
			break
		}
		if c.typ.logical != "decimal" {
			s, ok := decimalText(r)
			if !ok {
				return nil, r.RatString() + " has no finite decimal expansion"
			}
			return s, ""
		}
		u, why := c.unscaled(r, sc)
		if why != "" {
			return nil, why
		}
		return appendTwos(nil, u, &sc.r), ""
	case capture.KindBytes:
		if _, ok := v.([]byte); ok {
			return v, ""
		}
	case capture.KindDate:
		t, ok := v.(time.Time)
		if !ok {
			break
		}
		sec := t.Unix()
		if sec%86400 != 0 || t.Nanosecond() != 0 {
			return nil, fmt.Sprintf("date %s is not a UTC midnight", t.Format(time.RFC3339Nano))
		}
		days := sec / 86400
		if days < math.MinInt32 || days > math.MaxInt32 {
			return nil, fmt.Sprintf("date %s is out of range", t.Format(time.RFC3339))
		}
		return int32(days), ""
	case capture.KindTimestamp, capture.KindTimestampTZ:
		t, ok := v.(time.Time)
		if !ok {
			break
		}
		us, why := micros(t)
		if why != "" {
			return nil, why
		}
		return us, ""
	case capture.KindTime:
		d, ok := v.(time.Duration)
		if !ok {
			break
		}
		if d%time.Microsecond != 0 {
			return nil, fmt.Sprintf("time %s is finer than a microsecond", d)
		}
		return int64(d / time.Microsecond), ""
	case capture.KindString, capture.KindInterval, capture.KindUUID, capture.KindJSON, capture.KindEnum:
		if _, ok := v.(string); ok {
			return v, ""
		}
	case capture.KindArray:
		xs, ok := v.([]any)
		if !ok {
			break
		}
		out := make([]any, len(xs))
		branch := c.elem.typ.prim
		for i, x := range xs {
			if x == nil {
				continue
			}
			if capture.IsUnchanged(x) {
				return nil, fmt.Sprintf("element %d is the Unchanged sentinel", i)
			}
			n, why := c.elem.native(x, sc)
			if why != "" {
				return nil, fmt.Sprintf("element %d: %s", i, why)
			}
			out[i] = goavro.Union(branch, n)
		}
		return out, ""
	}
	return nil, fmt.Sprintf("a %s column got a Go %T", c.typ.kind, v)
}

// unscaled returns r * 10^scale, the integer a decimal column stores, in
// sc.q, or the reason r cannot be stored exactly: it has more fractional
// digits than the scale (tandem does not round) or more digits than the
// precision.
func (c *valueCodec) unscaled(r *big.Rat, sc *scratch) (*big.Int, string) {
	u := &sc.q
	u.Mul(r.Num(), c.pow10)
	if !r.IsInt() {
		if u.QuoRem(u, r.Denom(), &sc.r); sc.r.Sign() != 0 {
			return nil, fmt.Sprintf("%s has more than %d digits after the point; the column's scale is %d and tandem does not round",
				displayRat(r), c.typ.scale, c.typ.scale)
		}
	}
	if u.CmpAbs(c.limit) >= 0 {
		return nil, fmt.Sprintf("%s has more than %d digits before the point (precision %d, scale %d)",
			displayRat(r), c.typ.precision-c.typ.scale, c.typ.precision, c.typ.scale)
	}
	return u, ""
}

// appendTwos appends n as a big-endian two's-complement integer in the
// fewest bytes, as Avro's decimal wants it. tmp is scratch space.
func appendTwos(dst []byte, n, tmp *big.Int) []byte {
	switch n.Sign() {
	case 0:
		return append(dst, 0)
	case 1:
		l := n.BitLen()/8 + 1 // room for a 0 sign bit
		start := len(dst)
		dst = slices.Grow(dst, l)[:start+l]
		n.FillBytes(dst[start:])
		return dst
	}
	// -x is the bitwise complement of x-1.
	tmp.Neg(n)
	tmp.Sub(tmp, bigOne)
	l := tmp.BitLen()/8 + 1
	start := len(dst)
	dst = slices.Grow(dst, l)[:start+l]
	tmp.FillBytes(dst[start:])
	for i := start; i < len(dst); i++ {
		dst[i] = ^dst[i]
	}
	return dst
}

var bigOne = big.NewInt(1)

// displayRat writes r for a message.
func displayRat(r *big.Rat) string {
	if s, ok := decimalText(r); ok {
		return s
	}
	return r.RatString()
}

// decimalText writes r in decimal notation with exactly the digits it
// needs, or reports false when r has no finite decimal expansion (its
// denominator has a prime factor other than 2 and 5).
func decimalText(r *big.Rat) (string, bool) {
	if r.IsInt() {
		return r.Num().String(), true
	}
	d := new(big.Int).Set(r.Denom())
	twos := d.TrailingZeroBits()
	d.Rsh(d, twos)
	fives := uint(0)
	five, rem := big.NewInt(5), new(big.Int)
	for {
		q, m := new(big.Int).QuoRem(d, five, rem)
		if m.Sign() != 0 {
			break
		}
		d, fives = q, fives+1
	}
	if d.Cmp(big.NewInt(1)) != 0 {
		return "", false
	}
	return r.FloatString(int(max(twos, fives))), true
}

// micros converts t to microseconds since the Unix epoch.
func micros(t time.Time) (int64, string) {
	if t.Nanosecond()%1000 != 0 {
		return 0, fmt.Sprintf("timestamp %s is finer than a microsecond", t.Format(time.RFC3339Nano))
	}
	sec := t.Unix()
	if sec > math.MaxInt64/1_000_000-1 || sec < math.MinInt64/1_000_000+1 {
		return 0, fmt.Sprintf("timestamp %s is out of range", t.Format(time.RFC3339))
	}
	return sec*1e6 + int64(t.Nanosecond()/1e3), ""
}
