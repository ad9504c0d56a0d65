package mapping

import (
	"context"
	"fmt"
	"slices"
	"strings"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/tandem-sync/tandem/capture"
)

// RowSource reads a system's current rows by column value, decoded as the
// capture decodes them (capture/postgres and capture/mysql provide one).
// The resolver uses it for what a change does not carry: the natural key
// of an instance whose key lives in a row the transaction did not touch,
// a child's parent, a referenced instance, and via-joined rows.
type RowSource interface {
	Rows(ctx context.Context, table, column string, values []string) (*capture.Table, []capture.Row, error)
}

// ReasonNoKey is the Unresolved reason of a row that has none of its
// entity's natural key fields: usually not an instance at all (an order
// with no shipment meta is no shipment), sometimes one that cannot be
// matched (a product without a SKU).
const ReasonNoKey = "no natural key"

// DefaultKeyCache is how many instance identities a Resolver remembers
// when NewResolver is given no size.
const DefaultKeyCache = 100_000

// Resolved is a delta ready to publish: its natural key (and, for a child,
// the aggregate key) resolved, and ref fields turned from local ids into
// the referenced entities' natural keys.
type Resolved struct {
	Delta   *Delta
	Values  map[string]any // the natural key, the aggregate key and the changed fields
	Changed []string       // the fields the change set, sorted
}

// Resolver turns an Assembler's deltas into publishable entity changes. It
// remembers the identity (natural key, parent) of the instances it has
// seen, in an LRU cache, and looks up the rest on the source database in
// one query per table and batch. It is not safe for concurrent use.
type Resolver struct {
	sys     *System
	src     RowSource
	cat     map[string]*EntityInfo
	loaders map[string]*Assembler // per entity: assembles looked-up rows
	aggKeys map[string][]string   // per child entity: the fields holding its parent's key
	// idFields are, per entity, the fields every event carries: the
	// natural key, and the fields any system's mapping finds rows by
	// (match:), so that a sink can find its row from any update.
	idFields map[string][]string
	ids      *lru.Cache[deltaKey, identity]

	// Unresolved counts deltas dropped because their instance could not
	// be identified (a delete of an instance never seen, whose key the
	// deleted row does not carry), for the caller's metrics.
	Unresolved func(entity, reason string)
	// Bad receives the values of looked-up rows (via joins) that a field
	// spec cannot convert; the field is left out.
	Bad func(*BadValue)
}

// identity is what identifies an instance: its natural key and, for a
// child, its parent's local id. absent marks a local id that is not an
// instance of the entity (no root row, or one the where filter excludes).
type identity struct {
	key    keyVals
	parent string
	absent bool
}

// keyVals holds an identity's few key and match fields as a slice, not a
// map: an identity is a key_cache entry, and a map of one or two fields
// takes several times the memory (585 bytes an entry with a map).
type keyVals []keyVal

type keyVal struct {
	field string
	value any
}

func (k keyVals) get(field string) (any, bool) {
	for _, kv := range k {
		if kv.field == field {
			return kv.value, true
		}
	}
	return nil, false
}

func (k *keyVals) set(field string, v any) {
	for i := range *k {
		if (*k)[i].field == field {
			(*k)[i].value = v
			return
		}
	}
	*k = append(*k, keyVal{field, v})
}

// NewResolver builds the resolver of system sys, reading rows through src.
// size bounds the identities it remembers (0: DefaultKeyCache).
func NewResolver(cfg *Config, sys string, src RowSource, size int) (*Resolver, error) {
	s := cfg.Systems[sys]
	if s == nil {
		return nil, fmt.Errorf("no system %q", sys)
	}
	if size <= 0 {
		size = DefaultKeyCache
	}
	ids, err := lru.New[deltaKey, identity](size)
	if err != nil {
		return nil, err
	}
	r := &Resolver{sys: s, src: src, cat: cfg.Catalog(), loaders: map[string]*Assembler{},
		aggKeys: map[string][]string{}, ids: ids, Unresolved: func(string, string) {}, Bad: func(*BadValue) {}}
	r.idFields = map[string][]string{}
	for ent, m := range s.Entities {
		if r.loaders[ent], err = newAssembler(cfg, sys, ent); err != nil {
			return nil, err
		}
		fields := slices.Clone(r.cat[ent].Key)
		for _, other := range cfg.Systems {
			if om := other.Entities[ent]; om != nil {
				for _, f := range om.Match {
					if _, mapped := findSpec(m, f); mapped && !slices.Contains(fields, f) {
						fields = append(fields, f)
					}
				}
			}
		}
		r.idFields[ent] = fields
		if m.Parent != nil {
			e, err := cfg.Entity(ent)
			if err != nil {
				return nil, err
			}
			r.aggKeys[ent] = e.AggregateKey
		}
	}
	return r, nil
}

