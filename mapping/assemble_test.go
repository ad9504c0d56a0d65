package mapping

import (
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tandem-sync/tandem/capture"
)

// wooTables are the WooCommerce tables as the MariaDB capture describes them.
var wooTables = map[string]*capture.Table{
	"wp_posts": {Database: "shop", Schema: "shop", Name: "wp_posts", Version: 1, Columns: []capture.Column{
		{Name: "ID", Type: capture.Type{Kind: capture.KindUint64}, Key: true},
		{Name: "post_title", Type: capture.Type{Kind: capture.KindString}},
		{Name: "post_content", Type: capture.Type{Kind: capture.KindString}},
		{Name: "post_status", Type: capture.Type{Kind: capture.KindString}},
		{Name: "post_modified_gmt", Type: capture.Type{Kind: capture.KindTimestamp}},
		{Name: "post_type", Type: capture.Type{Kind: capture.KindString}},
	}},
	"wp_postmeta": {Database: "shop", Schema: "shop", Name: "wp_postmeta", Version: 1, Columns: []capture.Column{
		{Name: "meta_id", Type: capture.Type{Kind: capture.KindUint64}, Key: true},
		{Name: "post_id", Type: capture.Type{Kind: capture.KindUint64}},
		{Name: "meta_key", Type: capture.Type{Kind: capture.KindString}},
		{Name: "meta_value", Type: capture.Type{Kind: capture.KindString}},
	}},
	"wp_wc_orders": {Database: "shop", Schema: "shop", Name: "wp_wc_orders", Version: 1, Columns: []capture.Column{
		{Name: "id", Type: capture.Type{Kind: capture.KindUint64}, Key: true},
		{Name: "status", Type: capture.Type{Kind: capture.KindString}},
		{Name: "type", Type: capture.Type{Kind: capture.KindString}},
		{Name: "currency", Type: capture.Type{Kind: capture.KindString}},
		{Name: "total_amount", Type: capture.Type{Kind: capture.KindDecimal, Precision: 26, Scale: 8}},
		{Name: "billing_email", Type: capture.Type{Kind: capture.KindString}},
	}},
	"wp_wc_order_addresses": {Database: "shop", Schema: "shop", Name: "wp_wc_order_addresses", Version: 1, Columns: []capture.Column{
		{Name: "id", Type: capture.Type{Kind: capture.KindUint64}, Key: true},
		{Name: "order_id", Type: capture.Type{Kind: capture.KindUint64}},
		{Name: "address_type", Type: capture.Type{Kind: capture.KindString}},
		{Name: "city", Type: capture.Type{Kind: capture.KindString}},
		{Name: "country", Type: capture.Type{Kind: capture.KindString}},
	}},
}

func init() {
	wooTables["wp_woocommerce_order_items"] = &capture.Table{Database: "shop", Schema: "shop", Name: "wp_woocommerce_order_items", Version: 1, Columns: []capture.Column{
		{Name: "order_item_id", Type: capture.Type{Kind: capture.KindUint64}, Key: true},
		{Name: "order_item_name", Type: capture.Type{Kind: capture.KindString}},
		{Name: "order_item_type", Type: capture.Type{Kind: capture.KindString}},
		{Name: "order_id", Type: capture.Type{Kind: capture.KindUint64}},
	}}
	wooTables["wp_woocommerce_order_itemmeta"] = &capture.Table{Database: "shop", Schema: "shop", Name: "wp_woocommerce_order_itemmeta", Version: 1, Columns: []capture.Column{
		{Name: "meta_id", Type: capture.Type{Kind: capture.KindUint64}, Key: true},
		{Name: "order_item_id", Type: capture.Type{Kind: capture.KindUint64}},
		{Name: "meta_key", Type: capture.Type{Kind: capture.KindString}},
		{Name: "meta_value", Type: capture.Type{Kind: capture.KindString}},
	}}
}

func ins(table string, vals ...any) *capture.Change {
	return &capture.Change{Op: capture.OpInsert, Table: wooTables[table], After: vals}
}

func upd(table string, before, after []any) *capture.Change {
	return &capture.Change{Op: capture.OpUpdate, Table: wooTables[table], Before: before, After: after}
}

