//go:build integration

package demo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"os"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/tandem-sync/tandem/deploy/fixtures"
	"github.com/tandem-sync/tandem/internal/testenv"
)

// freshDatabases loads the fixtures into a MariaDB and a PostgreSQL database
// of unique names (never "shop" and "erp", which other tests and the demo
// use) and drops them when the test ends.
func freshDatabases(t *testing.T) (shop, erp *sql.DB) {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("seedtest_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	shopName, erpName := name+"_shop", name+"_erp"
	t.Cleanup(func() {
		if db, err := sql.Open("mysql", testenv.MySQLDSN()); err == nil {
			if _, err := db.Exec("DROP DATABASE IF EXISTS `" + shopName + "`"); err != nil {
				t.Errorf("drop %s: %v", shopName, err)
			}
			db.Close()
		}
		if c, err := pgx.Connect(ctx, testenv.PostgresDSN()); err == nil {
			if _, err := c.Exec(ctx, `DROP DATABASE IF EXISTS "`+erpName+`" WITH (FORCE)`); err != nil {
				t.Errorf("drop %s: %v", erpName, err)
			}
			c.Close(ctx)
		}
	})
	start := time.Now()
	if err := LoadFixtures(ctx, testenv.MySQLDSN(), testenv.PostgresDSN(), shopName, erpName); err != nil {
		t.Fatalf("LoadFixtures (start the stack with make up): %v", err)
	}
	t.Logf("fixtures loaded into %s / %s in %v", shopName, erpName, time.Since(start).Round(time.Millisecond))
	// loading again is harmless: everything is IF NOT EXISTS / ON CONFLICT
	if err := LoadFixtures(ctx, testenv.MySQLDSN(), testenv.PostgresDSN(), shopName, erpName); err != nil {
		t.Fatalf("LoadFixtures again: %v", err)
	}
	shopDSN, err := ShopDSN(testenv.MySQLDSN(), shopName)
	if err != nil {
		t.Fatal(err)
	}
	erpDSN, err := ERPDSN(testenv.PostgresDSN(), erpName)
	if err != nil {
		t.Fatal(err)
	}
	if shop, err = sql.Open("mysql", shopDSN); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shop.Close() })
	if erp, err = sql.Open("pgx", erpDSN); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { erp.Close() })
	return shop, erp
}

func ratOf(t *testing.T, s string) *big.Rat {
	t.Helper()
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("not a decimal: %q", s)
	}
	return r
}

