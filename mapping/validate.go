package mapping

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tandem-sync/tandem/internal/config"
)

// EntityInfo is what validation knows of an entity, built-in or declared.
type EntityInfo struct {
	Name   string
	Key    []string // natural key fields
	Parent string   // aggregate root of a child entity
	Fields map[string]FieldInfo
}

// FieldInfo is one field of an entity.
type FieldInfo struct {
	Type     string // string, int, long, decimal, boolean, timestamp, date, json, record, array
	Required bool
	Values   []string
	Fields   map[string]FieldInfo // a record's fields, or a list's item record's
}

// Builtins supplies the built-in commerce entities (schema/entities). It is
// a variable so that this package does not depend on how they are stored.
var Builtins = func() []EntityInfo { return nil }

var (
	fieldTypes = []string{"string", "int", "long", "decimal", "boolean", "timestamp", "date", "json"}
	castTypes  = fieldTypes
)

// Catalog returns every entity the config can use: the built-ins and the
// config's own, by name.
func (c *Config) Catalog() map[string]*EntityInfo {
	out := map[string]*EntityInfo{}
	for _, e := range Builtins() {
		e := e
		out[e.Name] = &e
	}
	for name, d := range c.Entities {
		if d == nil {
			continue
		}
		info := &EntityInfo{Name: name, Key: d.Key, Parent: d.Parent, Fields: map[string]FieldInfo{}}
		for f, fd := range d.Fields {
			info.Fields[f] = FieldInfo{Type: fd.Type, Required: fd.Required || contains(d.Key, f), Values: fd.Values}
		}
		out[name] = info
	}
	return out
}

// validateMappings reports every problem of the mapping language at once.
func (c *Config) validateMappings() config.Problems {
	var ps config.Problems
	cat := c.Catalog()
	builtin := map[string]bool{}
	for _, e := range Builtins() {
		builtin[e.Name] = true
	}
	for _, name := range sortedKeys(c.Entities) {
		c.validateEntityDef(&ps, name, c.Entities[name], cat, builtin[name])
	}
	for _, sys := range c.SystemNames() {
		s := c.Systems[sys]
		for _, ent := range sortedKeys(s.Entities) {
			path := "systems." + sys + ".entities." + ent
			info := cat[ent]
			if info == nil {
				ps.Add(path, unknownName("entity", ent, keysOf(cat)))
				continue
			}
			c.validateEntityMapping(&ps, path, sys, s, info, s.Entities[ent], cat)
		}
	}
	c.validateOwnership(&ps, cat)
	c.validateFlows(&ps, cat)
	return ps
}

func (c *Config) validateEntityDef(ps *config.Problems, name string, d *EntityDef, cat map[string]*EntityInfo, isBuiltin bool) {
	path := "entities." + name
	if d == nil {
		ps.Add(path, "is empty: give it key and fields")
		return
	}
	if isBuiltin {
		ps.Add(path, fmt.Sprintf("%q is a built-in entity; give yours another name", name))
	}
	if !systemNameRE.MatchString(name) {
		ps.Add(path, fmt.Sprintf("entity name %q must be lower-case letters, digits and _", name))
	}
	if len(d.Key) == 0 {
		ps.Add(path+".key", "required: the fields that identify the entity in every system")
	}
	for i, k := range d.Key {
		if _, ok := d.Fields[k]; !ok {
			ps.Add(fmt.Sprintf("%s.key[%d]", path, i), fmt.Sprintf("key field %q is not among the fields", k))
		}
	}
	if d.Parent != "" && cat[d.Parent] == nil {
		ps.Add(path+".parent", unknownName("entity", d.Parent, keysOf(cat)))
	}
	for _, f := range sortedKeys(d.Fields) {
		fd := d.Fields[f]
		if msg, ok := config.OneOf(fd.Type, fieldTypes...); !ok {
			ps.Add(path+".fields."+f+".type", msg)
		}
		fp := path + ".fields." + f
		switch {
		case fd.Type != "decimal" && (fd.Scale != nil || fd.Precision != 0 || fd.Kind != ""):
			ps.Add(fp, "precision, scale and kind apply to decimal fields only")
		case fd.Type == "decimal":
			precision, scale := fd.Precision, 8
			if precision == 0 {
				precision = 26
			}
			if fd.Scale != nil {
				scale = *fd.Scale
			}
			if precision < 1 || scale < 0 || scale > precision {
				ps.Add(fp, fmt.Sprintf("decimal(%d,%d) is not a valid decimal: 0 <= scale <= precision", precision, scale))
			}
			if fd.Kind != "" {
				if msg, ok := config.OneOf(fd.Kind, "money", "quantity", "weight", "percent"); !ok {
					ps.Add(fp+".kind", msg)
				}
			}
		}
		if len(fd.Values) > 0 && fd.Type != "string" {
			ps.Add(fp+".values", "values apply to string fields only")
		}
	}
	c.validateParentKey(ps, path, d, cat)
}