func del(table string, vals ...any) *capture.Change {
	return &capture.Change{Op: capture.OpDelete, Table: wooTables[table], Before: vals}
}

func shopAssembler(t *testing.T) *Assembler {
	t.Helper()
	a, err := NewAssembler(loadExample(t, "woocommerce-odoo.yaml"), "shop")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func byEntity(ds []*Delta) map[string]*Delta {
	out := map[string]*Delta{}
	for _, d := range ds {
		out[d.Entity+":"+d.LocalID] = d
	}
	return out
}

func rat(s string) *big.Rat { r, _ := new(big.Rat).SetString(s); return r }

// TestAssembleProductFromPostAndMeta: a posts row plus postmeta rows in one
// transaction is one product delta with its SKU, name and exact price; a
// later change of one meta row is a delta of just that field.
func TestAssembleProductFromPostAndMeta(t *testing.T) {
	a := shopAssembler(t)
	mod := time.Date(2024, 2, 29, 13, 14, 15, 0, time.UTC)
	for _, c := range []*capture.Change{
		ins("wp_posts", uint64(10), "Blue mug", "A mug.", "publish", mod, "product"),
		ins("wp_postmeta", uint64(1), uint64(10), "_sku", "MUG-1"),
		ins("wp_postmeta", uint64(2), uint64(10), "_regular_price", "19.99"),
		ins("wp_postmeta", uint64(3), uint64(10), "_stock", "5"),
		ins("wp_postmeta", uint64(4), uint64(10), "_edit_lock", "1709212455:1"),
		ins("wp_postmeta", uint64(5), uint64(10), "_price", "17.99"),
		ins("wp_posts", uint64(11), "About us", "", "publish", mod, "page"),
	} {
		if err := a.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	ds := byEntity(a.Flush())
	p := ds["product:10"]
	if p == nil || p.Op != capture.OpInsert {
		t.Fatalf("product delta %+v", p)
	}
	want := map[string]any{"sku": "MUG-1", "name": "Blue mug", "description": "A mug.", "status": "active",
		"list_price": rat("19.99"), "updated_at": mod}
	for f, w := range want {
		if !capture.Equal(p.Fields[f], w) {
			t.Errorf("product.%s = %#v, want %#v", f, p.Fields[f], w)
		}
	}
	if s := ds["stock_level:10"]; s == nil || !capture.Equal(s.Fields["quantity"], rat("5")) || s.Fields["warehouse"] != "default" {
		t.Errorf("stock_level delta %+v", s)
	}
	if pr := ds["price:10"]; pr == nil || pr.Fields["price_list"] != "regular" || !capture.Equal(pr.Fields["amount"], rat("17.99")) {
		t.Errorf("price delta %+v", pr)
	}
	for k := range ds {
		if k == "product:11" || k == "price:11" {
			t.Errorf("a page became %s", k)
		}
	}

	// a later transaction changes only _regular_price
	if err := a.Add(upd("wp_postmeta", []any{uint64(2), uint64(10), "_regular_price", "19.99"},
		[]any{uint64(2), uint64(10), "_regular_price", "24.50"})); err != nil {
		t.Fatal(err)
	}
	ds = byEntity(a.Flush())
	p = ds["product:10"]
	if p == nil || p.Op != capture.OpUpdate || !reflect.DeepEqual(p.ChangedFields(), []string{"list_price"}) ||
		!capture.Equal(p.Fields["list_price"], rat("24.5")) {
		t.Fatalf("price change: %+v", p)
	}
	if len(ds) != 1 { // the price entity keeps the active price (_price)
		t.Errorf("deltas %v, want product only", ds)
	}
}

func TestAssembleOrderWithAddresses(t *testing.T) {
	a := shopAssembler(t)
	for _, c := range []*capture.Change{
		ins("wp_wc_orders", uint64(42), "wc-processing", "shop_order", "EUR", rat("123.45000000"), "ann@example.com"),
		ins("wp_wc_order_addresses", uint64(1), uint64(42), "billing", "Berlin", "DE"),
		ins("wp_wc_order_addresses", uint64(2), uint64(42), "shipping", "Hamburg", "DE"),
	} {
		if err := a.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	ds := byEntity(a.Flush())
	o := ds["order:42"]
	if o == nil || o.Op != capture.OpInsert {
		t.Fatalf("order delta %+v", o)
	}
	if o.Fields["number"] != "42" || o.Fields["status"] != "processing" || o.Fields["customer_email"] != "ann@example.com" ||
		!capture.Equal(o.Fields["total"], rat("123.45")) {
		t.Errorf("order fields %+v", o.Fields)
	}
	if o.Records["billing_address"]["city"] != "Berlin" || o.Records["shipping_address"]["city"] != "Hamburg" {
		t.Errorf("addresses %+v", o.Records)
	}
	// the shipment and invoice views of the order see it too, but not its refund's
	if ds["shipment:42"] == nil || ds["return:42"] != nil {
		t.Errorf("shipment/return deltas: %v", ds)
	}
}

func TestAssembleDeletesAndBadValues(t *testing.T) {
	a := shopAssembler(t)
	if err := a.Add(del("wp_postmeta", uint64(3), uint64(10), "_stock", "5")); err != nil {
		t.Fatal(err)
	}
	if err := a.Add(del("wp_posts", uint64(12), "Old", "", "trash", nil, "product")); err != nil {
		t.Fatal(err)
	}
	ds := byEntity(a.Flush())
	if s := ds["stock_level:10"]; s == nil || s.Fields["quantity"] != nil || len(s.Fields) != 1 {
		t.Errorf("meta row delete: %+v", s)
	}
	if p := ds["product:12"]; p == nil || p.Op != capture.OpDelete {
		t.Errorf("root delete: %+v", p)
	}
	err := a.Add(ins("wp_postmeta", uint64(9), uint64(10), "_price", "cheap"))
	var bv BadValues
	if !errors.As(err, &bv) || len(bv) != 1 {
		t.Fatalf("bad price: %v", err)
	}
	var ve *ValueError
	if !errors.As(bv[0].Err, &ve) || ve.Field != "amount" || bv[0].Entity != "price" || bv[0].Table != "shop.wp_postmeta" ||
		!strings.Contains(err.Error(), "price (table shop.wp_postmeta): field amount: value \"cheap\": is not a decimal number") {
		t.Errorf("bad price: %v", err)
	}
	// the other fields of the change still count
	if err := a.Add(upd("wp_posts", []any{uint64(10), "Mug", "", "publish", nil, "product"},
		[]any{uint64(10), "Mug 2", "", "gone", nil, "product"})); !errors.As(err, &bv) || len(bv) != 1 {
		t.Fatalf("bad status: %v", err)
	}
	if p := byEntity(a.Flush())["product:10"]; p == nil || p.Fields["name"] != "Mug 2" || p.Fields["status"] != nil {
		t.Errorf("a bad field must leave the others: %+v", p)
	}
	if got := shopAssembler(t).Tables(); len(got) != 10 || got[0] != "shop.wp_postmeta" || got[9] != "shop.wp_woocommerce_tax_rates" {
		t.Errorf("tables %v", got)
	}
}

// TestAssembleOrderLine: a line item and its itemmeta are one order_line
// delta with its parent order's local id; shipping items are not lines.
func TestAssembleOrderLine(t *testing.T) {
	a := shopAssembler(t)
	for _, c := range []*capture.Change{
		ins("wp_woocommerce_order_items", uint64(7), "Blue mug", "line_item", uint64(42)),
		ins("wp_woocommerce_order_itemmeta", uint64(1), uint64(7), "_product_id", "10"),
		ins("wp_woocommerce_order_itemmeta", uint64(2), uint64(7), "_qty", "2"),
		ins("wp_woocommerce_order_itemmeta", uint64(3), uint64(7), "_line_total", "39.98"),
		ins("wp_woocommerce_order_items", uint64(8), "Flat rate", "shipping", uint64(42)),
	} {
		if err := a.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	ds := byEntity(a.Flush())
	l := ds["order_line:7"]
	if l == nil || l.Parent != "42" || l.Fields["sku"] != "10" || !capture.Equal(l.Fields["quantity"], rat("2")) ||
		!capture.Equal(l.Fields["net_total"], rat("39.98")) || l.Fields["name"] != "Blue mug" {
		t.Fatalf("order_line delta %+v", l)
	}
	if ds["order_line:8"] != nil {
		t.Errorf("a shipping item became an order line")
	}
}
