package sinksql

import (
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/tandem-sync/tandem/sink"
)

// testDialect quotes with brackets and numbers its placeholders, so that
// the tests see both.
type testDialect struct{}

func (testDialect) Name() string { return "test" }
func (testDialect) Quote(s string) string {
	return QuoteQualified(s, func(p string) string { return "[" + p + "]" })
}
func (testDialect) Placeholder(n int) string                  { return ":" + strconv.Itoa(n) }
func (testDialect) JSONSet(column, path, param string) string { return "" }
func (d testDialect) Upsert(table string, cols []string, rows int, conflict []string, update []string) string {
	return Insert(d, table, cols, rows) + " UPSERT (" + strings.Join(conflict, ",") + ") SET " + strings.Join(update, ",")
}

func TestInsert(t *testing.T) {
	got := Insert(testDialect{}, "s.t", []string{"a", "b"}, 2)
	want := "INSERT INTO [s].[t] ([a], [b]) VALUES (:1, :2), (:3, :4)"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestDecimal(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{"12.5", "12.5", false},
		{"-0.001", "-0.001", false},
		{"100", "100", false},
		{"12345678901234567.12345678", "12345678901234567.12345678", false},
		{"1/3", "", true},
		{"1/80", "0.0125", false},
	} {
		r, _ := new(big.Rat).SetString(tc.in)
		got, err := Decimal(r)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("Decimal(%s) = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestArgsConvertsRatsWithoutTouchingTheInput(t *testing.T) {
	r, _ := new(big.Rat).SetString("19.99")
	in := []any{int64(1), r, "x", (*big.Rat)(nil)}
	out, err := Args(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := []any{int64(1), "19.99", "x", nil}; !reflect.DeepEqual(out, want) {
		t.Errorf("Args = %#v, want %#v", out, want)
	}
	if in[1] != r {
		t.Error("Args changed its input")
	}
	plain := []any{int64(1)}
	if got, _ := Args(plain); &got[0] != &plain[0] {
		t.Error("Args copied arguments that needed no conversion")
	}
	third, _ := new(big.Rat).SetString("1/3")
	if _, err := Args([]any{third}); err == nil {
		t.Error("Args took 1/3, which has no exact decimal form")
	}
}

func TestRatFromScaled(t *testing.T) {
	for _, tc := range []struct {
		unscaled int64
		exp      int32
		want     string
	}{
		{1234, -2, "12.34"},
		{-5, 3, "-5000"},
		{7, 0, "7"},
	} {
		got := RatFromScaled(big.NewInt(tc.unscaled), tc.exp)
		want, _ := new(big.Rat).SetString(tc.want)
		if got.Cmp(want) != 0 {
			t.Errorf("RatFromScaled(%d, %d) = %s, want %s", tc.unscaled, tc.exp, got.RatString(), tc.want)
		}
	}
	if _, err := RatFromDecimal("1/2"); err == nil {
		t.Error("RatFromDecimal took a fraction")
	}
}

func TestCheckpointUpsertDedupesAndSorts(t *testing.T) {
	c := Checkpoints{Dialect: testDialect{}, Table: "s.ckpt", Now: "NOW()"}
	q, args := c.Upsert([]sink.Checkpoint{
		{Consumer: "c", Topic: "t.b", Partition: 1, Offset: 5, Position: "p5"},
		{Consumer: "c", Topic: "t.a", Partition: 2, Offset: 7, Position: "p7"},
		{Consumer: "c", Topic: "t.b", Partition: 1, Offset: 9, Position: "p9"},
		{Consumer: "c", Topic: "t.a", Partition: 0, Offset: 1, Position: "p1"},
	})
	wantQ := "INSERT INTO [s].[ckpt] ([consumer], [topic], [kafka_partition], [kafka_offset], [source_position]) " +
		"VALUES (:1, :2, :3, :4, :5), (:6, :7, :8, :9, :10), (:11, :12, :13, :14, :15) " +
		"UPSERT (consumer,topic,kafka_partition) SET kafka_offset,source_position, updated_at = NOW()"
	if q != wantQ {
		t.Errorf("got  %s\nwant %s", q, wantQ)
	}
	wantArgs := []any{
		"c", "t.a", int32(0), int64(1), "p1",
		"c", "t.a", int32(2), int64(7), "p7",
		"c", "t.b", int32(1), int64(9), "p9",
	}
	if !reflect.DeepEqual(args, wantArgs) {
		t.Errorf("args %v, want %v", args, wantArgs)
	}
}
