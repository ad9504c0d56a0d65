package postgres

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/tandem-sync/tandem/capture"
)

// typeResolver maps PostgreSQL type OIDs (with a column's type modifier) to
// capture types, asking the catalog once per OID.
type typeResolver struct {
	conn *pgx.Conn // a normal (non-replication) connection
	mu   sync.Mutex
	info map[uint32]*pgTypeInfo
}

type pgTypeInfo struct {
	name     string // typname, e.g. int4, _int4, mood
	typtype  byte   // b base, e enum, d domain, c composite, r range
	elem     uint32 // element type of an array
	base     uint32 // base type of a domain
	category byte   // typcategory, 'A' for arrays
	labels   []string
}

// Built-in OIDs of the types with a kind of their own.
var builtinKinds = map[string]capture.Kind{
	"bool": capture.KindBool, "int2": capture.KindInt16, "int4": capture.KindInt32, "int8": capture.KindInt64,
	"oid": capture.KindInt64, "float4": capture.KindFloat32, "float8": capture.KindFloat64,
	"numeric": capture.KindDecimal, "bytea": capture.KindBytes, "date": capture.KindDate,
	"timestamp": capture.KindTimestamp, "timestamptz": capture.KindTimestampTZ, "time": capture.KindTime,
	"interval": capture.KindInterval, "uuid": capture.KindUUID, "json": capture.KindJSON, "jsonb": capture.KindJSON,
}

func (r *typeResolver) lookup(ctx context.Context, oid uint32) (*pgTypeInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ti, ok := r.info[oid]; ok {
		return ti, nil
	}
	ti := &pgTypeInfo{}
	var typtype, category string
	err := r.conn.QueryRow(ctx, `SELECT typname, typtype::text, typelem, typbasetype, typcategory::text
		FROM pg_type WHERE oid = $1`, oid).Scan(&ti.name, &typtype, &ti.elem, &ti.base, &category)
	if err != nil {
		return nil, fmt.Errorf("look up type oid %d: %w", oid, err)
	}
	ti.typtype, ti.category = typtype[0], category[0]
	if ti.typtype == 'e' {
		rows, err := r.conn.Query(ctx, "SELECT enumlabel FROM pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder", oid)
		if err != nil {
			return nil, fmt.Errorf("look up labels of enum %s: %w", ti.name, err)
		}
		if ti.labels, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return nil, err
		}
	}
	r.info[oid] = ti
	return ti, nil
}

// forget drops cached type information, so that a schema change (a new enum
// label) is read again.
func (r *typeResolver) forget() {
	r.mu.Lock()
	r.info = map[uint32]*pgTypeInfo{}
	r.mu.Unlock()
}

// resolve returns the capture type of a column of type oid with modifier
// typmod.
func (r *typeResolver) resolve(ctx context.Context, oid uint32, typmod int32) (capture.Type, error) {
	ti, err := r.lookup(ctx, oid)
	if err != nil {
		return capture.Type{}, err
	}
	source := ti.name
	switch {
	case ti.typtype == 'd' && ti.base != 0:
		t, err := r.resolve(ctx, ti.base, typmod)
		t.Source = source
		return t, err
	case ti.typtype == 'e':
		return capture.Type{Kind: capture.KindEnum, Symbols: ti.labels, Source: source}, nil
	case ti.category == 'A' && ti.elem != 0:
		elem, err := r.resolve(ctx, ti.elem, -1)
		if err != nil {
			return capture.Type{}, err
		}
		if elem.Kind == capture.KindArray {
			return capture.Type{Kind: capture.KindString, Source: source}, nil
		}
		return capture.Type{Kind: capture.KindArray, Elem: &elem, Source: source}, nil
	}
	kind, ok := builtinKinds[ti.name]
	if !ok {
		return capture.Type{Kind: capture.KindString, Source: source}, nil
	}
	t := capture.Type{Kind: kind, Source: source}
	if kind == capture.KindDecimal {
		t.Scale = -1
		if typmod >= 4 { // typmod = ((precision << 16) | scale) + VARHDRSZ
			m := typmod - 4
			t.Precision, t.Scale = int(m>>16)&0xffff, int(m&0xffff)
			t.Source = fmt.Sprintf("numeric(%d,%d)", t.Precision, t.Scale)
		}
	}
	return t, nil
}

// columnMeta is what the catalog knows about a column beyond the relation
// message: nullability and primary-key membership.
type columnMeta struct {
	notNull bool
	pk      bool
}

func (r *typeResolver) columnMeta(ctx context.Context, relid uint32) (map[string]columnMeta, error) {
	rows, err := r.conn.Query(ctx, `
		SELECT a.attname, a.attnotnull,
		       coalesce(a.attnum = ANY (SELECT unnest(i.indkey) FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary), false)
		FROM pg_attribute a
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped`, relid)
	if err != nil {
		return nil, fmt.Errorf("read columns of relation %d: %w", relid, err)
	}
	defer rows.Close()
	out := map[string]columnMeta{}
	for rows.Next() {
		var name string
		var m columnMeta
		if err := rows.Scan(&name, &m.notNull, &m.pk); err != nil {
			return nil, err
		}
		out[name] = m
	}
	return out, rows.Err()
}