// Resolve turns one transaction's deltas into resolved changes, in order.
// A delta of a local id that is not an instance of its entity (meta rows
// of a post that is not a product) is dropped, as is an update that set no
// field. Errors are lookups that failed, or values a field spec cannot
// convert (*ValueError).
func (r *Resolver) Resolve(ctx context.Context, deltas []*Delta) ([]Resolved, error) {
	deltas, err := r.expandVia(ctx, deltas)
	if err != nil {
		return nil, err
	}
	if err := r.fillVia(ctx, deltas); err != nil {
		return nil, err
	}
	// Remember what the deltas themselves say, then look up the rest.
	for _, d := range deltas {
		r.learn(d)
	}
	if err := r.identify(ctx, deltas); err != nil {
		return nil, err
	}
	var out []Resolved
	for _, d := range deltas {
		k := deltaKey{entity: d.Entity, id: d.LocalID}
		id, ok := r.ids.Peek(k)
		switch {
		case !ok && d.Op == capture.OpDelete:
			r.Unresolved(d.Entity, "delete of an instance whose natural key is unknown")
			continue
		case !ok || id.absent:
			continue // not an instance of this entity
		case !r.anyKey(d.Entity, id) && !r.complete(d.Entity, id):
			r.Unresolved(d.Entity, ReasonNoKey)
			continue
		case !r.complete(d.Entity, id):
			r.Unresolved(d.Entity, "part of the natural key is empty ("+strings.Join(r.cat[d.Entity].Key, ", ")+")")
			continue
		}
		if d.Op == capture.OpUpdate && len(d.Fields) == 0 && len(d.Records) == 0 {
			continue
		}
		values := make(map[string]any, len(id.key)+len(d.Fields)+2)
		for _, kv := range id.key {
			values[kv.field] = kv.value
		}
		for f, v := range d.Fields {
			values[f] = v
		}
		for f, rec := range d.Records {
			values[f] = rec
		}
		if err := r.parentKey(values, d, id); err != nil {
			r.Unresolved(d.Entity, err.Error())
			continue
		}
		r.refs(values, d)
		out = append(out, Resolved{Delta: d, Values: values, Changed: d.ChangedFields()})
		if d.Op == capture.OpDelete {
			r.ids.Remove(k)
		}
	}
	return out, nil
}

// learn records the identity a delta carries: the root row's key, with the
// key fields it changes.
func (r *Resolver) learn(d *Delta) {
	if d.LocalID == "" {
		return
	}
	k := deltaKey{entity: d.Entity, id: d.LocalID}
	id, known := r.ids.Peek(k)
	if known && id.absent {
		if d.Op == capture.OpDelete {
			return // it was no instance, and now it is gone
		}
		r.ids.Remove(k) // it was not an instance before; this change decides
		id, known = identity{}, false
	}
	if !known && !d.Root {
		return // a meta or joined row alone: the key comes from a lookup
	}
	next := identity{key: make(keyVals, len(id.key), len(id.key)+len(d.Key)), parent: id.parent}
	copy(next.key, id.key)
	for f, v := range d.Key {
		next.key.set(f, v)
	}
	for _, f := range r.idFields[d.Entity] {
		if v, ok := d.Fields[f]; ok && v != nil {
			next.key.set(f, v)
		}
	}
	next.key = slices.Clip(next.key)
	if d.Parent != "" {
		next.parent = d.Parent
	}
	if !r.complete(d.Entity, next) {
		if known {
			r.ids.Add(k, next) // partial news about a known instance: keep what is new
		}
		return
	}
	r.ids.Add(k, next)
}

// anyKey reports whether id holds any natural key field of entity (it may
// hold match fields without one: an order with no shipment yet).
func (r *Resolver) anyKey(entity string, id identity) bool {
	for _, f := range r.cat[entity].Key {
		if _, ok := id.key.get(f); ok {
			return true
		}
	}
	return false
}

// complete reports whether id holds every natural key field of entity
// (those a child takes from its parent aside) and, for a child, a parent.
func (r *Resolver) complete(entity string, id identity) bool {
	info := r.cat[entity]
	m := r.sys.Entities[entity]
	for _, f := range info.Key {
		if _, ok := id.key.get(f); !ok && !r.fromParent(entity, f) {
			return false
		}
	}
	return m.Parent == nil || id.parent != ""
}

// fromParent reports whether a child's key field is its parent's key,
// filled from the parent rather than mapped.
func (r *Resolver) fromParent(entity, field string) bool {
	m := r.sys.Entities[entity]
	if m.Parent == nil {
		return false
	}
	_, mapped := findSpec(m, field)
	return !mapped && slices.Contains(r.aggregateKey(entity), field)
}

