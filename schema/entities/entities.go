package entities

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
)

// Namespace is the Avro namespace of every built-in entity record.
const Namespace = "tandem.entity"

// Kinds of decimal fields: what the number measures. Every decimal field has
// one, in the field property "tandem.kind".
const (
	KindMoney    = "money"    // an amount in the record's currency: decimal(26,8)
	KindQuantity = "quantity" // a count of units in the product's unit of measure: decimal(26,8)
	KindWeight   = "weight"   // kilograms: decimal(26,8)
	KindPercent  = "percent"  // 19.0000 is 19%: decimal(16,4)
)

//go:embed avsc/*.avsc
var avsc embed.FS

// Entity is one built-in canonical entity: its Avro record and what tandem
// needs to know beyond Avro (keys, aggregate, references).
type Entity struct {
	Name string // the record's name, e.g. order_line; its full name is tandem.entity.<Name>
	Doc  string // the record's doc

	// Schema is the .avsc JSON, compacted: what is registered.
	Schema string

	// NaturalKey names the fields that identify one entity in every
	// system ("tandem.natural_key"). They are the only required fields.
	NaturalKey []string

	// Aggregate is the root entity whose topic the entity travels in
	// ("tandem.aggregate"): its own name for a root, e.g. order for
	// order_line.
	Aggregate string

	// AggregateKey names the fields of this entity that hold the
	// aggregate's key, the Kafka key ("tandem.aggregate_key"): the natural
	// key for a root, the root's natural key for a child.
	AggregateKey []string

	// References maps a field path (a field name, or array.field for a
	// field of an array's records, e.g. lines.sku) to the entity and
	// natural key field it refers to, as entity.field, e.g. product.sku
	// ("tandem.references").
	References map[string]string

	// Fields are the record's fields in schema order.
	Fields []Field
}

// Field is one field of an entity record (or of a record nested in one).
type Field struct {
	Name string

	// Type is the field's short type: string, decimal, long, int,
	// boolean, timestamp (timestamp-micros, UTC), date, record or array.
	Type string

	Precision int // decimal: total digits
	Scale     int // decimal: digits after the point

	// Kind says what a decimal measures: KindMoney, KindQuantity,
	// KindWeight or KindPercent ("tandem.kind").
	Kind string

	// Values is the canonical value set of a status-like string field
	// ("tandem.values"); empty for free text.
	Values []string

	// Required is true for a field that is not a union with null: the
	// natural key fields, and the key of a nested record.
	Required bool

	Doc string

	// Items is the element type of an array: a short type as in Type.
	Items string

	// Record is the name of the record of a record field or of an
	// array's elements, e.g. address.
	Record string

	// NaturalKey names the fields of that record that identify it within
	// its parent, e.g. line_no of a shipment line; empty when the record
	// has none (an address).
	NaturalKey []string

	// Fields are the fields of that record.
	Fields []Field
}

// FullName returns the Avro full name of the entity's record,
// tandem.entity.<Name>.
func (e Entity) FullName() string { return Namespace + "." + e.Name }

// Root reports whether the entity is the root of its aggregate.
func (e Entity) Root() bool { return e.Aggregate == e.Name }

// Field returns the field at path: a field name, or record.field /
// array.field for a field of a nested record, e.g. lines.sku.
func (e Entity) Field(path string) (Field, bool) { return lookupField(e.Fields, path) }

func lookupField(fields []Field, path string) (Field, bool) {
	name, rest, nested := strings.Cut(path, ".")
	for _, f := range fields {
		if f.Name != name {
			continue
		}
		if !nested {
			return f, true
		}
		return lookupField(f.Fields, rest)
	}
	return Field{}, false
}

// Builtin returns the built-in entities sorted by name. The result is the
// caller's own: changing it changes nothing for other callers. It panics
// if the embedded schemas are broken, which the package's tests rule out.
func Builtin() []Entity {
	all := mustLoad()
	out := make([]Entity, len(all))
	for i, e := range all {
		out[i] = e.clone()
	}
	return out
}

// Lookup returns the built-in entity of the given name (e.g. order_line).
func Lookup(name string) (Entity, bool) {
	for _, e := range mustLoad() {
		if e.Name == name {
			return e.clone(), true
		}
	}
	return Entity{}, false
}

var loaded = sync.OnceValues(func() ([]Entity, error) { return load(avsc) })

func mustLoad() []Entity {
	all, err := loaded()
	if err != nil {
		panic("schema/entities: embedded schemas: " + err.Error())
	}
	return all
}

