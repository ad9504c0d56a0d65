package mapping

import (
	"errors"
	"strings"
	"testing"

	"github.com/tandem-sync/tandem/internal/config"
)

// goodMapping uses entities of its own, so it does not depend on the
// built-in ones.
const goodMapping = `systems:
  shop:
    kind: mysql
    dsn: u:p@tcp(127.0.0.1:3306)/shop
    capture: {server_id: 9}
    entities:
      item:
        table: shop.wp_posts
        id: ID
        where: {post_type: product}
        fields:
          name: post_title
          status: {column: post_status, map: {publish: active, draft: draft}}
        meta:
          - table: shop.wp_postmeta
            owner: post_id
            key: meta_key
            value: meta_value
            fields:
              sku: _sku
              price: {key: _price, cast: decimal}
      item_line:
        table: shop.woocommerce_order_items
        id: order_item_id
        parent: {column: order_id, entity: item}
        fields:
          qty: {column: qty, cast: decimal}
  erp:
    kind: postgres
    dsn: postgres://u:p@127.0.0.1:5432/erp
    entities:
      item:
        table: public.product_product
        id: id
        fields:
          sku: default_code
          name: {column: name, json: en_US}
          price: list_price
          status: {column: active, map: {"true": active, "false": draft}}
      item_line:
        table: public.sale_order_line
        id: id
        parent: {column: order_id, entity: item}
        fields:
          qty: product_uom_qty
entities:
  item:
    key: [sku]
    fields:
      sku: {type: string, required: true}
      name: {type: string}
      price: {type: decimal, scale: 2}
      status: {type: string, values: [active, draft]}
  item_line:
    key: [item_sku, qty]
    parent: item
    parent_key: [item_sku]
    fields:
      item_sku: {type: string}
      qty: {type: decimal}
ownership:
  item: {owner: erp, fields: {status: shop}}
flows:
  - {entity: item, from: erp, to: shop}
  - {entity: item, from: shop, to: erp, fields: [status]}
kafka: {brokers: ["127.0.0.1:9092"]}
schema_registry: {url: "http://127.0.0.1:1/apis/ccompat/v7"}
`

