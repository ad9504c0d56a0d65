package demo

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// SeedOptions sizes the seed. Zero fields take the defaults.
type SeedOptions struct {
	// Seed seeds the RNG (default 1). The same options give the same data.
	Seed int64
	// Templates is the number of ERP product templates (default 320); each
	// has one to eight variants, about 700 products in all by default.
	Templates int
	// Customers is the number of shop customers and ERP partners (default 2400).
	Customers int
	// Orders is the number of shop orders and ERP sale orders (default 450).
	Orders int
	// Now is the time the data leads up to (default: the start of the
	// current UTC day, so that a day's runs agree).
	Now time.Time
}

func (o SeedOptions) withDefaults() SeedOptions {
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Templates <= 0 {
		o.Templates = 320
	}
	if o.Customers <= 0 {
		o.Customers = 2400
	}
	if o.Orders <= 0 {
		o.Orders = 450
	}
	if o.Now.IsZero() {
		o.Now = time.Now().UTC().Truncate(24 * time.Hour)
	}
	o.Now = o.Now.UTC().Truncate(time.Second)
	return o
}

// SeedStats counts what Seed wrote.
type SeedStats struct {
	// ERP (Odoo)
	Currencies, UoMs, Categories, Templates, Products, PricelistItems          int
	Warehouses, Locations, Quants, Taxes, Partners, SaleOrders, SaleOrderLines int
	// shop (WooCommerce)
	ShopProducts, ShopPostmeta, ShopTaxRates, Customers, Orders, OrderItems, OrderItemmeta int
	// Rows is every row inserted, both systems.
	Rows int
	// ERPTime and ShopTime are the time each side took (they run in
	// parallel); Total is Seed's whole run.
	ERPTime, ShopTime, Total time.Duration
}

func (s SeedStats) String() string {
	return fmt.Sprintf("erp: %d templates, %d products, %d pricelist items, %d warehouses, %d quants, %d taxes, %d partners, %d sale orders with %d lines (%v); "+
		"shop: %d products, %d postmeta, %d tax rates, %d customers, %d orders with %d items (%v); %d rows in %v",
		s.Templates, s.Products, s.PricelistItems, s.Warehouses, s.Quants, s.Taxes, s.Partners, s.SaleOrders, s.SaleOrderLines, s.ERPTime.Round(time.Millisecond),
		s.ShopProducts, s.ShopPostmeta, s.ShopTaxRates, s.Customers, s.Orders, s.OrderItems, s.ShopTime.Round(time.Millisecond), s.Rows, s.Total.Round(time.Millisecond))
}

// ErrAlreadySeeded: the databases hold products already; Seed writes
// nothing then.
var ErrAlreadySeeded = errors.New("demo: the databases are seeded already (products exist)")

// Seed writes the demo's starting state into a shop and an ERP that hold the
// fixture schema (LoadFixtures) and no products yet, as if tandem had synced
// them before (every value as deploy/examples/woocommerce-odoo.yaml maps it):
//
//   - ERP: currencies EUR and USD, units of measure, product categories,
//     product templates with their variants (SKUs such as MUG-ENAMEL-BLUE-L),
//     three pricelists (default EUR with a fixed price per variant, USD,
//     wholesale), three warehouses with stock locations and a stock_quant per
//     storable product and warehouse, sale taxes 19%, 7% and 0%, a res_partner
//     per shop customer, a sale_order per shop order (client_order_ref = the
//     shop's order id) with its lines and delivery line.
//   - shop: every product variant as a WooCommerce product post with its
//     postmeta and wc_product_meta_lookup row (same SKU, price, weight,
//     main-warehouse stock), the tax rates, wc_customer_lookup customers
//     (registered and guests), and HPOS orders with placeholder posts,
//     addresses, operational data, meta, line items, shipping, coupon and tax
//     items and their item meta.
//
// Both sides are written in parallel, each in one transaction, with
// multi-row inserts; the two commit only when both succeeded. erpDB is a
// database/sql handle of the pgx driver (github.com/jackc/pgx/v5/stdlib).
func Seed(ctx context.Context, shopDB, erpDB *sql.DB, opts SeedOptions) (SeedStats, error) {
	start := time.Now()
	opts = opts.withDefaults()
	var st SeedStats
	var seeded bool
	if err := erpDB.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM product_product)").Scan(&seeded); err != nil {
		return st, fmt.Errorf("demo: read the ERP (load the fixtures first): %w", err)
	}
	if !seeded {
		if err := shopDB.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM wp_posts WHERE post_type = 'product')").Scan(&seeded); err != nil {
			return st, fmt.Errorf("demo: read the shop (load the fixtures first): %w", err)
		}
	}
	if seeded {
		return st, ErrAlreadySeeded
	}
	plan := planSeed(opts)
	ids, err := seedShopIDs(ctx, shopDB, plan)
	if err != nil {
		return st, err
	}

	erpTx, err := erpDB.BeginTx(ctx, nil)
	if err != nil {
		return st, err
	}
	defer erpTx.Rollback()
	shopTx, err := shopDB.BeginTx(ctx, nil)
	if err != nil {
		return st, err
	}
	defer shopTx.Rollback()
	var erpSt, shopSt SeedStats
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		t := time.Now()
		w := &seedWriter{tx: erpTx, pg: true}
		if err := seedERP(gctx, w, plan, ids, &erpSt); err != nil {
			return fmt.Errorf("demo: seed the ERP: %w", err)
		}
		erpSt.Rows, erpSt.ERPTime = w.rows, time.Since(t)
		return nil
	})
	g.Go(func() error {
		t := time.Now()
		w := &seedWriter{tx: shopTx}
		if err := seedShop(gctx, w, plan, ids, &shopSt); err != nil {
			return fmt.Errorf("demo: seed the shop: %w", err)
		}
		shopSt.Rows, shopSt.ShopTime = w.rows, time.Since(t)
		return nil
	})
	if err := g.Wait(); err != nil {
		return st, err
	}
	if err := erpTx.Commit(); err != nil {
		return st, fmt.Errorf("demo: commit the ERP seed: %w", err)
	}
	if err := shopTx.Commit(); err != nil {
		return st, fmt.Errorf("demo: commit the shop seed (the ERP's is committed): %w", err)
	}
	st = erpSt
	st.ShopProducts, st.ShopPostmeta, st.ShopTaxRates = shopSt.ShopProducts, shopSt.ShopPostmeta, shopSt.ShopTaxRates
	st.Customers, st.Orders, st.OrderItems, st.OrderItemmeta = shopSt.Customers, shopSt.Orders, shopSt.OrderItems, shopSt.OrderItemmeta
	st.ShopTime, st.Rows = shopSt.ShopTime, erpSt.Rows+shopSt.Rows
	st.Total = time.Since(start)
	return st, nil
}

