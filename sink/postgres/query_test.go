package postgres

import (
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/sink/internal/sinktest"
)

func TestDecode(t *testing.T) {
	m := pgtype.NewMap()
	text := func(oid uint32, s string) pgconn.FieldDescription {
		return pgconn.FieldDescription{Name: s, DataTypeOID: oid, Format: pgtype.TextFormatCode}
	}
	binary := func(oid uint32, v any) pgconn.FieldDescription {
		return pgconn.FieldDescription{Name: fmt.Sprint(v), DataTypeOID: oid, Format: pgtype.BinaryFormatCode}
	}
	big26, _ := new(big.Int).SetString("1234567890123456712345678", 10)
	uuid := [16]byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11}
	for _, tc := range []struct {
		in   pgconn.FieldDescription
		val  any // the value to encode in binary; the text is in.Name
		want any
	}{
		{binary(pgtype.Int2OID, int16(-7)), int16(-7), int64(-7)},
		{text(pgtype.Int4OID, "42"), nil, int64(42)},
		{binary(pgtype.Int8OID, int64(1)<<40), int64(1) << 40, int64(1) << 40},
		{binary(pgtype.Float4OID, float32(0.1)), float32(0.1), 0.1},
		{text(pgtype.Float8OID, "-2.5e-300"), nil, -2.5e-300},
		{binary(pgtype.NumericOID, "numeric"), pgtype.Numeric{Int: big26, Exp: -8, Valid: true}, sinktest.Rat("12345678901234567.12345678")},
		{text(pgtype.NumericOID, "-0.00000001"), nil, sinktest.Rat("-0.00000001")},
		{binary(pgtype.BoolOID, true), true, true},
		{text(pgtype.ByteaOID, `\x00ff`), nil, []byte{0, 0xff}},
		{binary(pgtype.ByteaOID, "bytea"), []byte{1, 2}, []byte{1, 2}},
		{text(pgtype.TimestampOID, "2024-02-29 13:14:15.123456"), nil, sinktest.Time("2024-02-29T13:14:15.123456Z")},
		{text(pgtype.TimestamptzOID, "2024-02-29 13:14:15.654321+02"), nil, sinktest.Time("2024-02-29T11:14:15.654321Z")},
		{binary(pgtype.TimestamptzOID, "timestamptz"), sinktest.Time("2024-02-29T11:14:15.654321Z"), sinktest.Time("2024-02-29T11:14:15.654321Z")},
		{binary(pgtype.DateOID, "date"), sinktest.Time("2024-02-29T00:00:00Z"), sinktest.Time("2024-02-29T00:00:00Z")},
		{text(pgtype.JSONBOID, `{"a": [1, 2]}`), nil, `{"a": [1, 2]}`},
		{text(pgtype.UUIDOID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), nil, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{binary(pgtype.UUIDOID, "uuid"), uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
	} {
		src := []byte(tc.in.Name)
		if tc.in.Format == pgtype.BinaryFormatCode {
			var err error
			if src, err = m.Encode(tc.in.DataTypeOID, pgtype.BinaryFormatCode, tc.val, nil); err != nil {
				t.Fatalf("encode %v as %d: %v", tc.val, tc.in.DataTypeOID, err)
			}
		}
		got, err := decode(m, &tc.in, src)
		if err != nil {
			t.Errorf("%d %s: %v", tc.in.DataTypeOID, tc.in.Name, err)
			continue
		}
		if !capture.Equal(got, tc.want) {
			t.Errorf("%d %s: %#v, want %#v", tc.in.DataTypeOID, tc.in.Name, got, tc.want)
		}
		if tm, ok := got.(time.Time); ok && tm.Location() != time.UTC {
			t.Errorf("%d %s: time in %s, want UTC", tc.in.DataTypeOID, tc.in.Name, tm.Location())
		}
	}
	if v, err := decode(m, &pgconn.FieldDescription{DataTypeOID: pgtype.Int4OID}, nil); v != nil || err != nil {
		t.Errorf("NULL decoded to %v, %v", v, err)
	}
}

func TestDecodeRefusesWhatHasNoGoValue(t *testing.T) {
	m := pgtype.NewMap()
	for _, tc := range []struct {
		oid uint32
		src string
	}{
		{pgtype.NumericOID, "NaN"},
		{pgtype.TimestamptzOID, "infinity"},
		{pgtype.DateOID, "-infinity"},
	} {
		if v, err := decode(m, &pgconn.FieldDescription{DataTypeOID: tc.oid, Format: pgtype.TextFormatCode}, []byte(tc.src)); err == nil {
			t.Errorf("%s decoded to %v, want an error", tc.src, v)
		}
	}
}
