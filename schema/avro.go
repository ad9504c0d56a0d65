package schema

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tandem-sync/tandem/capture"
)

// ErrNoKey is returned by KeySchema for a table without key columns. Such a
// table's records have no Kafka key.
var ErrNoKey = errors.New("the table has no key columns")

// TransactionKeySchema is the key schema of the transactions topic: the
// source's transaction id as an Avro string.
const TransactionKeySchema = `"string"`

// avroType is the Avro shape of one captured column type.
type avroType struct {
	kind      capture.Kind
	prim      string // the Avro type underneath: boolean, int, long, float, double, bytes, string or array
	logical   string // the Avro logicalType, if any
	precision int    // decimal
	scale     int    // decimal
	tandem    string // the "tandem.type" property, for a meaning Avro has no logical type for
	symbols   []string
	elem      *avroType // array items (each a union with null)
}

// typeOf maps a captured type to Avro. See the package documentation for
// the table of mappings.
func typeOf(t *capture.Type) (*avroType, error) {
	a := &avroType{kind: t.Kind}
	switch t.Kind {
	case capture.KindBool:
		a.prim = "boolean"
	case capture.KindInt16, capture.KindInt32:
		a.prim = "int"
	case capture.KindInt64:
		a.prim = "long"
	case capture.KindUint64:
		// BIGINT UNSIGNED reaches 2^64-1: a long would wrap above 2^63-1.
		a.prim, a.logical, a.precision, a.scale = "bytes", "decimal", 20, 0
	case capture.KindFloat32:
		a.prim = "float"
	case capture.KindFloat64:
		a.prim = "double"
	case capture.KindDecimal:
		if t.Scale < 0 {
			// Unconstrained numeric: no fixed scale fits every value, so the
			// exact decimal text travels instead.
			a.prim, a.tandem = "string", "decimal"
			break
		}
		a.prim, a.logical, a.precision, a.scale = "bytes", "decimal", t.Precision, t.Scale
		if a.precision == 0 {
			a.precision = 38
		}
		// PostgreSQL accepts numeric(2,5) (values below 0.001); Avro wants
		// scale <= precision, and precision = scale holds every such value.
		a.precision = max(a.precision, a.scale)
	case capture.KindBytes:
		a.prim = "bytes"
	case capture.KindDate:
		a.prim, a.logical = "int", "date"
	case capture.KindTimestamp:
		// goavro v2.15.0 has no local-timestamp-micros codec (it drops the
		// logical type and wants a bare long), so a wall-clock timestamp is
		// timestamp-micros of the wall clock read as UTC, marked
		// "tandem.type":"timestamp" so consumers know there is no zone.
		a.prim, a.logical, a.tandem = "long", "timestamp-micros", "timestamp"
	case capture.KindTimestampTZ:
		a.prim, a.logical = "long", "timestamp-micros"
	case capture.KindTime:
		a.prim, a.logical = "long", "time-micros"
	case capture.KindInterval:
		a.prim, a.tandem = "string", "interval"
	case capture.KindUUID:
		a.prim, a.logical = "string", "uuid"
	case capture.KindJSON:
		a.prim, a.tandem = "string", "json"
	case capture.KindEnum:
		// Not an Avro enum: a label added to the database type must not
		// make the new schema incompatible with the old one.
		a.prim, a.tandem = "string", "enum"
		a.symbols = append([]string{}, t.Symbols...)
	case capture.KindString:
		a.prim = "string"
	case capture.KindArray:
		if t.Elem == nil {
			return nil, fmt.Errorf("array type %q has no element type", t.Source)
		}
		e, err := typeOf(t.Elem)
		if err != nil {
			return nil, err
		}
		a.prim, a.elem = "array", e
	default:
		return nil, fmt.Errorf("unknown column kind %d (%s)", t.Kind, t.Source)
	}
	return a, nil
}

