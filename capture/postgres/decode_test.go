package postgres

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/tandem-sync/tandem/capture"
)

func TestDecodeText(t *testing.T) {
	rat := func(s string) *big.Rat { r, _ := new(big.Rat).SetString(s); return r }
	ts := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	elem := &capture.Type{Kind: capture.KindInt32}
	strElem := &capture.Type{Kind: capture.KindString}
	tests := []struct {
		kind capture.Kind
		elem *capture.Type
		in   string
		want any
		err  string
	}{
		{kind: capture.KindBool, in: "t", want: true},
		{kind: capture.KindBool, in: "f", want: false},
		{kind: capture.KindInt16, in: "-32768", want: int64(-32768)},
		{kind: capture.KindInt64, in: "9223372036854775807", want: int64(9223372036854775807)},
		{kind: capture.KindFloat32, in: "1.5", want: float32(1.5)},
		{kind: capture.KindFloat64, in: "-1.2345678901234567e-300", want: -1.2345678901234567e-300},
		{kind: capture.KindDecimal, in: "12345678901234567.12345678", want: rat("12345678901234567.12345678")},
		{kind: capture.KindDecimal, in: "-0.00000001", want: rat("-1/100000000")},
		{kind: capture.KindDecimal, in: "NaN", err: "not a finite number"},
		{kind: capture.KindBytes, in: `\x00ff10`, want: []byte{0, 0xff, 0x10}},
		{kind: capture.KindDate, in: "2024-02-29", want: ts("2024-02-29T00:00:00Z")},
		{kind: capture.KindDate, in: "infinity", err: "date out of range"},
		{kind: capture.KindTimestamp, in: "2024-02-29 13:14:15.123456", want: ts("2024-02-29T13:14:15.123456Z")},
		{kind: capture.KindTimestampTZ, in: "2024-02-29 13:14:15.5+00", want: ts("2024-02-29T13:14:15.5Z")},
		{kind: capture.KindTimestampTZ, in: "2024-02-29 13:14:15+05:30", want: ts("2024-02-29T07:44:15Z")},
		{kind: capture.KindTime, in: "23:59:59.000001", want: 23*time.Hour + 59*time.Minute + 59*time.Second + time.Microsecond},
		{kind: capture.KindTime, in: "24:00:00", want: 24 * time.Hour},
		{kind: capture.KindInterval, in: "P1Y2M3DT4H5M6.5S", want: "P1Y2M3DT4H5M6.5S"},
		{kind: capture.KindArray, elem: elem, in: "{1,NULL,-3}", want: []any{int64(1), nil, int64(-3)}},
		{kind: capture.KindArray, elem: strElem, in: `{"a b","c\"d",NULL,"NULL",x}`, want: []any{"a b", `c"d`, nil, "NULL", "x"}},
		{kind: capture.KindArray, elem: strElem, in: `{}`, want: []any{}},
		{kind: capture.KindArray, elem: elem, in: "[0:1]={7,8}", want: []any{int64(7), int64(8)}},
		{kind: capture.KindArray, elem: elem, in: "{{1,2},{3,4}}", err: "multi-dimensional"},
	}
	for _, tt := range tests {
		typ := &capture.Type{Kind: tt.kind, Elem: tt.elem}
		got, err := decodeText(typ, tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s %q: err = %v, want %q", tt.kind, tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %q: %v", tt.kind, tt.in, err)
			continue
		}
		if !capture.Equal(got, tt.want) {
			t.Errorf("%s %q = %#v, want %#v", tt.kind, tt.in, got, tt.want)
		}
	}
}
