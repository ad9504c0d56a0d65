//go:build integration

package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-sync/tandem/capture"
	cappg "github.com/tandem-sync/tandem/capture/postgres"
	"github.com/tandem-sync/tandem/demo"
	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/internal/testenv"
	"github.com/tandem-sync/tandem/mapping"
)

// e2eEnv is the preset's two databases, seeded, with the sync running.
type e2eEnv struct {
	preset string
	prefix string // the sync's topic prefix (startPresetSync)
	shop   *sql.DB
	erp    *sql.DB
}

// startPresetSync does what runDemo does before its traffic: fresh
// fixtures, the seed, and every capture and sink of the preset on topics
// of a fresh prefix, streaming from now on. The sync stops at cleanup.
func startPresetSync(t *testing.T) *e2eEnv {
	t.Helper()
	e, cfg := seedPreset(t)
	e.prefix = fmt.Sprintf("e2e%d", time.Now().UnixNano())
	cfg.Kafka.TopicPrefix = e.prefix
	cfg.HTTP.Listen = ""
	for _, s := range cfg.Systems {
		s.Capture.Snapshot = capture.SnapshotNever
	}
	names, err := runnable(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() {
		done <- runSystems(runCtx, cfg, names, runOptions{log: log, drain: 10 * time.Second})
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("sync: %v", err)
		}
	})
	time.Sleep(3 * time.Second) // the captures start streaming
	return e
}

// seedPreset loads the preset, makes fresh fixtures in its shop and ERP
// databases (with the ERP's slot gone) and seeds them alike.
func seedPreset(t *testing.T) (*e2eEnv, *mapping.Config) {
	t.Helper()
	ctx := context.Background()
	preset := filepath.Join(testenv.RepoRoot(t), "deploy", "examples", "woocommerce-odoo.yaml")
	src, err := os.ReadFile(preset)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := mapping.Load(preset, src, config.Env{Lookup: os.LookupEnv, ReadFile: os.ReadFile})
	if err != nil {
		t.Fatal(err)
	}
	shop, erp, err := demoSystems(cfg)
	if err != nil {
		t.Fatal(err)
	}
	shopDBName, err := databaseName(shop)
	if err != nil {
		t.Fatal(err)
	}
	erpDBName, err := databaseName(erp)
	if err != nil {
		t.Fatal(err)
	}
	_ = cappg.ResetSlot(ctx, cappg.Options{System: erp.Name, DSN: erp.DSN, Capture: erp.Capture}, true)
	if err := demo.ResetFixtures(ctx, shop.DSN.Reveal(), erp.DSN.Reveal(), shopDBName, erpDBName); err != nil {
		t.Fatal(err)
	}
	shopDSN, err := demo.ShopDSN(shop.DSN.Reveal(), shopDBName)
	if err != nil {
		t.Fatal(err)
	}
	shopConn, err := sql.Open("mysql", shopDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shopConn.Close() })
	erpConn, err := sql.Open("pgx", erp.DSN.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { erpConn.Close() })
	start := time.Now()
	st, err := demo.Seed(ctx, shopConn, erpConn, demo.SeedOptions{Seed: 1})
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	t.Logf("seeded %d rows in %s", st.Rows, time.Since(start).Round(time.Millisecond))
	return &e2eEnv{preset: preset, shop: shopConn, erp: erpConn}, cfg
}

// op runs one operation of the demo's generator, as the application does.
func (e *e2eEnv) op(t *testing.T, op demo.Op, seed int64) {
	t.Helper()
	o := demo.DefaultGenerateOptions()
	o.Mix = map[demo.Op]int{op: 1}
	o.MaxOps, o.Workers, o.Rate, o.Seed = 1, 1, 100, seed
	st, err := demo.Generate(context.Background(), e.shop, e.erp, o)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	if st.Ops[op] != 1 {
		t.Fatalf("%s did nothing: %s", op, st.String())
	}
}

