package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/mapping"
)

// Outcome is what applying one event did.
type Outcome int

const (
	Applied Outcome = iota + 1 // the target changed
	NoOp                       // the target already held the values
	Skipped                    // nothing of the event is for this target
)

func (o Outcome) String() string {
	switch o {
	case Applied:
		return "applied"
	case NoOp:
		return "noop"
	case Skipped:
		return "skipped"
	}
	return "unknown"
}

// MissingRef means the event needs a row the target does not have yet: a
// referenced entity (an order's customer), a child's parent, or the row an
// entity that does not create rows lives on. The event waits and is
// retried.
type MissingRef struct {
	Entity string // the entity that is missing
	Key    string // its natural key, as text
	Why    string
}

func (e *MissingRef) Error() string {
	return fmt.Sprintf("%s %s does not exist in the target yet (%s)", e.Entity, e.Key, e.Why)
}

// DataError is an event the target can never take as it is (several rows
// match its key, a value that cannot be written): it goes to the
// dead-letter topic.
type DataError struct{ Reason string }

func (e *DataError) Error() string { return e.Reason }

// Conflict is a field both systems changed, or one the target owns and the
// source changed anyway, with what the sink decided.
type Conflict struct {
	Entity       string
	Key          map[string]any
	Field        string
	SourceSystem string
	SourceValue  any
	SourceTime   time.Time
	TargetSystem string
	TargetValue  any
	TargetTime   time.Time // zero when unknown
	Decision     string
}

// Writer applies entity events to one target system through its mapping
// (the sink side of the mapping language). It keeps no state between
// calls; it is safe for concurrent use with different transactions.
type Writer struct {
	cfg *mapping.Config
	sys string
	s   *mapping.System
	d   Dialect
	cat map[string]*mapping.EntityInfo

	plansMu sync.Mutex
	plans   map[string]*bulkPlan // per entity; nil: not for the bulk path
	flows   map[[2]string][]string
	aggKeys map[string][]string // per child entity mapped here: the fields holding its parent's key
}

// flowFields caches mapping.Config.FlowFields into this target.
func (w *Writer) flowFields(ent, from string) []string {
	w.plansMu.Lock()
	defer w.plansMu.Unlock()
	k := [2]string{ent, from}
	f, ok := w.flows[k]
	if !ok {
		f = w.cfg.FlowFields(ent, from, w.sys)
		w.flows[k] = f
	}
	return f
}

// NewWriter builds the writer of target system sys.
func NewWriter(cfg *mapping.Config, sys string, d Dialect) (*Writer, error) {
	s := cfg.Systems[sys]
	if s == nil {
		return nil, fmt.Errorf("no system %q", sys)
	}
	w := &Writer{cfg: cfg, sys: sys, s: s, d: d, cat: cfg.Catalog(), plans: map[string]*bulkPlan{}, flows: map[[2]string][]string{},
		aggKeys: map[string][]string{}}
	for ent, m := range s.Entities {
		if m == nil || m.Parent == nil {
			continue
		}
		e, err := cfg.Entity(ent)
		if err != nil {
			return nil, err
		}
		w.aggKeys[ent] = e.AggregateKey
	}
	return w, nil
}

// place is where a field is stored in the target.
type place struct {
	field string
	spec  mapping.FieldSpec
	info  mapping.FieldInfo
	kind  placeKind
	meta  *mapping.MetaTable
	join  *mapping.JoinTable
	jidx  int // the join's index in the mapping's joins
}

type placeKind int

const (
	rootCol placeKind = iota + 1
	metaKey
	joinCol  // a plain joined table (owner = the root's id, or via)
	intoJoin // a record field filled by a joined row
)

// placeOf finds where m stores field.
func (w *Writer) placeOf(ent string, m *mapping.EntityMapping, field string) (place, bool) {
	info := w.cat[ent].Fields[field]
	if spec, ok := m.Fields[field]; ok {
		return place{field: field, spec: spec, info: info, kind: rootCol}, true
	}
	for i := range m.Meta {
		mt := &m.Meta[i]
		if spec, ok := mt.Fields[field]; ok {
			if spec.Key == "" {
				spec.Key, spec.Column = spec.Column, ""
			}
			return place{field: field, spec: spec, info: info, kind: metaKey, meta: mt}, true
		}
	}
	for i := range m.Joins {
		jt := &m.Joins[i]
		if jt.Into == field {
			return place{field: field, info: info, kind: intoJoin, join: jt, jidx: i}, true
		}
		if spec, ok := jt.Fields[field]; ok && jt.Into == "" {
			return place{field: field, spec: spec, info: info, kind: joinCol, join: jt, jidx: i}, true
		}
	}
	return place{}, false
}

