package mapping

import "github.com/tandem-sync/tandem/schema/entities"

func init() {
	Builtins = builtinEntities
}

// builtinEntities describes the canonical commerce entities of
// schema/entities for validation.
func builtinEntities() []EntityInfo {
	var out []EntityInfo
	for _, e := range entities.Builtin() {
		info := EntityInfo{Name: e.Name, Key: e.NaturalKey, Fields: map[string]FieldInfo{}}
		if e.Aggregate != "" && e.Aggregate != e.Name {
			info.Parent = e.Aggregate
		}
		for _, f := range e.Fields {
			info.Fields[f.Name] = FieldInfo{Type: f.Type, Required: f.Required, Values: f.Values}
		}
		out = append(out, info)
	}
	return out
}