// seedIDs are the shop ids the plan gets (the ERP refers to some of them:
// client_order_ref is the shop's order id, a sale order line's sequence the
// shop's order item id).
type seedIDs struct {
	productPost []int64 // per product
	customer    []int64 // wc_customer_lookup.customer_id per customer
	taxRate     []int64 // per seedTaxes
	orders      []seedOrderIDs
}

type seedOrderIDs struct {
	order            int64   // wc_orders.id = its placeholder post's ID
	lines            []int64 // order_item_id per line
	shipping, coupon int64   // 0: none
	taxes            []int64 // per seedTaxes index: the tax item, 0 when not used
}

func seedShopIDs(ctx context.Context, db *sql.DB, p *seedPlan) (*seedIDs, error) {
	next := func(q string) (int64, error) {
		var n sql.NullInt64
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			return 0, fmt.Errorf("demo: read the shop: %w", err)
		}
		return n.Int64 + 1, nil
	}
	var post, item, cust, rate, order int64
	for _, n := range []struct {
		dst   *int64
		query string
	}{
		{&post, "SELECT MAX(ID) FROM wp_posts"},
		{&item, "SELECT MAX(order_item_id) FROM wp_woocommerce_order_items"},
		{&cust, "SELECT MAX(customer_id) FROM wp_wc_customer_lookup"},
		{&rate, "SELECT MAX(tax_rate_id) FROM wp_woocommerce_tax_rates"},
		{&order, "SELECT MAX(id) FROM wp_wc_orders"},
	} {
		var err error
		if *n.dst, err = next(n.query); err != nil {
			return nil, err
		}
	}
	post = max(post, order) // an order's id is its placeholder post's
	ids := &seedIDs{}
	for range p.products {
		ids.productPost = append(ids.productPost, post)
		post++
	}
	for range p.customers {
		ids.customer = append(ids.customer, cust)
		cust++
	}
	for range seedTaxes {
		ids.taxRate = append(ids.taxRate, rate)
		rate++
	}
	for _, o := range p.orders {
		oi := seedOrderIDs{order: post, taxes: make([]int64, len(seedTaxes))}
		post++
		for range o.lines {
			oi.lines = append(oi.lines, item)
			item++
		}
		if o.shipping > 0 {
			oi.shipping = item
			item++
		}
		if o.coupon != "" {
			oi.coupon = item
			item++
		}
		for _, t := range seedTaxesUsed(&o) {
			oi.taxes[t] = item
			item++
		}
		ids.orders = append(ids.orders, oi)
	}
	return ids, nil
}

// seedTaxesUsed lists the seedTaxes indexes an order charges, in order.
func seedTaxesUsed(o *seedOrder) []int {
	used := make([]bool, len(seedTaxes))
	for _, l := range o.lines {
		used[l.taxIdx] = true
	}
	if o.shipping > 0 {
		used[0] = true
	}
	var out []int
	for i, u := range used {
		if u {
			out = append(out, i)
		}
	}
	return out
}

// seedWriter inserts rows in multi-row statements.
type seedWriter struct {
	tx   *sql.Tx
	pg   bool
	rows int
}

func (w *seedWriter) quote(s string) string {
	if w.pg {
		return `"` + s + `"`
	}
	return "`" + s + "`"
}

// insert writes rows into table (suffix, e.g. ON CONFLICT DO NOTHING, ends
// each statement).
func (w *seedWriter) insert(ctx context.Context, table string, cols []string, rows [][]any, suffix string) error {
	if len(rows) == 0 {
		return nil
	}
	per := max(1, min(1000, 30000/len(cols)))
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = w.quote(c)
	}
	head := "INSERT INTO " + w.quote(table) + " (" + strings.Join(quoted, ", ") + ") VALUES "
	for start := 0; start < len(rows); start += per {
		batch := rows[start:min(start+per, len(rows))]
		var b strings.Builder
		b.WriteString(head)
		args := make([]any, 0, len(batch)*len(cols))
		n := 0
		for i, row := range batch {
			if len(row) != len(cols) {
				return fmt.Errorf("%s: row has %d values for %d columns", table, len(row), len(cols))
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for j := range row {
				if j > 0 {
					b.WriteString(", ")
				}
				if w.pg {
					n++
					fmt.Fprintf(&b, "$%d", n)
				} else {
					b.WriteByte('?')
				}
			}
			b.WriteByte(')')
			args = append(args, row...)
		}
		if suffix != "" {
			b.WriteString(" " + suffix)
		}
		if _, err := w.tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
		w.rows += len(batch)
	}
	return nil
}

// nextID is the first free id of table (ids are given explicitly, and the
// sequences set after).
func (w *seedWriter) nextID(ctx context.Context, table string) (int64, error) {
	var n sql.NullInt64
	if err := w.tx.QueryRowContext(ctx, "SELECT MAX(id) FROM "+w.quote(table)).Scan(&n); err != nil {
		return 0, err
	}
	return n.Int64 + 1, nil
}

// seedDec formats cents as a decimal for a numeric / decimal column.
func seedDec(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
}