// schema is the Avro schema of the type (not nullable). With enc, it is
// the encoding form: the Avro type underneath, without logical type or
// properties, which has the same binary encoding (see Serializer).
func (a *avroType) schema(enc bool) any {
	if a.prim == "array" {
		return object{{"type", "array"}, {"items", []any{"null", a.elem.schema(enc)}}}
	}
	if enc || a.logical == "" && a.tandem == "" {
		return a.prim
	}
	o := object{{"type", a.prim}}
	if a.logical != "" {
		o = o.with("logicalType", a.logical)
	}
	if a.logical == "decimal" {
		o = o.with("precision", a.precision).with("scale", a.scale)
	}
	if a.tandem != "" {
		o = o.with("tandem.type", a.tandem)
	}
	if a.kind == capture.KindEnum {
		o = o.with("tandem.symbols", append([]string{}, a.symbols...))
	}
	return o
}

// String describes the type for messages, e.g. "decimal(12,2)".
func (a *avroType) String() string {
	switch {
	case a.prim == "array":
		return "array<" + a.elem.String() + ">"
	case a.logical == "decimal":
		return fmt.Sprintf("decimal(%d,%d)", a.precision, a.scale)
	case a.logical != "":
		return a.prim + "/" + a.logical
	}
	return a.prim
}

