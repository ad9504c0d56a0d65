package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-sync/tandem/sink/internal/sinksql"
)

// kind is how decode reads a column, from its DatabaseTypeName.
type kind int

const (
	kindText kind = iota
	kindInt
	kindUint
	kindFloat
	kindDecimal
	kindTime
	kindBytes
	kindBit
)

func kindOf(dbType string) kind {
	switch dbType {
	case "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT", "YEAR":
		return kindInt
	case "UNSIGNED TINYINT", "UNSIGNED SMALLINT", "UNSIGNED MEDIUMINT", "UNSIGNED INT", "UNSIGNED BIGINT":
		return kindUint
	case "FLOAT", "DOUBLE":
		return kindFloat
	case "DECIMAL":
		return kindDecimal
	case "DATE", "DATETIME", "TIMESTAMP":
		return kindTime
	case "BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB", "BINARY", "VARBINARY", "GEOMETRY":
		return kindBytes
	case "BIT":
		return kindBit
	}
	return kindText // CHAR, VARCHAR, TEXT types, JSON, ENUM, SET, TIME
}

type sqlQueryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// query runs stmt and calls fn with each row decoded (see decode). The row
// slice is reused; its values are not.
func query(ctx context.Context, q sqlQueryer, stmt string, args []any, fn func(row []any) error) error {
	rows, err := q.QueryContext(ctx, stmt, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return err
	}
	kinds := make([]kind, len(types))
	raw := make([]sql.RawBytes, len(types))
	ptrs := make([]any, len(types))
	for i, ct := range types {
		kinds[i] = kindOf(ct.DatabaseTypeName())
		ptrs[i] = &raw[i]
	}
	row := make([]any, len(types))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i, b := range raw {
			v, err := decode(kinds[i], b)
			if err != nil {
				return fmt.Errorf("column %s: %w", types[i].Name(), err)
			}
			row[i] = v
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return rows.Err()
}

// decode turns a value's text (the session has parseTime off and time_zone
// '+00:00') into the Go value of the sink.Tx contract: int64 for the
// integer types (TINYINT(1) too; an UNSIGNED BIGINT above the int64 range
// is a *big.Rat), float64, *big.Rat for DECIMAL, time.Time in UTC for DATE,
// DATETIME and TIMESTAMP (a zero date, 0000-00-00, is nil), []byte for the
// binary types, int64 for BIT, nil for NULL, and a string for the rest.
func decode(k kind, b sql.RawBytes) (any, error) {
	if b == nil {
		return nil, nil
	}
	s := string(b)
	switch k {
	case kindInt:
		return strconv.ParseInt(s, 10, 64)
	case kindUint:
		u, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, err
		}
		if u > math.MaxInt64 {
			return new(big.Rat).SetUint64(u), nil
		}
		return int64(u), nil
	case kindFloat:
		return strconv.ParseFloat(s, 64)
	case kindDecimal:
		return sinksql.RatFromDecimal(s)
	case kindTime:
		return parseTime(s)
	case kindBytes:
		return bytes.Clone([]byte(b)), nil
	case kindBit:
		if len(b) > 8 {
			return nil, fmt.Errorf("BIT value of %d bytes does not fit an int64", len(b))
		}
		var n uint64
		for _, c := range b {
			n = n<<8 | uint64(c)
		}
		return int64(n), nil
	}
	return s, nil
}

func parseTime(s string) (any, error) {
	if strings.HasPrefix(s, "0000-00-00") {
		return nil, nil
	}
	layout := "2006-01-02 15:04:05.999999"
	if len(s) == len("2006-01-02") {
		layout = "2006-01-02"
	}
	t, err := time.ParseInLocation(layout, s, time.UTC)
	if err != nil {
		return nil, fmt.Errorf("%q is not a date and time", s)
	}
	return t, nil
}
