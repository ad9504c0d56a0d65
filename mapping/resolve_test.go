package mapping

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-sync/tandem/capture"
)

// fakeRows is a RowSource over rows kept in memory, counting its queries.
type fakeRows struct {
	tables  map[string]*capture.Table // by qualified name
	rows    map[string][]capture.Row
	queries []string
	fail    error
}

func newFakeRows(tables map[string]*capture.Table) *fakeRows {
	f := &fakeRows{tables: map[string]*capture.Table{}, rows: map[string][]capture.Row{}}
	for _, t := range tables {
		f.tables[t.QualifiedName()] = t
	}
	return f
}

func (f *fakeRows) put(table string, vals ...any) {
	t := wooTables[table]
	if t == nil {
		t = erpTables[table]
	}
	f.rows[t.QualifiedName()] = append(f.rows[t.QualifiedName()], vals)
}

func (f *fakeRows) Rows(_ context.Context, table, column string, values []string) (*capture.Table, []capture.Row, error) {
	f.queries = append(f.queries, table+" by "+column+" "+strings.Join(values, ","))
	if f.fail != nil {
		return nil, nil, f.fail
	}
	t := f.tables[table]
	if t == nil {
		return nil, nil, errors.New("no table " + table)
	}
	i := t.ColumnIndex(column)
	if i < 0 {
		return nil, nil, errors.New("no column " + column)
	}
	var out []capture.Row
	for _, r := range f.rows[table] {
		if slices.Contains(values, text(r[i])) {
			out = append(out, r)
		}
	}
	return t, out, nil
}

func init() {
	for _, name := range []string{"wp_wc_orders_meta", "wp_wc_order_operational_data"} {
		owner := "order_id"
		cols := []capture.Column{{Name: "id", Type: capture.Type{Kind: capture.KindUint64}, Key: true},
			{Name: owner, Type: capture.Type{Kind: capture.KindUint64}}}
		if name == "wp_wc_orders_meta" {
			cols = append(cols, capture.Column{Name: "meta_key", Type: capture.Type{Kind: capture.KindString}},
				capture.Column{Name: "meta_value", Type: capture.Type{Kind: capture.KindString}})
		}
		wooTables[name] = &capture.Table{Database: "shop", Schema: "shop", Name: name, Version: 1, Columns: cols}
	}
}

// erpTables are a few Odoo tables as the PostgreSQL capture describes them.
var erpTables = map[string]*capture.Table{
	"product_product": {Database: "erp", Schema: "public", Name: "product_product", Version: 1, Columns: []capture.Column{
		{Name: "id", Type: capture.Type{Kind: capture.KindInt32}, Key: true},
		{Name: "default_code", Type: capture.Type{Kind: capture.KindString}},
		{Name: "product_tmpl_id", Type: capture.Type{Kind: capture.KindInt32}},
		{Name: "active", Type: capture.Type{Kind: capture.KindBool}},
	}},
	"product_template": {Database: "erp", Schema: "public", Name: "product_template", Version: 1, Columns: []capture.Column{
		{Name: "id", Type: capture.Type{Kind: capture.KindInt32}, Key: true},
		{Name: "name", Type: capture.Type{Kind: capture.KindJSON}},
		{Name: "list_price", Type: capture.Type{Kind: capture.KindDecimal}},
	}},
}

func resolver(t *testing.T, sys string, src RowSource) (*Assembler, *Resolver, *[]string) {
	t.Helper()
	cfg := loadExample(t, "woocommerce-odoo.yaml")
	a, err := NewAssembler(cfg, sys)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewResolver(cfg, sys, src, 100)
	if err != nil {
		t.Fatal(err)
	}
	var unresolved []string
	r.Unresolved = func(entity, reason string) { unresolved = append(unresolved, entity+": "+reason) }
	return a, r, &unresolved
}

