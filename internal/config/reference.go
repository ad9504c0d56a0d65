package config

import (
	"fmt"
	"reflect"
	"strings"
)

// RefEntry is one key of the config reference.
type RefEntry struct {
	Key     string // dotted path; map keys appear as <name>
	Type    string
	Default string
	Doc     string
}

// Reference lists every key of the config struct v (a struct value holding
// the defaults), in field order, from the yaml and doc tags. elemDefault
// gives the default value of a map's element type, for keys under a map.
func Reference(v any, elemDefault func(reflect.Type) (reflect.Value, bool)) []RefEntry {
	var out []RefEntry
	refWalk(reflect.ValueOf(v), "", elemDefault, &out)
	return out
}

func refWalk(v reflect.Value, prefix string, elemDefault func(reflect.Type) (reflect.Value, bool), out *[]RefEntry) {
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		key := Join(prefix, name)
		fv := v.Field(i)
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Struct && ft != durationType:
			refWalk(fv, key, elemDefault, out)
			continue
		case ft.Kind() == reflect.Map && structElem(ft.Elem()):
			et := ft.Elem()
			*out = append(*out, RefEntry{Key: key, Type: "mapping of name to " + derefType(et).Name(), Doc: f.Tag.Get("doc")})
			ev, ok := elemDefault(et)
			if !ok {
				ev = reflect.New(derefType(et))
			}
			refWalk(ev, key+".<name>", elemDefault, out)
			continue
		case ft.Kind() == reflect.Slice && structElem(ft.Elem()):
			*out = append(*out, RefEntry{Key: key, Type: "list", Doc: f.Tag.Get("doc")})
			refWalk(reflect.New(derefType(ft.Elem())), key+"[]", elemDefault, out)
			continue
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct:
			refWalk(reflect.New(ft.Elem()), key, elemDefault, out)
			continue
		}
		e := RefEntry{Key: key, Type: typeName(ft), Doc: f.Tag.Get("doc")}
		if !fv.IsZero() {
			e.Default = fmt.Sprint(fv.Interface())
		}
		if ft == secretType {
			e.Doc = strings.TrimSpace(e.Doc + " Or " + name + "_file: a file holding it.")
		}
		*out = append(*out, e)
	}
}

func derefType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func structElem(t reflect.Type) bool {
	t = derefType(t)
	return t.Kind() == reflect.Struct && t != durationType
}

func typeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration"
	case t == secretType:
		return "secret"
	case t.Kind() == reflect.Slice:
		return "list of " + typeName(t.Elem())
	case t.Kind() == reflect.Map:
		return "mapping of name to " + typeName(t.Elem())
	case t.Kind() == reflect.Pointer:
		return typeName(t.Elem())
	case t.Kind() == reflect.Bool:
		return "bool"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "integer"
	}
	return "string"
}

// ReferenceMarkdown renders entries as a Markdown table.
func ReferenceMarkdown(entries []RefEntry) string {
	var b strings.Builder
	b.WriteString("| key | type | default | meaning |\n|---|---|---|---|\n")
	for _, e := range entries {
		def := ""
		if e.Default != "" {
			def = "`" + e.Default + "`"
		}
		doc := strings.NewReplacer("|", "\\|", "<", "\\<").Replace(e.Doc)
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", e.Key, e.Type, def, doc)
	}
	return b.String()
}