// validateParentKey checks that a child entity's parent-key fields exist
// and match its parent's natural key.
func (c *Config) validateParentKey(ps *config.Problems, path string, d *EntityDef, cat map[string]*EntityInfo) {
	if d.Parent == "" {
		if len(d.ParentKey) > 0 {
			ps.Add(path+".parent_key", "applies to child entities only: set parent too")
		}
		return
	}
	parent := cat[d.Parent]
	if parent == nil {
		return // reported with parent
	}
	pk, _ := c.parentKey(d)
	if len(pk) != len(parent.Key) {
		ps.Add(path+".parent_key", fmt.Sprintf("%s has %d key field(s) (%s); give one field of this entity for each",
			d.Parent, len(parent.Key), strings.Join(parent.Key, ", ")))
		return
	}
	for i, f := range pk {
		fd, ok := d.Fields[f]
		if !ok {
			ps.Add(path+".parent_key", fmt.Sprintf("field %q, which holds %s.%s, is not among the fields; declare it or name another with parent_key",
				f, d.Parent, parent.Key[i]))
			continue
		}
		if want := parent.Fields[parent.Key[i]].Type; want != "" && fd.Type != want {
			ps.Add(path+".fields."+f+".type", fmt.Sprintf("%s holds %s.%s, which is %s, not %s", f, d.Parent, parent.Key[i], want, fd.Type))
		}
	}
}

// mapped is one entity field mapped somewhere in a system's entity mapping.
type mapped struct {
	path string
	spec FieldSpec
	meta bool // from a meta table: the stored value is text
}

func (c *Config) validateEntityMapping(ps *config.Problems, path, sys string, s *System, info *EntityInfo, m *EntityMapping, cat map[string]*EntityInfo) {
	if m == nil {
		ps.Add(path, "is empty: give it table, id and fields")
		return
	}
	if m.Table == "" {
		ps.Add(path+".table", "required: the root table, "+qualifiedHint(s.Kind))
	} else if !strings.Contains(m.Table, ".") {
		ps.Add(path+".table", fmt.Sprintf("%q must be qualified, as %s", m.Table, qualifiedHint(s.Kind)))
	}
	if m.ID == "" {
		ps.Add(path+".id", "required: the column that identifies a row of "+m.Table)
	}
	for i, f := range m.Match {
		if _, ok := info.Fields[f]; !ok {
			ps.Add(fmt.Sprintf("%s.match[%d]", path, i), unknownName("field of "+info.Name, f, keysOf(info.Fields)))
		} else if !m.maps(f) {
			ps.Add(fmt.Sprintf("%s.match[%d]", path, i), fmt.Sprintf("field %s is not mapped here, so it cannot find rows", f))
		}
	}
	switch {
	case m.Delete == "" || m.Delete == "hard" || m.Delete == "none":
	case strings.HasPrefix(m.Delete, "soft:") && strings.Contains(m.Delete, "="):
	default:
		ps.Add(path+".delete", fmt.Sprintf("%q is not hard, none or soft:<column>=<value>", m.Delete))
	}
	all := map[string]mapped{}
	add := func(p string, field string, spec FieldSpec, meta bool) {
		fp := p + "." + field
		fi, ok := info.Fields[field]
		if !ok {
			ps.Add(fp, unknownName("field of "+info.Name, field, keysOf(info.Fields)))
			return
		}
		if prev, dup := all[field]; dup {
			ps.Add(fp, fmt.Sprintf("field %q is mapped twice (also at %s)", field, prev.path))
			return
		}
		all[field] = mapped{path: fp, spec: spec, meta: meta}
		validateFieldSpec(ps, fp, info.Name, field, fi, spec, meta, sys, c, cat)
	}
	for _, f := range sortedKeys(m.Fields) {
		add(path+".fields", f, m.Fields[f], false)
	}
	for i, mt := range m.Meta {
		mp := fmt.Sprintf("%s.meta[%d]", path, i)
		for _, col := range []struct{ name, val string }{{"table", mt.Table}, {"owner", mt.Owner}, {"key", mt.Key}, {"value", mt.Value}} {
			if col.val == "" {
				ps.Add(mp+"."+col.name, "required for a meta table")
			}
		}
		for _, f := range sortedKeys(mt.Fields) {
			add(mp+".fields", f, mt.Fields[f], true)
		}
	}
	for i, jt := range m.Joins {
		jp := fmt.Sprintf("%s.joins[%d]", path, i)
		if jt.Table == "" {
			ps.Add(jp+".table", "required for a joined table")
		}
		if jt.Owner == "" {
			ps.Add(jp+".owner", "required: the column holding the root row's id")
		}
		if jt.Shared && jt.Via == "" {
			ps.Add(jp+".shared", "applies to a table the root refers to: set via too")
		}
		if jt.Into == "" {
			for _, f := range sortedKeys(jt.Fields) {
				add(jp+".fields", f, jt.Fields[f], false)
			}
			continue
		}
		nested, ok := info.Fields[jt.Into]
		switch {
		case !ok:
			ps.Add(jp+".into", unknownName("field of "+info.Name, jt.Into, keysOf(info.Fields)))
			continue
		case nested.Type != "record" && nested.Type != "array":
			ps.Add(jp+".into", fmt.Sprintf("field %s of %s is %s, not a record or a list", jt.Into, info.Name, nested.Type))
			continue
		}
		if prev, dup := all[jt.Into]; dup {
			ps.Add(jp+".into", fmt.Sprintf("field %q is mapped twice (also at %s)", jt.Into, prev.path))
			continue
		}
		all[jt.Into] = mapped{path: jp + ".into"}
		for _, f := range sortedKeys(jt.Fields) {
			fi, ok := nested.Fields[f]
			if !ok {
				ps.Add(jp+".fields."+f, unknownName("field of "+jt.Into, f, keysOf(nested.Fields)))
				continue
			}
			validateFieldSpec(ps, jp+".fields."+f, info.Name, jt.Into, fi, jt.Fields[f], false, sys, c, cat)
		}
	}
	for _, k := range info.Key {
		if _, ok := all[k]; !ok && !(info.Parent != "" && m.Parent != nil) {
			ps.Add(path, fmt.Sprintf("the natural key field %q of %s is not mapped: every system must map it to match entities", k, info.Name))
		}
	}
	if m.Parent != nil {
		switch {
		case info.Parent == "":
			ps.Add(path+".parent", fmt.Sprintf("%s is not a child entity: it has no parent", info.Name))
		case m.Parent.Entity != info.Parent:
			ps.Add(path+".parent.entity", fmt.Sprintf("the parent of %s is %s, not %q", info.Name, info.Parent, m.Parent.Entity))
		case s.Entities[info.Parent] == nil:
			ps.Add(path+".parent", fmt.Sprintf("system %s does not map the parent entity %s", sys, info.Parent))
		}
		if m.Parent.Column == "" {
			ps.Add(path+".parent.column", "required: the column holding the parent's local id")
		}
	}
}