// load parses every avsc/*.avsc file of fsys, in file name order.
func load(fsys fs.FS) ([]Entity, error) {
	names, err := fs.Glob(fsys, "avsc/*.avsc")
	if err != nil {
		return nil, err
	}
	var errs []error
	out := make([]Entity, 0, len(names))
	for _, p := range names {
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		e, err := Parse(strings.TrimSuffix(path.Base(p), ".avsc"), data)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		out = append(out, e)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Entity) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// avroRecord is the part of a record schema that tandem reads.
type avroRecord struct {
	Type         string            `json:"type"`
	Name         string            `json:"name"`
	Namespace    string            `json:"namespace"`
	Doc          string            `json:"doc"`
	NaturalKey   []string          `json:"tandem.natural_key"`
	Aggregate    string            `json:"tandem.aggregate"`
	AggregateKey []string          `json:"tandem.aggregate_key"`
	References   map[string]string `json:"tandem.references"`
	Fields       []avroField       `json:"fields"`
}

type avroField struct {
	Name    string          `json:"name"`
	Type    json.RawMessage `json:"type"`
	Default json.RawMessage `json:"default"`
	Doc     string          `json:"doc"`
	Kind    string          `json:"tandem.kind"`
	Values  []string        `json:"tandem.values"`
}

// Parse reads one entity's .avsc, as the built-ins are read: the mapping
// uses it for the entities a config declares. name is the entity's name,
// which the record must have.
func Parse(name string, data []byte) (Entity, error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		return Entity{}, fmt.Errorf("not JSON: %w", err)
	}
	var rec avroRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return Entity{}, fmt.Errorf("not a record schema: %w", err)
	}
	if rec.Type != "record" || rec.Name != name || rec.Namespace != Namespace {
		return Entity{}, fmt.Errorf("want a record named %s in namespace %s, have %s %q in %q", name, Namespace, rec.Type, rec.Name, rec.Namespace)
	}
	p := parser{named: map[string]Field{}}
	fields, err := p.fields(rec.Fields)
	if err != nil {
		return Entity{}, err
	}
	e := Entity{
		Name:         rec.Name,
		Doc:          rec.Doc,
		Schema:       compact.String(),
		NaturalKey:   rec.NaturalKey,
		Aggregate:    rec.Aggregate,
		AggregateKey: rec.AggregateKey,
		References:   rec.References,
		Fields:       fields,
	}
	if e.References == nil {
		e.References = map[string]string{}
	}
	var errs []error
	if len(e.NaturalKey) == 0 {
		errs = append(errs, errors.New(`no "tandem.natural_key"`))
	}
	errs = append(errs, checkKey("tandem.natural_key", e.NaturalKey, e.Fields)...)
	if e.Aggregate == "" {
		errs = append(errs, errors.New(`no "tandem.aggregate"`))
	}
	if len(e.AggregateKey) == 0 {
		errs = append(errs, errors.New(`no "tandem.aggregate_key"`))
	}
	errs = append(errs, checkKey("tandem.aggregate_key", e.AggregateKey, e.Fields)...)
	for _, from := range slices.Sorted(maps.Keys(e.References)) {
		to := e.References[from]
		if _, ok := e.Field(from); !ok {
			errs = append(errs, fmt.Errorf("reference from %s: no such field", from))
		}
		if ent, fld, ok := strings.Cut(to, "."); !ok || ent == "" || fld == "" {
			errs = append(errs, fmt.Errorf("reference from %s to %q: want entity.field", from, to))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Entity{}, err
	}
	return e, nil
}

// checkKey checks that the key fields exist and are required.
func checkKey(prop string, key []string, fields []Field) []error {
	var errs []error
	for _, k := range key {
		f, ok := lookupField(fields, k)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: no field %s", prop, k))
		case !f.Required:
			errs = append(errs, fmt.Errorf("%s: field %s is optional (a union with null); a key field must be required", prop, k))
		}
	}
	return errs
}

// parser turns Avro types into Fields, remembering the records defined so
// far so that a later field can refer to one by name.
type parser struct {
	named map[string]Field // full name -> the record's type
}

func (p *parser) fields(afs []avroField) ([]Field, error) {
	var errs []error
	out := make([]Field, 0, len(afs))
	for _, af := range afs {
		f, err := p.field(af)
		if err != nil {
			errs = append(errs, fmt.Errorf("field %s: %w", af.Name, err))
			continue
		}
		out = append(out, f)
	}
	return out, errors.Join(errs...)
}

