package mapping

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-sync/tandem/capture"
)

// The canonical Go value of each field type:
//   string, json: string; int, long: int64; decimal: *big.Rat;
//   boolean: bool; timestamp: time.Time in UTC; date: time.Time at UTC midnight.

// ValueError is a stored value that a field spec cannot convert. It names
// the field, so that the event can go to the dead-letter topic with reason.
type ValueError struct {
	Field  string
	Value  string
	Reason string
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("field %s: value %q: %s", e.Field, e.Value, e.Reason)
}

// Read converts a stored value (a capture value of the column or meta
// value) into the canonical value of field, following spec: const, then
// default for NULL, JSON path, value map, cast, time zone. capture.Unchanged
// passes through untouched.
func Read(field string, fi FieldInfo, spec FieldSpec, stored any) (any, error) {
	if capture.IsUnchanged(stored) {
		return stored, nil
	}
	fail := func(reason string) (any, error) {
		return nil, &ValueError{Field: field, Value: text(stored), Reason: reason}
	}
	v := stored
	if spec.Const != nil {
		v = *spec.Const
	}
	if v == nil {
		if spec.Default == nil {
			return nil, nil
		}
		v = *spec.Default
	}
	if spec.JSON != "" {
		got, ok, err := jsonPath(v, spec.JSON)
		if err != nil {
			return fail(err.Error())
		}
		if !ok {
			return nil, nil
		}
		v = got
	}
	if spec.Map != nil {
		canon, ok := spec.Map[text(v)]
		if !ok {
			return fail(fmt.Sprintf("not in the value map (%s)", strings.Join(sortedKeys(spec.Map), ", ")))
		}
		v = canon
	}
	typ := fi.Type
	if spec.Cast != "" && (fi.Type == "" || fi.Type == "record" || fi.Type == "array") {
		typ = spec.Cast
	}
	out, err := toType(typ, v)
	if err != nil {
		return fail(err.Error())
	}
	if t, ok := out.(time.Time); ok && spec.Timezone != "" && typ == "timestamp" {
		loc, err := time.LoadLocation(spec.Timezone)
		if err != nil {
			return fail(err.Error())
		}
		// the stored wall clock is in loc: reinterpret it there
		out = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc).UTC()
	}
	return out, nil
}

// Write converts a canonical value back into what the column (or meta
// value) stores, reversing Read: the value map backwards, the time zone,
// and text for a meta value or a cast from text. A const field writes its
// constant.
func Write(field string, fi FieldInfo, spec FieldSpec, canon any, meta bool) (any, error) {
	if capture.IsUnchanged(canon) {
		return canon, nil
	}
	if spec.Const != nil {
		return *spec.Const, nil
	}
	if canon == nil {
		return nil, nil
	}
	v := canon
	if t, ok := v.(time.Time); ok && spec.Timezone != "" {
		loc, err := time.LoadLocation(spec.Timezone)
		if err != nil {
			return nil, &ValueError{Field: field, Value: text(canon), Reason: err.Error()}
		}
		w := t.In(loc)
		v = time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), time.UTC)
	}
	if spec.Map != nil {
		stored, ok := reverseMap(spec.Map, text(v))
		if !ok {
			return nil, &ValueError{Field: field, Value: text(v), Reason: "no stored value maps to it"}
		}
		v = stored
	}
	if spec.JSON != "" {
		return nil, &ValueError{Field: field, Value: text(canon), Reason: "writing through a JSON path needs the whole document; the sink merges it"}
	}
	if meta || (spec.Cast != "" && spec.Cast != "string") {
		if t, ok := v.(time.Time); ok && (fi.Type == "date" || spec.Cast == "date") {
			return t.Format("2006-01-02"), nil // a date is stored as a date, not a midnight
		}
		return text(v), nil
	}
	return v, nil
}

// reverseMap finds the stored value that maps to canon (the first in
// sorted order when several do; validation refuses that for written fields).
func reverseMap(m map[string]string, canon string) (string, bool) {
	for _, stored := range sortedKeys(m) {
		if m[stored] == canon {
			return stored, true
		}
	}
	return "", false
}

// toType converts v to the canonical Go value of typ.
func toType(typ string, v any) (any, error) {
	switch typ {
	case "", "string", "json":
		return text(v), nil
	case "int", "long":
		switch x := v.(type) {
		case int64:
			return x, nil
		case uint64:
			if x > 1<<63-1 {
				return nil, fmt.Errorf("does not fit a long")
			}
			return int64(x), nil
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		case *big.Rat:
			if !x.IsInt() || !x.Num().IsInt64() {
				return nil, fmt.Errorf("is not a whole number that fits a long")
			}
			return x.Num().Int64(), nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(text(v)), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("is not a whole number")
		}
		return n, nil
	case "decimal":
		switch x := v.(type) {
		case *big.Rat:
			return x, nil
		case int64:
			return new(big.Rat).SetInt64(x), nil
		case uint64:
			return new(big.Rat).SetUint64(x), nil
		case float32, float64:
			return nil, fmt.Errorf("is a float; a float holds money inexactly, so tandem does not turn it into a decimal")
		}
		s := strings.TrimSpace(text(v))
		if s == "" {
			return nil, nil // WooCommerce stores an empty _sale_price for none
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok || strings.ContainsAny(s, "/eE") {
			return nil, fmt.Errorf("is not a decimal number")
		}
		return r, nil
	case "boolean":
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			return x != 0, nil
		}
		switch strings.ToLower(strings.TrimSpace(text(v))) {
		case "1", "t", "true", "y", "yes", "on":
			return true, nil
		case "0", "f", "false", "n", "no", "off":
			return false, nil
		case "":
			return nil, nil
		}
		return nil, fmt.Errorf("is not a yes/no value")
	case "timestamp", "date":
		var t time.Time
		switch x := v.(type) {
		case time.Time:
			t = x.UTC()
		default:
			s := strings.TrimSpace(text(v))
			if s == "" {
				return nil, nil
			}
			var err error
			if t, err = parseTime(s); err != nil {
				return nil, err
			}
		}
		if typ == "date" {
			return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
		}
		return t, nil
	}
	return nil, fmt.Errorf("unknown type %s", typ)
}

// parseTime reads the text forms shops store: SQL datetime, RFC 3339, a
// date, or Unix seconds (WooCommerce's _date_* meta).
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999", time.RFC3339Nano, "2006-01-02T15:04:05.999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("is not a date or time (YYYY-MM-DD HH:MM:SS, RFC 3339 or Unix seconds)")
}

// jsonPath reads a dot-separated path (e.g. en_US, or a.b) from a JSON
// document; ok is false when the path is absent.
func jsonPath(doc any, path string) (any, bool, error) {
	var v any
	if err := json.Unmarshal([]byte(text(doc)), &v); err != nil {
		return nil, false, fmt.Errorf("is not JSON")
	}
	for _, part := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false, nil
		}
		if v, ok = m[part]; !ok {
			return nil, false, nil
		}
	}
	switch x := v.(type) {
	case nil:
		return nil, false, nil
	case string:
		return x, true, nil
	default:
		b, _ := json.Marshal(x)
		return string(b), true, nil
	}
}

// text is the text form of a stored value.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	case *big.Rat:
		return ratText(x)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05.999999")
	}
	return fmt.Sprint(v)
}

// ratText prints a decimal exactly, without a trailing-zero fraction.
func ratText(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	for prec := 1; prec <= 64; prec++ {
		s := r.FloatString(prec)
		if back, ok := new(big.Rat).SetString(s); ok && back.Cmp(r) == 0 {
			return s
		}
	}
	return r.FloatString(64)
}