// identify makes sure every delta's instance, its parent and the instances
// its ref fields name have a known identity, looking up the unknown ones
// in batches per entity.
func (r *Resolver) identify(ctx context.Context, deltas []*Delta) error {
	need := map[string][]string{}
	ask := func(entity, id string) {
		if id == "" {
			return
		}
		if _, ok := r.ids.Get(deltaKey{entity: entity, id: id}); !ok && !slices.Contains(need[entity], id) {
			need[entity] = append(need[entity], id)
		}
	}
	for _, d := range deltas {
		if d.Op != capture.OpDelete {
			ask(d.Entity, d.LocalID)
		}
	}
	if err := r.load(ctx, need); err != nil {
		return err
	}
	need = map[string][]string{}
	for _, d := range deltas {
		m := r.sys.Entities[d.Entity]
		if id, ok := r.ids.Peek(deltaKey{entity: d.Entity, id: d.LocalID}); ok && m.Parent != nil && id.parent != "" {
			ask(m.Parent.Entity, id.parent)
		}
		for f, v := range d.Fields {
			if spec, ok := findSpec(m, f); ok && spec.Ref != "" && v != nil {
				ask(spec.Ref, text(v))
			}
		}
		if id, ok := r.ids.Peek(deltaKey{entity: d.Entity, id: d.LocalID}); ok {
			for _, kv := range id.key { // a key or match field that is a reference holds a local id
				if spec, ok := findSpec(m, kv.field); ok && spec.Ref != "" && kv.value != nil {
					ask(spec.Ref, text(kv.value))
				}
			}
		}
	}
	return r.load(ctx, need)
}

// load looks up the instances of each entity by local id, reading the root
// rows and the rows of the meta and joined tables, and records their
// identities (absent for ids without a matching root row).
func (r *Resolver) load(ctx context.Context, need map[string][]string) error {
	for _, ent := range sortedKeys(need) {
		ids := need[ent]
		a := r.loaders[ent]
		for _, l := range instanceTables(r.sys.Entities[ent]) {
			// bad values are reported with their own changes
			if _, err := feedRows(ctx, r.src, a, l.table, l.column, ids); err != nil {
				a.Flush()
				return err
			}
		}
		found := map[string]bool{}
		for _, d := range a.Flush() {
			if !d.Root {
				continue
			}
			id := identity{parent: d.Parent}
			for f, v := range d.Key {
				id.key.set(f, v)
			}
			for _, f := range r.idFields[ent] {
				if v, ok := d.Fields[f]; ok && v != nil {
					id.key.set(f, v)
				}
			}
			id.key = slices.Clip(id.key)
			found[d.LocalID] = true
			r.ids.Add(deltaKey{entity: ent, id: d.LocalID}, id)
		}
		for _, id := range ids {
			if !found[id] {
				r.ids.Add(deltaKey{entity: ent, id: id}, identity{absent: true})
			}
		}
	}
	return nil
}

// aggregateKey returns the fields of a child entity that hold its parent's
// natural key.
func (r *Resolver) aggregateKey(entity string) []string { return r.aggKeys[entity] }

// parentKey sets a child's aggregate key fields to its parent's natural
// key.
func (r *Resolver) parentKey(values map[string]any, d *Delta, id identity) error {
	m := r.sys.Entities[d.Entity]
	if m.Parent == nil {
		return nil
	}
	agg := r.aggregateKey(d.Entity)
	pid, ok := r.ids.Peek(deltaKey{entity: m.Parent.Entity, id: id.parent})
	if !ok || pid.absent || !r.complete(m.Parent.Entity, pid) {
		return fmt.Errorf("its parent %s %q (column %s) cannot be found or has no natural key", m.Parent.Entity, id.parent, m.Parent.Column)
	}
	parentKey := r.cat[m.Parent.Entity].Key
	for i, f := range agg {
		if _, set := values[f]; set || i >= len(parentKey) {
			continue
		}
		values[f], _ = pid.key.get(parentKey[i])
	}
	return nil
}

// refs turns ref fields from local ids into the referenced entities'
// natural keys. A reference to an instance that cannot be found (a
// dangling foreign key) becomes null.
func (r *Resolver) refs(values map[string]any, d *Delta) {
	m := r.sys.Entities[d.Entity]
	for f, v := range values { // changed fields, and key or match fields the identity holds as local ids
		spec, ok := findSpec(m, f)
		if !ok || spec.Ref == "" || v == nil {
			continue
		}
		target := r.cat[spec.Ref]
		id, ok := r.ids.Peek(deltaKey{entity: spec.Ref, id: text(v)})
		if !ok || id.absent || len(target.Key) == 0 {
			values[f] = nil
			r.Unresolved(d.Entity, fmt.Sprintf("field %s refers to %s %s, which cannot be found", f, spec.Ref, text(v)))
			continue
		}
		values[f], _ = id.key.get(target.Key[0])
	}
}

