package sink

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/mapping"
)

// The bulk path. An entity stored in one table (no meta or joined tables,
// no parent), whose rows are found by one plain column, is applied a run
// of events at a time: one query finds every row the run touches, one per
// referenced entity resolves its references, and the writes go out as
// multi-row INSERTs and pipelined UPDATEs. The result is what Apply would
// have done event by event; anything else takes Apply.

// bulkPlan is how one entity is written in bulk.
type bulkPlan struct {
	ent    string
	m      *mapping.EntityMapping
	key    place          // the field that finds rows: a plain root column
	fields []place        // every mapped root field (key included), constants aside, by name
	index  map[string]int // field -> its place in fields
	refs   map[string]*bulkPlan
}

// bulkPlanFor returns the bulk plan of ent, or nil when ent needs Apply.
func (w *Writer) bulkPlanFor(ent string) *bulkPlan {
	w.plansMu.Lock()
	defer w.plansMu.Unlock()
	if p, ok := w.plans[ent]; ok {
		return p
	}
	p := w.makeBulkPlan(ent, true)
	w.plans[ent] = p
	return p
}

func (w *Writer) makeBulkPlan(ent string, withRefs bool) *bulkPlan {
	m, info := w.s.Entities[ent], w.cat[ent]
	if m == nil || info == nil || len(m.Meta) > 0 || len(m.Joins) > 0 || m.Parent != nil {
		return nil
	}
	match := matchFields(info, m)
	if len(match) != 1 {
		return nil
	}
	key, ok := w.placeOf(ent, m, match[0])
	if !ok || key.kind != rootCol || key.spec.Const != nil || key.spec.Ref != "" || key.spec.JSON != "" {
		return nil
	}
	p := &bulkPlan{ent: ent, m: m, key: key, refs: map[string]*bulkPlan{}, index: map[string]int{}}
	for _, f := range sortedKeys(m.Fields) {
		fp, _ := w.placeOf(ent, m, f)
		if fp.spec.Const != nil {
			continue
		}
		if fp.spec.JSON != "" {
			return nil
		}
		if fp.spec.Ref != "" {
			if !withRefs {
				return nil
			}
			rp := w.makeBulkPlan(fp.spec.Ref, false)
			if rp == nil {
				return nil
			}
			p.refs[f] = rp
		}
		p.index[f] = len(p.fields)
		p.fields = append(p.fields, fp)
	}
	return p
}

// bulkRow is what the target holds (or will hold) for one key.
type bulkRow struct {
	id      any // nil for a row this run inserts
	cur     *currentRow
	insert  map[string]any // a row this run inserts: its columns
	update  map[string]any // columns this run changes on an existing row
	deleted bool
}

// ApplyBulk applies evs, all of one entity with a bulk plan, in order. It
// returns an outcome and conflicts per event it applied; n < len(evs) when
// evs[n] waits for a reference (err is its *MissingRef) or failed (err).
func (w *Writer) ApplyBulk(ctx context.Context, tx Tx, evs []*Event) (outs []Outcome, confs [][]Conflict, n int, err error) {
	p := w.bulkPlanFor(evs[0].Entity)
	// find every row the run touches, and every referenced row
	keys := map[string]any{}
	refVals := map[string]map[string]any{} // field -> stored key -> canonical value
	for _, ev := range evs {
		kv, err := w.storedValue(ctx, tx, p.key, ev.Values[p.key.field])
		if err != nil || kv == nil {
			continue // reported when the event is applied
		}
		keys[fmt.Sprint(kv)] = kv
		for f := range p.refs {
			if v, ok := ev.Values[f]; ok && v != nil {
				if refVals[f] == nil {
					refVals[f] = map[string]any{}
				}
				refVals[f][fmt.Sprint(v)] = v
			}
		}
	}
	rows, err := w.bulkFind(ctx, tx, p, keys, true)
	if err != nil {
		return nil, nil, 0, err
	}
	refIDs := map[string]map[string]*bulkRow{}
	for f, vals := range refVals {
		rp := p.refs[f]
		stored := map[string]any{}
		for _, v := range vals {
			sv, err := w.storedValue(ctx, tx, rp.key, v)
			if err == nil && sv != nil {
				stored[fmt.Sprint(sv)] = sv
			}
		}
		if refIDs[f], err = w.bulkFind(ctx, tx, rp, stored, false); err != nil {
			return nil, nil, 0, err
		}
	}
	for i, ev := range evs {
		out, cs, err := w.bulkApply(ctx, tx, p, ev, rows, refIDs)
		if err != nil {
			_, missing := asMissing(err)
			_, data := asData(err)
			if !missing && !data {
				return nil, nil, 0, err
			}
			// write what the events before it decided; it is theirs
			if ferr := w.bulkFlush(ctx, tx, p, rows); ferr != nil {
				return nil, nil, 0, ferr
			}
			return outs, confs, i, err
		}
		outs, confs = append(outs, out), append(confs, cs)
	}
	if err := w.bulkFlush(ctx, tx, p, rows); err != nil {
		return nil, nil, 0, err
	}
	return outs, confs, len(evs), nil
}

