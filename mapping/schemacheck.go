package mapping

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tandem-sync/tandem/internal/preflight"
)

// Columns returns the columns of a qualified table with their database
// types (information_schema data_type, lower case), or found=false when the
// table does not exist. cmd/ builds one per system from the live database.
type Columns func(table string) (cols map[string]string, found bool, err error)

// CheckSchema checks system sys's entity mappings against its live schema:
// every table and column exists, and every column's type fits its field
// (or a cast makes it fit). One result per entity mapping.
func (c *Config) CheckSchema(sys string, lookup Columns) []preflight.Result {
	s := c.Systems[sys]
	rec := &preflight.Recorder{Target: sys + " (" + s.Kind + ")"}
	cat := c.Catalog()
	for _, ent := range sortedKeys(s.Entities) {
		m, info := s.Entities[ent], cat[ent]
		if m == nil || info == nil {
			continue
		}
		check := "mapping " + ent
		var problems []string
		tables := map[string]map[string]string{}
		table := func(name string) map[string]string {
			if cols, ok := tables[name]; ok {
				return cols
			}
			cols, found, err := lookup(name)
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("cannot read table %s: %v", name, err))
			case !found:
				problems = append(problems, fmt.Sprintf("table %s does not exist", name))
			}
			tables[name] = cols
			return cols
		}
		column := func(tbl, col, what string) string {
			cols := table(tbl)
			if cols == nil || col == "" {
				return ""
			}
			typ, ok := cols[col]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: column %s.%s does not exist", what, tbl, col))
			}
			return typ
		}
		fields := func(tbl string, specs map[string]FieldSpec, meta bool) {
			for _, f := range sortedKeys(specs) {
				spec := specs[f]
				if meta || spec.Const != nil {
					continue
				}
				typ := column(tbl, spec.Column, "field "+f)
				if typ == "" {
					continue
				}
				if msg := typeFit(info.Fields[f], spec, typ); msg != "" {
					problems = append(problems, fmt.Sprintf("field %s: column %s.%s is %s; %s", f, tbl, spec.Column, typ, msg))
				}
			}
		}
		column(m.Table, m.ID, "id")
		for _, w := range sortedKeys(m.Where) {
			column(m.Table, w, "where")
		}
		if m.Parent != nil {
			column(m.Table, m.Parent.Column, "parent")
		}
		fields(m.Table, m.Fields, false)
		for _, mt := range m.Meta {
			column(mt.Table, mt.Owner, "meta owner")
			column(mt.Table, mt.Key, "meta key")
			column(mt.Table, mt.Value, "meta value")
		}
		for _, jt := range m.Joins {
			column(jt.Table, jt.Owner, "join owner")
			for _, w := range sortedKeys(jt.Where) {
				column(jt.Table, w, "join where")
			}
			fields(jt.Table, jt.Fields, false)
		}
		if len(problems) > 0 {
			sort.Strings(problems)
			rec.Fail(check, strings.Join(problems, "; "),
				"fix the table and column names under systems."+sys+".entities."+ent+", or add the cast the message names")
			continue
		}
		rec.Pass(check, fmt.Sprintf("%d table(s), every mapped column exists and fits", len(tables)))
	}
	return rec.Results
}

// typeFit says what is wrong with storing field f in a column of database
// type typ, or "" when it fits.
func typeFit(f FieldInfo, spec FieldSpec, typ string) string {
	want := f.Type
	if spec.Cast != "" || spec.Map != nil || spec.Ref != "" {
		return "" // converted explicitly
	}
	cat := typeCategory(typ)
	switch want {
	case "", "string", "record", "array":
		return ""
	case "decimal":
		switch cat {
		case "decimal", "int":
			return ""
		case "float":
			return "a float column holds money inexactly: cast: decimal reads it, but prefer a decimal column"
		}
	case "int", "long":
		if cat == "int" {
			return ""
		}
	case "boolean":
		if cat == "bool" || cat == "int" {
			return ""
		}
	case "timestamp":
		if cat == "timestamp" {
			return ""
		}
	case "date":
		if cat == "date" || cat == "timestamp" {
			return ""
		}
	case "json":
		if cat == "json" || cat == "text" {
			return ""
		}
	default:
		return ""
	}
	if spec.JSON != "" && cat == "json" {
		return ""
	}
	return fmt.Sprintf("field is %s: add cast: %s (or map the right column)", want, want)
}

func typeCategory(typ string) string {
	t := strings.ToLower(typ)
	switch {
	case strings.Contains(t, "json"):
		return "json"
	case strings.Contains(t, "int") || t == "serial" || t == "bigserial" || t == "year":
		return "int"
	case strings.Contains(t, "numeric") || strings.Contains(t, "decimal") || t == "money":
		return "decimal"
	case strings.Contains(t, "double") || strings.Contains(t, "real") || strings.Contains(t, "float"):
		return "float"
	case t == "boolean" || t == "bool" || t == "bit":
		return "bool"
	case strings.Contains(t, "timestamp") || t == "datetime":
		return "timestamp"
	case t == "date":
		return "date"
	}
	return "text"
}
