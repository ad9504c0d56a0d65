package mapping

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-sync/tandem/internal/config"
)

// The -update flag rewrites the golden files under testdata/. It is
// registered in init, after every package-level variable, and only when no
// other test file of this package has defined it.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// DiagramConfig is a representative mapping of its own entities: a shop on
// MySQL with an EAV meta table and a joined table, an ERP on PostgreSQL
// with a joined table, members flowing both ways with their fields split
// by ownership (phone changed by both), and articles from the ERP with more
// fields than an edge label shows.
const DiagramConfig = `systems:
  shop:
    kind: mysql
    dsn: u:p@tcp(127.0.0.1:3306)/shop
    capture: {server_id: 9}
    entities:
      member:
        table: shop.wp_users
        id: ID
        fields:
          email: user_email
        meta:
          - table: shop.wp_usermeta
            owner: user_id
            key: meta_key
            value: meta_value
            fields:
              first_name: first_name
              last_name: last_name
              phone: billing_phone
              loyalty_points: {key: _loyalty_points, cast: long}
        joins:
          - table: shop.wc_customer_lookup
            owner: user_id
            fields:
              city: city
              status: {column: state, map: {"1": active, "0": blocked}}
      article:
        table: shop.wp_posts
        id: ID
        where: {post_type: product}
        fields:
          name: post_title
          description: post_content
        meta:
          - table: shop.wp_postmeta
            owner: post_id
            key: meta_key
            value: meta_value
            fields:
              sku: _sku
              barcode: _global_unique_id
              list_price: {key: _regular_price, cast: decimal}
              sale_price: {key: _sale_price, cast: decimal}
              weight: {key: _weight, cast: decimal}
              stock: {key: _stock, cast: decimal}
  erp:
    kind: postgres
    dsn: postgres://u:p@127.0.0.1:5432/erp
    entities:
      member:
        table: public.res_partner
        id: id
        fields:
          email: email
          first_name: firstname
          last_name: lastname
          phone: phone
          city: city
          status: {column: active, map: {"true": active, "false": blocked}}
        joins:
          - table: public.loyalty_card
            owner: partner_id
            fields:
              loyalty_points: {column: points, cast: long}
      article:
        table: public.product_template
        id: id
        fields:
          sku: default_code
          barcode: barcode
          name: {column: name, json: en_US}
          description: {column: description_sale, json: en_US}
          list_price: list_price
          sale_price: sale_price
          weight: weight
        joins:
          - table: public.stock_quant
            owner: product_id
            where: {location_id: "8"}
            fields:
              stock: quantity
entities:
  member:
    key: [email]
    fields:
      email: {type: string, required: true}
      first_name: {type: string}
      last_name: {type: string}
      phone: {type: string}
      city: {type: string}
      status: {type: string, values: [active, blocked]}
      loyalty_points: {type: long}
  article:
    key: [sku]
    fields:
      sku: {type: string, required: true}
      barcode: {type: string}
      name: {type: string}
      description: {type: string}
      list_price: {type: decimal, scale: 2}
      sale_price: {type: decimal, scale: 2}
      weight: {type: decimal, scale: 3}
      stock: {type: decimal, scale: 0}
ownership:
  member:
    owner: shop
    fields: {status: erp, loyalty_points: erp}
    both: [phone]
  article: {owner: erp}
flows:
  - {entity: member, from: shop, to: erp}
  - {entity: member, from: erp, to: shop}
  - {entity: article, from: erp, to: shop}
kafka: {brokers: ["127.0.0.1:9092"], topic_prefix: acme}
schema_registry: {url: "http://127.0.0.1:1/apis/ccompat/v7"}
`