func validateFieldSpec(ps *config.Problems, fp, ent, field string, fi FieldInfo, spec FieldSpec, meta bool, sys string, c *Config, cat map[string]*EntityInfo) {
	sources := 0
	for _, set := range []bool{spec.Column != "", spec.Key != "", spec.Const != nil} {
		if set {
			sources++
		}
	}
	if meta && spec.Column != "" && spec.Key == "" {
		spec.Key, spec.Column = spec.Column, "" // short form in a meta table names the key
	}
	switch {
	case sources == 0:
		ps.Add(fp, "give a column (or, in a meta table, a key) or a const")
	case sources > 1:
		ps.Add(fp, "give only one of column, key and const")
	case meta && spec.Column != "":
		ps.Add(fp, "a meta table field names a key, not a column")
	case !meta && spec.Key != "":
		ps.Add(fp, "key applies to meta tables; use column")
	}
	if spec.Cast != "" {
		if msg, ok := config.OneOf(spec.Cast, castTypes...); !ok {
			ps.Add(fp+".cast", msg)
		} else if contains(fieldTypes, fi.Type) && spec.Cast != fi.Type && !(fi.Type == "long" && spec.Cast == "int") {
			ps.Add(fp+".cast", fmt.Sprintf("casts to %s but field %s is %s", spec.Cast, field, fi.Type))
		}
	}
	// A meta value is text: a field of another type needs a cast.
	if meta && spec.Const == nil && spec.Cast == "" && spec.Map == nil && spec.Ref == "" && fi.Type != "string" && contains(fieldTypes, fi.Type) {
		ps.Add(fp, fmt.Sprintf("meta values are text but field %s is %s: add cast: %s", field, fi.Type, fi.Type))
	}
	if spec.Map != nil {
		if len(fi.Values) > 0 {
			allowed := map[string]bool{}
			for _, v := range fi.Values {
				allowed[v] = true
			}
			for _, stored := range sortedKeys(spec.Map) {
				if v := spec.Map[stored]; !allowed[v] {
					ps.Add(fp+".map."+stored, fmt.Sprintf("%q is not a value of %s (values: %s)", v, field, strings.Join(fi.Values, ", ")))
				}
			}
		}
		// Several stored values may read as one canonical value, unless the
		// field is written to this system: then the way back is ambiguous.
		seen := map[string]string{}
		for _, stored := range sortedKeys(spec.Map) {
			v := spec.Map[stored]
			if other, dup := seen[v]; dup && c.writes(sys, ent, field) {
				ps.Add(fp+".map."+stored, fmt.Sprintf("%q and %q both map to %q, so writing %q back is ambiguous", other, stored, v, v))
			}
			seen[v] = stored
		}
	}
	if spec.JSON != "" && spec.Column == "" {
		ps.Add(fp+".json", "a JSON path needs a column")
	}
	if spec.Timezone != "" {
		if _, err := time.LoadLocation(spec.Timezone); err != nil {
			ps.Add(fp+".timezone", fmt.Sprintf("%q is not a time zone (e.g. UTC, Europe/Berlin)", spec.Timezone))
		}
	}
	if spec.Ref != "" {
		switch {
		case cat[spec.Ref] == nil:
			ps.Add(fp+".ref", unknownName("entity", spec.Ref, keysOf(cat)))
		case c.Systems[sys].Entities[spec.Ref] == nil:
			ps.Add(fp+".ref", fmt.Sprintf("system %s does not map %s, so its local ids cannot be resolved", sys, spec.Ref))
		}
	}
}