// seedWC formats cents the way WooCommerce stores amounts in meta
// (wc_format_decimal: no trailing zeros): 24.9, 50, 0.93.
func seedWC(c int64) string {
	s := seedDec(c)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// seedKg formats grams as kilograms without trailing zeros.
func seedKg(g int) string {
	s := strings.TrimRight(fmt.Sprintf("%d.%03d", g/1000, g%1000), "0")
	return strings.TrimSuffix(s, ".")
}

func seedJSON(en string) string {
	b, _ := json.Marshal(map[string]string{"en_US": en})
	return string(b)
}

func seedNullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func seedNullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// seedERPState is the Odoo state of a WooCommerce status, as the preset maps them.
var seedERPState = map[string]string{"pending": "draft", "on-hold": "sent", "processing": "sale", "completed": "done", "cancelled": "cancel"}

const seedUID = 2 // Odoo's administrator

func seedERP(ctx context.Context, w *seedWriter, p *seedPlan, ids *seedIDs, st *SeedStats) error {
	q := func(query string, args ...any) *sql.Row { return w.tx.QueryRowContext(ctx, query, args...) }
	now := p.now

	// currencies, company, unit, countries
	if err := w.insert(ctx, "res_currency", []string{"name", "full_name", "symbol", "position", "currency_unit_label", "currency_subunit_label"},
		[][]any{{"EUR", "Euro", "€", "after", "Euros", "Cents"}, {"USD", "United States dollar", "$", "before", "Dollars", "Cents"}},
		"ON CONFLICT (name) DO NOTHING"); err != nil {
		return err
	}
	currency := map[string]int64{}
	for _, c := range []string{"EUR", "USD"} {
		var id int64
		if err := q("SELECT id FROM res_currency WHERE name = $1", c).Scan(&id); err != nil {
			return err
		}
		currency[c] = id
	}
	var company, units, tmplUoM, taxGroup, physical, customers, vendors int64
	for _, l := range []struct {
		dst   *int64
		query string
	}{
		{&company, "SELECT min(id) FROM res_company"},
		{&units, "SELECT min(id) FROM uom_uom WHERE name->>'en_US' = 'Units'"},
		{&taxGroup, "SELECT min(id) FROM account_tax_group"},
		{&physical, "SELECT min(id) FROM stock_location WHERE usage = 'view' AND location_id IS NULL AND name = 'Physical Locations'"},
		{&customers, "SELECT min(id) FROM stock_location WHERE usage = 'customer'"},
		{&vendors, "SELECT min(id) FROM stock_location WHERE usage = 'supplier'"},
	} {
		var n sql.NullInt64
		if err := q(l.query).Scan(&n); err != nil {
			return err
		}
		if !n.Valid {
			return fmt.Errorf("the base data of erp.sql is missing (%s found nothing): load the fixtures first", l.query)
		}
		*l.dst = n.Int64
	}
	tmplUoM = units
	countryRows := [][]any{}
	for _, c := range seedCountries {
		countryRows = append(countryRows, []any{c.code, seedJSON(c.name), currency[map[bool]string{true: "USD", false: "EUR"}[c.code == "US"]], strings.TrimPrefix(c.phone, "+")})
	}
	if err := w.insert(ctx, "res_country", []string{"code", "name", "currency_id", "phone_code"}, countryRows, "ON CONFLICT (code) DO NOTHING"); err != nil {
		return err
	}
	country := map[string]int64{}
	rows, err := w.tx.QueryContext(ctx, "SELECT code, id FROM res_country")
	if err != nil {
		return err
	}
	for rows.Next() {
		var code string
		var id int64
		if err := rows.Scan(&code, &id); err != nil {
			rows.Close()
			return err
		}
		country[code] = id
	}
	rows.Close()
	// explicit ids from here on; the sequences are set at the end
	next := map[string]int64{}
	for _, t := range []string{"uom_uom", "product_category", "stock_location", "stock_warehouse", "stock_picking_type", "account_tax",
		"product_pricelist", "product_template", "product_product", "res_partner", "sale_order"} {
		if next[t], err = w.nextID(ctx, t); err != nil {
			return err
		}
	}
	pack := next["uom_uom"]
	if err := w.insert(ctx, "uom_uom", []string{"id", "category_id", "name", "uom_type", "factor", "rounding"},
		[][]any{{pack, mustCategory(ctx, w, units), seedJSON("Pack of 6"), "bigger", "0.16666666666666666", "1.0"}}, ""); err != nil {
		return err
	}

	// categories: All / Saleable / <group>
	var all sql.NullInt64
	if err := q("SELECT min(id) FROM product_category WHERE parent_id IS NULL AND name = 'All'").Scan(&all); err != nil {
		return err
	}
	catID := next["product_category"]
	var catRows [][]any
	if !all.Valid {
		all = sql.NullInt64{Int64: catID, Valid: true}
		catRows = append(catRows, []any{catID, nil, "All", "All", fmt.Sprintf("%d/", catID)})
		catID++
	}
	saleable := catID
	catRows = append(catRows, []any{saleable, all.Int64, "Saleable", "All / Saleable", fmt.Sprintf("%d/%d/", all.Int64, saleable)})
	catID++
	groupCat := make([]int64, len(seedCategories))
	for i, name := range seedCategories {
		groupCat[i] = catID
		catRows = append(catRows, []any{catID, saleable, name, "All / Saleable / " + name, fmt.Sprintf("%d/%d/%d/", all.Int64, saleable, catID)})
		catID++
	}
	if err := w.insert(ctx, "product_category", []string{"id", "parent_id", "name", "complete_name", "parent_path"}, catRows, ""); err != nil {
		return err
	}

	// warehouses: WH from the base data, two more with their locations and operation types
	stockLoc := make([]int64, len(seedWarehouses))
	var wh int64
	if err := q("SELECT id, lot_stock_id FROM stock_warehouse WHERE code = 'WH'").Scan(&wh, &stockLoc[0]); err != nil {
		return fmt.Errorf("warehouse WH of the base data: %w", err)
	}
	locID := next["stock_location"]
	whID := next["stock_warehouse"]
	ptID := next["stock_picking_type"]
	var locRows, whRows, ptRows [][]any
	for i, h := range seedWarehouses[1:] {
		view, stock, id := locID, locID+1, whID+int64(i)
		locID += 2
		stockLoc[i+1] = stock
		locRows = append(locRows,
			[]any{view, physical, company, nil, h.code, h.code, "view", fmt.Sprintf("%d/%d/", physical, view)},
			[]any{stock, view, company, nil, "Stock", h.code + "/Stock", "internal", fmt.Sprintf("%d/%d/%d/", physical, view, stock)})
		whRows = append(whRows, []any{id, h.name, h.code, company, view, stock, 10 + i + 1})
		ptRows = append(ptRows,
			[]any{ptID, seedJSON("Receipts"), "incoming", "IN", id, vendors, stock, company, 10*(i+1) + 1},
			[]any{ptID + 1, seedJSON("Delivery Orders"), "outgoing", "OUT", id, stock, customers, company, 10*(i+1) + 2})
		ptID += 2
	}
	if err := w.insert(ctx, "stock_location", []string{"id", "location_id", "company_id", "warehouse_id", "name", "complete_name", "usage", "parent_path"}, locRows, ""); err != nil {
		return err
	}
	if err := w.insert(ctx, "stock_warehouse", []string{"id", "name", "code", "company_id", "view_location_id", "lot_stock_id", "sequence"}, whRows, ""); err != nil {
		return err
	}
	if _, err := w.tx.ExecContext(ctx, "UPDATE stock_location l SET warehouse_id = w.id FROM stock_warehouse w WHERE l.id IN (w.view_location_id, w.lot_stock_id) AND l.warehouse_id IS NULL"); err != nil {
		return err
	}
	if err := w.insert(ctx, "stock_picking_type", []string{"id", "name", "code", "sequence_code", "warehouse_id", "default_location_src_id", "default_location_dest_id", "company_id", "sequence"}, ptRows, ""); err != nil {
		return err
	}

	// taxes
	taxID := next["account_tax"]
	var taxRows [][]any
	for i, t := range seedTaxes {
		taxRows = append(taxRows, []any{taxID, company, taxGroup, country["DE"], i + 1, seedJSON(t.name), seedJSON(t.name + " USt."), "sale", "percent", fmt.Sprintf("%d.0", t.percent), seedUID, now, seedUID, now})
		taxID++
	}
	for i, t := range seedTaxes[:2] {
		taxRows = append(taxRows, []any{taxID, company, taxGroup, country["DE"], 10 + i, seedJSON(t.name), seedJSON(t.name + " Vorsteuer"), "purchase", "percent", fmt.Sprintf("%d.0", t.percent), seedUID, now, seedUID, now})
		taxID++
	}
	if err := w.insert(ctx, "account_tax", []string{"id", "company_id", "tax_group_id", "country_id", "sequence", "name", "description", "type_tax_use", "amount_type", "amount", "create_uid", "create_date", "write_uid", "write_date"}, taxRows, ""); err != nil {
		return err
	}

	// pricelists: the default one of the base data (EUR), USD retail, wholesale
	var defaultPL int64
	if err := q("SELECT min(id) FROM product_pricelist WHERE currency_id = $1", currency["EUR"]).Scan(&defaultPL); err != nil {
		return fmt.Errorf("the default pricelist of the base data: %w", err)
	}
	plID := next["product_pricelist"]
	usdPL, wholesalePL := plID, plID+1
	if err := w.insert(ctx, "product_pricelist", []string{"id", "name", "currency_id", "company_id", "sequence"},
		[][]any{{usdPL, seedJSON("USD Retail"), currency["USD"], company, 2}, {wholesalePL, seedJSON("Wholesale"), currency["EUR"], company, 3}}, ""); err != nil {
		return err
	}

	// products
	tmplID := next["product_template"]
	prodID := next["product_product"]
	productID := make([]int64, len(p.products))
	var tmplRows, prodRows, itemRows [][]any
	for ti, t := range p.templates {
		id := tmplID + int64(ti)
		var code any
		if len(t.variants) == 1 {
			code = p.products[t.variants[0]].sku
		}
		typ, storable, policy := "consu", true, "delivery"
		var weight, volume any = seedKg(t.weightG), fmt.Sprintf("%.6f", float64(t.volumeML)/1e6)
		if t.kind.service { // no weight: the shop's virtual product has no _weight either
			typ, storable, policy, weight, volume = "service", false, "order", nil, nil
		}
		tmplRows = append(tmplRows, []any{id, seedJSON(t.name), seedJSON(strings.TrimSuffix(strings.TrimPrefix(t.description, "<p>"), "</p>")), code, typ, storable, policy,
			groupCat[t.kind.category], tmplUoM, tmplUoM, seedDec(t.listCents), weight, volume, true, !t.kind.service, t.active,
			seedUID, t.created, seedUID, t.updated})
		for _, pi := range t.variants {
			pr := &p.products[pi]
			productID[pi] = prodID
			prodRows = append(prodRows, []any{prodID, id, pr.sku, pr.barcode, pr.combination, weight, volume, true,
				seedUID, t.created, seedUID, t.updated})
			itemRows = append(itemRows,
				[]any{defaultPL, company, currency["EUR"], id, prodID, nil, "0_product_variant", "list_price", "fixed", "1", seedDec(pr.priceCents()), nil, seedUID, t.created, seedUID, t.updated},
				[]any{usdPL, company, currency["USD"], id, prodID, nil, "0_product_variant", "list_price", "fixed", "1", seedDec(pr.usdCents), nil, seedUID, t.created, seedUID, t.updated})
			prodID++
		}
	}
	// the delivery product: a service without internal reference, so the
	// preset (which matches products by SKU) leaves it in the ERP
	delivery := tmplID + int64(len(p.templates))
	tmplRows = append(tmplRows, []any{delivery, seedJSON("Standard delivery"), nil, nil, "service", false, "order", saleable, tmplUoM, tmplUoM, "4.90", nil, nil, true, false, true,
		seedUID, now.AddDate(-2, 0, 0), seedUID, now.AddDate(-2, 0, 0)})
	deliveryProduct := prodID
	prodRows = append(prodRows, []any{deliveryProduct, delivery, nil, nil, "", nil, nil, true, seedUID, now.AddDate(-2, 0, 0), seedUID, now.AddDate(-2, 0, 0)})
	for _, c := range groupCat {
		itemRows = append(itemRows, []any{wholesalePL, company, currency["EUR"], nil, nil, c, "2_product_category", "list_price", "percentage", "10", nil, 15.0, seedUID, now.AddDate(-1, 0, 0), seedUID, now.AddDate(-1, 0, 0)})
	}
	if err := w.insert(ctx, "product_template", []string{"id", "name", "description_sale", "default_code", "type", "is_storable", "invoice_policy", "categ_id", "uom_id", "uom_po_id",
		"list_price", "weight", "volume", "sale_ok", "purchase_ok", "active", "create_uid", "create_date", "write_uid", "write_date"}, tmplRows, ""); err != nil {
		return err
	}
	if err := w.insert(ctx, "product_product", []string{"id", "product_tmpl_id", "default_code", "barcode", "combination_indices", "weight", "volume", "active",
		"create_uid", "create_date", "write_uid", "write_date"}, prodRows, ""); err != nil {
		return err
	}
	if err := w.insert(ctx, "product_pricelist_item", []string{"pricelist_id", "company_id", "currency_id", "product_tmpl_id", "product_id", "categ_id", "applied_on", "base",
		"compute_price", "min_quantity", "fixed_price", "percent_price", "create_uid", "create_date", "write_uid", "write_date"}, itemRows, ""); err != nil {
		return err
	}

	// stock: a quant per storable product and warehouse
	var quantRows [][]any
	for pi, pr := range p.products {
		t := &p.templates[pr.tmpl]
		if t.kind.service {
			continue
		}
		for wi := range seedWarehouses {
			quantRows = append(quantRows, []any{productID[pi], company, stockLoc[wi], fmt.Sprint(pr.stock[wi]), fmt.Sprint(pr.reserved[wi]), t.created, seedUID, t.created, seedUID, t.updated})
		}
	}
	if err := w.insert(ctx, "stock_quant", []string{"product_id", "company_id", "location_id", "quantity", "reserved_quantity", "in_date", "create_uid", "create_date", "write_uid", "write_date"}, quantRows, ""); err != nil {
		return err
	}

	// partners: one contact per shop customer (the preset maps last_name to name)
	partnerID := next["res_partner"]
	partner := make([]int64, len(p.customers))
	var partnerRows [][]any
	for ci, c := range p.customers {
		id := partnerID + int64(ci)
		partner[ci] = id
		lang := "en_US"
		if c.country == "DE" || c.country == "AT" || c.country == "CH" {
			lang = "de_DE"
		}
		rank := 0
		if c.ordered {
			rank = 1
		}
		partnerRows = append(partnerRows, []any{id, c.last, c.last, "contact", c.email, c.phone, c.street, seedNullString(c.street2), c.postcode, c.city, country[c.country],
			seedNullString(c.company), lang, rank, true, false, id, seedUID, c.registered, seedUID, c.lastActive})
	}
	if err := w.insert(ctx, "res_partner", []string{"id", "name", "complete_name", "type", "email", "phone", "street", "street2", "zip", "city", "country_id",
		"company_name", "lang", "customer_rank", "active", "is_company", "commercial_partner_id", "create_uid", "create_date", "write_uid", "write_date"}, partnerRows, ""); err != nil {
		return err
	}

	// each order's invoice and delivery addresses: partners of their own,
	// children of the customer, holding what the shop's order addresses
	// hold (as tandem's sink creates them for a new order)
	addrID := partnerID + int64(len(p.customers))
	var addrRows [][]any
	for oi, o := range p.orders {
		c := &p.customers[o.customer]
		ship := c
		if o.shipTo != nil {
			ship = o.shipTo
		}
		for k, a := range []struct {
			typ   string
			c     *seedCustomer
			email any
		}{{"invoice", c, c.email}, {"delivery", ship, nil}} {
			addrRows = append(addrRows, []any{addrID + int64(2*oi+k), a.c.last, a.c.last, a.typ, partner[o.customer], a.email, a.c.phone, a.c.street,
				a.c.street2, a.c.postcode, a.c.city, country[a.c.country], a.c.company, true, false, partner[o.customer], seedUID, o.created, seedUID, o.created})
		}
	}
	if err := w.insert(ctx, "res_partner", []string{"id", "name", "complete_name", "type", "parent_id", "email", "phone", "street", "street2", "zip", "city",
		"country_id", "company_name", "active", "is_company", "commercial_partner_id", "create_uid", "create_date", "write_uid", "write_date"}, addrRows, ""); err != nil {
		return err
	}

	// sale orders, named by the sequence (S00001, ...)
	soID := next["sale_order"]
	var soRows, lineRows [][]any
	for oi, o := range p.orders {
		id := soID + int64(oi)
		oid := ids.orders[oi]
		state := seedERPState[o.status]
		pl, cur, rate := defaultPL, currency["EUR"], "1.0"
		if o.currency == "USD" {
			pl, cur, rate = usdPL, currency["USD"], "1.085"
		}
		invoiceStatus := map[string]string{"sale": "to invoice", "done": "invoiced"}[state]
		if invoiceStatus == "" {
			invoiceStatus = "no"
		}
		total, tax := o.total(), o.taxTotal()
		toInvoice := int64(0)
		if state == "sale" {
			toInvoice = total
		}
		cust := partner[o.customer]
		soRows = append(soRows, []any{id, company, cust, addrID + int64(2*oi), addrID + int64(2*oi+1), pl, cur, rate, wh, state, fmt.Sprint(oid.order), invoiceStatus, seedNullString(o.note),
			seedDec(total - tax), seedDec(tax), seedDec(total), seedDec(toInvoice), o.created, seedUID, o.created, seedUID, o.updated})
		lineState := state
		for li, l := range o.lines {
			pr := &p.products[l.product]
			qty := fmt.Sprint(l.qty)
			delivered, invoiced, lineInv := "0", "0", "no"
			switch state {
			case "done":
				delivered, invoiced, lineInv = qty, qty, "invoiced"
			case "sale":
				lineInv = "to invoice"
			}
			discount := "0"
			if o.coupon != "" {
				discount = "10"
			}
			lineRows = append(lineRows, []any{id, oid.lines[li], company, cur, cust, productID[l.product], units, lineState, p.templates[pr.tmpl].name,
				qty, seedDec(l.unitCents), discount, seedDec(l.total), seedDec(l.tax), seedDec(l.total + l.tax), delivered, invoiced, lineInv,
				false, seedUID, o.created, seedUID, o.updated})
		}
		if o.shipping > 0 {
			delivered := "0"
			if state == "done" {
				delivered = "1"
			}
			lineRows = append(lineRows, []any{id, oid.shipping, company, cur, cust, deliveryProduct, units, lineState, "Flat rate",
				"1", seedDec(o.shipping), "0", seedDec(o.shipping), seedDec(o.shippingTax), seedDec(o.shipping + o.shippingTax), delivered, delivered,
				map[bool]string{true: "invoiced", false: "no"}[state == "done"], true, seedUID, o.created, seedUID, o.updated})
		}
	}
	if err := w.insert(ctx, "sale_order", []string{"id", "company_id", "partner_id", "partner_invoice_id", "partner_shipping_id", "pricelist_id", "currency_id", "currency_rate",
		"warehouse_id", "state", "client_order_ref", "invoice_status", "note", "amount_untaxed", "amount_tax", "amount_total", "amount_to_invoice",
		"date_order", "create_uid", "create_date", "write_uid", "write_date"}, soRows, ""); err != nil {
		return err
	}
	if err := w.insert(ctx, "sale_order_line", []string{"order_id", "sequence", "company_id", "currency_id", "order_partner_id", "product_id", "product_uom_id", "state", "name",
		"product_uom_qty", "price_unit", "discount", "price_subtotal", "price_tax", "price_total", "qty_delivered", "qty_invoiced", "invoice_status",
		"is_delivery", "create_uid", "create_date", "write_uid", "write_date"}, lineRows, ""); err != nil {
		return err
	}

	// the sequences continue after the explicit ids
	if _, err := w.tx.ExecContext(ctx, `DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['res_currency', 'res_country', 'uom_uom', 'product_category', 'stock_location', 'stock_warehouse',
      'stock_picking_type', 'account_tax', 'product_pricelist', 'product_template', 'product_product', 'res_partner', 'sale_order'] LOOP
    EXECUTE format('SELECT setval(pg_get_serial_sequence(%L, %L), GREATEST((SELECT max(id) FROM %I), 1))', t, 'id', t);
  END LOOP;
END
$$`); err != nil {
		return err
	}

	st.Templates, st.Products = len(p.templates), len(p.products)
	st.PricelistItems, st.Quants, st.Taxes = len(itemRows), len(quantRows), len(seedTaxes)
	st.Partners, st.SaleOrders, st.SaleOrderLines = len(partnerRows), len(soRows), len(lineRows)
	for _, c := range []struct {
		dst   *int
		query string
	}{
		{&st.Currencies, "SELECT count(*) FROM res_currency"},
		{&st.UoMs, "SELECT count(*) FROM uom_uom"},
		{&st.Categories, "SELECT count(*) FROM product_category"},
		{&st.Warehouses, "SELECT count(*) FROM stock_warehouse"},
		{&st.Locations, "SELECT count(*) FROM stock_location"},
	} {
		if err := q(c.query).Scan(c.dst); err != nil {
			return err
		}
	}
	return nil
}

// mustCategory is the uom_category of unit id u (0 when unknown, which
// fails the insert that uses it).
func mustCategory(ctx context.Context, w *seedWriter, u int64) int64 {
	var c int64
	_ = w.tx.QueryRowContext(ctx, "SELECT category_id FROM uom_uom WHERE id = $1", u).Scan(&c)
	return c
}

const seedWCVersion = "9.4.2"

func seedShop(ctx context.Context, w *seedWriter, p *seedPlan, ids *seedIDs, st *SeedStats) error {
	// tax rates, as the ERP's sale taxes synced them
	var rateRows [][]any
	for i, t := range seedTaxes {
		shipping := 0
		if i == 0 {
			shipping = 1
		}
		rateRows = append(rateRows, []any{ids.taxRate[i], "DE", "", fmt.Sprintf("%d.0000", t.percent), t.name, 1, 0, shipping, i, t.class})
	}
	if err := w.insert(ctx, "wp_woocommerce_tax_rates", []string{"tax_rate_id", "tax_rate_country", "tax_rate_state", "tax_rate", "tax_rate_name",
		"tax_rate_priority", "tax_rate_compound", "tax_rate_shipping", "tax_rate_order", "tax_rate_class"}, rateRows, ""); err != nil {
		return err
	}

	// products: a post, its meta and its lookup row per variant
	var postRows, metaRows, lookupRows [][]any
	postCols := []string{"ID", "post_author", "post_date", "post_date_gmt", "post_content", "post_title", "post_excerpt", "post_status", "comment_status",
		"ping_status", "post_name", "post_modified", "post_modified_gmt", "post_parent", "guid", "post_type"}
	for pi, pr := range p.products {
		t := &p.templates[pr.tmpl]
		id := ids.productPost[pi]
		status := "publish"
		if !t.active {
			status = "private"
		}
		excerpt := ""
		if pr.attrs != "" {
			excerpt = pr.attrs
		}
		postRows = append(postRows, []any{id, 1, t.created, t.created, t.description, t.name, excerpt, status, "open", "closed",
			strings.ToLower(pr.sku), t.updated, t.updated, 0, fmt.Sprintf("https://shop.example.com/?post_type=product&p=%d", id), "product"})
		price := pr.priceCents()
		stockStatus := "instock"
		if !t.kind.service && pr.stock[0] == 0 {
			stockStatus = "outofstock"
		}
		tax := seedTaxes[t.kind.tax]
		meta := [][2]string{{"_sku", pr.sku}, {"_regular_price", seedWC(pr.listCents)}, {"_sale_price", ""}, {"_price", seedWC(price)},
			{"_stock_status", stockStatus}, {"_tax_status", "taxable"}, {"_tax_class", tax.class}, {"_backorders", "no"},
			{"_sold_individually", "no"}, {"_downloadable", "no"}, {"total_sales", fmt.Sprint(pr.sold)}, {"_product_version", seedWCVersion},
			{"_wc_average_rating", "0"}, {"_wc_review_count", "0"}, {"_global_unique_id", pr.barcode}}
		if pr.saleCents > 0 {
			meta[2][1] = seedWC(pr.saleCents)
		}
		var stockQty any
		if t.kind.service {
			meta = append(meta, [2]string{"_manage_stock", "no"}, [2]string{"_virtual", "yes"})
		} else {
			meta = append(meta, [2]string{"_manage_stock", "yes"}, [2]string{"_stock", fmt.Sprint(pr.stock[0])}, [2]string{"_virtual", "no"},
				[2]string{"_weight", seedKg(t.weightG)})
			stockQty = float64(pr.stock[0])
		}
		for _, m := range meta {
			metaRows = append(metaRows, []any{id, m[0], m[1]})
		}
		virtual := 0
		if t.kind.service {
			virtual = 1
		}
		lookupRows = append(lookupRows, []any{id, pr.sku, pr.barcode, virtual, 0, seedDec(price) + "00", seedDec(price) + "00", pr.saleCents > 0,
			stockQty, stockStatus, 0, "0.00", pr.sold, "taxable", tax.class})
	}
	if err := w.insert(ctx, "wp_posts", postCols, postRows, ""); err != nil {
		return err
	}
	if err := w.insert(ctx, "wp_postmeta", []string{"post_id", "meta_key", "meta_value"}, metaRows, ""); err != nil {
		return err
	}
	if err := w.insert(ctx, "wp_wc_product_meta_lookup", []string{"product_id", "sku", "global_unique_id", "virtual", "downloadable", "min_price", "max_price",
		"onsale", "stock_quantity", "stock_status", "rating_count", "average_rating", "total_sales", "tax_status", "tax_class"}, lookupRows, ""); err != nil {
		return err
	}
	st.ShopProducts, st.ShopPostmeta = len(postRows), len(metaRows)

	// customers
	var custRows [][]any
	for ci, c := range p.customers {
		var user any
		if c.userID != 0 {
			user = c.userID
		}
		custRows = append(custRows, []any{ids.customer[ci], user, c.username, c.first, c.last, c.email, c.lastActive, c.registered, c.country, c.postcode, c.city, c.state})
	}
	if err := w.insert(ctx, "wp_wc_customer_lookup", []string{"customer_id", "user_id", "username", "first_name", "last_name", "email", "date_last_active",
		"date_registered", "country", "postcode", "city", "state"}, custRows, ""); err != nil {
		return err
	}
	st.Customers = len(custRows)

	// orders
	var placeRows, orderRows, addrRows, opRows, ometaRows, itemRows, imetaRows [][]any
	for oi, o := range p.orders {
		oid := ids.orders[oi]
		c := &p.customers[o.customer]
		status := "wc-" + o.status
		title := "Order &ndash; " + o.created.Format("January 2, 2006 @ 03:04 PM")
		placeRows = append(placeRows, []any{oid.order, 1, o.created, o.created, "", title, "", status, "closed", "closed", "", o.updated, o.updated, 0, "", "shop_order_placehold"})
		txID := ""
		if !o.paid.IsZero() {
			switch o.method {
			case "stripe":
				txID = "pi_3" + o.orderKey[9:] + strings.ToUpper(o.cart[:8])
			case "ppcp-gateway":
				txID = strings.ToUpper(o.cart[:17])
			}
		}
		customerID := c.userID
		orderRows = append(orderRows, []any{oid.order, status, o.currency, "shop_order", seedDec(o.taxTotal()), seedDec(o.total()), customerID, c.email,
			o.created, o.updated, 0, o.method, o.methodTitle, txID, o.ip, o.userAgent, seedNullString(o.note)})
		ship := c
		if o.shipTo != nil {
			ship = o.shipTo
		}
		addrRows = append(addrRows,
			[]any{oid.order, "billing", c.first, c.last, c.company, c.street, c.street2, c.city, c.state, c.postcode, c.country, c.email, c.phone},
			[]any{oid.order, "shipping", ship.first, ship.last, ship.company, ship.street, ship.street2, ship.city, ship.state, ship.postcode, ship.country, nil, ship.phone})
		discount, discountTax := o.discount()
		paid := !o.paid.IsZero()
		opRows = append(opRows, []any{oid.order, "checkout", seedWCVersion, 0, paid, paid, o.cart, true, o.orderKey, paid,
			seedNullTime(o.paid), seedNullTime(o.completed), seedDec(o.shippingTax), seedDec(o.shipping), seedDec(discountTax), seedDec(discount), paid})
		index := func(a *seedCustomer, email bool) string {
			parts := []string{a.first, a.last, a.company, a.street, a.street2, a.city, a.state, a.postcode, a.country}
			if email {
				parts = append(parts, a.email, a.phone)
			}
			return strings.Join(parts, " ")
		}
		for _, m := range [][2]string{{"is_vat_exempt", "no"}, {"_billing_address_index", index(c, true)}, {"_shipping_address_index", index(ship, false)},
			{"_wc_order_attribution_source_type", o.source}, {"_wc_order_attribution_device_type", map[bool]string{true: "Mobile", false: "Desktop"}[strings.Contains(o.userAgent, "Mobile")]}} {
			ometaRows = append(ometaRows, []any{oid.order, m[0], m[1]})
		}
		taxTotals := make([]int64, len(seedTaxes))
		var names []string
		for li, l := range o.lines {
			pr := &p.products[l.product]
			t := &p.templates[pr.tmpl]
			item := oid.lines[li]
			taxTotals[l.taxIdx] += l.tax
			names = append(names, fmt.Sprintf("%s &times; %d", t.name, l.qty))
			itemRows = append(itemRows, []any{item, t.name, "line_item", oid.order})
			rid := ids.taxRate[l.taxIdx]
			meta := [][2]string{{"_product_id", fmt.Sprint(ids.productPost[l.product])}, {"_variation_id", "0"}, {"_qty", fmt.Sprint(l.qty)},
				{"_tax_class", seedTaxes[l.taxIdx].class}, {"_line_subtotal", seedWC(l.subtotal)}, {"_line_subtotal_tax", seedWC(l.subtotalTax)},
				{"_line_total", seedWC(l.total)}, {"_line_tax", seedWC(l.tax)},
				{"_line_tax_data", fmt.Sprintf(`a:2:{s:5:"total";a:1:{i:%d;%s}s:8:"subtotal";a:1:{i:%d;%s}}`, rid, seedPHPString(seedWC(l.tax)), rid, seedPHPString(seedWC(l.subtotalTax)))}}
			if paid {
				meta = append(meta, [2]string{"_reduced_stock", fmt.Sprint(l.qty)})
			}
			for _, m := range meta {
				imetaRows = append(imetaRows, []any{item, m[0], m[1]})
			}
		}
		if o.shipping > 0 {
			rid := ids.taxRate[0]
			itemRows = append(itemRows, []any{oid.shipping, "Flat rate", "shipping", oid.order})
			for _, m := range [][2]string{{"method_id", "flat_rate"}, {"instance_id", "1"}, {"cost", seedWC(o.shipping)}, {"total_tax", seedWC(o.shippingTax)},
				{"taxes", fmt.Sprintf(`a:1:{s:5:"total";a:1:{i:%d;%s}}`, rid, seedPHPString(seedWC(o.shippingTax)))}, {"Items", strings.Join(names, ", ")}} {
				imetaRows = append(imetaRows, []any{oid.shipping, m[0], m[1]})
			}
		}
		if o.coupon != "" {
			itemRows = append(itemRows, []any{oid.coupon, o.coupon, "coupon", oid.order})
			for _, m := range [][2]string{{"discount_amount", seedWC(discount)}, {"discount_amount_tax", seedWC(discountTax)}} {
				imetaRows = append(imetaRows, []any{oid.coupon, m[0], m[1]})
			}
		}
		for _, ti := range seedTaxesUsed(&o) {
			t := seedTaxes[ti]
			shipTax := int64(0)
			if ti == 0 {
				shipTax = o.shippingTax
			}
			itemRows = append(itemRows, []any{oid.taxes[ti], fmt.Sprintf("DE-%s-1", strings.ToUpper(t.name)), "tax", oid.order})
			for _, m := range [][2]string{{"rate_id", fmt.Sprint(ids.taxRate[ti])}, {"label", t.name + " MwSt."}, {"compound", ""},
				{"tax_amount", seedWC(taxTotals[ti])}, {"shipping_tax_amount", seedWC(shipTax)}, {"rate_percent", fmt.Sprint(t.percent)}} {
				imetaRows = append(imetaRows, []any{oid.taxes[ti], m[0], m[1]})
			}
		}
	}
	if err := w.insert(ctx, "wp_posts", postCols, placeRows, ""); err != nil {
		return err
	}
	if err := w.insert(ctx, "wp_wc_orders", []string{"id", "status", "currency", "type", "tax_amount", "total_amount", "customer_id", "billing_email",
		"date_created_gmt", "date_updated_gmt", "parent_order_id", "payment_method", "payment_method_title", "transaction_id", "ip_address", "user_agent",
		"customer_note"}, orderRows, ""); err != nil {
		return err
	}
	if err := w.insert(ctx, "wp_wc_order_addresses", []string{"order_id", "address_type", "first_name", "last_name", "company", "address_1", "address_2",
		"city", "state", "postcode", "country", "email", "phone"}, addrRows, ""); err != nil {
		return err
	}
	if err := w.insert(ctx, "wp_wc_order_operational_data", []string{"order_id", "created_via", "woocommerce_version", "prices_include_tax",
		"coupon_usages_are_counted", "download_permission_granted", "cart_hash", "new_order_email_sent", "order_key", "order_stock_reduced",
		"date_paid_gmt", "date_completed_gmt", "shipping_tax_amount", "shipping_total_amount", "discount_tax_amount", "discount_total_amount",
		"recorded_sales"}, opRows, ""); err != nil {
		return err
	}
	if err := w.insert(ctx, "wp_wc_orders_meta", []string{"order_id", "meta_key", "meta_value"}, ometaRows, ""); err != nil {
		return err
	}
	if err := w.insert(ctx, "wp_woocommerce_order_items", []string{"order_item_id", "order_item_name", "order_item_type", "order_id"}, itemRows, ""); err != nil {
		return err
	}
	if err := w.insert(ctx, "wp_woocommerce_order_itemmeta", []string{"order_item_id", "meta_key", "meta_value"}, imetaRows, ""); err != nil {
		return err
	}
	st.ShopTaxRates, st.Orders, st.OrderItems, st.OrderItemmeta = len(rateRows), len(orderRows), len(itemRows), len(imetaRows)
	return nil
}

// seedPHPString is s as a PHP serialize() string.
func seedPHPString(s string) string { return fmt.Sprintf("s:%d:%q;", len(s), s) }
