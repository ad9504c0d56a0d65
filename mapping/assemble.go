package mapping

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tandem-sync/tandem/capture"
)

// Delta is what one source transaction did to one entity instance of one
// system: the canonical values of the fields it set (only those: this is
// the event's `changed`), keyed by the instance's local id. A field mapped
// with ref still holds the referenced instance's local id (as text): the
// publishing step resolves it to that entity's natural key.
type Delta struct {
	Entity  string
	LocalID string     // the root row's id, as text; empty for a pending via change (Via)
	Op      capture.Op // c: the root row was inserted; u: changed; d: deleted; r: snapshot read
	Fields  map[string]any
	Records map[string]map[string]any // record fields filled by joined rows (into): the whole joined row
	Parent  string                    // a child's parent local id, when the root row says
	// Key holds the natural key fields the root row carries (mapped from
	// its columns, or constants), whether or not the change set them: what
	// identifies the instance without a lookup.
	Key map[string]any
	// Root is true when the root row itself was part of the change (so
	// Key and Parent are what it holds).
	Root bool
	// ViaValues holds, per via join (by index in the mapping's joins), the
	// value of the root's via column when the change set it: the joined
	// row's fields are then looked up.
	ViaValues map[int]string
	// Via is set on a delta from a change to a via-joined table: it
	// applies to every root row whose via column holds Via.Value, which a
	// lookup finds.
	Via *ViaChange
	// Table is the table of the first change that touched the instance.
	Table *capture.Table
}

// ViaChange is a change to a table that root rows refer to (e.g. Odoo's
// product_template, referred to by product_product.product_tmpl_id).
type ViaChange struct {
	Join  int    // index of the join in the entity mapping's joins
	Value string // the changed row's owner value
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

// deltaKey names one pending delta: an instance by local id, or (via set)
// the roots of a via-joined row.
type deltaKey struct {
	entity, id string
	via        int // join index + 1 for a via change; 0 otherwise
}

type bindingKind int

const (
	rootBinding bindingKind = iota
	metaBinding
	joinBinding
	viaBinding
)

type binding struct {
	kind   bindingKind
	entity string
	info   *EntityInfo
	m      *EntityMapping
	meta   *MetaTable
	join   *JoinTable
	byKey  map[string]string // meta: meta key -> field
	index  int               // join: index in m.Joins
	keys   []string          // root: natural key fields mapped from the root table or constant
}

// NewAssembler builds the assembler of system sys from a validated config.
func NewAssembler(cfg *Config, sys string) (*Assembler, error) {
	return newAssembler(cfg, sys, "")
}

// newAssembler builds an assembler of every entity of sys, or of only one.
func newAssembler(cfg *Config, sys, only string) (*Assembler, error) {
	s := cfg.Systems[sys]
	if s == nil {
		return nil, fmt.Errorf("no system %q", sys)
	}
	cat := cfg.Catalog()
	a := &Assembler{system: sys, byTable: map[string][]binding{}, pending: map[deltaKey]*Delta{}}
	for _, ent := range sortedKeys(s.Entities) {
		m, info := s.Entities[ent], cat[ent]
		if m == nil || info == nil || (only != "" && ent != only) {
			continue
		}
		root := binding{kind: rootBinding, entity: ent, info: info, m: m}
		for _, k := range info.Key {
			if spec, ok := m.Fields[k]; ok && spec.Ref == "" {
				root.keys = append(root.keys, k)
			}
		}
		a.byTable[m.Table] = append(a.byTable[m.Table], root)
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
			kind := joinBinding
			if jt.Via != "" {
				kind = viaBinding // a table the root refers to: its roots are found by a lookup
			}
			a.byTable[jt.Table] = append(a.byTable[jt.Table], binding{kind: kind, entity: ent, info: info, m: m, join: jt, index: i})
		}
	}
	return a, nil
}

// Tables returns every table the assembler reads, sorted.
func (a *Assembler) Tables() []string { return sortedKeys(a.byTable) }

// Add folds one captured change into the transaction's deltas. Values a
// field spec cannot convert are left out and returned as BadValues (each a
// *ValueError naming the field); the rest of the change is folded in. Any
// other error (a row without its id column) means the change was not.
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
		case viaBinding:
			err = a.viaRow(b, &rc)
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", a.system, b.entity, err)
		}
	}
	if len(rc.bad) > 0 {
		return rc.bad
	}
	return nil
}

// Pending returns how many deltas the open transaction holds.
func (a *Assembler) Pending() int { return len(a.order) }

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