func (c *Config) validateOwnership(ps *config.Problems, cat map[string]*EntityInfo) {
	for _, ent := range sortedKeys(c.Ownership) {
		path := "ownership." + ent
		o := c.Ownership[ent]
		info := cat[ent]
		if info == nil {
			ps.Add(path, unknownName("entity", ent, keysOf(cat)))
			continue
		}
		if o == nil || o.Owner == "" {
			ps.Add(path+".owner", "required: the system that owns the entity's fields")
			continue
		}
		c.checkMaps(ps, path+".owner", o.Owner, ent)
		for _, f := range sortedKeys(o.Fields) {
			if _, ok := info.Fields[f]; !ok {
				ps.Add(path+".fields."+f, unknownName("field of "+ent, f, keysOf(info.Fields)))
				continue
			}
			c.checkMaps(ps, path+".fields."+f, o.Fields[f], ent)
		}
		for i, f := range o.Both {
			if _, ok := info.Fields[f]; !ok {
				ps.Add(fmt.Sprintf("%s.both[%d]", path, i), unknownName("field of "+ent, f, keysOf(info.Fields)))
			}
		}
	}
}

// checkMaps reports a system that does not exist or does not map ent.
func (c *Config) checkMaps(ps *config.Problems, path, sys, ent string) {
	s, ok := c.Systems[sys]
	switch {
	case !ok:
		ps.Add(path, unknownName("system", sys, keysOf(c.Systems)))
	case s.Entities[ent] == nil:
		ps.Add(path, fmt.Sprintf("system %s does not map %s (add systems.%s.entities.%s)", sys, ent, sys, ent))
	}
}

// Owner returns the system that owns field of entity (its fields: entry, or
// the entity's owner), and whether both sides may change it (last writer
// wins).
func (c *Config) Owner(entity, field string) (string, bool) {
	o := c.Ownership[entity]
	if o == nil {
		return "", false
	}
	owner := o.Owner
	if s, ok := o.Fields[field]; ok {
		owner = s
	}
	return owner, contains(o.Both, field)
}

