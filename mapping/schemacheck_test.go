package mapping

import (
	"strings"
	"testing"

	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/internal/preflight"
)

func TestCheckSchema(t *testing.T) {
	cfg, err := Load("m.yaml", []byte(goodMapping), config.Env{})
	if err != nil {
		t.Fatal(err)
	}
	shop := map[string]map[string]string{
		"shop.wp_posts":                {"ID": "bigint", "post_title": "text", "post_status": "varchar", "post_type": "varchar"},
		"shop.wp_postmeta":             {"post_id": "bigint", "meta_key": "varchar", "meta_value": "longtext"},
		"shop.woocommerce_order_items": {"order_item_id": "bigint", "order_id": "bigint", "qty": "varchar"},
	}
	lookup := func(db map[string]map[string]string) Columns {
		return func(table string) (map[string]string, bool, error) {
			cols, ok := db[table]
			return cols, ok, nil
		}
	}
	res := cfg.CheckSchema("shop", lookup(shop))
	if !preflight.OK(res) || len(res) != 2 {
		t.Fatalf("good schema: %+v", res)
	}
	erp := map[string]map[string]string{
		"public.product_product": {"id": "integer", "default_code": "character varying", "name": "jsonb", "list_price": "double precision", "active": "boolean"},
	}
	res = cfg.CheckSchema("erp", lookup(erp))
	got := map[string]preflight.Result{}
	for _, r := range res {
		got[r.Check] = r
	}
	item, line := got["mapping item"], got["mapping item_line"]
	if item.Status != preflight.Fail || !strings.Contains(item.Detail, "field price: column public.product_product.list_price is double precision; a float column holds money inexactly") {
		t.Errorf("float money: %+v", item)
	}
	if line.Status != preflight.Fail || !strings.Contains(line.Detail, "table public.sale_order_line does not exist") {
		t.Errorf("missing table: %+v", line)
	}
	delete(erp["public.product_product"], "default_code")
	erp["public.product_product"]["list_price"] = "numeric"
	res = cfg.CheckSchema("erp", lookup(erp))
	if !strings.Contains(res[0].Detail, "field sku: column public.product_product.default_code does not exist") {
		t.Errorf("missing column: %+v", res[0])
	}
}

func TestTypeFit(t *testing.T) {
	dec := FieldInfo{Type: "decimal"}
	for _, tt := range []struct {
		f    FieldInfo
		spec FieldSpec
		typ  string
		ok   bool
	}{
		{dec, FieldSpec{}, "numeric", true},
		{dec, FieldSpec{}, "text", false},
		{dec, FieldSpec{Cast: "decimal"}, "text", true},
		{FieldInfo{Type: "timestamp"}, FieldSpec{}, "datetime", true},
		{FieldInfo{Type: "timestamp"}, FieldSpec{}, "varchar", false},
		{FieldInfo{Type: "boolean"}, FieldSpec{}, "tinyint", true},
		{FieldInfo{Type: "string"}, FieldSpec{}, "bigint", true},
		{FieldInfo{Type: "string"}, FieldSpec{JSON: "en_US"}, "jsonb", true},
	} {
		if got := typeFit(tt.f, tt.spec, tt.typ) == ""; got != tt.ok {
			t.Errorf("%s into %s (%+v): fits=%v, want %v", tt.typ, tt.f.Type, tt.spec, got, tt.ok)
		}
	}
}