// strings2 reads a two-column query into a map.
func strings2(t *testing.T, db *sql.DB, q string) map[string]string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v sql.NullString
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		if _, dup := out[k.String]; dup {
			t.Fatalf("%s: key %q twice", q, k.String)
		}
		out[k.String] = v.String
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func count(t *testing.T, db *sql.DB, q string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// sameDecimals fails for every key whose values differ as decimals, and for
// keys only one side has.
func sameDecimals(t *testing.T, what string, a, b map[string]string) {
	t.Helper()
	bad := 0
	for k, av := range a {
		bv, ok := b[k]
		switch {
		case !ok:
			t.Errorf("%s: %q only on the first side", what, k)
		case ratOf(t, av).Cmp(ratOf(t, bv)) != 0:
			t.Errorf("%s: %q is %s and %s", what, k, av, bv)
		default:
			continue
		}
		if bad++; bad > 10 {
			t.Fatalf("%s: too many differences", what)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			t.Errorf("%s: %q only on the second side", what, k)
		}
	}
}

func TestSeedIntegration(t *testing.T) {
	shop, erp := freshDatabases(t)
	ctx := context.Background()
	now := time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)
	st, err := Seed(ctx, shop, erp, SeedOptions{Seed: 42, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seed: %v", st)
	if st.Total > 20*time.Second {
		t.Errorf("the seed took %v, want under 20 s", st.Total)
	}

	// counts: what the brief asks for, and what the databases hold
	if st.Templates < 300 || st.Products <= st.Templates || st.Customers < 2000 || st.Orders < 300 || st.Warehouses != 3 || st.Taxes != 3 {
		t.Errorf("counts too small: %+v", st)
	}
	for q, want := range map[string]int{
		"SELECT count(*) FROM product_template WHERE default_code IS NOT NULL OR id IN (SELECT product_tmpl_id FROM product_product WHERE default_code IS NOT NULL)": st.Templates,
		"SELECT count(*) FROM product_product WHERE default_code IS NOT NULL":                                                                                        st.Products,
		"SELECT count(*) FROM res_partner WHERE type = 'contact' AND email IS NOT NULL":                                                                              st.Customers,
		"SELECT count(*) FROM sale_order":                                st.Orders,
		"SELECT count(*) FROM stock_warehouse":                           3,
		"SELECT count(*) FROM account_tax WHERE type_tax_use = 'sale'":   3,
		"SELECT count(*) FROM res_currency WHERE name IN ('EUR', 'USD')": 2,
		"SELECT count(DISTINCT location_id) FROM stock_quant":            3,
	} {
		if got := count(t, erp, q); got != want {
			t.Errorf("erp: %s = %d, want %d", q, got, want)
		}
	}
	for q, want := range map[string]int{
		"SELECT count(*) FROM wp_posts WHERE post_type = 'product'":                                           st.Products,
		"SELECT count(*) FROM wp_wc_product_meta_lookup":                                                      st.Products,
		"SELECT count(*) FROM wp_wc_customer_lookup":                                                          st.Customers,
		"SELECT count(*) FROM wp_wc_orders WHERE type = 'shop_order'":                                         st.Orders,
		"SELECT count(*) FROM wp_posts WHERE post_type = 'shop_order_placehold'":                              st.Orders,
		"SELECT count(*) FROM wp_wc_order_addresses":                                                          2 * st.Orders,
		"SELECT count(*) FROM wp_wc_order_operational_data":                                                   st.Orders,
		"SELECT count(*) FROM wp_woocommerce_tax_rates":                                                       3,
		"SELECT count(DISTINCT order_id) FROM wp_woocommerce_order_items":                                     st.Orders,
		"SELECT count(*) FROM wp_woocommerce_order_items WHERE order_id NOT IN (SELECT id FROM wp_wc_orders)": 0,
	} {
		if got := count(t, shop, q); got != want {
			t.Errorf("shop: %s = %d, want %d", q, got, want)
		}
	}
	if lines := count(t, shop, "SELECT count(*) FROM wp_woocommerce_order_items WHERE order_item_type = 'line_item'"); lines < st.Orders || lines > 5*st.Orders {
		t.Errorf("%d line items for %d orders, want 1 to 5 each", lines, st.Orders)
	}
	// the preset syncs the stock of location 8 (WH/Stock)
	if got := count(t, erp, "SELECT lot_stock_id FROM stock_warehouse WHERE code = 'WH'"); got != fixtures.MainStockLocation {
		t.Errorf("WH/Stock is location %d, the preset expects %d", got, fixtures.MainStockLocation)
	}

	// every shop SKU exists in the ERP, and the other way round, with the
	// same price and main-warehouse stock
	shopPrice := strings2(t, shop, `SELECT s.meta_value, p.meta_value FROM wp_postmeta s JOIN wp_postmeta p ON p.post_id = s.post_id AND p.meta_key = '_price'
		JOIN wp_posts w ON w.ID = s.post_id AND w.post_type = 'product' WHERE s.meta_key = '_sku'`)
	erpPrice := strings2(t, erp, `SELECT p.default_code, i.fixed_price::text FROM product_product p JOIN product_pricelist_item i ON i.product_id = p.id
		AND i.pricelist_id = 1 AND i.applied_on = '0_product_variant' AND i.compute_price = 'fixed' WHERE p.default_code IS NOT NULL`)
	sameDecimals(t, "SKU -> active price (_price) vs default pricelist", shopPrice, erpPrice)
	shopStock := strings2(t, shop, `SELECT s.meta_value, k.meta_value FROM wp_postmeta s JOIN wp_postmeta k ON k.post_id = s.post_id AND k.meta_key = '_stock'
		WHERE s.meta_key = '_sku'`)
	erpStock := strings2(t, erp, fmt.Sprintf(`SELECT p.default_code, q.quantity::text FROM product_product p JOIN stock_quant q ON q.product_id = p.id
		AND q.location_id = %d`, fixtures.MainStockLocation))
	sameDecimals(t, "SKU -> stock", shopStock, erpStock)

	// customers: the same e-mail addresses
	shopEmails := strings2(t, shop, "SELECT email, '1' FROM wp_wc_customer_lookup")
	erpEmails := strings2(t, erp, "SELECT email, '1' FROM res_partner WHERE type = 'contact' AND email IS NOT NULL")
	sameDecimals(t, "customer e-mails", shopEmails, erpEmails)

	// orders: each shop order has its ERP sale order, with the same totals,
	// exactly; and each side's total is the sum of its parts
	shopTotal := strings2(t, shop, "SELECT CAST(id AS CHAR), CAST(total_amount AS CHAR) FROM wp_wc_orders WHERE type = 'shop_order'")
	erpTotal := strings2(t, erp, "SELECT client_order_ref, amount_total::text FROM sale_order")
	sameDecimals(t, "order total", shopTotal, erpTotal)
	shopTax := strings2(t, shop, "SELECT CAST(id AS CHAR), CAST(tax_amount AS CHAR) FROM wp_wc_orders WHERE type = 'shop_order'")
	erpTax := strings2(t, erp, "SELECT client_order_ref, amount_tax::text FROM sale_order")
	sameDecimals(t, "order tax", shopTax, erpTax)
	shopParts := strings2(t, shop, `SELECT CAST(o.id AS CHAR), CAST(
		  (SELECT COALESCE(SUM(CAST(m.meta_value AS DECIMAL(26,8))), 0) FROM wp_woocommerce_order_items i JOIN wp_woocommerce_order_itemmeta m
		     ON m.order_item_id = i.order_item_id AND m.meta_key IN ('_line_total', '_line_tax') WHERE i.order_id = o.id AND i.order_item_type = 'line_item')
		  + d.shipping_total_amount + d.shipping_tax_amount AS CHAR)
		FROM wp_wc_orders o JOIN wp_wc_order_operational_data d ON d.order_id = o.id`)
	sameDecimals(t, "shop order total vs its items", shopTotal, shopParts)
	erpParts := strings2(t, erp, "SELECT o.client_order_ref, SUM(l.price_total)::text FROM sale_order o JOIN sale_order_line l ON l.order_id = o.id GROUP BY o.client_order_ref")
	sameDecimals(t, "ERP order total vs its lines", erpTotal, erpParts)
	if n := count(t, erp, "SELECT count(*) FROM sale_order WHERE amount_untaxed + amount_tax <> amount_total"); n != 0 {
		t.Errorf("%d sale orders whose untaxed amount and tax do not add up", n)
	}
	// an order line per shop line item, keyed like the preset's order_line (order number, line number)
	shopLines := strings2(t, shop, `SELECT CONCAT(i.order_id, '/', i.order_item_id), m.meta_value FROM wp_woocommerce_order_items i
		JOIN wp_woocommerce_order_itemmeta m ON m.order_item_id = i.order_item_id AND m.meta_key = '_line_total' WHERE i.order_item_type = 'line_item'`)
	erpLines := strings2(t, erp, `SELECT o.client_order_ref || '/' || l.sequence, l.price_subtotal::text FROM sale_order_line l JOIN sale_order o ON o.id = l.order_id
		JOIN product_product p ON p.id = l.product_id WHERE p.default_code IS NOT NULL`)
	sameDecimals(t, "order line net total", shopLines, erpLines)
	// status as the preset maps it
	statuses := strings2(t, shop, "SELECT CAST(id AS CHAR), status FROM wp_wc_orders")
	states := strings2(t, erp, "SELECT client_order_ref, state FROM sale_order")
	for id, s := range statuses {
		if want := seedERPState[s[len("wc-"):]]; states[id] != want {
			t.Errorf("order %s: shop %s, ERP %s, want %s", id, s, states[id], want)
		}
	}

	// the sequences continue after the seeded ids; a second seed refuses
	if _, err := erp.Exec("INSERT INTO res_partner (name, email) VALUES ('Sink Test', 'sink@example.com')"); err != nil {
		t.Errorf("a partner inserted with only the mapped columns: %v", err)
	}
	var soName string
	if err := erp.QueryRow(`INSERT INTO sale_order (partner_id, client_order_ref) SELECT id, 'X1' FROM res_partner WHERE email = 'sink@example.com' RETURNING name`).Scan(&soName); err != nil {
		t.Errorf("a sale order inserted with only the mapped columns: %v", err)
	} else if want := fmt.Sprintf("S%05d", st.Orders+1); soName != want {
		t.Errorf("the next sale order is %s, want %s", soName, want)
	}
	if _, err := shop.Exec("INSERT INTO wp_posts (post_title, post_content, post_status, post_type) VALUES ('Sink Test', '', 'publish', 'product')"); err != nil {
		t.Errorf("a product post inserted with only the mapped columns: %v", err)
	}
	if _, err := Seed(ctx, shop, erp, SeedOptions{Seed: 42, Now: now}); !errors.Is(err, ErrAlreadySeeded) {
		t.Errorf("a second seed: %v, want ErrAlreadySeeded", err)
	}
}
