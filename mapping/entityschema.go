package mapping

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/tandem-sync/tandem/schema/entities"
)

// Entity returns the canonical entity of the given name: a built-in one
// (schema/entities), or one the config declares under entities, whose Avro
// schema is generated from its declaration and read back as the built-ins
// are, so that it is registered and encoded like them.
func (c *Config) Entity(name string) (entities.Entity, error) {
	d, own := c.Entities[name]
	if !own || d == nil {
		if e, ok := entities.Lookup(name); ok {
			return e, nil
		}
		return entities.Entity{}, fmt.Errorf("unknown entity %q", name)
	}
	schema, err := c.entitySchema(name, d)
	if err != nil {
		return entities.Entity{}, err
	}
	e, err := entities.Parse(name, schema)
	if err != nil {
		return entities.Entity{}, fmt.Errorf("entities.%s: %w", name, err)
	}
	return e, nil
}

// ParentKey returns the fields of a declared child entity that hold its
// parent's natural key.
func (c *Config) parentKey(d *EntityDef) ([]string, error) {
	if d.Parent == "" {
		return nil, nil
	}
	if len(d.ParentKey) > 0 {
		return d.ParentKey, nil
	}
	parent, ok := c.Catalog()[d.Parent]
	if !ok {
		return nil, fmt.Errorf("unknown parent entity %q", d.Parent)
	}
	return parent.Key, nil
}

// entitySchema generates the .avsc of a declared entity: its key and
// parent-key fields are required, every other field is optional (a union
// with null, default null).
func (c *Config) entitySchema(name string, d *EntityDef) ([]byte, error) {
	aggregate, aggKey := name, d.Key
	if d.Parent != "" {
		pk, err := c.parentKey(d)
		if err != nil {
			return nil, err
		}
		aggregate, aggKey = d.Parent, pk
	}
	var fields []any
	for _, f := range sortedKeys(d.Fields) {
		fd := d.Fields[f]
		typ := avroType(fd)
		field := map[string]any{"name": f}
		if fd.Type == "decimal" {
			kind := fd.Kind
			if kind == "" {
				kind = entities.KindQuantity
			}
			field["tandem.kind"] = kind
		}
		if len(fd.Values) > 0 {
			field["tandem.values"] = fd.Values
		}
		if slices.Contains(d.Key, f) || slices.Contains(aggKey, f) {
			field["type"] = typ
		} else {
			field["type"] = []any{"null", typ}
			field["default"] = nil
		}
		fields = append(fields, field)
	}
	return json.Marshal(map[string]any{
		"type": "record", "name": name, "namespace": entities.Namespace,
		"doc":                  "An entity declared in the config (entities." + name + ").",
		"tandem.natural_key":   d.Key,
		"tandem.aggregate":     aggregate,
		"tandem.aggregate_key": aggKey,
		"tandem.references":    map[string]string{},
		"fields":               fields,
	})
}

// avroType is the Avro type of a declared field.
func avroType(fd FieldDef) any {
	switch fd.Type {
	case "decimal":
		precision, scale := fd.Precision, 8
		if precision == 0 {
			precision = 26
		}
		if fd.Scale != nil {
			scale = *fd.Scale
		}
		return map[string]any{"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale}
	case "timestamp":
		return map[string]any{"type": "long", "logicalType": "timestamp-micros"}
	case "date":
		return map[string]any{"type": "int", "logicalType": "date"}
	case "json":
		return "string"
	}
	return fd.Type
}
