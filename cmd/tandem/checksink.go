package main

import (
	"context"

	"github.com/tandem-sync/tandem/internal/preflight"
	"github.com/tandem-sync/tandem/mapping"
	sinkmy "github.com/tandem-sync/tandem/sink/mysql"
	sinkpg "github.com/tandem-sync/tandem/sink/postgres"
)

// sinkPreflight returns the checks of the sink into system name, or nil
// when no flow goes to it (it runs no sink).
func sinkPreflight(cfg *mapping.Config, name string) func(context.Context) []preflight.Result {
	tables := sinkTables(cfg, name)
	if tables == nil {
		return nil
	}
	s := cfg.Systems[name]
	switch s.Kind {
	case mapping.KindPostgres:
		t := sinkpg.CheckTarget{System: name, DSN: s.DSN, CheckpointTable: s.CheckpointTable, Connections: s.Sink.Connections, Tables: tables}
		return func(ctx context.Context) []preflight.Result { return sinkpg.Preflight(ctx, t) }
	case mapping.KindMySQL:
		t := sinkmy.CheckTarget{System: name, DSN: s.DSN, CheckpointTable: s.CheckpointTable, Tables: tables}
		return func(ctx context.Context) []preflight.Result { return sinkmy.Preflight(ctx, t) }
	}
	return nil
}

// Table privileges, in the order GRANT statements name them.
const (
	privSelect = 1 << iota
	privInsert
	privUpdate
	privDelete
)

var privNames = []string{"SELECT", "INSERT", "UPDATE", "DELETE"}

// sinkTables returns, for each table the sink into system sys touches, the
// privileges it needs there; nil when no flow goes to sys. It follows what
// the sink's writer does with the mapping of each entity that flows in
// (the fields its flows carry, mapping.Config.FlowFields):
//
//   - every table of the mapping, and of the entities it refers to (ref
//     fields, the parent), is read: SELECT (UPDATE and DELETE ... WHERE
//     read too);
//   - the root table: INSERT unless create: false; UPDATE when a flowing
//     field is a root column or in a shared table (the root points at
//     another row), or for a soft delete; DELETE for a hard delete;
//   - a meta table with a flowing field: INSERT, UPDATE, DELETE (a value
//     set to null deletes its row);
//   - a joined table with a flowing field: INSERT, UPDATE; a shared one
//     (shared: true) is only read;
//   - a hard delete deletes the rows of every meta table and of every
//     joined table keyed by the root's id (not via): DELETE.
func sinkTables(cfg *mapping.Config, sys string) map[string][]string {
	s := cfg.Systems[sys]
	if s == nil {
		return nil
	}
	flowing := map[string]map[string]bool{} // entity -> the fields its flows into sys carry
	for _, f := range cfg.Flows {
		if f.To != sys || s.Entities[f.Entity] == nil {
			continue
		}
		for _, field := range cfg.FlowFields(f.Entity, f.From, sys) {
			if flowing[f.Entity] == nil {
				flowing[f.Entity] = map[string]bool{}
			}
			flowing[f.Entity][field] = true
		}
	}
	if len(flowing) == 0 {
		return nil
	}
	need := map[string]int{}
	add := func(table string, privs int) { need[table] |= privs | privSelect }
	read := map[string]bool{}
	var reads func(ent string)
	reads = func(ent string) {
		m := s.Entities[ent]
		if m == nil || read[ent] {
			return
		}
		read[ent] = true
		add(m.Table, 0)
		visit := func(spec mapping.FieldSpec) {
			if spec.Ref != "" {
				reads(spec.Ref)
			}
		}
		for _, spec := range m.Fields {
			visit(spec)
		}
		for _, mt := range m.Meta {
			add(mt.Table, 0)
			for _, spec := range mt.Fields {
				visit(spec)
			}
		}
		for _, jt := range m.Joins {
			add(jt.Table, 0)
			for _, spec := range jt.Fields {
				visit(spec)
			}
		}
		if m.Parent != nil {
			reads(m.Parent.Entity)
		}
	}
	for ent, fields := range flowing {
		m := s.Entities[ent]
		reads(ent)
		if m.Creates() {
			add(m.Table, privInsert)
		}
		if m.DeleteMode() == "hard" {
			add(m.Table, privDelete)
			for _, mt := range m.Meta {
				add(mt.Table, privDelete)
			}
			for _, jt := range m.Joins {
				if jt.Via == "" {
					add(jt.Table, privDelete)
				}
			}
		} else {
			add(m.Table, privUpdate)
		}
		// a constant is written only when the row is inserted
		writes := func(spec mapping.FieldSpec, privs int) int {
			switch {
			case spec.Const == nil:
				return privs
			case m.Creates():
				return privInsert
			}
			return 0
		}
		for field := range fields {
			if spec, ok := m.Fields[field]; ok && spec.Const == nil {
				add(m.Table, privUpdate)
			}
			for _, mt := range m.Meta {
				if spec, ok := mt.Fields[field]; ok {
					add(mt.Table, writes(spec, privInsert|privUpdate|privDelete))
				}
			}
			for _, jt := range m.Joins {
				spec, ok := jt.Fields[field]
				if jt.Into != "" { // a record field: the joined row is written whole
					spec, ok = mapping.FieldSpec{}, jt.Into == field
				}
				switch {
				case !ok:
				case jt.Shared:
					add(m.Table, privUpdate)
				default:
					add(jt.Table, writes(spec, privInsert|privUpdate))
				}
			}
		}
	}
	out := make(map[string][]string, len(need))
	for table, privs := range need {
		for i, name := range privNames {
			if privs&(1<<i) != 0 {
				out[table] = append(out[table], name)
			}
		}
	}
	return out
}
