package mapping

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tandem-sync/tandem/capture"
)

// TableSource is a RowSource that also reads whole tables: what Instances
// reads a system's entities through (the RowSources of capture/postgres
// and capture/mysql).
type TableSource interface {
	RowSource
	// Scan calls fn with the shape of table and each of its rows, in
	// primary key order, decoded as the capture decodes them, a chunk of
	// rows per query; fn must not keep the row.
	Scan(ctx context.Context, table string, fn func(*capture.Table, capture.Row) error) error
}

// InstanceSet is every instance of one entity in one system, with the
// values the capture would publish for it.
type InstanceSet struct {
	System, Entity string
	Key            []string // the natural key fields, in order
	// ByKey holds the values of each instance by its natural key (KeyText
	// of Key): every mapped field, ref fields resolved to the referenced
	// instance's natural key, a child's aggregate key taken from its
	// parent. A field whose meta or joined row is missing is absent.
	ByKey map[string]map[string]any
	// Skipped counts what was left out, by reason: rows without a natural
	// key, references that cannot be found (the field is null), natural
	// keys held by more than one row (the first in key order is kept),
	// stored values a field spec cannot convert (the field is absent).
	Skipped map[string]int
}

// instanceBatch is how many root rows Instances resolves at once: the
// lookups of their meta, joined, parent and referenced rows run per batch.
const instanceBatch = 1000

