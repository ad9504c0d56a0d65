package capture

import (
	"bytes"
	"math/big"
	"reflect"
	"time"
)

// Kind is the logical type of a column, independent of the database.
type Kind uint8

// Kinds, with the Go type of their values in a Row:
const (
	KindString      Kind = iota // string (text, varchar, char, inet, and any type without a better kind)
	KindBool                    // bool
	KindInt16                   // int64
	KindInt32                   // int64
	KindInt64                   // int64
	KindUint64                  // uint64 (MySQL BIGINT UNSIGNED)
	KindFloat32                 // float32
	KindFloat64                 // float64
	KindDecimal                 // *big.Rat, exact; Type.Scale >= 0 is fixed, -1 is unconstrained
	KindBytes                   // []byte
	KindDate                    // time.Time, UTC midnight
	KindTimestamp               // time.Time in UTC holding the wall-clock value (no time zone in the source)
	KindTimestampTZ             // time.Time in UTC
	KindTime                    // time.Duration since midnight
	KindInterval                // string, ISO 8601 duration, e.g. P1Y2M3DT4H5M6.5S
	KindUUID                    // string, canonical lower-case form
	KindJSON                    // string holding the JSON text
	KindEnum                    // string, the label (Type.Symbols lists the known labels)
	KindArray                   // []any of Type.Elem values (nil elements are NULL)
)

var kindNames = [...]string{"string", "bool", "int16", "int32", "int64", "uint64", "float32", "float64",
	"decimal", "bytes", "date", "timestamp", "timestamptz", "time", "interval", "uuid", "json", "enum", "array"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Type is a column's type.
type Type struct {
	Kind      Kind
	Precision int      // KindDecimal: total digits (0 when unconstrained)
	Scale     int      // KindDecimal: digits after the point; -1 when unconstrained
	Elem      *Type    // KindArray: the element type
	Symbols   []string // KindEnum: the labels, in order
	Source    string   // the database's own type, e.g. "numeric(26,8)", "int4", "mood"
}

// Equal reports whether two types are the same.
func (t Type) Equal(o Type) bool { return reflect.DeepEqual(t, o) }

// Column is one column of a table.
type Column struct {
	Name     string
	Type     Type
	Nullable bool
	Key      bool // part of the primary key (or the replica identity)
}

// Table is the shape of a captured table at one point in the log. A schema
// change yields a new *Table with a higher Version; a Table is never
// modified after a change referring to it was delivered.
type Table struct {
	Database string // the database (PostgreSQL: the database name; MySQL: the schema)
	Schema   string // PostgreSQL: the schema, e.g. public; MySQL: same as Database
	Name     string
	Columns  []Column
	Version  int // 1 for the first shape seen, then +1 on every change
}

// QualifiedName is schema.table (PostgreSQL) or database.table (MySQL).
func (t *Table) QualifiedName() string { return t.Schema + "." + t.Name }

// ColumnIndex returns the index of the named column, or -1.
func (t *Table) ColumnIndex(name string) int {
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// KeyIndexes returns the indexes of the key columns, in column order.
func (t *Table) KeyIndexes() []int {
	var out []int
	for i, c := range t.Columns {
		if c.Key {
			out = append(out, i)
		}
	}
	return out
}

// SameShape reports whether two tables have the same columns and types.
func (t *Table) SameShape(o *Table) bool {
	if len(t.Columns) != len(o.Columns) {
		return false
	}
	for i := range t.Columns {
		a, b := t.Columns[i], o.Columns[i]
		if a.Name != b.Name || a.Nullable != b.Nullable || a.Key != b.Key || !a.Type.Equal(b.Type) {
			return false
		}
	}
	return true
}

// Equal reports whether two captured values are equal, comparing the Go
// types documented on Kind.
func Equal(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case *big.Rat:
		y, ok := b.(*big.Rat)
		return ok && x.Cmp(y) == 0
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}