// bulkFind reads the rows whose key column holds one of keys, with every
// mapped column when full.
func (w *Writer) bulkFind(ctx context.Context, tx Tx, p *bulkPlan, keys map[string]any, full bool) (map[string]*bulkRow, error) {
	out := map[string]*bulkRow{}
	if len(keys) == 0 {
		return out, nil
	}
	cols := []string{w.d.Quote(p.m.ID), w.d.Quote(p.key.spec.Column)}
	if full {
		for _, f := range p.fields {
			cols = append(cols, w.d.Quote(f.spec.Column))
		}
	}
	var where []string
	var whereArgs []any
	for _, col := range sortedKeys(p.m.Where) {
		where = append(where, w.d.Quote(col)+" = ?")
		whereArgs = append(whereArgs, p.m.Where[col])
	}
	list := make([]any, 0, len(keys))
	for _, k := range sortedKeys(keys) {
		list = append(list, keys[k])
	}
	for start := 0; start < len(list); start += 500 {
		chunk := list[start:min(start+500, len(list))]
		q := "SELECT " + strings.Join(cols, ", ") + " FROM " + w.d.Quote(p.m.Table) + " WHERE " + w.d.Quote(p.key.spec.Column) +
			" IN (" + marks(len(chunk)) + ")"
		for _, c := range where {
			q += " AND " + c
		}
		if full {
			q += " FOR UPDATE" // the run's decisions hold until the commit (see current)
		}
		err := tx.Query(ctx, w.placeholders(q), append(slices.Clone(chunk), whereArgs...), func(row []any) error {
			k := fmt.Sprint(row[1])
			if prev, dup := out[k]; dup && prev != nil {
				out[k] = nil // several rows: a data error for the events of this key
				return nil
			} else if dup {
				return nil
			}
			r := &bulkRow{id: row[0], cur: &currentRow{vals: map[string]any{}, raw: map[string]any{}, exists: map[string]bool{}}}
			if full {
				for i, f := range p.fields {
					r.cur.set(f, row[2+i])
				}
				r.cur.setUpdated()
			}
			out[k] = r
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// bulkApply decides what one event does to the run's rows.
func (w *Writer) bulkApply(ctx context.Context, tx Tx, p *bulkPlan, ev *Event, rows map[string]*bulkRow, refIDs map[string]map[string]*bulkRow) (Outcome, []Conflict, error) {
	allowed := w.flowFields(ev.Entity, ev.Source.System)
	if allowed == nil {
		return Skipped, nil, nil
	}
	kv, err := w.storedValue(ctx, tx, p.key, ev.Values[p.key.field])
	if err != nil {
		return 0, nil, err
	}
	if kv == nil {
		return 0, nil, &DataError{Reason: fmt.Sprintf("%s has no value for %s, which finds its row", ev.Entity, p.key.field)}
	}
	k := fmt.Sprint(kv)
	r, seen := rows[k]
	if seen && r == nil {
		return 0, nil, &DataError{Reason: fmt.Sprintf("several %s rows match %s %s", p.m.Table, ev.Entity, keyText(ev.Values, []string{p.key.field}))}
	}
	exists := seen && !r.deleted
	if ev.Op == capture.OpDelete {
		if !exists || p.m.DeleteMode() == "none" {
			return NoOp, nil, nil
		}
		if r.id == nil { // inserted by this run: drop the insert
			delete(rows, k)
			return Applied, nil, nil
		}
		if err := w.bulkFlushRow(ctx, tx, p, r); err != nil {
			return 0, nil, err
		}
		r.deleted = true
		return Applied, nil, w.delete(ctx, tx, p.m, r.id)
	}
	if !exists && !p.m.Creates() {
		return 0, nil, &MissingRef{Entity: ev.Entity, Key: keyText(ev.Values, []string{p.key.field}),
			Why: "the row it lives on; this mapping does not create rows"}
	}
	// the fields to write: the changed ones on an existing row, all the
	// event has on a new one (by name, as the plan lists them)
	write := make([]*place, 0, len(p.fields))
	var foreign []*place
	add := func(fp *place) {
		if _, has := ev.Values[fp.field]; !has {
			return
		}
		if slices.Contains(allowed, fp.field) {
			write = append(write, fp)
		} else if exists {
			foreign = append(foreign, fp)
		}
	}
	if exists {
		for _, f := range ev.Changed {
			if i, ok := p.index[f]; ok {
				add(&p.fields[i])
			}
		}
	} else {
		for i := range p.fields {
			add(&p.fields[i])
		}
	}
	stored := func(fp *place) (any, error) {
		v := ev.Values[fp.field]
		if rp := p.refs[fp.field]; rp != nil && v != nil {
			sv, err := w.storedValue(ctx, tx, rp.key, v)
			if err != nil {
				return nil, err
			}
			ref := refIDs[fp.field][fmt.Sprint(sv)]
			if ref == nil || ref.id == nil {
				return nil, &MissingRef{Entity: rp.ent, Key: keyText(map[string]any{rp.key.field: v}, []string{rp.key.field}), Why: "referred to by " + fp.field}
			}
			return ref.id, nil
		}
		return w.storedValue(ctx, tx, *fp, v)
	}
	if !exists {
		cols := map[string]any{}
		for c, v := range p.m.Where {
			cols[c] = v
		}
		cur := &currentRow{vals: map[string]any{}, raw: map[string]any{}, exists: map[string]bool{}}
		for _, fp := range write {
			sv, err := stored(fp)
			if err != nil {
				return 0, nil, err
			}
			cols[fp.spec.Column] = sv
			cur.remember(*fp, sv, ev.Values[fp.field])
		}
		cur.setUpdated()
		rows[k] = &bulkRow{cur: cur, insert: cols}
		return Applied, nil, nil
	}
	svs := make([]any, len(write))
	for i, fp := range write {
		if svs[i], err = stored(fp); err != nil {
			return 0, nil, err
		}
	}
	var conflicts []Conflict
	changed := false
	for i, fp := range write {
		sv := svs[i]
		if w.same(*fp, r.cur.vals[fp.field], ev.Values[fp.field], sv) {
			continue
		}
		if keep, c := w.keepsTarget(ev, fp.field, r.cur); keep {
			if c != nil {
				conflicts = append(conflicts, *c)
			}
			continue
		}
		changed = true
		target := r.update
		if r.id == nil {
			target = r.insert
		} else if target == nil {
			r.update = map[string]any{}
			target = r.update
		}
		target[fp.spec.Column] = sv
		r.cur.remember(*fp, sv, ev.Values[fp.field])
	}
	r.cur.setUpdated()
	for _, fp := range foreign {
		if c := w.refused(ev, *fp, r.cur); c != nil {
			conflicts = append(conflicts, *c)
		}
	}
	if !changed {
		return NoOp, conflicts, nil
	}
	return Applied, conflicts, nil
}

// bulkFlush writes the run's inserts (multi-row, grouped by column set)
// and updates (pipelined, grouped by column set).
func (w *Writer) bulkFlush(ctx context.Context, tx Tx, p *bulkPlan, rows map[string]*bulkRow) error {
	inserts := map[string][]map[string]any{}
	updates := map[string][]*bulkRow{}
	for _, k := range sortedKeys(rows) {
		r := rows[k]
		switch {
		case r == nil || r.deleted:
		case r.id == nil && r.insert != nil:
			cs := strings.Join(sortedKeys(r.insert), "\x00")
			inserts[cs] = append(inserts[cs], r.insert)
			r.insert = nil
		case r.update != nil:
			cs := strings.Join(sortedKeys(r.update), "\x00")
			updates[cs] = append(updates[cs], r)
		}
	}
	for _, cs := range sortedKeys(inserts) {
		group := inserts[cs]
		cols := strings.Split(cs, "\x00")
		per := max(1, min(500, 30000/len(cols)))
		for start := 0; start < len(group); start += per {
			chunk := group[start:min(start+per, len(group))]
			quoted := make([]string, len(cols))
			for i, c := range cols {
				quoted[i] = w.d.Quote(c)
			}
			tuple := "(" + marks(len(cols)) + ")"
			q := "INSERT INTO " + w.d.Quote(p.m.Table) + " (" + strings.Join(quoted, ", ") + ") VALUES " +
				strings.TrimSuffix(strings.Repeat(tuple+", ", len(chunk)), ", ")
			args := make([]any, 0, len(chunk)*len(cols))
			for _, row := range chunk {
				for _, c := range cols {
					args = append(args, row[c])
				}
			}
			if _, err := tx.Exec(ctx, w.placeholders(q), args...); err != nil {
				return err
			}
		}
	}
	for _, cs := range sortedKeys(updates) {
		group := updates[cs]
		cols := strings.Split(cs, "\x00")
		sets := make([]string, len(cols))
		for i, c := range cols {
			sets[i] = w.d.Quote(c) + " = ?"
		}
		q := w.placeholders("UPDATE " + w.d.Quote(p.m.Table) + " SET " + strings.Join(sets, ", ") + " WHERE " + w.d.Quote(p.m.ID) + " = ?")
		argRows := make([][]any, len(group))
		for i, r := range group {
			args := make([]any, 0, len(cols)+1)
			for _, c := range cols {
				args = append(args, r.update[c])
			}
			argRows[i] = append(args, r.id)
			r.update = nil
		}
		if err := tx.ExecMany(ctx, q, argRows); err != nil {
			return err
		}
	}
	return nil
}

// bulkFlushRow writes one row's pending update now (before its delete).
func (w *Writer) bulkFlushRow(ctx context.Context, tx Tx, p *bulkPlan, r *bulkRow) error {
	return w.bulkFlush(ctx, tx, p, map[string]*bulkRow{"": r})
}