func (p *parser) field(af avroField) (Field, error) {
	if af.Name == "" {
		return Field{}, errors.New("no name")
	}
	raw := af.Type
	required := true
	var union []json.RawMessage
	if json.Unmarshal(raw, &union) == nil {
		if len(union) != 2 || string(union[0]) != `"null"` {
			return Field{}, fmt.Errorf("union %s: only [\"null\", type] is used", raw)
		}
		if string(bytes.TrimSpace(af.Default)) != "null" {
			return Field{}, errors.New(`an optional field needs "default": null`)
		}
		raw, required = union[1], false
	}
	f, err := p.typ(raw)
	if err != nil {
		return Field{}, err
	}
	f.Name, f.Required, f.Doc, f.Kind, f.Values = af.Name, required, af.Doc, af.Kind, af.Values
	if f.Kind != "" && f.Type != "decimal" {
		return Field{}, fmt.Errorf(`"tandem.kind" on a %s field`, f.Type)
	}
	if f.Type == "decimal" && !slices.Contains([]string{KindMoney, KindQuantity, KindWeight, KindPercent}, f.Kind) {
		return Field{}, fmt.Errorf(`decimal field with "tandem.kind" %q, want money, quantity, weight or percent`, f.Kind)
	}
	if len(f.Values) > 0 && f.Type != "string" {
		return Field{}, fmt.Errorf(`"tandem.values" on a %s field`, f.Type)
	}
	return f, nil
}

// typ reads a (non-union) Avro type.
func (p *parser) typ(raw json.RawMessage) (Field, error) {
	var name string
	if json.Unmarshal(raw, &name) == nil {
		switch name {
		case "string", "long", "int", "boolean":
			return Field{Type: name}, nil
		case "float", "double":
			return Field{}, fmt.Errorf("type %q is not used by the entities: amounts, quantities and rates are decimals", name)
		}
		full := name
		if !strings.Contains(full, ".") {
			full = Namespace + "." + name
		}
		if r, ok := p.named[full]; ok {
			return r, nil
		}
		return Field{}, fmt.Errorf("type %q is not used by the entities, or not defined before its use", name)
	}
	var t struct {
		Type        string          `json:"type"`
		LogicalType string          `json:"logicalType"`
		Precision   int             `json:"precision"`
		Scale       int             `json:"scale"`
		Items       json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return Field{}, fmt.Errorf("type %s: %w", raw, err)
	}
	switch {
	case t.Type == "bytes" && t.LogicalType == "decimal":
		if t.Precision <= 0 || t.Scale < 0 || t.Scale > t.Precision {
			return Field{}, fmt.Errorf("decimal(%d,%d) is not a valid decimal", t.Precision, t.Scale)
		}
		return Field{Type: "decimal", Precision: t.Precision, Scale: t.Scale}, nil
	case t.Type == "long" && t.LogicalType == "timestamp-micros":
		return Field{Type: "timestamp"}, nil
	case t.Type == "int" && t.LogicalType == "date":
		return Field{Type: "date"}, nil
	case t.Type == "array":
		elem, err := p.typ(t.Items)
		if err != nil {
			return Field{}, fmt.Errorf("array items: %w", err)
		}
		if elem.Type == "array" {
			return Field{}, errors.New("arrays of arrays are not used")
		}
		return Field{Type: "array", Items: elem.Type, Record: elem.Record, NaturalKey: elem.NaturalKey, Fields: elem.Fields}, nil
	case t.Type == "record":
		var rec avroRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return Field{}, err
		}
		if rec.Namespace != "" && rec.Namespace != Namespace {
			return Field{}, fmt.Errorf("record %s: namespace %q, want %s (or none)", rec.Name, rec.Namespace, Namespace)
		}
		if rec.Name == "" {
			return Field{}, errors.New("record without a name")
		}
		full := Namespace + "." + rec.Name
		if _, dup := p.named[full]; dup {
			return Field{}, fmt.Errorf("record %s is defined twice", full)
		}
		fields, err := p.fields(rec.Fields)
		if err != nil {
			return Field{}, fmt.Errorf("record %s: %w", rec.Name, err)
		}
		if errs := checkKey("tandem.natural_key", rec.NaturalKey, fields); len(errs) > 0 {
			return Field{}, fmt.Errorf("record %s: %w", rec.Name, errors.Join(errs...))
		}
		r := Field{Type: "record", Record: rec.Name, NaturalKey: rec.NaturalKey, Fields: fields}
		p.named[full] = r
		return r, nil
	}
	return Field{}, fmt.Errorf("type %s is not used by the entities", raw)
}

func (e Entity) clone() Entity {
	e.NaturalKey = slices.Clone(e.NaturalKey)
	e.AggregateKey = slices.Clone(e.AggregateKey)
	e.References = maps.Clone(e.References)
	e.Fields = cloneFields(e.Fields)
	return e
}

func cloneFields(fs []Field) []Field {
	if fs == nil {
		return nil
	}
	out := make([]Field, len(fs))
	for i, f := range fs {
		f.Values = slices.Clone(f.Values)
		f.NaturalKey = slices.Clone(f.NaturalKey)
		f.Fields = cloneFields(f.Fields)
		out[i] = f
	}
	return out
}