func (a *Assembler) delta(entity, id string, op capture.Op, t *capture.Table) *Delta {
	k := deltaKey{entity: entity, id: id}
	d := a.pending[k]
	if d == nil {
		d = &Delta{Entity: entity, LocalID: id, Op: op, Fields: map[string]any{}, Table: t}
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
	bad     BadValues
}

// read converts one stored value, recording a value the spec cannot
// convert instead of failing the change: the field is left out, and the
// rest of the change still counts.
func (rc *rowChange) read(b *binding, field string, fi FieldInfo, spec FieldSpec, stored any) (any, bool) {
	v, err := Read(field, fi, spec, stored)
	if err != nil {
		var ve *ValueError
		if errors.As(err, &ve) {
			ve.Field = field
		}
		rc.bad = append(rc.bad, &BadValue{Entity: b.entity, Table: rc.c.Table.QualifiedName(), Err: err})
		return nil, false
	}
	return v, true
}

// BadValue is a stored value that a field spec could not convert: the
// field was left out of its delta.
type BadValue struct {
	Entity string
	Table  string
	Err    error // a *ValueError
}

// BadValues are the values of one change that could not be converted.
// Assembler.Add returns them; the change's other fields still count.
type BadValues []*BadValue

func (bv BadValues) Error() string {
	msgs := make([]string, len(bv))
	for i, b := range bv {
		msgs[i] = fmt.Sprintf("%s (table %s): %v", b.Entity, b.Table, b.Err)
	}
	return strings.Join(msgs, "; ")
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
	d := a.delta(b.entity, text(idv), c.Op, c.Table)
	d.Root = true
	if b.m.Parent != nil {
		if p, ok := get(b.m.Parent.Column); ok && p != nil && !capture.IsUnchanged(p) {
			d.Parent = text(p)
		}
	}
	// The natural key as the row holds it, changed or not (a delete's
	// image has it where the replica identity or row image carries it).
	for _, k := range b.keys {
		spec := b.m.Fields[k]
		v, ok := get(spec.Column)
		if spec.Const == nil && (!ok || v == nil || capture.IsUnchanged(v)) {
			continue
		}
		val, ok := rc.read(b, k, b.info.Fields[k], spec, v)
		if ok && val != nil {
			if d.Key == nil {
				d.Key = map[string]any{}
			}
			d.Key[k] = val
		}
	}
	if c.Op == capture.OpDelete {
		return nil
	}
	changed := rc.changed
	for i, jt := range b.m.Joins {
		if jt.Via == "" || !changed(jt.Via) {
			continue
		}
		if v, _ := get(jt.Via); v != nil {
			if d.ViaValues == nil {
				d.ViaValues = map[int]string{}
			}
			d.ViaValues[i] = text(v)
		}
	}
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
		if val, ok := rc.read(b, f, b.info.Fields[f], spec, v); ok && !capture.IsUnchanged(val) {
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
	d := a.delta(b.entity, text(owner), partOp(c.Op), c.Table)
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
	if val, ok := rc.read(b, field, b.info.Fields[field], spec, v); ok && !capture.IsUnchanged(val) {
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
	d := a.delta(b.entity, text(owner), partOp(c.Op), c.Table)
	return applyJoin(b, d, rc)
}

// applyJoin sets the fields a joined row contributes to d. A record field
// (into) takes the whole row, changed columns or not, since the record
// travels whole; plain fields take the changed columns.
func applyJoin(b *binding, d *Delta, rc *rowChange) error {
	c, get := rc.c, rc.get
	target := d.Fields
	info := b.info.Fields
	changed := rc.changed
	if b.join.Into != "" {
		if d.Records == nil {
			d.Records = map[string]map[string]any{}
		}
		if d.Records[b.join.Into] == nil {
			d.Records[b.join.Into] = map[string]any{}
		}
		target = d.Records[b.join.Into]
		info = b.info.Fields[b.join.Into].Fields
		changed = func(col string) bool { v, ok := get(col); return ok && !capture.IsUnchanged(v) }
	}
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
		name := f
		if b.join.Into != "" {
			name = b.join.Into + "." + f
		}
		if val, ok := rc.read(b, name, info[f], spec, v); ok && !capture.IsUnchanged(val) {
			target[f] = val
		}
	}
	return nil
}

// viaRow records a change to a via-joined table: the roots that refer to
// the row are found by a lookup when the transaction is resolved.
func (a *Assembler) viaRow(b *binding, rc *rowChange) error {
	c, get := rc.c, rc.get
	if c.Op == capture.OpDelete || !matches(b.join.Where, get) {
		return nil // a referred-to row going away changes no root's own row
	}
	owner, ok := get(b.join.Owner)
	if !ok || owner == nil {
		return fmt.Errorf("row of %s has no owner column %s", c.Table.QualifiedName(), b.join.Owner)
	}
	k := deltaKey{entity: b.entity, id: text(owner), via: b.index + 1}
	d := a.pending[k]
	if d == nil {
		d = &Delta{Entity: b.entity, Op: capture.OpUpdate, Fields: map[string]any{}, Table: c.Table,
			Via: &ViaChange{Join: b.index, Value: text(owner)}}
		a.pending[k] = d
		a.order = append(a.order, k)
	}
	return applyJoin(b, d, rc)
}

// partOp is the op of a delta that a meta or joined row starts: a read
// during a snapshot, an update otherwise (the root row itself decides
// insert and delete).
func partOp(op capture.Op) capture.Op {
	if op == capture.OpRead {
		return capture.OpRead
	}
	return capture.OpUpdate
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