// Apply writes ev into the target inside tx. It returns *MissingRef when
// the event must wait, *DataError for an event the target can never take,
// and database errors as they come (the caller classifies them).
func (w *Writer) Apply(ctx context.Context, tx Tx, ev *Event) (Outcome, []Conflict, error) {
	m := w.s.Entities[ev.Entity]
	if m == nil {
		return Skipped, nil, nil
	}
	allowed := w.flowFields(ev.Entity, ev.Source.System)
	if allowed == nil {
		return Skipped, nil, nil
	}
	id, found, err := w.find(ctx, tx, ev.Entity, m, ev.Values, matchFields(w.cat[ev.Entity], m))
	if err != nil {
		return 0, nil, err
	}
	if ev.Op == capture.OpDelete {
		if !found || m.DeleteMode() == "none" {
			return NoOp, nil, nil
		}
		return Applied, nil, w.delete(ctx, tx, m, id)
	}
	if !found && !m.Creates() {
		return 0, nil, &MissingRef{Entity: ev.Entity, Key: keyText(ev.Values, matchFields(w.cat[ev.Entity], m)),
			Why: "the row it lives on; this mapping does not create rows"}
	}
	// The fields to write: changed ones this flow carries and the target
	// maps; on insert, every value the event has that the flow carries.
	var write []place
	var foreign []place // changed, mapped here, but not the source's to change
	fields := ev.Changed
	if !found {
		fields = sortedKeys(ev.Values)
	}
	for _, f := range fields {
		p, ok := w.placeOf(ev.Entity, m, f)
		if !ok || (p.spec.Const != nil && found) {
			continue
		}
		if _, has := ev.Values[f]; !has {
			continue
		}
		if slices.Contains(allowed, f) {
			write = append(write, p)
		} else if found {
			foreign = append(foreign, p)
		}
	}
	if !found {
		return w.insert(ctx, tx, ev, m, write)
	}
	cur, err := w.current(ctx, tx, m, id, append(append([]place{}, write...), foreign...), ev.Entity)
	if err != nil {
		return 0, nil, err
	}
	var conflicts []Conflict
	var change []place
	newVals := map[string]any{}
	for _, p := range write {
		nv, err := w.stored(ctx, tx, ev, p)
		if err != nil {
			return 0, nil, err
		}
		if w.same(p, cur.vals[p.field], ev.Values[p.field], nv) {
			continue
		}
		if keep, c := w.keepsTarget(ev, p.field, cur); keep {
			if c != nil {
				conflicts = append(conflicts, *c)
			}
			continue
		}
		change = append(change, p)
		newVals[p.field] = nv
	}
	for _, p := range foreign {
		if c := w.refused(ev, p, cur); c != nil {
			conflicts = append(conflicts, *c)
		}
	}
	if len(change) == 0 {
		return NoOp, conflicts, nil
	}
	shared, err := w.sharedIDs(ctx, tx, m, change, newVals)
	if err != nil {
		return 0, nil, err
	}
	if err := w.update(ctx, tx, m, id, cur, change, newVals, shared); err != nil {
		return 0, nil, err
	}
	return Applied, conflicts, nil
}

// sourceTime is when the event's change happened: its updated_at field
// when it carries one (the application's own clock, finer than a binlog's
// seconds), else the source commit time.
func sourceTime(ev *Event) time.Time {
	if t, ok := ev.Values["updated_at"].(time.Time); ok {
		return t
	}
	return ev.Source.CommitTime
}

// keepsTarget reports whether the target keeps its value of a field the
// event would change: a field both systems change (ownership both) that
// changed later on the target, which last writer wins decides and the
// returned conflict records; or, for an entity with such fields, the
// row's updated_at, which never moves back (an older change of another
// field arriving after the target's own change must not make the row look
// older than it is, or the next last-writer-wins decision would go the
// wrong way). An entity one system owns takes the owner's clock as it
// comes, also over a time the target's default gave a row the sink
// created.
func (w *Writer) keepsTarget(ev *Event, field string, cur *currentRow) (bool, *Conflict) {
	if !w.targetNewer(ev, cur) {
		return false, nil
	}
	if field == "updated_at" {
		o := w.cfg.Ownership[ev.Entity]
		return o != nil && len(o.Both) > 0, nil
	}
	if _, both := w.cfg.Owner(ev.Entity, field); !both {
		return false, nil
	}
	c := w.conflict(ev, field, cur, fmt.Sprintf("last writer wins: kept %s's value, changed at %s, after %s's at %s",
		w.sys, display(cur.updated), ev.Source.System, display(sourceTime(ev))))
	return true, &c
}

// refused is the conflict of a change the event carries to a field the
// target owns, which the flow does not carry: the target keeps its value.
// References and updated_at (a clock, each system's own) are not
// compared.
func (w *Writer) refused(ev *Event, p place, cur *currentRow) *Conflict {
	if p.field == "updated_at" || p.spec.Ref != "" {
		return nil
	}
	if owner, _ := w.cfg.Owner(ev.Entity, p.field); owner != w.sys || w.same(p, cur.vals[p.field], ev.Values[p.field], nil) {
		return nil
	}
	c := w.conflict(ev, p.field, cur, fmt.Sprintf("%s owns %s: kept its value", w.sys, p.field))
	return &c
}

