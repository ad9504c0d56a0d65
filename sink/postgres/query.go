package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tandem-sync/tandem/sink/internal/sinksql"
)

// binaryResults asks for the binary form of the types query decodes
// natively; every other type comes as text (json and jsonb as their
// text, uuid, enums, intervals, arrays ... as PostgreSQL prints them).
var binaryResults = pgx.QueryResultFormatsByOID{
	pgtype.Int2OID: pgx.BinaryFormatCode, pgtype.Int4OID: pgx.BinaryFormatCode, pgtype.Int8OID: pgx.BinaryFormatCode,
	pgtype.Float4OID: pgx.BinaryFormatCode, pgtype.Float8OID: pgx.BinaryFormatCode, pgtype.NumericOID: pgx.BinaryFormatCode,
	pgtype.BoolOID: pgx.BinaryFormatCode, pgtype.ByteaOID: pgx.BinaryFormatCode, pgtype.DateOID: pgx.BinaryFormatCode,
	pgtype.TimestampOID: pgx.BinaryFormatCode, pgtype.TimestamptzOID: pgx.BinaryFormatCode,
}

type pgQueryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// query runs sql and calls fn with each row decoded (see decode). The row
// slice is reused; its values are not.
func query(ctx context.Context, q pgQueryer, sql string, args []any, fn func(row []any) error) error {
	rows, err := q.Query(ctx, sql, append([]any{binaryResults}, args...)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	fds := rows.FieldDescriptions()
	m := rows.Conn().TypeMap()
	row := make([]any, len(fds))
	for rows.Next() {
		raw := rows.RawValues()
		for i := range fds {
			v, err := decode(m, &fds[i], raw[i])
			if err != nil {
				return fmt.Errorf("column %s: %w", fds[i].Name, err)
			}
			row[i] = v
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return rows.Err()
}

// decode turns one result value into the Go value of the sink.Tx contract:
// int64 for every integer type, float64, *big.Rat for numeric, bool,
// []byte for bytea, time.Time in UTC for timestamp, timestamptz and date,
// nil for NULL, and the text of every other type. A numeric NaN or an
// infinite time is an error: no such Go value exists.
func decode(m *pgtype.Map, fd *pgconn.FieldDescription, src []byte) (any, error) {
	if src == nil {
		return nil, nil
	}
	switch fd.DataTypeOID {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
		return scan[int64](m, fd, src)
	case pgtype.Float4OID:
		v, err := scan[float32](m, fd, src)
		if err != nil {
			return nil, err
		}
		// the float64 that prints as the float4 does: 0.1, not 0.100000001
		return strconv.ParseFloat(strconv.FormatFloat(float64(v), 'g', -1, 32), 64)
	case pgtype.Float8OID:
		return scan[float64](m, fd, src)
	case pgtype.NumericOID:
		n, err := scan[pgtype.Numeric](m, fd, src)
		if err != nil {
			return nil, err
		}
		if n.NaN || n.InfinityModifier != pgtype.Finite {
			return nil, fmt.Errorf("numeric %s has no decimal value", string(src))
		}
		return sinksql.RatFromScaled(n.Int, n.Exp), nil
	case pgtype.BoolOID:
		return scan[bool](m, fd, src)
	case pgtype.ByteaOID:
		return scan[[]byte](m, fd, src) // a copy: src is the connection's buffer
	case pgtype.TimestampOID:
		v, err := scan[pgtype.Timestamp](m, fd, src)
		return finite(v.Time, v.InfinityModifier, err)
	case pgtype.TimestamptzOID:
		v, err := scan[pgtype.Timestamptz](m, fd, src)
		return finite(v.Time, v.InfinityModifier, err)
	case pgtype.DateOID:
		v, err := scan[pgtype.Date](m, fd, src)
		return finite(v.Time, v.InfinityModifier, err)
	}
	if fd.Format == pgx.TextFormatCode {
		return string(src), nil
	}
	s, err := scan[string](m, fd, src)
	if err != nil {
		return nil, fmt.Errorf("type %d came in binary and has no text form: %w", fd.DataTypeOID, err)
	}
	return s, nil
}

// scan decodes src into a T.
func scan[T any](m *pgtype.Map, fd *pgconn.FieldDescription, src []byte) (T, error) {
	var v T
	err := m.Scan(fd.DataTypeOID, fd.Format, src, &v)
	return v, err
}

// finite returns t in UTC, or an error for infinity, which no time.Time is.
func finite(t time.Time, inf pgtype.InfinityModifier, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	if inf != pgtype.Finite {
		return nil, fmt.Errorf("an infinite date or time has no time value")
	}
	return t.UTC(), nil
}