// findSpec returns the spec of a field mapped from the root table, a meta
// table or a plain joined table.
func findSpec(m *EntityMapping, field string) (FieldSpec, bool) {
	if s, ok := m.Fields[field]; ok {
		return s, true
	}
	for _, mt := range m.Meta {
		if s, ok := mt.Fields[field]; ok {
			return s, true
		}
	}
	for _, jt := range m.Joins {
		if s, ok := jt.Fields[field]; ok && jt.Into == "" {
			return s, true
		}
	}
	return FieldSpec{}, false
}

// expandVia replaces each via change by one delta per root row that refers
// to the changed row, merged into the transaction's delta of that root
// when it has one.
func (r *Resolver) expandVia(ctx context.Context, deltas []*Delta) ([]*Delta, error) {
	var out []*Delta
	index := map[deltaKey]*Delta{}
	for _, d := range deltas {
		if d.Via == nil {
			index[deltaKey{entity: d.Entity, id: d.LocalID}] = d
		}
	}
	for _, d := range deltas {
		if d.Via == nil {
			out = append(out, d)
			continue
		}
		m := r.sys.Entities[d.Entity]
		jt := m.Joins[d.Via.Join]
		t, rows, err := r.src.Rows(ctx, m.Table, jt.Via, []string{d.Via.Value})
		if err != nil {
			return nil, fmt.Errorf("look up the %s rows that refer to %s %s: %w", m.Table, jt.Table, d.Via.Value, err)
		}
		idCol := t.ColumnIndex(m.ID)
		if idCol < 0 {
			return nil, fmt.Errorf("table %s has no column %s (the id of %s)", m.Table, m.ID, d.Entity)
		}
		for _, row := range rows {
			get := func(col string) (any, bool) {
				i := t.ColumnIndex(col)
				if i < 0 {
					return nil, false
				}
				return row[i], true
			}
			if !matches(m.Where, get) || row[idCol] == nil {
				continue
			}
			id := text(row[idCol])
			k := deltaKey{entity: d.Entity, id: id}
			target := index[k]
			if target == nil {
				target = &Delta{Entity: d.Entity, LocalID: id, Op: capture.OpUpdate, Fields: map[string]any{}, Table: d.Table}
				index[k] = target
				out = append(out, target)
			}
			mergeFields(target, d)
		}
	}
	return out, nil
}

// mergeFields copies the fields and records of src into dst, keeping what
// dst already has (its own root row is newer than a via lookup).
func mergeFields(dst, src *Delta) {
	for f, v := range src.Fields {
		if _, ok := dst.Fields[f]; !ok {
			dst.Fields[f] = v
		}
	}
	for f, rec := range src.Records {
		if dst.Records == nil {
			dst.Records = map[string]map[string]any{}
		}
		if _, ok := dst.Records[f]; !ok {
			dst.Records[f] = rec
		}
	}
}

// fillVia looks up the via-joined rows of deltas whose root row set its
// via column (an insert, a snapshot read, or a changed reference), and adds
// their fields.
func (r *Resolver) fillVia(ctx context.Context, deltas []*Delta) error {
	type ask struct {
		entity string
		join   int
	}
	wanted := map[ask][]string{}
	for _, d := range deltas {
		for j, v := range d.ViaValues {
			k := ask{d.Entity, j}
			if !slices.Contains(wanted[k], v) {
				wanted[k] = append(wanted[k], v)
			}
		}
	}
	for k, values := range wanted {
		m := r.sys.Entities[k.entity]
		jt := &m.Joins[k.join]
		t, rows, err := r.src.Rows(ctx, jt.Table, jt.Owner, values)
		if err != nil {
			return fmt.Errorf("look up %s by %s: %w", jt.Table, jt.Owner, err)
		}
		b := &binding{kind: viaBinding, entity: k.entity, info: r.cat[k.entity], m: m, join: jt, index: k.join}
		byOwner := map[string]capture.Row{}
		ownerCol := t.ColumnIndex(jt.Owner)
		for _, row := range rows {
			if ownerCol >= 0 && row[ownerCol] != nil {
				byOwner[text(row[ownerCol])] = row
			}
		}
		for _, d := range deltas {
			v, ok := d.ViaValues[k.join]
			if !ok || d.Entity != k.entity {
				continue
			}
			joined, ok := byOwner[v]
			if !ok {
				continue
			}
			c := &capture.Change{Op: capture.OpRead, Table: t, After: joined}
			rc := rowChange{c: c, changed: changedColumns(c)}
			_, rc.get = row(c)
			if !matches(jt.Where, rc.get) {
				continue
			}
			if err := applyJoin(b, d, &rc); err != nil {
				return fmt.Errorf("%s %s: %w", k.entity, d.LocalID, err)
			}
			for _, bad := range rc.bad {
				r.Bad(bad)
			}
		}
	}
	return nil
}