// targetNewer decides last-writer-wins for a field both systems change:
// the target's row changed after the event's change. A tie goes to the
// system whose name sorts first, so that both sides decide alike.
func (w *Writer) targetNewer(ev *Event, cur *currentRow) bool {
	if cur.updated.IsZero() {
		return false // the target's change time is unknown: the event wins
	}
	st := sourceTime(ev)
	if cur.updated.Equal(st) {
		return w.sys < ev.Source.System
	}
	return cur.updated.After(st)
}

func (w *Writer) conflict(ev *Event, field string, cur *currentRow, decision string) Conflict {
	key := map[string]any{}
	for _, k := range w.cat[ev.Entity].Key {
		key[k] = ev.Values[k]
	}
	return Conflict{Entity: ev.Entity, Key: key, Field: field, SourceSystem: ev.Source.System, SourceValue: ev.Values[field],
		SourceTime: sourceTime(ev), TargetSystem: w.sys, TargetValue: cur.vals[field], TargetTime: cur.updated, Decision: decision}
}

// matchFields are the fields that find an entity's row: the mapping's
// match, or the natural key.
func matchFields(info *mapping.EntityInfo, m *mapping.EntityMapping) []string {
	if len(m.Match) > 0 {
		return m.Match
	}
	return info.Key
}

