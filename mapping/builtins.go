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
			info.Fields[f.Name] = fieldInfo(f)
		}
		out = append(out, info)
	}
	return out
}

func fieldInfo(f entities.Field) FieldInfo {
	fi := FieldInfo{Type: f.Type, Required: f.Required, Values: f.Values}
	if len(f.Fields) > 0 {
		fi.Fields = map[string]FieldInfo{}
		for _, sub := range f.Fields {
			fi.Fields[sub.Name] = fieldInfo(sub)
		}
	}
	return fi
}