// waitFor polls cond until it reports true, for at most 60 s.
func waitFor(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	start := time.Now()
	for {
		ok, err := cond()
		if err != nil && err != sql.ErrNoRows {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			t.Logf("%s after %s", what, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen within 60s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// verify runs tandem verify for the entities and wants no drift.
func (e *e2eEnv) verify(t *testing.T, entities ...string) {
	t.Helper()
	args := []string{"verify", "--config", e.preset, "--limit", "10"}
	for _, en := range entities {
		args = append(args, "--entity", en)
	}
	// the reads are not one snapshot: a change in flight may show, so once more
	var out string
	var code int
	for range 3 {
		out, code = run(t, args...)
		if code == 0 {
			return
		}
		time.Sleep(2 * time.Second)
	}
	t.Errorf("tandem verify --entity %s: exit %d:\n%s", strings.Join(entities, " --entity "), code, out)
}

func str(db *sql.DB, q string, args ...any) (string, error) {
	var s sql.NullString
	err := db.QueryRow(q, args...).Scan(&s)
	return s.String, err
}

func mustStr(t *testing.T, db *sql.DB, q string, args ...any) string {
	t.Helper()
	s, err := str(db, q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

// num normalises a decimal string: 19.900 -> 19.9, 20.00 -> 20.
func num(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "" || s == "-0" {
		return "0"
	}
	return s
}

func eq(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

// metaOfSKU reads a postmeta value of the shop product with sku.
func metaOfSKU(db *sql.DB, sku, key string) (string, error) {
	return str(db, `SELECT m.meta_value FROM wp_postmeta s JOIN wp_postmeta m ON m.post_id = s.post_id AND m.meta_key = ?
		WHERE s.meta_key = '_sku' AND s.meta_value = ?`, key, sku)
}

func shopMeta(db *sql.DB, table, owner string, id any, key string) (string, error) {
	return str(db, "SELECT meta_value FROM "+table+" WHERE "+owner+" = ? AND meta_key = ? ORDER BY 1 DESC LIMIT 1", id, key)
}

func TestIntegrationE2EPresetFlows(t *testing.T) {
	begin := time.Now()
	e := startPresetSync(t)
	t.Logf("setup %s", time.Since(begin).Round(time.Millisecond))
	shop, erp := e.shop, e.erp

	t.Run("baseline", func(t *testing.T) {
		out, code := run(t, "verify", "--config", e.preset, "--limit", "40")
		t.Logf("verify on the seeded data: exit %d\n%s", code, out)
	})

	t.Run("customer", func(t *testing.T) {
		e.op(t, demo.OpRegisterCustomer, 11)
		var id int64
		var email, last string
		if err := shop.QueryRow(`SELECT customer_id, email, last_name FROM wp_wc_customer_lookup ORDER BY customer_id DESC LIMIT 1`).Scan(&id, &email, &last); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "res_partner "+email, func() (bool, error) {
			n, err := str(erp, `SELECT count(*) FROM res_partner WHERE email = $1 AND type = 'contact'`, email)
			return n == "1", err
		})
		eq(t, "res_partner.name", mustStr(t, erp, `SELECT name FROM res_partner WHERE email = $1`, email), last)
		e.verify(t, "customer")
	})

	var orderID string
	t.Run("order", func(t *testing.T) {
		e.op(t, demo.OpPlaceOrder, 12)
		orderID = mustStr(t, shop, `SELECT id FROM wp_wc_orders WHERE type = 'shop_order' ORDER BY id DESC LIMIT 1`)
		waitFor(t, "sale_order "+orderID, func() (bool, error) {
			n, err := str(erp, `SELECT count(*) FROM sale_order WHERE client_order_ref = $1`, orderID)
			return n == "1", err
		})
		var total, tax, email, currency, status string
		if err := shop.QueryRow(`SELECT total_amount, tax_amount, billing_email, currency, status FROM wp_wc_orders WHERE id = ?`, orderID).
			Scan(&total, &tax, &email, &currency, &status); err != nil {
			t.Fatal(err)
		}
		var soID int64
		var eTotal, eTax, eEmail, eCurrency, eState string
		if err := erp.QueryRow(`SELECT so.id, so.amount_total, so.amount_tax, p.email, c.name, so.state FROM sale_order so
			JOIN res_partner p ON p.id = so.partner_id JOIN res_currency c ON c.id = so.currency_id WHERE so.client_order_ref = $1`, orderID).
			Scan(&soID, &eTotal, &eTax, &eEmail, &eCurrency, &eState); err != nil {
			t.Fatal(err)
		}
		eq(t, "amount_total", num(eTotal), num(total))
		eq(t, "amount_tax", num(eTax), num(tax))
		eq(t, "partner email", eEmail, email)
		eq(t, "currency", eCurrency, currency)
		// both sides change the status: a new order takes the shop's, mapped
		wantState := map[string]string{"wc-pending": "draft", "wc-processing": "sale", "wc-on-hold": "sent", "wc-completed": "done"}[status]
		eq(t, "state (the shop has "+status+")", eState, wantState)
		// the addresses: a partner of type invoice and one of type delivery
		for _, a := range []struct{ kind, via, typ string }{{"billing", "partner_invoice_id", "invoice"}, {"shipping", "partner_shipping_id", "delivery"}} {
			want := rowStrings(t, shop, `SELECT last_name, company, address_1, address_2, city, postcode, email, phone FROM wp_wc_order_addresses
				WHERE order_id = ? AND address_type = ?`, orderID, a.kind)
			got := rowStrings(t, erp, `SELECT p.name, p.company_name, p.street, p.street2, p.city, p.zip, p.email, p.phone FROM sale_order so
				JOIN res_partner p ON p.id = so.`+a.via+` AND p.type = '`+a.typ+`' WHERE so.id = $1`, soID)
			eq(t, a.kind+" address (name, company, street, street2, city, zip, email, phone)", strings.Join(got, "|"), strings.Join(want, "|"))
		}
		// the lines: every line item, by SKU, quantity and amounts
		rows, err := shop.Query(`SELECT i.order_item_id, i.order_item_name,
			(SELECT meta_value FROM wp_postmeta WHERE post_id = (SELECT meta_value FROM wp_woocommerce_order_itemmeta WHERE order_item_id = i.order_item_id AND meta_key = '_product_id') AND meta_key = '_sku'),
			(SELECT meta_value FROM wp_woocommerce_order_itemmeta WHERE order_item_id = i.order_item_id AND meta_key = '_qty'),
			(SELECT meta_value FROM wp_woocommerce_order_itemmeta WHERE order_item_id = i.order_item_id AND meta_key = '_line_total'),
			(SELECT meta_value FROM wp_woocommerce_order_itemmeta WHERE order_item_id = i.order_item_id AND meta_key = '_line_tax')
			FROM wp_woocommerce_order_items i WHERE i.order_id = ? AND i.order_item_type = 'line_item' ORDER BY i.order_item_id`, orderID)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var want []string
		for rows.Next() {
			var id, name, sku, qty, net, tax string
			if err := rows.Scan(&id, &name, &sku, &qty, &net, &tax); err != nil {
				t.Fatal(err)
			}
			want = append(want, strings.Join([]string{id, name, sku, num(qty), num(net), num(tax)}, "|"))
		}
		if len(want) == 0 {
			t.Fatal("the order has no lines")
		}
		waitFor(t, "sale_order_line of "+orderID, func() (bool, error) {
			n, err := str(erp, `SELECT count(*) FROM sale_order_line WHERE order_id = $1 AND display_type IS NULL`, soID)
			return n == fmt.Sprint(len(want)), err
		})
		erows, err := erp.Query(`SELECT l.sequence, l.name, p.default_code, l.product_uom_qty, l.price_subtotal, l.price_tax
			FROM sale_order_line l JOIN product_product p ON p.id = l.product_id WHERE l.order_id = $1 ORDER BY l.sequence`, soID)
		if err != nil {
			t.Fatal(err)
		}
		defer erows.Close()
		var got []string
		for erows.Next() {
			var seq, name, sku, qty, net, tax string
			if err := erows.Scan(&seq, &name, &sku, &qty, &net, &tax); err != nil {
				t.Fatal(err)
			}
			got = append(got, strings.Join([]string{seq, name, sku, num(qty), num(net), num(tax)}, "|"))
		}
		eq(t, "lines", strings.Join(got, "\n"), strings.Join(want, "\n"))
		e.verify(t, "order")
		e.verify(t, "order_line")
	})

	t.Run("product", func(t *testing.T) {
		sku := fmt.Sprintf("E2E-%d", time.Now().Unix()%1e6)
		var tmpl int64
		if err := erp.QueryRow(`INSERT INTO product_template (name, type, list_price, active, create_date, write_date)
			VALUES (jsonb_build_object('en_US', 'E2E Lamp'::text), 'consu', 49.90, true, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC') RETURNING id`).Scan(&tmpl); err != nil {
			t.Fatal(err)
		}
		if _, err := erp.Exec(`INSERT INTO product_product (product_tmpl_id, default_code, active, weight, create_date, write_date)
			VALUES ($1, $2, true, 1.25, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')`, tmpl, sku); err != nil {
			t.Fatal(err)
		}
		var post string
		waitFor(t, "wp_posts product "+sku, func() (bool, error) {
			var err error
			post, err = str(shop, `SELECT post_id FROM wp_postmeta WHERE meta_key = '_sku' AND meta_value = ?`, sku)
			return post != "", err
		})
		eq(t, "post_title", mustStr(t, shop, `SELECT post_title FROM wp_posts WHERE ID = ?`, post), "E2E Lamp")
		eq(t, "post_status", mustStr(t, shop, `SELECT post_status FROM wp_posts WHERE ID = ?`, post), "publish")
		eq(t, "post_type", mustStr(t, shop, `SELECT post_type FROM wp_posts WHERE ID = ?`, post), "product")
		waitFor(t, "_regular_price 49.9", func() (bool, error) {
			v, err := shopMeta(shop, "wp_postmeta", "post_id", post, "_regular_price")
			return num(v) == "49.9", err
		})
		v, _ := shopMeta(shop, "wp_postmeta", "post_id", post, "_weight")
		eq(t, "_weight", num(v), "1.25")
		// a name and price change of the template
		if _, err := erp.Exec(`UPDATE product_template SET name = jsonb_build_object('en_US', 'E2E Desk Lamp'::text), list_price = 54.50,
			write_date = now() AT TIME ZONE 'UTC' WHERE id = $1`, tmpl); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "post_title E2E Desk Lamp", func() (bool, error) {
			v, err := str(shop, `SELECT post_title FROM wp_posts WHERE ID = ?`, post)
			return v == "E2E Desk Lamp", err
		})
		waitFor(t, "_regular_price 54.5", func() (bool, error) {
			v, err := shopMeta(shop, "wp_postmeta", "post_id", post, "_regular_price")
			return num(v) == "54.5", err
		})
		e.verify(t, "product")
	})

	t.Run("price", func(t *testing.T) {
		e.op(t, demo.OpChangePrice, 13)
		var sku, amount string
		if err := erp.QueryRow(`SELECT p.default_code, i.fixed_price FROM product_pricelist_item i JOIN product_product p ON p.id = i.product_id
			WHERE i.pricelist_id = 1 AND i.applied_on = '0_product_variant' AND i.compute_price = 'fixed' ORDER BY i.write_date DESC, i.id DESC LIMIT 1`).Scan(&sku, &amount); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "_price "+amount+" of "+sku, func() (bool, error) {
			v, err := metaOfSKU(shop, sku, "_price")
			return num(v) == num(amount), err
		})
		e.verify(t, "price")
	})

	t.Run("stock_level", func(t *testing.T) {
		e.op(t, demo.OpReceiveStock, 14)
		var sku, qty, loc string
		if err := erp.QueryRow(`SELECT p.default_code, q.quantity, q.location_id FROM stock_quant q JOIN product_product p ON p.id = q.product_id
			ORDER BY q.write_date DESC, q.id DESC LIMIT 1`).Scan(&sku, &qty, &loc); err != nil {
			t.Fatal(err)
		}
		if loc != "8" {
			// received elsewhere: move stock at WH/Stock by hand, as a stock count would
			if err := erp.QueryRow(`UPDATE stock_quant q SET quantity = quantity + 7, write_date = now() AT TIME ZONE 'UTC'
				FROM product_product p WHERE p.id = q.product_id AND q.id = (SELECT min(id) FROM stock_quant WHERE location_id = 8)
				RETURNING p.default_code, q.quantity`).Scan(&sku, &qty); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "_stock "+qty+" of "+sku, func() (bool, error) {
			v, err := metaOfSKU(shop, sku, "_stock")
			return num(v) == num(qty), err
		})
		e.verify(t, "stock_level")
	})

	t.Run("shipment", func(t *testing.T) {
		e.op(t, demo.OpShipOrder, 15)
		var name, tracking, ref string
		if err := erp.QueryRow(`SELECT sp.name, sp.carrier_tracking_ref, so.client_order_ref FROM stock_picking sp JOIN sale_order so ON so.id = sp.sale_id
			ORDER BY sp.id DESC LIMIT 1`).Scan(&name, &tracking, &ref); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "_tracking_number of order "+ref, func() (bool, error) {
			v, err := shopMeta(shop, "wp_wc_orders_meta", "order_id", ref, "_tracking_number")
			return v == tracking, err
		})
		v, _ := shopMeta(shop, "wp_wc_orders_meta", "order_id", ref, "_shipment_number")
		eq(t, "_shipment_number", v, name)
		v, _ = shopMeta(shop, "wp_wc_orders_meta", "order_id", ref, "_shipment_status")
		eq(t, "_shipment_status", v, "shipped")
		e.verify(t, "shipment")
	})

	t.Run("invoice", func(t *testing.T) {
		e.op(t, demo.OpIssueInvoice, 16)
		var name, ref, total, date string
		if err := erp.QueryRow(`SELECT name, ref, amount_total, invoice_date::text FROM account_move WHERE move_type = 'out_invoice' ORDER BY id DESC LIMIT 1`).
			Scan(&name, &ref, &total, &date); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "_invoice_number of order "+ref, func() (bool, error) {
			v, err := shopMeta(shop, "wp_wc_orders_meta", "order_id", ref, "_invoice_number")
			return v == name, err
		})
		v, _ := shopMeta(shop, "wp_wc_orders_meta", "order_id", ref, "_invoice_total")
		eq(t, "_invoice_total", num(v), num(total))
		v, _ = shopMeta(shop, "wp_wc_orders_meta", "order_id", ref, "_invoice_status")
		eq(t, "_invoice_status", v, "posted")
		v, _ = shopMeta(shop, "wp_wc_orders_meta", "order_id", ref, "_invoice_date")
		eq(t, "_invoice_date", v, date)
		e.verify(t, "invoice")
	})

	t.Run("tax_rate", func(t *testing.T) {
		var id int64
		var code string
		if err := erp.QueryRow(`UPDATE account_tax SET amount = amount + 0.5, write_date = now() AT TIME ZONE 'UTC'
			WHERE id = (SELECT min(id) FROM account_tax WHERE type_tax_use = 'sale' AND active) RETURNING id, name->>'en_US'`).Scan(&id, &code); err != nil {
			t.Fatal(err)
		}
		amount := mustStr(t, erp, `SELECT amount FROM account_tax WHERE id = $1`, id)
		waitFor(t, "tax_rate "+code+" = "+amount, func() (bool, error) {
			v, err := str(shop, `SELECT tax_rate FROM wp_woocommerce_tax_rates WHERE tax_rate_name = ?`, code)
			return num(v) == num(amount), err
		})
		e.verify(t, "tax_rate")
	})

	var refundID string
	t.Run("return", func(t *testing.T) {
		e.op(t, demo.OpRequestReturn, 17)
		var parent, total string
		if err := shop.QueryRow(`SELECT id, parent_order_id, total_amount FROM wp_wc_orders WHERE type = 'shop_order_refund' ORDER BY id DESC LIMIT 1`).
			Scan(&refundID, &parent, &total); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "out_refund "+refundID, func() (bool, error) {
			n, err := str(erp, `SELECT count(*) FROM account_move WHERE move_type = 'out_refund' AND ref = $1`, refundID)
			return n == "1", err
		})
		var origin, state string
		if err := erp.QueryRow(`SELECT invoice_origin, state FROM account_move WHERE move_type = 'out_refund' AND ref = $1`, refundID).Scan(&origin, &state); err != nil {
			t.Fatal(err)
		}
		eq(t, "invoice_origin", origin, parent)
		eq(t, "state", state, "draft")
		e.verify(t, "return")

		// the ERP approves it: the credit note is posted
		e.op(t, demo.OpApproveReturn, 18)
		var ref, name string
		if err := erp.QueryRow(`SELECT ref, name FROM account_move WHERE move_type = 'out_refund' AND state = 'posted' ORDER BY write_date DESC, id DESC LIMIT 1`).
			Scan(&ref, &name); err != nil {
			t.Fatal(err)
		}
		if ref != refundID {
			t.Logf("approve_return posted the credit note of %s, not %s", ref, refundID)
		}
		waitFor(t, "refund "+ref+" wc-completed", func() (bool, error) {
			v, err := str(shop, `SELECT status FROM wp_wc_orders WHERE id = ?`, ref)
			return v == "wc-completed", err
		})
		e.verify(t, "return")
	})

	t.Run("order_status", func(t *testing.T) {
		if orderID == "" {
			t.Fatal("no order placed")
		}
		if _, err := erp.Exec(`UPDATE sale_order SET state = 'sale', date_order = now() AT TIME ZONE 'UTC', invoice_status = 'to invoice',
			write_date = now() AT TIME ZONE 'UTC' WHERE client_order_ref = $1`, orderID); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "order "+orderID+" wc-processing", func() (bool, error) {
			v, err := str(shop, `SELECT status FROM wp_wc_orders WHERE id = ?`, orderID)
			return v == "wc-processing", err
		})
		e.verify(t, "order")
		if _, err := erp.Exec(`UPDATE sale_order SET state = 'done', write_date = now() AT TIME ZONE 'UTC' WHERE client_order_ref = $1`, orderID); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "order "+orderID+" wc-completed", func() (bool, error) {
			v, err := str(shop, `SELECT status FROM wp_wc_orders WHERE id = ?`, orderID)
			return v == "wc-completed", err
		})
		e.verify(t, "order")
	})
	t.Logf("total %s", time.Since(begin).Round(time.Millisecond))
}

// column reads a one-column query's rows as strings.
func column(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

// rowStrings reads one row's columns as strings (NULL as "").
func rowStrings(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		t.Fatalf("%s %v: no row", q, args)
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = v.String
	}
	return out
}