func keyText(vals map[string]any, keys []string) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, display(vals[k]))
	}
	return strings.Join(parts, ",")
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for f := range m {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// cond is one condition of a row search, with its arguments.
type cond struct {
	sql  string
	args []any
}

// find looks up the local id of the entity whose match fields have the
// given values. A reference or a parent that the target lacks is a
// *MissingRef; several matching rows a *DataError.
func (w *Writer) find(ctx context.Context, tx Tx, ent string, m *mapping.EntityMapping, vals map[string]any, keys []string) (any, bool, error) {
	root := w.d.Quote(m.Table)
	var conds []cond
	for _, col := range sortedKeys(m.Where) {
		conds = append(conds, cond{"r." + w.d.Quote(col) + " = ?", []any{m.Where[col]}})
	}
	info := w.cat[ent]
	for _, k := range keys {
		v, ok := vals[k]
		if !ok || v == nil {
			return nil, false, &DataError{Reason: fmt.Sprintf("%s has no value for %s, which finds its row", ent, k)}
		}
		c, skip, err := w.keyCond(ctx, tx, ent, m, info, k, v, vals)
		if err != nil {
			return nil, false, err
		}
		if !skip {
			conds = append(conds, c)
		}
	}
	q := "SELECT r." + w.d.Quote(m.ID) + " FROM " + root + " r"
	var args []any
	for i, c := range conds {
		if i == 0 {
			q += " WHERE "
		} else {
			q += " AND "
		}
		q += c.sql
		args = append(args, c.args...)
	}
	q = w.placeholders(q)
	var ids []any
	if err := tx.Query(ctx, q+" LIMIT 2", args, func(row []any) error {
		ids = append(ids, row[0])
		return nil
	}); err != nil {
		return nil, false, err
	}
	switch len(ids) {
	case 0:
		return nil, false, nil
	case 1:
		return ids[0], true, nil
	}
	return nil, false, &DataError{Reason: fmt.Sprintf("several %s rows match %s %s", m.Table, ent, keyText(vals, keys))}
}

// keyCond is the condition that field k has value v. skip is true for a
// constant (it matches by definition).
func (w *Writer) keyCond(ctx context.Context, tx Tx, ent string, m *mapping.EntityMapping, info *mapping.EntityInfo, k string, v any, vals map[string]any) (cond, bool, error) {
	p, ok := w.placeOf(ent, m, k)
	if !ok {
		// a child's key field filled from its parent: the parent column
		if m.Parent != nil {
			pid, err := w.parentID(ctx, tx, ent, m, vals)
			if err != nil {
				return cond{}, false, err
			}
			return cond{"r." + w.d.Quote(m.Parent.Column) + " = ?", []any{pid}}, false, nil
		}
		return cond{}, false, &DataError{Reason: fmt.Sprintf("%s.%s is not mapped in %s, so its rows cannot be found", ent, k, w.sys)}
	}
	if p.spec.Const != nil {
		return cond{}, true, nil
	}
	sv, err := w.storedValue(ctx, tx, p, v)
	if err != nil {
		return cond{}, false, err
	}
	switch p.kind {
	case rootCol:
		if p.spec.JSON != "" {
			return cond{}, false, &DataError{Reason: fmt.Sprintf("%s.%s is a JSON path; rows cannot be found by it", ent, k)}
		}
		return cond{"r." + w.d.Quote(p.spec.Column) + " = ?", []any{sv}}, false, nil
	case metaKey:
		mt := p.meta
		return cond{"EXISTS (SELECT 1 FROM " + w.d.Quote(mt.Table) + " mk WHERE mk." + w.d.Quote(mt.Owner) + " = r." + w.d.Quote(m.ID) +
			" AND mk." + w.d.Quote(mt.Key) + " = ? AND mk." + w.d.Quote(mt.Value) + " = ?)", []any{p.spec.Key, sv}}, false, nil
	case joinCol:
		jt := p.join
		owner := "r." + w.d.Quote(m.ID)
		if jt.Via != "" {
			owner = "r." + w.d.Quote(jt.Via)
		}
		q := "EXISTS (SELECT 1 FROM " + w.d.Quote(jt.Table) + " jk WHERE jk." + w.d.Quote(jt.Owner) + " = " + owner +
			" AND jk." + w.d.Quote(p.spec.Column) + " = ?"
		args := []any{sv}
		for _, col := range sortedKeys(jt.Where) {
			q += " AND jk." + w.d.Quote(col) + " = ?"
			args = append(args, jt.Where[col])
		}
		return cond{q + ")", args}, false, nil
	}
	return cond{}, false, &DataError{Reason: fmt.Sprintf("%s.%s is a record; rows cannot be found by it", ent, k)}
}

// parentID finds the local id of a child's parent from the child's
// aggregate key fields.
func (w *Writer) parentID(ctx context.Context, tx Tx, ent string, m *mapping.EntityMapping, vals map[string]any) (any, error) {
	parent := m.Parent.Entity
	pm := w.s.Entities[parent]
	pinfo := w.cat[parent]
	if pm == nil || pinfo == nil {
		return nil, &DataError{Reason: fmt.Sprintf("%s does not map %s, the parent of %s", w.sys, parent, ent)}
	}
	pvals := map[string]any{}
	for i, f := range w.aggKeys[ent] {
		if i < len(pinfo.Key) {
			pvals[pinfo.Key[i]] = vals[f]
		}
	}
	id, ok, err := w.find(ctx, tx, parent, pm, pvals, pinfo.Key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &MissingRef{Entity: parent, Key: keyText(pvals, pinfo.Key), Why: "the parent of " + ent}
	}
	return id, nil
}

// storedValue converts a canonical value into what p's column or meta
// value stores; a ref field becomes the referenced row's local id.
func (w *Writer) storedValue(ctx context.Context, tx Tx, p place, v any) (any, error) {
	if p.spec.Ref != "" && v != nil {
		rm := w.s.Entities[p.spec.Ref]
		rinfo := w.cat[p.spec.Ref]
		if rm == nil || rinfo == nil || len(rinfo.Key) != 1 {
			return nil, &DataError{Reason: fmt.Sprintf("%s cannot resolve references to %s", w.sys, p.spec.Ref)}
		}
		kv := map[string]any{rinfo.Key[0]: v}
		id, ok, err := w.find(ctx, tx, p.spec.Ref, rm, kv, rinfo.Key)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, &MissingRef{Entity: p.spec.Ref, Key: keyText(kv, rinfo.Key), Why: "referred to by " + p.field}
		}
		if p.kind == metaKey {
			return fmt.Sprint(id), nil
		}
		return id, nil
	}
	spec := p.spec
	spec.JSON = "" // a JSON path is written by merging (JSONSet), with the value as text
	sv, err := mapping.Write(p.field, p.info, spec, v, p.kind == metaKey)
	if err != nil {
		return nil, &DataError{Reason: err.Error()}
	}
	return sv, nil
}

// stored is the value p gets from ev.
func (w *Writer) stored(ctx context.Context, tx Tx, ev *Event, p place) (any, error) {
	if p.kind == intoJoin {
		rec, _ := ev.Values[p.field].(map[string]any)
		out := map[string]any{}
		for f, spec := range p.join.Fields {
			if spec.Const != nil {
				continue
			}
			sub := place{field: p.field + "." + f, spec: spec, info: p.info.Fields[f], kind: joinCol, join: p.join}
			sv, err := w.storedValue(ctx, tx, sub, rec[f])
			if err != nil {
				return nil, err
			}
			out[f] = sv
		}
		return out, nil
	}
	return w.storedValue(ctx, tx, p, ev.Values[p.field])
}

// currentRow is what the target holds for one entity row.
type currentRow struct {
	vals    map[string]any // canonical values by field (records as maps)
	raw     map[string]any // stored values by field, for ref comparisons
	via     map[int]any    // per via join index: the root's via column value
	updated time.Time      // the row's updated_at field, when the entity maps one
	exists  map[string]bool
}