func resolveTx(t *testing.T, a *Assembler, r *Resolver, changes ...*capture.Change) map[string]Resolved {
	t.Helper()
	for _, c := range changes {
		if err := a.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	res, err := r.Resolve(context.Background(), a.Flush())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Resolved{}
	for _, x := range res {
		out[x.Delta.Entity+":"+x.Delta.LocalID] = x
	}
	return out
}

// TestResolveProduct: a product written in one transaction needs no
// lookup; a later _regular_price change alone is keyed by the SKU, looked
// up once and then remembered; meta rows of a page are dropped.
func TestResolveProduct(t *testing.T) {
	src := newFakeRows(wooTables)
	a, r, unresolved := resolver(t, "shop", src)
	mod := time.Date(2024, 2, 29, 13, 14, 15, 0, time.UTC)
	got := resolveTx(t, a, r,
		ins("wp_posts", uint64(10), "Blue mug", "A mug.", "publish", mod, "product"),
		ins("wp_postmeta", uint64(1), uint64(10), "_sku", "MUG-1"),
		ins("wp_postmeta", uint64(2), uint64(10), "_regular_price", "19.99"),
	)
	p := got["product:10"]
	if p.Values["sku"] != "MUG-1" || !capture.Equal(p.Values["list_price"], rat("19.99")) || p.Values["name"] != "Blue mug" {
		t.Errorf("product values %+v", p.Values)
	}
	if pr := got["price:10"]; pr.Values["sku"] != "MUG-1" || pr.Values["price_list"] != "regular" || pr.Values["min_quantity"] == nil {
		t.Errorf("price values %+v", pr.Values)
	}
	if len(src.queries) != 0 || len(*unresolved) != 0 {
		t.Errorf("queries for a complete product: %v (unresolved %v)", src.queries, *unresolved)
	}

	// a fresh resolver (a restart) must look the SKU up
	src.put("wp_posts", uint64(20), "Red mug", "", "publish", mod, "product")
	src.put("wp_postmeta", uint64(21), uint64(20), "_sku", "MUG-2")
	src.put("wp_postmeta", uint64(22), uint64(20), "_regular_price", "5")
	a, r, unresolved = resolver(t, "shop", src)
	got = resolveTx(t, a, r, upd("wp_postmeta", []any{uint64(22), uint64(20), "_regular_price", "5"},
		[]any{uint64(22), uint64(20), "_regular_price", "6.50"}))
	p = got["product:20"]
	if !reflect.DeepEqual(p.Changed, []string{"list_price"}) || p.Values["sku"] != "MUG-2" || !capture.Equal(p.Values["list_price"], rat("6.5")) {
		t.Fatalf("price change: %+v", p)
	}
	if len(p.Values) != 2 {
		t.Errorf("values beyond key and change: %+v", p.Values)
	}
	n := len(src.queries)
	if n == 0 {
		t.Fatal("the SKU was not looked up")
	}
	resolveTx(t, a, r, upd("wp_postmeta", []any{uint64(22), uint64(20), "_regular_price", "6.50"},
		[]any{uint64(22), uint64(20), "_regular_price", "7"}))
	if len(src.queries) != n {
		t.Errorf("the SKU was looked up again: %v", src.queries[n:])
	}

	// meta rows of a page are no product
	src.put("wp_posts", uint64(30), "About", "", "publish", mod, "page")
	got = resolveTx(t, a, r, ins("wp_postmeta", uint64(31), uint64(30), "_regular_price", "1"))
	if len(got) != 0 {
		t.Errorf("a page's meta became %v", got)
	}
	// a product without a SKU cannot be matched anywhere: counted, not sent
	src.put("wp_posts", uint64(40), "No SKU", "", "publish", mod, "product")
	got = resolveTx(t, a, r, ins("wp_postmeta", uint64(41), uint64(40), "_regular_price", "1"))
	if _, ok := got["product:40"]; ok || !slices.ContainsFunc(*unresolved, func(s string) bool { return s == "product: "+ReasonNoKey }) {
		t.Errorf("product without SKU: %v, unresolved %v", got, *unresolved)
	}
}

// TestResolveOrderLine: an itemmeta change alone is keyed by its order's
// number (the aggregate key) and its product reference becomes the SKU.
func TestResolveOrderLine(t *testing.T) {
	src := newFakeRows(wooTables)
	a, r, unresolved := resolver(t, "shop", src)
	mod := time.Date(2024, 2, 29, 13, 14, 15, 0, time.UTC)
	src.put("wp_wc_orders", uint64(42), "wc-processing", "shop_order", "EUR", rat("10"), "ann@example.com")
	src.put("wp_woocommerce_order_items", uint64(7), "Blue mug", "line_item", uint64(42))
	src.put("wp_posts", uint64(10), "Blue mug", "", "publish", mod, "product")
	src.put("wp_postmeta", uint64(1), uint64(10), "_sku", "MUG-1")
	got := resolveTx(t, a, r,
		ins("wp_woocommerce_order_itemmeta", uint64(1), uint64(7), "_product_id", "10"),
		ins("wp_woocommerce_order_itemmeta", uint64(2), uint64(7), "_qty", "3"),
	)
	l, ok := got["order_line:7"]
	if !ok {
		t.Fatalf("no order_line: %v (unresolved %v)", got, *unresolved)
	}
	if l.Values["order_number"] != "42" || l.Values["line_no"] != int64(7) || l.Values["sku"] != "MUG-1" || !capture.Equal(l.Values["quantity"], rat("3")) {
		t.Errorf("order_line values %+v", l.Values)
	}
	if !reflect.DeepEqual(l.Changed, []string{"quantity", "sku"}) {
		t.Errorf("changed %v", l.Changed)
	}
	// a reference to a product that is gone becomes null, and is counted
	got = resolveTx(t, a, r, upd("wp_woocommerce_order_itemmeta", []any{uint64(1), uint64(7), "_product_id", "10"},
		[]any{uint64(1), uint64(7), "_product_id", "99"}))
	if l := got["order_line:7"]; l.Values["sku"] != nil || len(*unresolved) == 0 {
		t.Errorf("dangling reference: %+v, %v", l.Values, *unresolved)
	}
}

// TestResolveDeletes: a delete of a known instance is keyed from memory; one
// never seen (and gone from the database) is counted as unresolved.
func TestResolveDeletes(t *testing.T) {
	src := newFakeRows(wooTables)
	a, r, unresolved := resolver(t, "shop", src)
	got := resolveTx(t, a, r,
		ins("wp_wc_orders", uint64(42), "wc-pending", "shop_order", "EUR", rat("10"), "ann@example.com"))
	if o := got["order:42"]; o.Delta.Op != capture.OpInsert || o.Values["number"] != "42" {
		t.Fatalf("order insert %+v", o)
	}
	got = resolveTx(t, a, r, del("wp_wc_orders", uint64(42), "wc-pending", "shop_order", "EUR", rat("10"), "ann@example.com"))
	if o := got["order:42"]; o.Delta.Op != capture.OpDelete || o.Values["number"] != "42" {
		t.Errorf("order delete %+v", o)
	}
	got = resolveTx(t, a, r, del("wp_woocommerce_order_items", uint64(8), "Gone", "line_item", uint64(43)))
	if len(got) != 0 || len(*unresolved) != 1 {
		t.Errorf("delete of an unknown line: %v, %v", got, *unresolved)
	}
	// a lookup that fails fails the transaction
	src.fail = errors.New("connection refused")
	if err := a.Add(ins("wp_postmeta", uint64(5), uint64(77), "_regular_price", "1")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve(context.Background(), a.Flush()); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("failed lookup: %v", err)
	}
}

// TestResolveVia: a change to Odoo's product_template reaches every
// product_product row of the template; a new variant takes the
// template's fields.
func TestResolveVia(t *testing.T) {
	src := newFakeRows(erpTables)
	a, r, _ := resolver(t, "erp", src)
	src.put("product_product", int64(1), "MUG-S", int64(5), true)
	src.put("product_product", int64(2), "MUG-L", int64(5), true)
	src.put("product_template", int64(5), `{"en_US": "Mug"}`, rat("9.5"))
	tmpl := func(vals ...any) *capture.Change {
		return &capture.Change{Op: capture.OpUpdate, Table: erpTables["product_template"], Before: vals, After: vals}
	}
	c := tmpl(int64(5), `{"en_US": "Big mug"}`, rat("9.5"))
	c.Before = capture.Row{int64(5), `{"en_US": "Mug"}`, rat("9.5")}
	got := resolveTx(t, a, r, c)
	for _, id := range []string{"1", "2"} {
		p, ok := got["product:"+id]
		if !ok || p.Values["name"] != "Big mug" || !reflect.DeepEqual(p.Changed, []string{"name"}) {
			t.Errorf("product %s: %+v", id, p)
		}
	}
	if got["product:1"].Values["sku"] != "MUG-S" || got["product:2"].Values["sku"] != "MUG-L" {
		t.Errorf("skus: %+v", got)
	}
	ins := &capture.Change{Op: capture.OpInsert, Table: erpTables["product_product"], After: capture.Row{int64(3), "MUG-XL", int64(5), true}}
	got = resolveTx(t, a, r, ins)
	if p := got["product:3"]; p.Values["name"] != "Mug" && p.Values["name"] != "Big mug" || !capture.Equal(p.Values["list_price"], rat("9.5")) {
		t.Errorf("new variant: %+v", p.Values)
	}
}

// TestResolveRefKeyOnUpdate: stock_level's key holds a reference
// (product_id -> the product's SKU). An update that changes only the
// quantity is keyed by the SKU, not by the product's local id.
func TestResolveRefKeyOnUpdate(t *testing.T) {
	quant := &capture.Table{Database: "erp", Schema: "public", Name: "stock_quant", Version: 1, Columns: []capture.Column{
		{Name: "id", Type: capture.Type{Kind: capture.KindInt32}, Key: true},
		{Name: "product_id", Type: capture.Type{Kind: capture.KindInt32}},
		{Name: "location_id", Type: capture.Type{Kind: capture.KindInt32}},
		{Name: "quantity", Type: capture.Type{Kind: capture.KindDecimal}},
	}}
	tables := map[string]*capture.Table{"stock_quant": quant}
	for k, v := range erpTables {
		tables[k] = v
	}
	src := newFakeRows(tables)
	src.put("product_product", int64(3), "MUG-S", int64(5), true)
	src.rows["public.stock_quant"] = append(src.rows["public.stock_quant"], capture.Row{int64(9), int64(3), int64(8), rat("4")})
	a, r, unresolved := resolver(t, "erp", src)
	got := resolveTx(t, a, r, &capture.Change{Op: capture.OpUpdate, Table: quant,
		Before: capture.Row{int64(9), int64(3), int64(8), rat("4")}, After: capture.Row{int64(9), int64(3), int64(8), rat("7")}})
	sl, ok := got["stock_level:9"]
	if !ok {
		t.Fatalf("no stock_level event: %v (unresolved %v)", got, *unresolved)
	}
	if sl.Values["sku"] != "MUG-S" || !reflect.DeepEqual(sl.Changed, []string{"quantity"}) {
		t.Errorf("stock_level %+v", sl)
	}
}

// BenchmarkResolverIdentityMemory: the heap one remembered instance
// identity takes (an entry of capture.key_cache).
func BenchmarkResolverIdentityMemory(b *testing.B) {
	cfg := loadExample(b, "woocommerce-odoo.yaml")
	const n = 100_000
	var per float64
	for range b.N {
		r, err := NewResolver(cfg, "shop", nil, n)
		if err != nil {
			b.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range n {
			r.learn(&Delta{Entity: "product", LocalID: strconv.Itoa(i), Root: true, Op: capture.OpInsert,
				Fields: map[string]any{"sku": fmt.Sprintf("SKU-%06d", i), "name": "Mug"}})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if r.ids.Len() != n {
			b.Fatalf("%d identities remembered, want %d", r.ids.Len(), n)
		}
		per = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(r)
	}
	b.ReportMetric(per, "B/identity")
	b.ReportMetric(0, "ns/op")
}