func (c *Config) validateFlows(ps *config.Problems, cat map[string]*EntityInfo) {
	for i, f := range c.Flows {
		path := fmt.Sprintf("flows[%d]", i)
		info := cat[f.Entity]
		if info == nil {
			ps.Add(path+".entity", unknownName("entity", f.Entity, keysOf(cat)))
			continue
		}
		c.checkMaps(ps, path+".from", f.From, f.Entity)
		c.checkMaps(ps, path+".to", f.To, f.Entity)
		if f.From == f.To {
			ps.Add(path, fmt.Sprintf("from and to are both %s", f.From))
		}
		if _, ok := c.Ownership[f.Entity]; !ok {
			ps.Add(path, fmt.Sprintf("no ownership for %s: say which system owns its fields (ownership.%s.owner)", f.Entity, f.Entity))
			continue
		}
		fields := f.Fields
		if len(fields) == 0 {
			for name := range info.Fields {
				if owner, both := c.Owner(f.Entity, name); owner == f.From || both {
					fields = append(fields, name)
				}
			}
			sort.Strings(fields)
			if len(fields) == 0 {
				ps.Add(path, fmt.Sprintf("%s owns no field of %s, so nothing would flow", f.From, f.Entity))
			}
		}
		for j, name := range f.Fields {
			fp := fmt.Sprintf("%s.fields[%d]", path, j)
			if _, ok := info.Fields[name]; !ok {
				ps.Add(fp, unknownName("field of "+f.Entity, name, keysOf(info.Fields)))
				continue
			}
			if owner, both := c.Owner(f.Entity, name); owner != f.From && !both {
				ps.Add(fp, fmt.Sprintf("field %s of %s is owned by %s, so it cannot flow from %s", name, f.Entity, owner, f.From))
			}
		}
		// The target must be able to identify and create the entity: every
		// required field must be mapped on both sides.
		for _, name := range sortedKeys(info.Fields) {
			if !info.Fields[name].Required {
				continue
			}
			for _, side := range []string{f.From, f.To} {
				s := c.Systems[side]
				if s == nil || s.Entities[f.Entity] == nil {
					continue
				}
				if !s.Entities[f.Entity].maps(name) && !(info.Parent != "" && s.Entities[f.Entity].Parent != nil) {
					ps.Add(path, fmt.Sprintf("required field %s of %s is not mapped in system %s", name, f.Entity, side))
				}
			}
		}
	}
}

// writes reports whether some flow applies field of ent to system sys. A
// nested field (a joined record's) counts as its record field.
func (c *Config) writes(sys, ent, field string) bool {
	for _, f := range c.Flows {
		if f.To != sys || f.Entity != ent {
			continue
		}
		if len(f.Fields) > 0 {
			if contains(f.Fields, field) {
				return true
			}
			continue
		}
		if owner, both := c.Owner(ent, field); owner == f.From || both || owner == "" {
			return true
		}
	}
	return false
}

// maps reports whether the mapping maps field anywhere.
func (m *EntityMapping) maps(field string) bool {
	if _, ok := m.Fields[field]; ok {
		return true
	}
	for _, mt := range m.Meta {
		if _, ok := mt.Fields[field]; ok {
			return true
		}
	}
	for _, jt := range m.Joins {
		if _, ok := jt.Fields[field]; ok && jt.Into == "" {
			return true
		}
		if jt.Into == field {
			return true
		}
	}
	return false
}

func unknownName(what, name string, known []string) string {
	if best := config.Suggest(name, known); best != "" {
		return fmt.Sprintf("unknown %s %q (did you mean %q?)", what, name, best)
	}
	sort.Strings(known)
	if len(known) > 12 {
		known = append(known[:12], "...")
	}
	return fmt.Sprintf("unknown %s %q; known: %s", what, name, strings.Join(known, ", "))
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func keysOf[V any](m map[string]V) []string { return sortedKeys(m) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func qualifiedHint(kind string) string {
	if kind == KindPostgres {
		return "schema.table, e.g. public.sale_order"
	}
	return "database.table, e.g. shop.wp_posts"
}

// FlowFields returns the fields of entity that flow from one system to
// another: the flow's fields, or every field the from-system owns or shares;
// nil when no flow sends entity from from to to. Several flows of the same
// direction add up.
func (c *Config) FlowFields(entity, from, to string) []string {
	info := c.Catalog()[entity]
	if info == nil {
		return nil
	}
	set := map[string]bool{}
	for _, f := range c.Flows {
		if f.Entity != entity || f.From != from || f.To != to {
			continue
		}
		if len(f.Fields) > 0 {
			for _, name := range f.Fields {
				set[name] = true
			}
			continue
		}
		for name := range info.Fields {
			if owner, both := c.Owner(entity, name); owner == from || both {
				set[name] = true
			}
		}
	}
	if len(set) == 0 {
		return nil
	}
	return sortedKeys(set)
}

// ClocklessBoth returns, per entity with fields both systems may change
// (ownership both), the systems that map the entity without an updated_at
// field. Last writer wins compares the event's updated_at with the target
// row's: without one on the target the event always wins, so two changes
// at once can end swapped on the two sides.
func (c *Config) ClocklessBoth() map[string][]string {
	out := map[string][]string{}
	for _, ent := range sortedKeys(c.Ownership) {
		if o := c.Ownership[ent]; o == nil || len(o.Both) == 0 {
			continue
		}
		for _, sys := range c.SystemNames() {
			if m := c.Systems[sys].Entities[ent]; m != nil && !m.maps("updated_at") {
				out[ent] = append(out[ent], sys)
			}
		}
	}
	return out
}