func TestGoodMapping(t *testing.T) {
	cfg, err := Load("m.yaml", []byte(goodMapping), config.Env{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	item := cfg.Systems["shop"].Entities["item"]
	if item.Meta[0].Fields["sku"].Column != "_sku" || item.Meta[0].Fields["price"].Key != "_price" {
		t.Errorf("short and long field forms: %+v", item.Meta[0].Fields)
	}
	if o, both := cfg.Owner("item", "status"); o != "shop" || both {
		t.Errorf("owner of status = %s", o)
	}
	if o, _ := cfg.Owner("item", "price"); o != "erp" {
		t.Errorf("owner of price = %s", o)
	}
	if cfg.Catalog()["item_line"].Parent != "item" {
		t.Errorf("catalog parent")
	}
}

func TestBadMappings(t *testing.T) {
	tests := []struct {
		name      string
		old, new_ string
		want      string
	}{
		{"unknown entity", "      item_line:\n        table: shop.woo", "      item_lin:\n        table: shop.woo",
			`m.yaml:22: systems.shop.entities.item_lin: unknown entity "item_lin" (did you mean "item_line"?)`},
		{"unknown field", "          name: post_title", "          nme: post_title",
			`m.yaml:12: systems.shop.entities.item.fields.nme: unknown field of item "nme" (did you mean "name"?)`},
		{"field mapped twice", "          name: post_title", "          name: post_title\n          price: {column: price, cast: decimal}",
			`m.yaml:22: systems.shop.entities.item.meta[0].fields.price: field "price" is mapped twice (also at systems.shop.entities.item.fields.price)`},
		{"meta text into decimal without cast", "              price: {key: _price, cast: decimal}", "              price: _price",
			`m.yaml:21: systems.shop.entities.item.meta[0].fields.price: meta values are text but field price is decimal: add cast: decimal`},
		{"cast to the wrong type", "              price: {key: _price, cast: decimal}", "              price: {key: _price, cast: boolean}",
			`m.yaml:21: systems.shop.entities.item.meta[0].fields.price.cast: casts to boolean but field price is decimal`},
		{"unqualified table", "        table: shop.wp_posts", "        table: wp_posts",
			`m.yaml:8: systems.shop.entities.item.table: "wp_posts" must be qualified, as database.table, e.g. shop.wp_posts`},
		{"natural key not mapped", "          sku: default_code\n", "",
			`m.yaml:32: systems.erp.entities.item: the natural key field "sku" of item is not mapped: every system must map it to match entities`},
		{"value map outside the value set", "{publish: active, draft: draft}", "{publish: active, draft: drafted}",
			`m.yaml:13: systems.shop.entities.item.fields.status.map.draft: "drafted" is not a value of status (values: active, draft)`},
		{"ambiguous value map on a written field", `{"true": active, "false": draft}`, `{"true": active, "t": active, "false": draft}`,
			`m.yaml:39: systems.erp.entities.item.fields.status.map.true: "t" and "true" both map to "active", so writing "active" back is ambiguous`},
		{"many-to-one value map on a field only read is fine, but an unknown value is not", "{publish: active, draft: draft}", "{publish: active, future: active, draft: draft, trash: gone}",
			`m.yaml:13: systems.shop.entities.item.fields.status.map.trash: "gone" is not a value of status`},
		{"unknown time zone", "          name: post_title", "          name: {column: post_title, timezone: Mars/Olympus}",
			`m.yaml:12: systems.shop.entities.item.fields.name.timezone: "Mars/Olympus" is not a time zone`},
		{"flow from a system that does not own the field", "fields: [status]}", "fields: [price]}",
			`m.yaml:65: flows[1].fields[0]: field price of item is owned by erp, so it cannot flow from shop`},
		{"flow to an unknown system", "{entity: item, from: erp, to: shop}", "{entity: item, from: erp, to: shopp}",
			`m.yaml:64: flows[0].to: unknown system "shopp" (did you mean "shop"?)`},
		{"ownership by a system that does not map the entity", "item: {owner: erp, fields: {status: shop}}", "item: {owner: erp, fields: {status: warehouse}}",
			`m.yaml:62: ownership.item.fields.status: unknown system "warehouse"`},
		{"reference to an unknown entity", "          name: post_title", "          name: {column: post_author, ref: custmer}",
			`m.yaml:12: systems.shop.entities.item.fields.name.ref: unknown entity "custmer" (did you mean "customer"?)`},
		{"reference to an entity the system does not map", "          name: post_title", "          name: {column: post_author, ref: customer}",
			`m.yaml:12: systems.shop.entities.item.fields.name.ref: system shop does not map customer, so its local ids cannot be resolved`},
		{"parent of the wrong entity", "        parent: {column: order_id, entity: item}\n        fields:\n          qty: {column: qty", "        parent: {column: order_id, entity: item_line}\n        fields:\n          qty: {column: qty",
			`m.yaml:25: systems.shop.entities.item_line.parent.entity: the parent of item_line is item, not "item_line"`},
		{"entity type unknown", "      price: {type: decimal, scale: 2}", "      price: {type: money, scale: 2}",
			`m.yaml:52: entities.item.fields.price.type: "money" is not one of string, int, long, decimal, boolean, timestamp, date, json`},
		{"parent key of the wrong type", "      item_sku: {type: string}", "      item_sku: {type: long}",
			`m.yaml:59: entities.item_line.fields.item_sku.type: item_sku holds item.sku, which is string, not long`},
		{"parent key not declared", "    parent_key: [item_sku]", "    parent_key: [sku]",
			`m.yaml:57: entities.item_line.parent_key: field "sku", which holds item.sku, is not among the fields`},
		{"decimal kind unknown", "      price: {type: decimal, scale: 2}", "      price: {type: decimal, scale: 2, kind: cash}",
			`m.yaml:52: entities.item.fields.price.kind: "cash" is not one of money, quantity, weight, percent`},
		{"scale above precision", "      price: {type: decimal, scale: 2}", "      price: {type: decimal, precision: 4, scale: 6}",
			`m.yaml:52: entities.item.fields.price: decimal(4,6) is not a valid decimal`},
		{"values on a number", "      status: {type: string, values: [active, draft]}", "      status: {type: long, values: [active, draft]}",
			`m.yaml:53: entities.item.fields.status.values: values apply to string fields only`},
		{"a column and a const", "          name: post_title", "          name: {column: post_title, const: x}",
			`m.yaml:12: systems.shop.entities.item.fields.name: give only one of column, key and const`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(goodMapping, tt.old) {
				t.Fatalf("test edit %q does not apply", tt.old)
			}
			src := strings.Replace(goodMapping, tt.old, tt.new_, 1)
			_, err := Load("m.yaml", []byte(src), config.Env{})
			var ps config.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Load accepted it (err %v)", err)
			}
			for _, p := range ps {
				if strings.HasPrefix(p.String(), tt.want) {
					return
				}
			}
			t.Errorf("no problem starts with\n  %s\ngot:\n%v", tt.want, err)
		})
	}
}

func TestBuiltinEntitiesInCatalog(t *testing.T) {
	cfg, err := Load("m.yaml", []byte(goodMapping), config.Env{})
	if err != nil {
		t.Fatal(err)
	}
	cat := cfg.Catalog()
	for _, name := range []string{"product", "price", "stock_level", "customer", "order", "order_line", "shipment", "invoice", "tax_rate", "return", "item"} {
		if cat[name] == nil {
			t.Errorf("catalog lacks %s", name)
		}
	}
	if cat["order_line"].Parent != "order" || cat["order"].Parent != "" {
		t.Errorf("aggregates: order_line parent %q, order parent %q", cat["order_line"].Parent, cat["order"].Parent)
	}
	if f := cat["order"].Fields["status"]; len(f.Values) == 0 || f.Type != "string" {
		t.Errorf("order.status: %+v", f)
	}
	// declaring an entity under a built-in name is refused
	src := strings.Replace(goodMapping, "entities:\n  item:\n    key: [sku]", "entities:\n  product:\n    key: [sku]\n    fields: {sku: {type: string}}\n  item:\n    key: [sku]", 1)
	_, err = Load("m.yaml", []byte(src), config.Env{})
	if err == nil || !strings.Contains(err.Error(), `entities.product: "product" is a built-in entity; give yours another name`) {
		t.Errorf("built-in name reuse: %v", err)
	}
}