// set records the stored value of p and its canonical value (nil when
// it cannot be read now: it will be overwritten).
func (cur *currentRow) set(p place, stored any) {
	cur.raw[p.field] = stored
	v, err := mapping.Read(p.field, p.info, p.spec, stored)
	if err != nil {
		v = nil
	}
	cur.vals[p.field] = v
}

// setUpdated takes the row's change time from its updated_at field.
func (cur *currentRow) setUpdated() {
	if t, ok := cur.vals["updated_at"].(time.Time); ok {
		cur.updated = t
	}
}

// remember records a value written to the row: for a reference the local
// id it now holds (compared as text), else the canonical value.
func (cur *currentRow) remember(p place, stored, canon any) {
	cur.raw[p.field] = stored
	if p.spec.Ref != "" {
		cur.vals[p.field] = fmt.Sprint(stored)
		return
	}
	cur.vals[p.field] = canon
}

// current reads the stored values of the given fields of row id.
func (w *Writer) current(ctx context.Context, tx Tx, m *mapping.EntityMapping, id any, ps []place, ent string) (*currentRow, error) {
	cur := &currentRow{vals: map[string]any{}, raw: map[string]any{}, via: map[int]any{}, exists: map[string]bool{}}
	if up, ok := w.placeOf(ent, m, "updated_at"); ok && up.kind == rootCol && !slices.ContainsFunc(ps, func(p place) bool { return p.field == "updated_at" }) {
		ps = append(ps, up)
	}
	// root columns, and the via columns
	var rootPs []place
	cols := []string{}
	for _, p := range ps {
		if p.kind == rootCol && p.spec.Const == nil {
			rootPs = append(rootPs, p)
			cols = append(cols, "r."+w.d.Quote(p.spec.Column))
		}
	}
	var viaIdx []int
	for i, jt := range m.Joins {
		if jt.Via != "" {
			viaIdx = append(viaIdx, i)
			cols = append(cols, "r."+w.d.Quote(jt.Via))
		}
	}
	if len(cols) > 0 {
		// FOR UPDATE: the decision below (no-op, last writer wins) must
		// hold until the commit; an application's write in between would
		// otherwise be overwritten by an older value
		q := w.placeholders("SELECT " + strings.Join(cols, ", ") + " FROM " + w.d.Quote(m.Table) + " r WHERE r." + w.d.Quote(m.ID) + " = ? FOR UPDATE")
		err := tx.Query(ctx, q, []any{id}, func(row []any) error {
			for i, p := range rootPs {
				cur.set(p, row[i])
			}
			for j, i := range viaIdx {
				cur.via[i] = row[len(rootPs)+j]
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	cur.setUpdated()
	// meta values, per meta table
	for i := range m.Meta {
		mt := &m.Meta[i]
		var keys []any
		byKey := map[string]place{}
		for _, p := range ps {
			if p.kind == metaKey && p.meta == mt {
				keys = append(keys, p.spec.Key)
				byKey[p.spec.Key] = p
			}
		}
		if len(keys) == 0 {
			continue
		}
		q := w.placeholders("SELECT " + w.d.Quote(mt.Key) + ", " + w.d.Quote(mt.Value) + " FROM " + w.d.Quote(mt.Table) +
			" WHERE " + w.d.Quote(mt.Owner) + " = ? AND " + w.d.Quote(mt.Key) + " IN (" + marks(len(keys)) + ")")
		err := tx.Query(ctx, q, append([]any{id}, keys...), func(row []any) error {
			p := byKey[fmt.Sprint(row[0])]
			cur.exists[p.field] = true
			cur.set(p, row[1])
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	// joined rows
	for i := range m.Joins {
		jt := &m.Joins[i]
		var jps []place
		for _, p := range ps {
			if p.join == jt && (p.kind == joinCol || p.kind == intoJoin) {
				jps = append(jps, p)
			}
		}
		if len(jps) == 0 {
			continue
		}
		owner := id
		if jt.Via != "" {
			owner = cur.via[i]
		}
		fields := sortedKeys(jt.Fields)
		cols := make([]string, len(fields))
		for j, f := range fields {
			cols[j] = w.d.Quote(jt.Fields[f].Column)
		}
		q, args := w.joinWhere("SELECT "+strings.Join(cols, ", ")+" FROM "+w.d.Quote(jt.Table), jt, owner)
		err := tx.Query(ctx, q, args, func(row []any) error {
			for _, p := range jps {
				cur.exists[p.field] = true
				if p.kind == intoJoin {
					rec := map[string]any{}
					for j, f := range fields {
						v, err := mapping.Read(f, p.info.Fields[f], jt.Fields[f], row[j])
						if err == nil {
							rec[f] = v
						}
					}
					cur.vals[p.field] = rec
					continue
				}
				cur.set(p, row[slices.Index(fields, p.field)])
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return cur, nil
}

// joinWhere appends the WHERE of a joined table's row of owner.
func (w *Writer) joinWhere(q string, jt *mapping.JoinTable, owner any) (string, []any) {
	q += " WHERE " + w.d.Quote(jt.Owner) + " = ?"
	args := []any{owner}
	for _, col := range sortedKeys(jt.Where) {
		q += " AND " + w.d.Quote(col) + " = ?"
		args = append(args, jt.Where[col])
	}
	return w.placeholders(q), args
}

// same reports whether the target already holds the event's value: equal
// canonical values (so 19.9 equals 19.90), or for a reference the same
// local id.
func (w *Writer) same(p place, cur, canon, stored any) bool {
	if p.spec.Ref != "" {
		return stored != nil && fmt.Sprint(stored) == fmt.Sprint(cur)
	}
	if p.kind == intoJoin {
		a, _ := cur.(map[string]any)
		b, _ := canon.(map[string]any)
		for f := range p.join.Fields {
			if !capture.Equal(a[f], b[f]) {
				return false
			}
		}
		return a != nil
	}
	return capture.Equal(cur, canon)
}

// update writes the changed fields of an existing row.
func (w *Writer) update(ctx context.Context, tx Tx, m *mapping.EntityMapping, id any, cur *currentRow, change []place, vals map[string]any, shared map[int]any) error {
	var sets []string
	var args []any
	for _, p := range change {
		if p.kind != rootCol {
			continue
		}
		col := w.d.Quote(p.spec.Column)
		if p.spec.JSON != "" {
			sets = append(sets, col+" = "+w.d.JSONSet(col, p.spec.JSON, "?"))
		} else {
			sets = append(sets, col+" = ?")
		}
		args = append(args, vals[p.field])
	}
	if len(sets) > 0 {
		q := w.placeholders("UPDATE " + w.d.Quote(m.Table) + " SET " + strings.Join(sets, ", ") + " WHERE " + w.d.Quote(m.ID) + " = ?")
		if _, err := tx.Exec(ctx, q, append(args, id)...); err != nil {
			return err
		}
	}
	for _, i := range slices.Sorted(maps.Keys(shared)) {
		q := w.placeholders("UPDATE " + w.d.Quote(m.Table) + " SET " + w.d.Quote(m.Joins[i].Via) + " = ? WHERE " + w.d.Quote(m.ID) + " = ?")
		if _, err := tx.Exec(ctx, q, shared[i], id); err != nil {
			return err
		}
	}
	for _, p := range change {
		var err error
		switch p.kind {
		case metaKey:
			err = w.writeMeta(ctx, tx, p, id, vals[p.field], cur.exists[p.field])
		case joinCol, intoJoin:
			if p.join.Shared {
				continue // below: the root points at another shared row
			}
			owner := id
			if p.join.Via != "" {
				owner = cur.via[p.jidx]
			}
			err = w.writeJoin(ctx, tx, p, owner, vals[p.field], cur.exists[p.field])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// sharedIDs finds, for each shared via join whose fields change, the row
// the root is to point at (before anything is written: a missing one makes
// the event wait).
func (w *Writer) sharedIDs(ctx context.Context, tx Tx, m *mapping.EntityMapping, change []place, vals map[string]any) (map[int]any, error) {
	out := map[int]any{}
	for i := range m.Joins {
		jt := &m.Joins[i]
		if !jt.Shared {
			continue
		}
		jcols := map[string]any{}
		for c, v := range jt.Where {
			jcols[c] = v
		}
		n := 0
		for _, p := range change {
			if p.join == jt && p.kind == joinCol {
				jcols[p.spec.Column] = vals[p.field]
				n++
			}
		}
		if n == 0 {
			continue
		}
		id, err := w.sharedRow(ctx, tx, jt, jcols)
		if err != nil {
			return nil, err
		}
		out[i] = id
	}
	return out, nil
}

// sharedRow finds the row of a shared via-joined table whose columns hold
// cols (e.g. the currency named EUR), and returns its owner column.
func (w *Writer) sharedRow(ctx context.Context, tx Tx, jt *mapping.JoinTable, cols map[string]any) (any, error) {
	q := "SELECT " + w.d.Quote(jt.Owner) + " FROM " + w.d.Quote(jt.Table)
	var args []any
	for i, c := range sortedKeys(cols) {
		if i == 0 {
			q += " WHERE "
		} else {
			q += " AND "
		}
		q += w.d.Quote(c) + " = ?"
		args = append(args, cols[c])
	}
	var ids []any
	if err := tx.Query(ctx, w.placeholders(q+" LIMIT 2"), args, func(row []any) error {
		ids = append(ids, row[0])
		return nil
	}); err != nil {
		return nil, err
	}
	switch len(ids) {
	case 1:
		return ids[0], nil
	case 0:
		parts := make([]string, 0, len(cols))
		for _, c := range sortedKeys(cols) {
			parts = append(parts, fmt.Sprintf("%s=%v", c, display(cols[c])))
		}
		return nil, &MissingRef{Entity: jt.Table, Key: strings.Join(parts, ","), Why: "a shared row the entity points at"}
	}
	return nil, &DataError{Reason: fmt.Sprintf("several %s rows match %v", jt.Table, cols)}
}

// writeMeta sets one meta value: an update of its row, an insert, or a
// delete for no value.
func (w *Writer) writeMeta(ctx context.Context, tx Tx, p place, owner, val any, exists bool) error {
	mt := p.meta
	table, ownerCol, keyCol, valCol := w.d.Quote(mt.Table), w.d.Quote(mt.Owner), w.d.Quote(mt.Key), w.d.Quote(mt.Value)
	var q string
	var args []any
	switch {
	case val == nil && exists:
		q, args = "DELETE FROM "+table+" WHERE "+ownerCol+" = ? AND "+keyCol+" = ?", []any{owner, p.spec.Key}
	case val == nil:
		return nil
	case exists:
		q, args = "UPDATE "+table+" SET "+valCol+" = ? WHERE "+ownerCol+" = ? AND "+keyCol+" = ?", []any{val, owner, p.spec.Key}
	default:
		q, args = "INSERT INTO "+table+" ("+ownerCol+", "+keyCol+", "+valCol+") VALUES (?, ?, ?)", []any{owner, p.spec.Key, val}
	}
	_, err := tx.Exec(ctx, w.placeholders(q), args...)
	return err
}

// writeJoin updates (or inserts) the joined row of owner with one field or
// a whole record.
func (w *Writer) writeJoin(ctx context.Context, tx Tx, p place, owner, val any, exists bool) error {
	jt := p.join
	cols := map[string]any{}
	if p.kind == intoJoin {
		recordColumns(jt, val, cols)
	} else {
		cols[p.spec.Column] = val
	}
	names := sortedKeys(cols)
	if exists {
		sets := make([]string, len(names))
		args := make([]any, 0, len(names)+1)
		for i, c := range names {
			col := w.d.Quote(c)
			if p.kind == joinCol && p.spec.JSON != "" {
				sets[i] = col + " = " + w.d.JSONSet(col, p.spec.JSON, "?")
			} else {
				sets[i] = col + " = ?"
			}
			args = append(args, cols[c])
		}
		q, wargs := w.joinWhere("UPDATE "+w.d.Quote(jt.Table)+" SET "+strings.Join(sets, ", "), jt, owner)
		_, err := tx.Exec(ctx, q, append(args, wargs...)...)
		return err
	}
	cols[jt.Owner] = owner
	for c, v := range jt.Where {
		cols[c] = v
	}
	names = sortedKeys(cols)
	quoted := make([]string, len(names))
	args := make([]any, len(names))
	for i, c := range names {
		quoted[i], args[i] = w.d.Quote(c), cols[c]
	}
	q := w.placeholders("INSERT INTO " + w.d.Quote(jt.Table) + " (" + strings.Join(quoted, ", ") + ") VALUES (" + marks(len(names)) + ")")
	_, err := tx.Exec(ctx, q, args...)
	return err
}

// recordColumns puts the fields of a record value that jt maps into cols,
// by column; the record's other fields (an address's first name, where
// the target keeps one name) are not the target's to hold.
func recordColumns(jt *mapping.JoinTable, val any, cols map[string]any) {
	rec, _ := val.(map[string]any)
	for f, v := range rec {
		if spec, ok := jt.Fields[f]; ok && spec.Column != "" {
			cols[spec.Column] = v
		}
	}
}

// insert creates the entity's rows: via-joined rows first (the root refers
// to them), then the root row with its filter, constants and parent, then
// its meta and joined rows.
func (w *Writer) insert(ctx context.Context, tx Tx, ev *Event, m *mapping.EntityMapping, write []place) (Outcome, []Conflict, error) {
	cols := map[string]any{}
	for c, v := range m.Where {
		cols[c] = v
	}
	if m.Parent != nil {
		pid, err := w.parentID(ctx, tx, ev.Entity, m, ev.Values)
		if err != nil {
			return 0, nil, err
		}
		cols[m.Parent.Column] = pid
	}
	vals := map[string]any{}
	for _, p := range write {
		v, err := w.stored(ctx, tx, ev, p)
		if err != nil {
			return 0, nil, err
		}
		vals[p.field] = v
	}
	// shared rows the root points at: found before anything is written
	shared, err := w.sharedIDs(ctx, tx, m, write, vals)
	if err != nil {
		return 0, nil, err
	}
	for i, id := range shared {
		cols[m.Joins[i].Via] = id
	}
	// other via-joined rows: insert them and point the root at them
	via := map[int]any{}
	for i := range m.Joins {
		jt := &m.Joins[i]
		if jt.Via == "" || jt.Shared {
			continue
		}
		jcols := map[string]any{}
		for c, v := range jt.Where {
			jcols[c] = v
		}
		n := len(jcols)
		for _, p := range write {
			switch {
			case p.join == jt && p.kind == joinCol:
				jcols[p.spec.Column] = jsonDoc(p, vals[p.field])
			case p.join == jt && p.kind == intoJoin: // a record kept in its own row (Odoo's address partners)
				recordColumns(jt, vals[p.field], jcols)
			}
		}
		if len(jcols) == n {
			continue
		}
		id, err := w.insertRow(ctx, tx, jt.Table, jt.Owner, jcols)
		if err != nil {
			return 0, nil, err
		}
		via[i] = id
		cols[jt.Via] = id
	}
	for _, p := range write {
		if p.kind == rootCol {
			cols[p.spec.Column] = jsonDoc(p, vals[p.field])
		}
	}
	id, err := w.insertRow(ctx, tx, m.Table, m.ID, cols)
	if err != nil {
		return 0, nil, err
	}
	for _, p := range write {
		switch {
		case p.kind == metaKey:
			err = w.writeMeta(ctx, tx, p, id, vals[p.field], false)
		case (p.kind == joinCol || p.kind == intoJoin) && p.join.Via == "":
			err = w.writeJoin(ctx, tx, p, id, vals[p.field], false)
		}
		if err != nil {
			return 0, nil, err
		}
	}
	return Applied, nil, nil
}

// jsonDoc turns a value written through a JSON path into a new document
// holding just that path, for an insert.
func jsonDoc(p place, v any) any {
	if p.spec.JSON == "" || v == nil {
		return v
	}
	parts := strings.Split(p.spec.JSON, ".")
	var doc any = fmt.Sprint(v)
	for i := len(parts) - 1; i >= 0; i-- {
		doc = map[string]any{parts[i]: doc}
	}
	return jsonText(doc)
}

func (w *Writer) insertRow(ctx context.Context, tx Tx, table, idCol string, cols map[string]any) (any, error) {
	names := sortedKeys(cols)
	quoted := make([]string, len(names))
	args := make([]any, len(names))
	for i, c := range names {
		quoted[i], args[i] = w.d.Quote(c), cols[c]
	}
	q := w.placeholders("INSERT INTO " + w.d.Quote(table) + " (" + strings.Join(quoted, ", ") + ") VALUES (" + marks(len(names)) + ")")
	return tx.Insert(ctx, q, idCol, args...)
}

// delete removes the entity's rows, or marks the root row for a soft
// delete.
func (w *Writer) delete(ctx context.Context, tx Tx, m *mapping.EntityMapping, id any) error {
	if col, val, soft := strings.Cut(strings.TrimPrefix(m.DeleteMode(), "soft:"), "="); soft && strings.HasPrefix(m.DeleteMode(), "soft:") {
		_, err := tx.Exec(ctx, w.placeholders("UPDATE "+w.d.Quote(m.Table)+" SET "+w.d.Quote(col)+" = ? WHERE "+w.d.Quote(m.ID)+" = ?"), val, id)
		return err
	}
	for _, mt := range m.Meta {
		if _, err := tx.Exec(ctx, w.placeholders("DELETE FROM "+w.d.Quote(mt.Table)+" WHERE "+w.d.Quote(mt.Owner)+" = ?"), id); err != nil {
			return err
		}
	}
	for i := range m.Joins {
		jt := &m.Joins[i]
		if jt.Via != "" {
			continue // a row the root refers to may be shared
		}
		q, args := w.joinWhere("DELETE FROM "+w.d.Quote(jt.Table), jt, id)
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return err
		}
	}
	_, err := tx.Exec(ctx, w.placeholders("DELETE FROM "+w.d.Quote(m.Table)+" WHERE "+w.d.Quote(m.ID)+" = ?"), id)
	return err
}

// placeholders rewrites the ? markers of q in the dialect's form.
func (w *Writer) placeholders(q string) string {
	if w.d.Placeholder(1) == "?" {
		return q
	}
	var b strings.Builder
	n := 0
	inQuote := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			inQuote = !inQuote
			b.WriteByte(c)
		case c == '?' && !inQuote:
			n++
			b.WriteString(w.d.Placeholder(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func marks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// display is a value as people read it in messages.
func display(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case *big.Rat:
		return x.FloatString(8)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// asMissing and asData are errors.As for the two error types callers look
// for.
func asMissing(err error) (*MissingRef, bool) {
	var mr *MissingRef
	return mr, errors.As(err, &mr)
}

func asData(err error) (*DataError, bool) {
	var de *DataError
	return de, errors.As(err, &de)
}