// Instances reads every instance of entity in system sys through src, as
// the capture's snapshot would publish them: the root table in primary key
// order (in chunks, see TableSource.Scan), the root rows its where filter
// keeps, their meta and joined rows, via-joined rows, parents and
// references looked up per batch of instanceBatch root rows, with the
// capture's Assembler and Resolver.
//
// Memory: one ByKey entry per instance (its values) stays for the whole
// call, beside one chunk of root rows and the Resolver's identity cache
// (the system's capture.key_cache). The instances are not one consistent
// snapshot: each chunk and lookup reads the rows as they are then.
func Instances(ctx context.Context, cfg *Config, sys, entity string, src TableSource) (*InstanceSet, error) {
	s := cfg.Systems[sys]
	if s == nil {
		return nil, fmt.Errorf("no system %q", sys)
	}
	m, info := s.Entities[entity], cfg.Catalog()[entity]
	if m == nil || info == nil {
		return nil, fmt.Errorf("system %s does not map entity %s", sys, entity)
	}
	a, err := newAssembler(cfg, sys, entity)
	if err != nil {
		return nil, err
	}
	r, err := NewResolver(cfg, sys, src, s.Capture.KeyCache)
	if err != nil {
		return nil, err
	}
	set := &InstanceSet{System: sys, Entity: entity, Key: info.Key, ByKey: map[string]map[string]any{}, Skipped: map[string]int{}}
	r.Unresolved = func(_, reason string) { set.Skipped[reason]++ }
	r.Bad = set.bad
	b := &instanceReader{set: set, m: m, a: a, r: r, src: src}
	err = src.Scan(ctx, m.Table, func(t *capture.Table, row capture.Row) error {
		if b.table != nil && b.table != t {
			if err := b.flush(ctx); err != nil {
				return err
			}
		}
		b.table = t
		b.rows = append(b.rows, slices.Clone(row))
		if len(b.rows) < instanceBatch {
			return nil
		}
		return b.flush(ctx)
	})
	if err == nil {
		err = b.flush(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("read the %s instances of %s: %w", entity, sys, err)
	}
	return set, nil
}

// instanceReader resolves the root rows of Instances in batches.
type instanceReader struct {
	set   *InstanceSet
	m     *EntityMapping
	a     *Assembler
	r     *Resolver
	src   RowSource
	table *capture.Table // the root table's shape
	rows  []capture.Row  // the batch's root rows
}

// flush assembles and resolves the batch of root rows, with their meta
// and joined rows, into the set.
func (b *instanceReader) flush(ctx context.Context) error {
	if len(b.rows) == 0 {
		return nil
	}
	var ids []string
	for _, row := range b.rows {
		c := &capture.Change{Op: capture.OpRead, Table: b.table, After: row}
		if err := b.set.add(b.a, c); err != nil {
			b.a.Flush()
			return err
		}
		if idv, get := rowValue(c, b.m.ID); idv != nil && matches(b.m.Where, get) {
			ids = append(ids, text(idv))
		}
	}
	b.rows = b.rows[:0]
	for _, l := range instanceTables(b.m)[1:] {
		bad, err := feedRows(ctx, b.src, b.a, l.table, l.column, ids)
		for _, bv := range bad {
			b.set.bad(bv)
		}
		if err != nil {
			b.a.Flush()
			return err
		}
	}
	res, err := b.r.Resolve(ctx, b.a.Flush())
	if err != nil {
		return err
	}
	for _, x := range res {
		k := KeyText(b.set.Key, x.Values)
		if _, dup := b.set.ByKey[k]; dup {
			b.set.Skipped["natural key held by more than one row (the first in key order is compared)"]++
			continue
		}
		b.set.ByKey[k] = x.Values
	}
	return nil
}

// add folds a root row into a, counting the values it cannot convert.
func (set *InstanceSet) add(a *Assembler, c *capture.Change) error {
	err := a.Add(c)
	var bad BadValues
	if errors.As(err, &bad) {
		for _, bv := range bad {
			set.bad(bv)
		}
		return nil
	}
	return err
}

// bad counts a stored value that a field spec cannot convert.
func (set *InstanceSet) bad(bv *BadValue) {
	field := "?"
	var ve *ValueError
	if errors.As(bv.Err, &ve) {
		field = ve.Field
	}
	set.Skipped[fmt.Sprintf("field %s: a stored value in %s cannot be converted (left out)", field, bv.Table)]++
}

// rowValue returns the value of column col of the change's row, and a
// lookup of the row's columns.
func rowValue(c *capture.Change, col string) (any, func(string) (any, bool)) {
	_, get := row(c)
	v, _ := get(col)
	return v, get
}

// instanceTable is a table whose rows make up instances of an entity,
// and its column holding the instance's local id.
type instanceTable struct{ table, column string }

// instanceTables are the tables an instance of m is read from, by local
// id: the root table by its id, then the meta and plainly joined tables by
// their owner column. Via-joined rows are found from the root's via
// column (Resolver.fillVia).
func instanceTables(m *EntityMapping) []instanceTable {
	out := []instanceTable{{m.Table, m.ID}}
	for _, mt := range m.Meta {
		out = append(out, instanceTable{mt.Table, mt.Owner})
	}
	for _, jt := range m.Joins {
		if jt.Via == "" {
			out = append(out, instanceTable{jt.Table, jt.Owner})
		}
	}
	return out
}

// feedRows reads the rows of table whose column holds one of ids and adds
// them to a as snapshot reads. It returns the values a field spec could
// not convert (left out of the deltas); any other error means the rows
// were not all added.
func feedRows(ctx context.Context, src RowSource, a *Assembler, table, column string, ids []string) (BadValues, error) {
	t, rows, err := src.Rows(ctx, table, column, ids)
	if err != nil {
		return nil, fmt.Errorf("look up %s by %s: %w", table, column, err)
	}
	var bad BadValues
	for _, row := range rows {
		err := a.Add(&capture.Change{Op: capture.OpRead, Table: t, After: row})
		var bv BadValues
		if errors.As(err, &bv) {
			bad = append(bad, bv...)
		} else if err != nil {
			return bad, err
		}
	}
	return bad, nil
}

// KeyText is the text of an instance's natural key: field=value for each
// of key, separated by commas, a value quoted when it is empty or holds a
// comma, an equals sign, a quote or a space. Equal canonical keys have
// equal texts (19.9 and 19.90 both print 19.9).
func KeyText(key []string, values map[string]any) string {
	parts := make([]string, len(key))
	for i, f := range key {
		v := text(values[f])
		if v == "" || strings.ContainsAny(v, `,=" `) {
			v = strconv.Quote(v)
		}
		parts[i] = f + "=" + v
	}
	return strings.Join(parts, ",")
}

// ValueText prints a canonical value for people: null, a quoted string,
// a decimal exactly without trailing zeros, a timestamp in UTC, a record
// as {field=value, ...} with its fields sorted, a list as [a, b].
func ValueText(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(x)
	case map[string]any:
		parts := make([]string, 0, len(x))
		for _, f := range sortedKeys(x) {
			parts = append(parts, f+"="+ValueText(x[f]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = ValueText(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return text(v)
}

// ComparableFields returns the fields of entity that flow from one
// system to another (FlowFields) and that both systems map, less those
// the to-system holds as a constant: the fields whose values the sync
// keeps equal. A child's aggregate key, taken from its parent, is part of
// its natural key rather than a field here. updated_at is left out when
// the entity also flows back (to -> from): each system's own changes move
// its clock, and the sink never moves a clock back, so the two differ by
// design.
func (c *Config) ComparableFields(entity, from, to string) []string {
	fs, ts := c.Systems[from], c.Systems[to]
	if fs == nil || ts == nil || fs.Entities[entity] == nil || ts.Entities[entity] == nil {
		return nil
	}
	fm, tm := fs.Entities[entity], ts.Entities[entity]
	var out []string
	for _, f := range c.FlowFields(entity, from, to) {
		if !fm.maps(f) || !tm.maps(f) {
			continue
		}
		if spec, ok := findSpec(tm, f); ok && spec.Const != nil {
			continue
		}
		if f == "updated_at" && slices.ContainsFunc(c.Flows, func(fl Flow) bool { return fl.Entity == entity && fl.From == to && fl.To == from }) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// ComparableSubfields returns, for a record field that both systems fill
// from joined rows (into:), the record's fields both map: the ones whose
// values the sync keeps equal (Odoo's address partner has no first name,
// and its country is an id). Nil means the whole record counts.
func (c *Config) ComparableSubfields(entity, from, to, field string) []string {
	fs, ts := c.Systems[from], c.Systems[to]
	if fs == nil || ts == nil || fs.Entities[entity] == nil || ts.Entities[entity] == nil {
		return nil
	}
	into := func(m *EntityMapping) *JoinTable {
		for i := range m.Joins {
			if m.Joins[i].Into == field {
				return &m.Joins[i]
			}
		}
		return nil
	}
	fj, tj := into(fs.Entities[entity]), into(ts.Entities[entity])
	if fj == nil || tj == nil {
		return nil
	}
	out := []string{}
	for _, f := range sortedKeys(fj.Fields) {
		if _, ok := tj.Fields[f]; ok {
			out = append(out, f)
		}
	}
	return out
}
