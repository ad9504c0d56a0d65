package postgres

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-sync/tandem/capture"
)

// The replication connection runs with DateStyle=ISO, IntervalStyle=iso_8601,
// TimeZone=UTC and extra_float_digits=3 (see connParams), so every text value
// below has one known form.

// decodeText turns a value in PostgreSQL's text output format into the Go
// type documented on capture.Kind for t.
func decodeText(t *capture.Type, s string) (any, error) {
	switch t.Kind {
	case capture.KindString, capture.KindJSON, capture.KindEnum, capture.KindInterval, capture.KindUUID:
		return s, nil
	case capture.KindBool:
		switch s {
		case "t":
			return true, nil
		case "f":
			return false, nil
		}
		return nil, fmt.Errorf("not a boolean")
	case capture.KindInt16, capture.KindInt32, capture.KindInt64:
		return strconv.ParseInt(s, 10, 64)
	case capture.KindFloat32:
		f, err := strconv.ParseFloat(s, 32)
		return float32(f), err
	case capture.KindFloat64:
		return strconv.ParseFloat(s, 64)
	case capture.KindDecimal:
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return nil, fmt.Errorf("not a finite number (NaN and Infinity have no exact decimal form)")
		}
		return r, nil
	case capture.KindBytes:
		if !strings.HasPrefix(s, `\x`) {
			return nil, fmt.Errorf("bytea is not in hex format")
		}
		return hex.DecodeString(s[2:])
	case capture.KindDate:
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			return nil, fmt.Errorf("date out of range (infinity and BC dates are not supported)")
		}
		return d, nil
	case capture.KindTimestamp:
		ts, err := time.Parse("2006-01-02 15:04:05.999999", s)
		if err != nil {
			return nil, fmt.Errorf("timestamp out of range (infinity and BC are not supported)")
		}
		return ts, nil
	case capture.KindTimestampTZ:
		ts, err := time.Parse("2006-01-02 15:04:05.999999Z07", s)
		if err != nil {
			ts, err = time.Parse("2006-01-02 15:04:05.999999Z07:00", s)
		}
		if err != nil {
			return nil, fmt.Errorf("timestamptz out of range (infinity and BC are not supported)")
		}
		return ts.UTC(), nil
	case capture.KindTime:
		return parseTimeOfDay(s)
	case capture.KindArray:
		return parseArray(t.Elem, s)
	}
	return s, nil
}

// parseTimeOfDay parses HH:MM:SS[.ffffff] (24:00:00 is allowed).
func parseTimeOfDay(s string) (time.Duration, error) {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return 0, fmt.Errorf("not a time of day")
	}
	h, err1 := strconv.Atoi(s[0:2])
	m, err2 := strconv.Atoi(s[3:5])
	sec, err3 := strconv.Atoi(s[6:8])
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, fmt.Errorf("not a time of day")
	}
	d := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second
	if len(s) > 8 {
		if s[8] != '.' {
			return 0, fmt.Errorf("not a time of day")
		}
		frac := s[9:]
		if len(frac) > 6 || frac == "" {
			return 0, fmt.Errorf("not a time of day")
		}
		us, err := strconv.Atoi(frac + strings.Repeat("0", 6-len(frac)))
		if err != nil {
			return 0, fmt.Errorf("not a time of day")
		}
		d += time.Duration(us) * time.Microsecond
	}
	return d, nil
}

// parseArray parses a one-dimensional array literal such as {1,2,NULL} or
// {"a b","c\"d"} into elements of type elem.
func parseArray(elem *capture.Type, s string) ([]any, error) {
	if i := strings.IndexByte(s, '='); i >= 0 && strings.HasPrefix(s, "[") {
		s = s[i+1:] // drop explicit bounds such as [0:2]=
	}
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, fmt.Errorf("not an array literal")
	}
	body := s[1 : len(s)-1]
	if strings.HasPrefix(body, "{") {
		return nil, fmt.Errorf("multi-dimensional arrays are not supported")
	}
	out := []any{}
	if body == "" {
		return out, nil
	}
	var b strings.Builder
	for i := 0; i <= len(body); {
		b.Reset()
		quoted := false
		if i < len(body) && body[i] == '"' {
			quoted = true
			i++
			for i < len(body) && body[i] != '"' {
				if body[i] == '\\' && i+1 < len(body) {
					i++
				}
				b.WriteByte(body[i])
				i++
			}
			i++ // closing quote
		} else {
			for i < len(body) && body[i] != ',' {
				b.WriteByte(body[i])
				i++
			}
		}
		tok := b.String()
		if !quoted && tok == "NULL" {
			out = append(out, nil)
		} else {
			v, err := decodeText(elem, tok)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", len(out)+1, err)
			}
			out = append(out, v)
		}
		if i >= len(body) {
			break
		}
		if body[i] != ',' {
			return nil, fmt.Errorf("not an array literal")
		}
		i++
	}
	return out, nil
}
