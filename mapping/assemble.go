package mapping

import (
	"fmt"
	"sort"

	"github.com/tandem-sync/tandem/capture"
)

// Delta is what one source transaction did to one entity instance of one
// system: the canonical values of the fields it set (only those: this is
// the event's `changed`), keyed by the instance's local id. A field mapped
// with ref still holds the referenced instance's local id (as text): the
// publishing step resolves it to that entity's natural key.
type Delta struct {
	Entity  string
	LocalID string     // the root row's id, as text
	Op      capture.Op // c: the root row was inserted; u: changed; d: deleted; r: snapshot read
	Fields  map[string]any
	Records map[string]map[string]any // fields of record fields filled by joined rows (into)
	Parent  string                    // a child's parent local id, when the root row says
}

// Assembler turns a system's captured row changes into entity deltas,
// per source transaction: the root row, its EAV meta rows and its joined
// rows written in one transaction become one delta (a WooCommerce product
// written as a posts row plus postmeta rows is one product event), and a
// later change to one meta row becomes a delta of just that field.
//
// Add is called for each change of a transaction, Flush at its commit. It
// is not safe for concurrent use. Memory grows with the number of entity
// instances one transaction touches.
type Assembler struct {
	system  string
	byTable map[string][]binding
	pending map[deltaKey]*Delta
	order   []deltaKey
}

type deltaKey struct{ entity, id string }

type bindingKind int

const (
	rootBinding bindingKind = iota
	metaBinding
	joinBinding
)

type binding struct {
	kind   bindingKind
	entity string
	info   *EntityInfo
	m      *EntityMapping
	meta   *MetaTable
	join   *JoinTable
	byKey  map[string]string // meta: meta key -> field
}

// NewAssembler builds the assembler of system sys from a validated config.
func NewAssembler(cfg *Config, sys string) (*Assembler, error) {
	s := cfg.Systems[sys]
	if s == nil {
		return nil, fmt.Errorf("no system %q", sys)
	}
	cat := cfg.Catalog()
	a := &Assembler{system: sys, byTable: map[string][]binding{}, pending: map[deltaKey]*Delta{}}
	for _, ent := range sortedKeys(s.Entities) {
		m, info := s.Entities[ent], cat[ent]
		if m == nil || info == nil {
			continue
		}
		a.byTable[m.Table] = append(a.byTable[m.Table], binding{kind: rootBinding, entity: ent, info: info, m: m})
		for i := range m.Meta {
			mt := &m.Meta[i]
			b := binding{kind: metaBinding, entity: ent, info: info, m: m, meta: mt, byKey: map[string]string{}}
			for f, spec := range mt.Fields {
				key := spec.Key
				if key == "" {
					key = spec.Column // the short form names the key
				}
				b.byKey[key] = f
			}
			a.byTable[mt.Table] = append(a.byTable[mt.Table], b)
		}
		for i := range m.Joins {
			jt := &m.Joins[i]
			if jt.Via != "" {
				continue // a table the root refers to: changes there need a lookup of the roots (not yet)
			}
			a.byTable[jt.Table] = append(a.byTable[jt.Table], binding{kind: joinBinding, entity: ent, info: info, m: m, join: jt})
		}
	}
	return a, nil
}

// Tables returns every table the assembler reads, sorted.
func (a *Assembler) Tables() []string { return sortedKeys(a.byTable) }

// Add folds one captured change into the transaction's deltas. A value a
// field spec cannot convert is a *ValueError naming the field.
func (a *Assembler) Add(c *capture.Change) error {
	bindings := a.byTable[c.Table.QualifiedName()]
	if len(bindings) == 0 || c.Op == capture.OpTruncate {
		return nil
	}
	// What every binding of the table reads, worked out once per change.
	rc := rowChange{c: c, changed: changedColumns(c)}
	_, rc.get = row(c)
	for i := range bindings {
		b := &bindings[i]
		var err error
		switch b.kind {
		case rootBinding:
			err = a.root(b, &rc)
		case metaBinding:
			err = a.metaRow(b, &rc)
		case joinBinding:
			err = a.joinRow(b, &rc)
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", a.system, b.entity, err)
		}
	}
	return nil
}

// Flush returns the transaction's deltas, in the order their instances
// were first touched, and starts the next transaction.
func (a *Assembler) Flush() []*Delta {
	out := make([]*Delta, 0, len(a.order))
	for _, k := range a.order {
		out = append(out, a.pending[k])
	}
	a.pending, a.order = map[deltaKey]*Delta{}, nil
	return out
}

func (a *Assembler) delta(entity, id string, op capture.Op) *Delta {
	k := deltaKey{entity, id}
	d := a.pending[k]
	if d == nil {
		d = &Delta{Entity: entity, LocalID: id, Op: op, Fields: map[string]any{}}
		a.pending[k] = d
		a.order = append(a.order, k)
		return d
	}
	switch {
	case op == capture.OpDelete:
		d.Op = capture.OpDelete
	case d.Op == capture.OpUpdate && (op == capture.OpInsert || op == capture.OpRead):
		d.Op = op // the root row came later in the same transaction
	}
	return d
}

// rowChange is one captured change with its lookups.
type rowChange struct {
	c       *capture.Change
	get     func(string) (any, bool)
	changed func(string) bool
}