func loadDiagramConfig(t *testing.T) *Config {
	t.Helper()
	cfg, err := Load("diagram.yaml", []byte(DiagramConfig), config.Env{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg
}

func TestDiagramGolden(t *testing.T) {
	cfg := loadDiagramConfig(t)
	tests := []struct {
		format string
		want   []string // edges and labels that must be there
	}{
		{FormatMermaid, []string{
			`subgraph sys_shop["shop (mysql)"]`,
			`subgraph sys_erp["erp (postgres)"]`,
			`t_shop_shop_wp_usermeta["shop.wp_usermeta"]`,
			`t_shop_shop_wc_customer_lookup["shop.wc_customer_lookup"]`,
			`topic acme.shop.member`,
			`topic acme.erp.member`,
			`topic acme.erp.article`,
			// capture: shop's EAV table -> member, with the fields shop owns or shares
			`t_shop_shop_wp_usermeta -->|"first_name, last_name, phone (both)"| e_member`,
			// apply: member -> erp's root table, from shop's topic
			`e_member ==>|"from acme.shop.member<br/>city, email, first_name<br/>last_name, phone (both)"| t_erp_public_res_partner`,
			// the opposite flow: erp's joined table -> member -> shop's EAV table
			`t_erp_public_loyalty_card -->|"loyalty_points"| e_member`,
			`e_member ==>|"from acme.erp.member<br/>loyalty_points, phone (both)"| t_shop_shop_wp_usermeta`,
			`e_member ==>|"from acme.erp.member<br/>status"| t_shop_shop_wc_customer_lookup`,
			// abbreviated: erp's article root table holds seven flowing fields
			`t_erp_public_product_template -->|"barcode, description, list_price<br/>name, sale_price<br/>+2 more"| e_article`,
			`both: phone (last writer wins)`,
		}},
		{FormatDOT, []string{
			`subgraph cluster_sys_shop {`,
			`label="shop (mysql)";`,
			`label="erp (postgres)";`,
			// erp is drawn left of the entities, shop right
			`t_erp_public_loyalty_card -> e_member:p_erp:w [label="loyalty_points", color=royalblue3`,
			`t_erp_public_res_partner -> e_member:p_shop:w [dir=back, label="city, email, first_name\nlast_name, phone (both)", color=firebrick3`,
			`e_member:p_shop:e -> t_shop_shop_wp_usermeta [dir=back, label="first_name, last_name, phone (both)", color=firebrick3`,
			`e_member:p_erp:e -> t_shop_shop_wc_customer_lookup [label="status", color=royalblue3`,
			`e_article:p_erp:e -> t_shop_shop_wp_postmeta [label="barcode, list_price, sale_price\nsku, stock, weight"`,
			`<TD PORT="p_shop"><FONT COLOR="firebrick3">acme.shop.member</FONT></TD>`,
			`erp owns: loyalty_points, status`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			got, err := cfg.Diagram(tt.format)
			if err != nil {
				t.Fatal(err)
			}
			again, err := loadDiagramConfig(t).Diagram(tt.format)
			if err != nil {
				t.Fatal(err)
			}
			if got != again {
				t.Fatalf("two renderings of the same config differ:\n%s\n---\n%s", got, again)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			path := filepath.Join("testdata", "diagram."+tt.format+".golden")
			if updating() {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./mapping -run TestDiagramGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (run with -update if the change is intended):\n%s", path, got)
			}
		})
	}
}

// TestDiagramOwnershipEdges checks what flows where: nothing the other side
// owns is captured, and every flow applies only its own fields.
func TestDiagramOwnershipEdges(t *testing.T) {
	d := loadDiagramConfig(t).diagramModel()
	type key struct {
		capture       bool
		source, table string
	}
	got := map[key]string{}
	for _, e := range d.edges {
		if e.entity.name == "member" {
			got[key{e.capture, e.source.name, e.table.name}] = strings.Join(e.fields, ", ")
		}
	}
	want := map[key]string{
		{true, "shop", "shop.wp_users"}:           "email",
		{true, "shop", "shop.wp_usermeta"}:        "first_name, last_name, phone (both)",
		{true, "shop", "shop.wc_customer_lookup"}: "city",
		{true, "erp", "public.res_partner"}:       "phone (both), status",
		{true, "erp", "public.loyalty_card"}:      "loyalty_points",
		{false, "shop", "public.res_partner"}:     "city, email, first_name, last_name, phone (both)",
		{false, "erp", "shop.wp_users"}:           "", // the root: rows are created there
		{false, "erp", "shop.wp_usermeta"}:        "loyalty_points, phone (both)",
		{false, "erp", "shop.wc_customer_lookup"}: "status",
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("edge %+v: fields %q (present %v), want %q", k, g, ok, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d member edges, want %d: %v", len(got), len(want), got)
	}
}

func TestDiagramBadFormat(t *testing.T) {
	if _, err := loadDiagramConfig(t).Diagram("png"); err == nil || !strings.Contains(err.Error(), `"png" is not one of mermaid, dot`) {
		t.Fatalf("err = %v", err)
	}
}

// TestDiagramSafeIDs feeds names with characters that are not identifiers,
// and a child entity, which travels in its root's topic.
func TestDiagramSafeIDs(t *testing.T) {
	cfg := &Config{
		Kafka: Default().Kafka,
		Systems: map[string]*System{
			"a": {Name: "a", Kind: KindPostgres, Entities: map[string]*EntityMapping{
				"box":      {Table: `s."we ird"`, ID: "id", Fields: map[string]FieldSpec{"n": {Column: "n"}}},
				"box_part": {Table: "s.we-ird", ID: "id", Fields: map[string]FieldSpec{"q": {Column: "q"}}},
			}},
			"b": {Name: "b", Kind: KindMySQL, Entities: map[string]*EntityMapping{
				"box":      {Table: "b.o<r>", ID: "id", Fields: map[string]FieldSpec{"n": {Column: "n"}}},
				"box_part": {Table: "b.l", ID: "id", Fields: map[string]FieldSpec{"q": {Column: "q"}}},
			}},
		},
		Entities: map[string]*EntityDef{
			"box":      {Key: []string{"n"}, Fields: map[string]FieldDef{"n": {Type: "string"}}},
			"box_part": {Key: []string{"q"}, Parent: "box", Fields: map[string]FieldDef{"q": {Type: "string"}}},
		},
		Ownership: map[string]*Ownership{"box": {Owner: "a"}, "box_part": {Owner: "a"}},
		Flows:     []Flow{{Entity: "box", From: "a", To: "b"}, {Entity: "box_part", From: "a", To: "b"}},
	}
	dot, err := cfg.Diagram(FormatDOT)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		`t_a_s__we_ird_ [label="s.\"we ird\""`,
		`t_a_s_we_ird [label="s.we-ird"`,
		`t_b_b_o_r_ [label="b.o<r>"`,
		`child of box`,
	} {
		if !strings.Contains(dot, w) {
			t.Errorf("dot lacks %q:\n%s", w, dot)
		}
	}
	// box_part travels in box's topic: both nodes list it.
	if n := strings.Count(dot, `<TD PORT="p_a"><FONT COLOR="royalblue3">tandem.a.box</FONT>`); n != 2 || strings.Contains(dot, "tandem.a.box_part") {
		t.Errorf("box and box_part should both list topic tandem.a.box (%d times):\n%s", n, dot)
	}
	mm, err := cfg.Diagram(FormatMermaid)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`t_a_s__we_ird_["s.#quot;we ird#quot;"]`, `t_b_b_o_r_["b.o#lt;r#gt;"]`} {
		if !strings.Contains(mm, w) {
			t.Errorf("mermaid lacks %q:\n%s", w, mm)
		}
	}
	if got := newIDs(); got.make("t_x.y") != "t_x_y" || got.make("t_x-y") != "t_x_y_2" {
		t.Errorf("colliding ids are not made unique")
	}
}

// TestTableUses: a table joined twice is one table holding the fields of
// both joins, and a join that fills a record field holds that field.
func TestTableUses(t *testing.T) {
	m := &EntityMapping{
		Table:  "s.orders",
		Fields: map[string]FieldSpec{"number": {Column: "no"}},
		Meta:   []MetaTable{{Table: "s.order_meta", Fields: map[string]FieldSpec{"note": {Key: "_note"}}}},
		Joins: []JoinTable{
			{Table: "s.addresses", Into: "shipping_address", Where: map[string]string{"type": "shipping"}, Fields: map[string]FieldSpec{"city": {Column: "city"}}},
			{Table: "s.addresses", Into: "billing_address", Where: map[string]string{"type": "billing"}, Fields: map[string]FieldSpec{"city": {Column: "city"}}},
			{Table: "s.orders", Fields: map[string]FieldSpec{"total": {Column: "total"}}},
		},
	}
	var got []string
	for _, u := range m.tableUses() {
		got = append(got, fmt.Sprintf("%s root=%v %v", u.table, u.root, u.fields))
	}
	want := []string{
		"s.addresses root=false [billing_address shipping_address]",
		"s.order_meta root=false [note]",
		"s.orders root=true [number total]",
	}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("tableUses:\n got %q\nwant %q", got, want)
	}
}

func TestLabelLines(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, "(row)"},
		{[]string{"a"}, "a"},
		{[]string{"a", "b", "c", "d"}, "a, b, c|d"},
		{[]string{"a", "b", "c", "d", "e", "f"}, "a, b, c|d, e, f"},
		{[]string{"a", "b", "c", "d", "e", "f", "g"}, "a, b, c|d, e|+2 more"},
		// a shared field is kept even when it sorts last
		{[]string{"a", "b", "c", "d", "e", "f", "z (both)"}, "a, b, c|d, z (both)|+2 more"},
	}
	for _, tt := range tests {
		if got := strings.Join(labelLines(tt.in), "|"); got != tt.want {
			t.Errorf("labelLines(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