// validName reports whether s is an Avro name: [A-Za-z_][A-Za-z0-9_]*.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// avroName turns s into an Avro name: every character outside
// [A-Za-z0-9_] becomes _, and a leading digit gets a _ in front.
func avroName(s string) string {
	if validName(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	out := b.String()
	if out == "" || out[0] >= '0' && out[0] <= '9' {
		out = "_" + out
	}
	return out
}

// avroNamespace sanitizes each dot-separated part of ns.
func avroNamespace(ns string) string {
	if ns == "" {
		return ""
	}
	parts := strings.Split(ns, ".")
	for i, p := range parts {
		parts[i] = avroName(p)
	}
	return strings.Join(parts, ".")
}

// Namespace returns the Avro namespace of a table's records,
// <prefix>.<system>.<schema>, each part made an Avro name.
func Namespace(prefix, system, schema string) string {
	return avroNamespace(prefix + "." + system + "." + schema)
}

// fieldNames gives each column its Avro field name. Names that are already
// valid claim themselves first, so that a sanitized name never takes the
// name of a real column; the rest are sanitized, with _2, _3, ... appended
// on a collision, in column order.
func fieldNames(cols []capture.Column) []string {
	names := make([]string, len(cols))
	used := make(map[string]bool, len(cols))
	for i, c := range cols {
		if validName(c.Name) && !used[c.Name] {
			names[i], used[c.Name] = c.Name, true
		}
	}
	for i, c := range cols {
		if names[i] != "" {
			continue
		}
		base := avroName(c.Name)
		n := base
		for k := 2; used[n]; k++ {
			n = base + "_" + strconv.Itoa(k)
		}
		names[i], used[n] = n, true
	}
	return names
}

// layout is the Avro shape of a table: names and types of its records.
type layout struct {
	table    *capture.Table
	ns       string // namespace of the row and key records
	name     string // the row record's name
	fields   []string
	types    []*avroType
	keys     []int // indexes of the key columns
	envNS    string
	fullName string
}

func newLayout(ns string, t *capture.Table) (*layout, error) {
	if t == nil || t.Name == "" {
		return nil, errors.New("table has no name")
	}
	l := &layout{
		table:  t,
		ns:     avroNamespace(ns),
		name:   avroName(t.Name),
		fields: fieldNames(t.Columns),
		types:  make([]*avroType, len(t.Columns)),
		keys:   t.KeyIndexes(),
	}
	for i := range t.Columns {
		a, err := typeOf(&t.Columns[i].Type)
		if err != nil {
			return nil, fmt.Errorf("table %s column %s: %w", t.QualifiedName(), t.Columns[i].Name, err)
		}
		l.types[i] = a
	}
	l.fullName = l.name
	l.envNS = l.name
	if l.ns != "" {
		l.fullName = l.ns + "." + l.name
		l.envNS = l.ns + "." + l.name
	}
	return l, nil
}

func (l *layout) rowSchema(enc bool) object {
	fields := make([]any, len(l.fields))
	for i, c := range l.table.Columns {
		f := object{{"name", l.fields[i]}, {"type", []any{"null", l.types[i].schema(enc)}}, {"default", nil}}
		if c.Name != l.fields[i] {
			f = f.with("tandem.column", c.Name)
		}
		if c.Type.Source != "" {
			f = f.with("tandem.source_type", c.Type.Source)
		}
		f = f.with("tandem.nullable", c.Nullable)
		if c.Key {
			f = f.with("tandem.key", true)
		}
		fields[i] = f
	}
	o := object{{"type", "record"}, {"name", l.name}}
	if l.ns != "" {
		o = o.with("namespace", l.ns)
	}
	return o.with("tandem.table", l.table.QualifiedName()).with("fields", fields)
}

func (l *layout) keySchema(enc bool) object {
	fields := make([]any, len(l.keys))
	for j, i := range l.keys {
		c := l.table.Columns[i]
		f := object{{"name", l.fields[i]}, {"type", l.types[i].schema(enc)}}
		if c.Name != l.fields[i] {
			f = f.with("tandem.column", c.Name)
		}
		if c.Type.Source != "" {
			f = f.with("tandem.source_type", c.Type.Source)
		}
		fields[j] = f
	}
	o := object{{"type", "record"}, {"name", l.name + "Key"}}
	if l.ns != "" {
		o = o.with("namespace", l.ns)
	}
	return o.with("tandem.table", l.table.QualifiedName()).with("fields", fields)
}

func stringArray() object { return object{{"type", "array"}, {"items", "string"}} }

func timestampMicros(enc bool) any {
	if enc {
		return "long"
	}
	return object{{"type", "long"}, {"logicalType", "timestamp-micros"}}
}

func sourceSchema(enc bool) object {
	str := func(name, doc string) object { return object{{"name", name}, {"type", "string"}, {"doc", doc}} }
	return object{{"type", "record"}, {"name", "Source"}, {"namespace", "tandem"}, {"fields", []any{
		str("system", "the tandem system the change was captured from"),
		str("connector", "postgres or mysql"),
		str("database", "the source database"),
		str("schema", "the table's schema (MySQL: its database)"),
		str("table", "the table's name in the source"),
		str("position", "the change's position in the source log, human-readable"),
		str("order", "hex of the transaction's commit position followed by 16 hex digits of sequence: unique, and increasing in log order, per source"),
		str("tx_id", "the source's transaction id"),
		object{{"name", "commit_time"}, {"type", []any{"null", timestampMicros(enc)}}, {"default", nil}, {"doc", "the transaction's commit time, when known"}},
		object{{"name", "snapshot"}, {"type", "boolean"}, {"doc", "the change was read by a snapshot"}},
		object{{"name", "sequence"}, {"type", "long"}, {"doc", "index of the change in its transaction (in a snapshot: running across chunks)"}},
		object{{"name", "table_version"}, {"type", "int"}, {"doc", "the captured table shape's version, +1 on every schema change seen"}},
	}}}
}

func (l *layout) envelopeSchema(enc bool) object {
	return object{{"type", "record"}, {"name", "Envelope"}, {"namespace", l.envNS}, {"tandem.table", l.table.QualifiedName()}, {"fields", []any{
		object{{"name", "op"}, {"type", "string"}, {"doc", "c insert, u update, d delete, r snapshot read, t truncate"}},
		object{{"name", "before"}, {"type", []any{"null", l.rowSchema(enc)}}, {"default", nil}, {"doc", "the row before the change, where known"}},
		object{{"name", "after"}, {"type", []any{"null", l.fullName}}, {"default", nil}, {"doc", "the row after the change, where known"}},
		object{{"name", "changed"}, {"type", stringArray()}, {"doc", "the fields this change set; apply only these"}},
		object{{"name", "unknown"}, {"type", stringArray()}, {"doc", "fields of after whose value the log does not carry (e.g. unchanged TOAST): null there means unknown, not NULL"}},
		object{{"name", "before_unknown"}, {"type", stringArray()}, {"default", []any{}}, {"doc", "fields of before whose value the log does not carry: null there means unknown, not NULL"}},
		object{{"name", "source"}, {"type", sourceSchema(enc)}},
		object{{"name", "origin"}, {"type", "string"}, {"doc", "the system where the change first happened"}},
		object{{"name", "event_id"}, {"type", "string"}, {"doc", "<system>:<order>, deterministic, for downstream dedupe"}},
	}}}
}

// RowSchema returns the Avro record of a row of t, named after the table in
// namespace ns. Every field is a union of null and the column's type with a
// null default, so that a value the log does not carry can be null and
// listed as unknown. Field properties keep what Avro cannot say:
// tandem.column (the column name, when it had to be sanitized),
// tandem.source_type, tandem.nullable and tandem.key.
func RowSchema(ns string, t *capture.Table) (string, error) {
	l, err := newLayout(ns, t)
	if err != nil {
		return "", err
	}
	return marshal(l.rowSchema(false)), nil
}

// KeySchema returns the Avro record <Name>Key of t's key columns, in column
// order, with types that are not nullable. A table without key columns
// gives ErrNoKey.
func KeySchema(ns string, t *capture.Table) (string, error) {
	l, err := newLayout(ns, t)
	if err != nil {
		return "", err
	}
	if len(l.keys) == 0 {
		return "", fmt.Errorf("key schema of %s: %w", t.QualifiedName(), ErrNoKey)
	}
	return marshal(l.keySchema(false)), nil
}

// EnvelopeSchema returns the value schema of t's raw topic: the record
// Envelope in namespace <ns>.<table> with op, before, after, changed,
// unknown, before_unknown, source, origin and event_id. The row record is
// defined inline in before and referred to by its full name in after.
func EnvelopeSchema(ns string, t *capture.Table) (string, error) {
	l, err := newLayout(ns, t)
	if err != nil {
		return "", err
	}
	return marshal(l.envelopeSchema(false)), nil
}

// TransactionSchema returns the value schema of the transactions topic,
// the record tandem.TransactionEvent.
func TransactionSchema() string { return transactionSchema(false) }

func transactionSchema(enc bool) string {
	str := func(name, doc string) object { return object{{"name", name}, {"type", "string"}, {"doc", doc}} }
	return marshal(object{{"type", "record"}, {"name", "TransactionEvent"}, {"namespace", "tandem"}, {"fields", []any{
		str("status", "BEGIN or END"),
		str("id", "the source's transaction id"),
		str("system", "the tandem system the transaction was captured from"),
		str("position", "the transaction's commit position, human-readable"),
		str("order", "hex of the commit position: the prefix of the order of the transaction's events"),
		object{{"name", "commit_time"}, {"type", []any{"null", timestampMicros(enc)}}, {"default", nil}},
		object{{"name", "snapshot"}, {"type", "boolean"}},
		object{{"name", "event_count"}, {"type", []any{"null", "long"}}, {"default", nil}, {"doc", "END only: the number of change events of the transaction"}},
		object{{"name", "data_collections"}, {"type", []any{"null", object{{"type", "array"}, {"items", object{
			{"type", "record"}, {"name", "DataCollection"}, {"fields", []any{
				object{{"name", "name"}, {"type", "string"}, {"doc", "the table, schema.table"}},
				object{{"name", "event_count"}, {"type", "long"}},
			}}}}}}}, {"default", nil}, {"doc", "END only: event counts per table, sorted by name"}},
	}}})
}

// TableTopic returns the raw-mode topic of a table,
// <prefix>.<system>.<schema>.<table>. Characters Kafka does not allow in a
// topic name (and dots inside the schema or table name) become _.
func TableTopic(prefix, system string, t *capture.Table) string {
	return prefix + "." + system + "." + topicPart(t.Schema) + "." + topicPart(t.Name)
}

// TransactionsTopic returns the transactions topic of a system,
// <prefix>.<system>.transactions.
func TransactionsTopic(prefix, system string) string {
	return prefix + "." + system + ".transactions"
}

func topicPart(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if !topicChar(s[i]) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 && topicChar(byte(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func topicChar(c byte) bool {
	return c == '_' || c == '-' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}
