package mysql

import (
	"database/sql"
	"testing"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/sink/internal/sinktest"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		dbType string
		text   string
		want   any
	}{
		{"TINYINT", "1", int64(1)},
		{"INT", "-2147483648", int64(-2147483648)},
		{"BIGINT", "9223372036854775807", int64(9223372036854775807)},
		{"YEAR", "2024", int64(2024)},
		{"UNSIGNED INT", "4294967295", int64(4294967295)},
		{"UNSIGNED BIGINT", "9223372036854775807", int64(9223372036854775807)},
		{"UNSIGNED BIGINT", "18446744073709551615", sinktest.Rat("18446744073709551615")},
		{"FLOAT", "0.1", 0.1},
		{"DOUBLE", "-2.5e-300", -2.5e-300},
		{"DECIMAL", "12345678901234567.12345678", sinktest.Rat("12345678901234567.12345678")},
		{"DATETIME", "2024-02-29 13:14:15.123456", sinktest.Time("2024-02-29T13:14:15.123456Z")},
		{"TIMESTAMP", "2024-02-29 13:14:15", sinktest.Time("2024-02-29T13:14:15Z")},
		{"DATE", "2024-02-29", sinktest.Time("2024-02-29T00:00:00Z")},
		{"DATETIME", "0000-00-00 00:00:00", nil},
		{"DATE", "0000-00-00", nil},
		{"TIME", "-12:00:01", "-12:00:01"},
		{"VARCHAR", "emoji 😀", "emoji 😀"},
		{"JSON", `{"a": 1}`, `{"a": 1}`},
		{"LONGTEXT", `{"a": 1}`, `{"a": 1}`},
		{"ENUM", "happy", "happy"},
		{"SET", "a,b", "a,b"},
		{"BLOB", "\x00\xff", []byte{0, 0xff}},
		{"VARBINARY", "ab", []byte("ab")},
		{"BIT", "\x01\x02", int64(258)},
	} {
		raw := sql.RawBytes(tc.text)
		got, err := decode(kindOf(tc.dbType), raw)
		if err != nil {
			t.Errorf("%s %q: %v", tc.dbType, tc.text, err)
			continue
		}
		if !capture.Equal(got, tc.want) {
			t.Errorf("%s %q: %#v, want %#v", tc.dbType, tc.text, got, tc.want)
		}
		if b, ok := got.([]byte); ok && len(b) > 0 && &b[0] == &raw[0] {
			t.Errorf("%s: the value shares the driver's buffer", tc.dbType)
		}
	}
	if v, err := decode(kindInt, nil); v != nil || err != nil {
		t.Errorf("NULL decoded to %v, %v", v, err)
	}
	if _, err := decode(kindTime, sql.RawBytes("yesterday")); err == nil {
		t.Error("a bad DATETIME decoded")
	}
}