// row returns the image that describes the row now (After, or Before for a
// delete) and a column lookup into it.
func row(c *capture.Change) (capture.Row, func(string) (any, bool)) {
	img := c.After
	if c.Op == capture.OpDelete {
		img = c.Before
	}
	return img, func(col string) (any, bool) {
		i := c.Table.ColumnIndex(col)
		if i < 0 || img == nil || i >= len(img) {
			return nil, false
		}
		return img[i], true
	}
}

// matches reports whether the row passes a where filter. A column the row
// does not carry (a delete under a key-only replica identity) passes.
func matches(where map[string]string, get func(string) (any, bool)) bool {
	for col, want := range where {
		v, ok := get(col)
		if !ok || capture.IsUnchanged(v) {
			continue
		}
		if text(v) != want {
			return false
		}
	}
	return true
}

func (a *Assembler) root(b *binding, rc *rowChange) error {
	c, get := rc.c, rc.get
	if !matches(b.m.Where, get) {
		return nil
	}
	idv, ok := get(b.m.ID)
	if !ok || idv == nil {
		return fmt.Errorf("row of %s has no id column %s", c.Table.QualifiedName(), b.m.ID)
	}
	d := a.delta(b.entity, text(idv), c.Op)
	if b.m.Parent != nil {
		if p, ok := get(b.m.Parent.Column); ok && p != nil && !capture.IsUnchanged(p) {
			d.Parent = text(p)
		}
	}
	if c.Op == capture.OpDelete {
		return nil
	}
	changed := rc.changed
	for _, f := range sortedKeys(b.m.Fields) {
		spec := b.m.Fields[f]
		if spec.Const != nil {
			if c.Op != capture.OpUpdate {
				d.Fields[f], _ = Read(f, b.info.Fields[f], spec, nil)
			}
			continue
		}
		if !changed(spec.Column) {
			continue
		}
		v, _ := get(spec.Column)
		val, err := Read(f, b.info.Fields[f], spec, v)
		if err != nil {
			return err
		}
		if !capture.IsUnchanged(val) {
			d.Fields[f] = val
		}
	}
	return nil
}

// changedColumns returns whether a column is set by the change: every
// known column of an insert or read, the changed ones of an update.
func changedColumns(c *capture.Change) func(string) bool {
	set := map[string]bool{}
	for _, i := range c.Changed() {
		set[c.Table.Columns[i].Name] = true
	}
	return func(col string) bool { return set[col] }
}

func (a *Assembler) metaRow(b *binding, rc *rowChange) error {
	c, get := rc.c, rc.get
	k, _ := get(b.meta.Key)
	field, ok := b.byKey[text(k)]
	if !ok {
		return nil // a meta key the mapping does not use
	}
	owner, ok := get(b.meta.Owner)
	if !ok || owner == nil {
		return fmt.Errorf("row of %s has no owner column %s", c.Table.QualifiedName(), b.meta.Owner)
	}
	d := a.delta(b.entity, text(owner), capture.OpUpdate)
	if c.Op == capture.OpDelete {
		d.Fields[field] = nil // the meta row is gone: the field has no value
		return nil
	}
	if c.Op == capture.OpUpdate && !rc.changed(b.meta.Value) {
		return nil
	}
	v, _ := get(b.meta.Value)
	spec := b.meta.Fields[field]
	if spec.Key == "" {
		spec.Key, spec.Column = spec.Column, ""
	}
	val, err := Read(field, b.info.Fields[field], spec, v)
	if err != nil {
		return err
	}
	if !capture.IsUnchanged(val) {
		d.Fields[field] = val
	}
	return nil
}

func (a *Assembler) joinRow(b *binding, rc *rowChange) error {
	c, get := rc.c, rc.get
	if !matches(b.join.Where, get) {
		return nil
	}
	owner, ok := get(b.join.Owner)
	if !ok || owner == nil {
		return fmt.Errorf("row of %s has no owner column %s", c.Table.QualifiedName(), b.join.Owner)
	}
	d := a.delta(b.entity, text(owner), capture.OpUpdate)
	target := d.Fields
	info := b.info.Fields
	if b.join.Into != "" {
		if d.Records == nil {
			d.Records = map[string]map[string]any{}
		}
		if d.Records[b.join.Into] == nil {
			d.Records[b.join.Into] = map[string]any{}
		}
		target = d.Records[b.join.Into]
		info = b.info.Fields[b.join.Into].Fields
	}
	changed := rc.changed
	for _, f := range sortedKeys(b.join.Fields) {
		spec := b.join.Fields[f]
		if c.Op == capture.OpDelete {
			target[f] = nil
			continue
		}
		if spec.Const != nil || !changed(spec.Column) {
			continue
		}
		v, _ := get(spec.Column)
		val, err := Read(f, info[f], spec, v)
		if err != nil {
			return err
		}
		if !capture.IsUnchanged(val) {
			target[f] = val
		}
	}
	return nil
}

// ChangedFields returns the delta's field names, sorted: the event's
// `changed`. A record filled by joined rows counts as its record field.
func (d *Delta) ChangedFields() []string {
	out := make([]string, 0, len(d.Fields)+len(d.Records))
	for f := range d.Fields {
		out = append(out, f)
	}
	for f := range d.Records {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}
