package mapping

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tandem-sync/tandem/capture"
)

// scanRows is fakeRows with Scan: each table's rows in the order put
// (tests put them in key order).
type scanRows struct {
	*fakeRows
	scanFail error
}

func (s *scanRows) Scan(_ context.Context, table string, fn func(*capture.Table, capture.Row) error) error {
	if s.scanFail != nil {
		return s.scanFail
	}
	t := s.tables[table]
	if t == nil {
		return errors.New("no table " + table)
	}
	for _, r := range s.rows[table] {
		if err := fn(t, r); err != nil {
			return err
		}
	}
	return nil
}

func instances(t *testing.T, sys, entity string, src *scanRows) *InstanceSet {
	t.Helper()
	set, err := Instances(context.Background(), loadExample(t, "woocommerce-odoo.yaml"), sys, entity, src)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestInstancesProducts: root rows the where filter keeps, with their meta
// rows, keyed by the SKU; a product without a SKU, a second product with
// the same SKU and a value that cannot be converted are counted; more
// products than one batch.
func TestInstancesProducts(t *testing.T) {
	src := &scanRows{fakeRows: newFakeRows(wooTables)}
	mod := time.Date(2024, 2, 29, 13, 14, 15, 0, time.UTC)
	src.put("wp_posts", uint64(10), "Blue mug", "A mug.", "publish", mod, "product")
	src.put("wp_posts", uint64(11), "About", "", "publish", mod, "page")
	src.put("wp_posts", uint64(12), "No SKU", "", "draft", mod, "product")
	src.put("wp_posts", uint64(13), "Blue mug again", "", "publish", mod, "product")
	src.put("wp_posts", uint64(14), "Bad price", "", "publish", mod, "product")
	src.put("wp_postmeta", uint64(1), uint64(10), "_sku", "MUG-1")
	src.put("wp_postmeta", uint64(2), uint64(10), "_regular_price", "19.90")
	src.put("wp_postmeta", uint64(3), uint64(11), "_sku", "PAGE")
	src.put("wp_postmeta", uint64(4), uint64(13), "_sku", "MUG-1")
	src.put("wp_postmeta", uint64(5), uint64(14), "_sku", "BAD")
	src.put("wp_postmeta", uint64(6), uint64(14), "_regular_price", "abc")
	n := instanceBatch + 500
	for i := range n {
		id := uint64(1000 + i)
		src.put("wp_posts", id, fmt.Sprint("P", i), "", "publish", mod, "product")
		src.put("wp_postmeta", uint64(100+2*i), id, "_sku", fmt.Sprint("SKU-", i))
		src.put("wp_postmeta", uint64(101+2*i), id, "_regular_price", fmt.Sprint(i))
	}
	set := instances(t, "shop", "product", src)
	if len(set.ByKey) != n+2 || !reflect.DeepEqual(set.Key, []string{"sku"}) {
		t.Fatalf("%d instances, key %v; skipped %v", len(set.ByKey), set.Key, set.Skipped)
	}
	p := set.ByKey["sku=MUG-1"]
	if p["name"] != "Blue mug" || !capture.Equal(p["list_price"], rat("19.9")) || p["status"] != "active" || !capture.Equal(p["updated_at"], mod) {
		t.Errorf("MUG-1 %v", p)
	}
	if p := set.ByKey["sku=SKU-1499"]; p["name"] != "P1499" || !capture.Equal(p["list_price"], rat("1499")) {
		t.Errorf("the last batch: %v", p)
	}
	if p, ok := set.ByKey["sku=BAD"]; !ok || p["name"] != "Bad price" {
		t.Errorf("BAD %v", p)
	} else if _, has := p["list_price"]; has {
		t.Errorf("an unconvertible price is kept: %v", p)
	}
	if _, ok := set.ByKey["sku=PAGE"]; ok {
		t.Error("a page became a product")
	}
	want := map[string]int{
		ReasonNoKey: 1,
		"natural key held by more than one row (the first in key order is compared)":          1,
		"field list_price: a stored value in shop.wp_postmeta cannot be converted (left out)": 1,
	}
	if !reflect.DeepEqual(set.Skipped, want) {
		t.Errorf("skipped %v", set.Skipped)
	}
	// the meta rows are looked up per batch of root rows, not per row
	if len(src.queries) > 6 {
		t.Errorf("%d lookups: %v", len(src.queries), src.queries)
	}
}

// TestInstancesChildrenAndRefs: order lines keyed by their order's number
// (the aggregate key from the parent) and line number, their product
// reference resolved to the SKU, a dangling one null; an order's joined
// record.
func TestInstancesChildrenAndRefs(t *testing.T) {
	src := &scanRows{fakeRows: newFakeRows(wooTables)}
	mod := time.Date(2024, 2, 29, 13, 14, 15, 0, time.UTC)
	src.put("wp_wc_orders", uint64(42), "wc-processing", "shop_order", "EUR", rat("10"), "ann@example.com")
	src.put("wp_wc_orders", uint64(43), "wc-pending", "shop_order_refund", "EUR", rat("-1"), "ann@example.com")
	src.put("wp_wc_order_addresses", uint64(1), uint64(42), "billing", "Lyon", "FR")
	src.put("wp_wc_order_addresses", uint64(2), uint64(42), "shipping", "Paris", "FR")
	src.put("wp_woocommerce_order_items", uint64(7), "Blue mug", "line_item", uint64(42))
	src.put("wp_woocommerce_order_items", uint64(8), "Gone", "line_item", uint64(42))
	src.put("wp_woocommerce_order_items", uint64(9), "Shipping", "shipping", uint64(42))
	src.put("wp_posts", uint64(10), "Blue mug", "", "publish", mod, "product")
	src.put("wp_postmeta", uint64(1), uint64(10), "_sku", "MUG-1")
	src.put("wp_woocommerce_order_itemmeta", uint64(1), uint64(7), "_product_id", "10")
	src.put("wp_woocommerce_order_itemmeta", uint64(2), uint64(7), "_qty", "3")
	src.put("wp_woocommerce_order_itemmeta", uint64(3), uint64(8), "_product_id", "99")

	lines := instances(t, "shop", "order_line", src)
	if got := strings.Join(sortedKeys(lines.ByKey), " | "); got != "order_number=42,line_no=7 | order_number=42,line_no=8" {
		t.Fatalf("order lines %s; skipped %v", got, lines.Skipped)
	}
	l := lines.ByKey["order_number=42,line_no=7"]
	if l["order_number"] != "42" || l["sku"] != "MUG-1" || !capture.Equal(l["quantity"], rat("3")) || l["name"] != "Blue mug" {
		t.Errorf("line 7: %v", l)
	}
	if l := lines.ByKey["order_number=42,line_no=8"]; l["sku"] != nil {
		t.Errorf("line 8: %v", l)
	}
	if len(lines.Skipped) != 1 || lines.Skipped["field sku refers to product 99, which cannot be found"] != 1 {
		t.Errorf("skipped %v", lines.Skipped)
	}

	orders := instances(t, "shop", "order", src)
	o, ok := orders.ByKey["number=42"]
	if len(orders.ByKey) != 1 || !ok {
		t.Fatalf("orders %v", orders.ByKey)
	}
	bill := map[string]any{"city": "Lyon", "country": "FR"}
	if !reflect.DeepEqual(o["billing_address"], bill) || o["status"] != "processing" || o["customer_email"] != "ann@example.com" {
		t.Errorf("order 42: %v", o)
	}
}

// TestInstancesVia: Odoo products take their template's fields through a
// via join.
func TestInstancesVia(t *testing.T) {
	src := &scanRows{fakeRows: newFakeRows(erpTables)}
	src.put("product_product", int64(1), "MUG-S", int64(5), true)
	src.put("product_product", int64(2), "MUG-L", int64(5), false)
	src.put("product_template", int64(5), `{"en_US": "Mug"}`, rat("9.50"))
	set := instances(t, "erp", "product", src)
	for _, k := range []string{"sku=MUG-S", "sku=MUG-L"} {
		if p := set.ByKey[k]; p["name"] != "Mug" || !capture.Equal(p["list_price"], rat("9.5")) {
			t.Errorf("%s: %v", k, p)
		}
	}
	if set.ByKey["sku=MUG-L"]["active"] != false {
		t.Errorf("MUG-L %v", set.ByKey["sku=MUG-L"])
	}
}

func TestInstancesErrors(t *testing.T) {
	ctx := context.Background()
	cfg := loadExample(t, "woocommerce-odoo.yaml")
	src := &scanRows{fakeRows: newFakeRows(wooTables)}
	if _, err := Instances(ctx, cfg, "nope", "product", src); err == nil || !strings.Contains(err.Error(), `no system "nope"`) {
		t.Errorf("unknown system: %v", err)
	}
	if _, err := Instances(ctx, cfg, "shop", "nope", src); err == nil || !strings.Contains(err.Error(), "system shop does not map entity nope") {
		t.Errorf("unknown entity: %v", err)
	}
	src.scanFail = errors.New("connection refused")
	if _, err := Instances(ctx, cfg, "shop", "product", src); err == nil ||
		!strings.Contains(err.Error(), "read the product instances of shop: connection refused") {
		t.Errorf("scan error: %v", err)
	}
	src.scanFail = nil
	src.put("wp_posts", uint64(10), "Blue mug", "", "publish", time.Time{}, "product")
	src.fail = errors.New("lookup refused")
	if _, err := Instances(ctx, cfg, "shop", "product", src); err == nil || !strings.Contains(err.Error(), "look up shop.wp_postmeta by post_id: lookup refused") {
		t.Errorf("lookup error: %v", err)
	}
}

func TestComparableFields(t *testing.T) {
	cfg := loadExample(t, "woocommerce-odoo.yaml")
	for _, c := range []struct{ entity, from, to, want string }{
		// fields the ERP does not map (description, sale_price) are left out
		{"product", "erp", "shop", "[list_price name sku status updated_at weight]"},
		// the shop's price_list and min_quantity are constants
		{"price", "erp", "shop", "[amount sku]"},
		{"order", "erp", "shop", "[status]"},
		// the order flows both ways: each side's clock moves with its own edits
		{"order", "shop", "erp", "[billing_address created_at currency customer_email note number shipping_address status tax_total total]"},
		{"product", "shop", "erp", "[]"}, // no such flow
	} {
		if got := fmt.Sprint(cfg.ComparableFields(c.entity, c.from, c.to)); got != c.want {
			t.Errorf("%s %s -> %s: %s, want %s", c.entity, c.from, c.to, got, c.want)
		}
	}
}

// TestComparableSubfields: an address is compared on what both keep.
func TestComparableSubfields(t *testing.T) {
	cfg := loadExample(t, "woocommerce-odoo.yaml")
	if got := fmt.Sprint(cfg.ComparableSubfields("order", "shop", "erp", "billing_address")); got != "[city company email last_name line1 line2 phone postcode]" {
		t.Errorf("billing_address: %s", got)
	}
	if got := cfg.ComparableSubfields("order", "shop", "erp", "total"); got != nil {
		t.Errorf("a plain field: %v", got)
	}
}

func TestKeyAndValueText(t *testing.T) {
	vals := map[string]any{"order_number": "A 1", "line_no": int64(7), "amount": rat("19.90"), "e": ""}
	if got := KeyText([]string{"order_number", "line_no", "amount", "e"}, vals); got != `order_number="A 1",line_no=7,amount=19.9,e=""` {
		t.Errorf("KeyText %s", got)
	}
	at := time.Date(2024, 2, 29, 13, 14, 15, 500000000, time.UTC)
	for v, want := range map[any]string{nil: "null", "x y": `"x y"`, int64(3): "3", true: "true"} {
		if got := ValueText(v); got != want {
			t.Errorf("ValueText(%#v) = %s, want %s", v, got, want)
		}
	}
	for _, c := range []struct {
		v    any
		want string
	}{
		{new(big.Rat).SetFrac64(199, 10), "19.9"},
		{at, "2024-02-29 13:14:15.5"},
		{map[string]any{"city": "Lyon", "a": nil}, `{a=null, city="Lyon"}`},
		{[]any{int64(1), "b"}, `[1, "b"]`},
	} {
		if got := ValueText(c.v); got != c.want {
			t.Errorf("ValueText(%#v) = %s, want %s", c.v, got, c.want)
		}
	}
}

// TestClocklessBoth: an entity with a field both systems change needs
// updated_at on every system that maps it.
func TestClocklessBoth(t *testing.T) {
	cfg := loadExample(t, "woocommerce-odoo.yaml")
	if got := cfg.ClocklessBoth(); len(got) != 0 {
		t.Errorf("the preset: %v, want every both-entity with clocks", got)
	}
	delete(cfg.Systems["erp"].Entities["order"].Fields, "updated_at")
	if got := fmt.Sprint(cfg.ClocklessBoth()); got != "map[order:[erp]]" {
		t.Errorf("without the ERP order's updated_at: %s", got)
	}
}
