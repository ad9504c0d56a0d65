//go:build integration

package demo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSink stands in for tandem's sink into the ERP, so that the ERP side of
// the generator has the rows it acts on: it copies the shop's new customers,
// orders (with their line items) and return requests into the ERP the way
// the preset (deploy/examples/woocommerce-odoo.yaml) maps them: a res_partner
// per e-mail, a draft sale_order with client_order_ref = the shop's order id
// and amount_tax / amount_total, its lines with sequence = the item id,
// product by SKU, price_subtotal = _line_total and price_tax = _line_tax
// (the shop's shipping item is no order_line, so it has no line), and a draft
// out_refund per return request with ref = the refund's id and
// invoice_origin = the order's.
type fakeSink struct {
	shop, erp       *sql.DB
	orders, refunds map[int64]bool
	copied          int
}

func newFakeSink(t *testing.T, shop, erp *sql.DB) *fakeSink {
	s := &fakeSink{shop: shop, erp: erp, orders: map[int64]bool{}, refunds: map[int64]bool{}}
	for ref := range strings2(t, erp, "SELECT client_order_ref, '' FROM sale_order WHERE client_order_ref IS NOT NULL") {
		var id int64
		fmt.Sscan(ref, &id)
		s.orders[id] = true
	}
	return s
}

func (s *fakeSink) run(ctx context.Context) error {
	for {
		if err := s.sync(ctx); err != nil && ctx.Err() == nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *fakeSink) sync(ctx context.Context) error {
	type order struct {
		id, parent         int64
		email, currency    string
		tax, total, reason sql.NullString
	}
	rows, err := s.shop.QueryContext(ctx, `SELECT id, type, COALESCE(parent_order_id, 0), COALESCE(billing_email, ''),
		COALESCE(currency, 'EUR'), CAST(tax_amount AS CHAR), CAST(total_amount AS CHAR), customer_note FROM wp_wc_orders ORDER BY id`)
	if err != nil {
		return err
	}
	var orders, refunds []order
	for rows.Next() {
		var o order
		var typ string
		if err := rows.Scan(&o.id, &typ, &o.parent, &o.email, &o.currency, &o.tax, &o.total, &o.reason); err != nil {
			rows.Close()
			return err
		}
		switch {
		case typ == "shop_order" && !s.orders[o.id]:
			orders = append(orders, o)
		case typ == "shop_order_refund" && !s.refunds[o.id]:
			refunds = append(refunds, o)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, o := range orders {
		lines, err := s.shop.QueryContext(ctx, `SELECT i.order_item_id, i.order_item_name,
			MAX(CASE WHEN m.meta_key = '_qty' THEN m.meta_value END),
			MAX(CASE WHEN m.meta_key = '_line_total' THEN m.meta_value END),
			MAX(CASE WHEN m.meta_key = '_line_tax' THEN m.meta_value END),
			(SELECT meta_value FROM wp_postmeta WHERE meta_key = '_sku' AND post_id = MAX(CASE WHEN m.meta_key = '_product_id' THEN m.meta_value END) LIMIT 1)
			FROM wp_woocommerce_order_items i JOIN wp_woocommerce_order_itemmeta m ON m.order_item_id = i.order_item_id
			WHERE i.order_id = ? AND i.order_item_type = 'line_item' GROUP BY i.order_item_id, i.order_item_name`, o.id)
		if err != nil {
			return err
		}
		type line struct {
			item                int64
			name, qty, net, tax string
			sku                 sql.NullString
		}
		var ls []line
		for lines.Next() {
			var l line
			if err := lines.Scan(&l.item, &l.name, &l.qty, &l.net, &l.tax, &l.sku); err != nil {
				lines.Close()
				return err
			}
			ls = append(ls, l)
		}
		lines.Close()
		if err := lines.Err(); err != nil {
			return err
		}
		err = inTx(ctx, s.erp, func(tx *sql.Tx) error {
			partner, err := s.partner(ctx, tx, o.email)
			if err != nil {
				return err
			}
			var so int64
			if err := tx.QueryRowContext(ctx, `INSERT INTO sale_order (partner_id, client_order_ref, amount_tax, amount_total,
				currency_id, pricelist_id) VALUES ($1, $2, $3, $4, (SELECT id FROM res_currency WHERE name = $5), 1) RETURNING id`,
				partner, fmt.Sprint(o.id), o.tax.String, o.total.String, o.currency).Scan(&so); err != nil {
				return err
			}
			for _, l := range ls {
				if _, err := tx.ExecContext(ctx, `INSERT INTO sale_order_line (order_id, sequence, product_id, name, product_uom_qty,
					price_subtotal, price_tax) VALUES ($1, $2, (SELECT id FROM product_product WHERE default_code = $3 ORDER BY id LIMIT 1),
					$4, $5, $6, $7)`, so, l.item, l.sku, l.name, l.qty, l.net, l.tax); err != nil {
					return fmt.Errorf("line %d of order %d: %w", l.item, o.id, err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("copy order %d: %w", o.id, err)
		}
		s.orders[o.id] = true
		s.copied++
	}
	for _, r := range refunds {
		if _, err := s.erp.ExecContext(ctx, `INSERT INTO account_move (move_type, ref, invoice_origin, narration)
			VALUES ('out_refund', $1, $2, $3)`, fmt.Sprint(r.id), fmt.Sprint(r.parent), r.reason.String); err != nil {
			return fmt.Errorf("copy return %d: %w", r.id, err)
		}
		s.refunds[r.id] = true
		s.copied++
	}
	return nil
}

// partner is the contact with the e-mail address, created when missing (the
// customer flow, which the real sink applies before the order).
func (s *fakeSink) partner(ctx context.Context, tx *sql.Tx, email string) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, "SELECT id FROM res_partner WHERE email = $1 ORDER BY id LIMIT 1", email).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.QueryRowContext(ctx, `INSERT INTO res_partner (name, email, type, customer_rank) VALUES ($1, $1, 'contact', 1)
			RETURNING id`, email).Scan(&id)
	}
	return id, err
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// generateRun seeds fresh databases, runs Generate with the fake sink
// copying into the ERP, checks that nothing failed and that the written rows
// are consistent, and returns the stats.
func generateRun(t *testing.T, opts GenerateOptions) GenerateStats {
	shop, erp := freshDatabases(t)
	ctx := context.Background()
	if _, err := Seed(ctx, shop, erp, SeedOptions{Seed: 5, Templates: 40, Customers: 120, Orders: 80}); err != nil {
		t.Fatal(err)
	}
	seededOrders := count(t, shop, "SELECT COALESCE(MAX(id), 0) FROM wp_wc_orders")
	seededCustomers := count(t, shop, "SELECT count(*) FROM wp_wc_customer_lookup")

	sink := newFakeSink(t, shop, erp)
	sinkCtx, stopSink := context.WithCancel(ctx)
	var sinkErr error
	var wg sync.WaitGroup
	wg.Go(func() { sinkErr = sink.run(sinkCtx) })
	opts.Logger = slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	stats, err := Generate(ctx, shop, erp, opts)
	stopSink()
	wg.Wait()
	t.Logf("generate:\n%s", stats)
	t.Logf("the fake sink copied %d orders and returns", sink.copied)
	if err != nil {
		t.Fatal(err)
	}
	if sinkErr != nil {
		t.Fatalf("fake sink: %v", sinkErr)
	}
	for op, n := range stats.Errors {
		if n != 0 {
			t.Errorf("%s failed %d times", op, n)
		}
	}

	// shop: every order adds up (the seeded ones and the new ones)
	orderTotal := strings2(t, shop, "SELECT CAST(id AS CHAR), CAST(total_amount AS CHAR) FROM wp_wc_orders WHERE type = 'shop_order'")
	orderParts := strings2(t, shop, `SELECT CAST(o.id AS CHAR), CAST(
		  (SELECT COALESCE(SUM(CAST(m.meta_value AS DECIMAL(26,8))), 0) FROM wp_woocommerce_order_items i JOIN wp_woocommerce_order_itemmeta m
		     ON m.order_item_id = i.order_item_id AND m.meta_key IN ('_line_total', '_line_tax') WHERE i.order_id = o.id AND i.order_item_type = 'line_item')
		  + d.shipping_total_amount + d.shipping_tax_amount AS CHAR)
		FROM wp_wc_orders o JOIN wp_wc_order_operational_data d ON d.order_id = o.id WHERE o.type = 'shop_order'`)
	sameDecimals(t, "order total vs its line items and shipping", orderTotal, orderParts)
	orderTax := strings2(t, shop, "SELECT CAST(id AS CHAR), CAST(tax_amount AS CHAR) FROM wp_wc_orders WHERE type = 'shop_order'")
	taxParts := strings2(t, shop, `SELECT CAST(o.id AS CHAR), CAST(
		  (SELECT COALESCE(SUM(CAST(m.meta_value AS DECIMAL(26,8))), 0) FROM wp_woocommerce_order_items i JOIN wp_woocommerce_order_itemmeta m
		     ON m.order_item_id = i.order_item_id AND m.meta_key = '_line_tax' WHERE i.order_id = o.id AND i.order_item_type = 'line_item')
		  + d.shipping_tax_amount AS CHAR)
		FROM wp_wc_orders o JOIN wp_wc_order_operational_data d ON d.order_id = o.id WHERE o.type = 'shop_order'`)
	sameDecimals(t, "order tax vs its line items and shipping", orderTax, taxParts)
	newOrders := count(t, shop, fmt.Sprintf("SELECT count(*) FROM wp_wc_orders WHERE type = 'shop_order' AND id > %d", seededOrders))
	if newOrders != stats.Ops[OpPlaceOrder] {
		t.Errorf("%d new orders, %d placed", newOrders, stats.Ops[OpPlaceOrder])
	}
	for what, q := range map[string]string{
		"orders without their placeholder post, both addresses, operational data and 1-5 line items": `SELECT count(*) FROM wp_wc_orders o
			WHERE NOT EXISTS (SELECT 1 FROM wp_posts p WHERE p.ID = o.id AND p.post_type = 'shop_order_placehold')
			OR (SELECT count(*) FROM wp_wc_order_addresses a WHERE a.order_id = o.id) <> IF(o.type = 'shop_order', 2, 0)
			OR (SELECT count(*) FROM wp_wc_order_operational_data d WHERE d.order_id = o.id) <> IF(o.type = 'shop_order', 1, 0)
			OR o.type = 'shop_order' AND (SELECT count(*) FROM wp_woocommerce_order_items i WHERE i.order_id = o.id
			   AND i.order_item_type = 'line_item') NOT BETWEEN 1 AND 5`,
		"line items without the eight line meta keys": `SELECT count(*) FROM wp_woocommerce_order_items i WHERE i.order_item_type = 'line_item'
			AND (SELECT count(DISTINCT m.meta_key) FROM wp_woocommerce_order_itemmeta m WHERE m.order_item_id = i.order_item_id AND m.meta_key IN
			('_product_id', '_variation_id', '_qty', '_tax_class', '_line_subtotal', '_line_total', '_line_tax', '_line_subtotal_tax')) <> 8`,
		"line items of products that do not exist": `SELECT count(*) FROM wp_woocommerce_order_itemmeta m WHERE m.meta_key = '_product_id'
			AND NOT EXISTS (SELECT 1 FROM wp_posts p WHERE p.ID = m.meta_value AND p.post_type = 'product')`,
		"return requests of a missing order, not of its goods' amount, or without their _refund_amount": `SELECT count(*) FROM wp_wc_orders r
			LEFT JOIN wp_wc_orders o ON o.id = r.parent_order_id AND o.type = 'shop_order'
			LEFT JOIN wp_wc_orders_meta m ON m.order_id = r.id AND m.meta_key = '_refund_amount'
			WHERE r.type = 'shop_order_refund' AND (o.id IS NULL OR r.total_amount <= 0 OR r.status <> 'wc-pending'
			OR r.total_amount <> (SELECT sum(CAST(im.meta_value AS DECIMAL(26,8))) FROM wp_woocommerce_order_items i
			   JOIN wp_woocommerce_order_itemmeta im ON im.order_item_id = i.order_item_id AND im.meta_key IN ('_line_total', '_line_tax')
			   WHERE i.order_id = o.id AND i.order_item_type = 'line_item')
			OR m.meta_value IS NULL OR CAST(m.meta_value AS DECIMAL(26,8)) <> r.total_amount)`,
		"e-mail addresses used by two customers": `SELECT count(*) FROM (SELECT email FROM wp_wc_customer_lookup GROUP BY email HAVING count(*) > 1) d`,
	} {
		if n := count(t, shop, q); n != 0 {
			t.Errorf("%d %s", n, what)
		}
	}
	if n := count(t, shop, "SELECT count(*) FROM wp_wc_orders WHERE type = 'shop_order_refund'"); n != stats.Ops[OpRequestReturn] {
		t.Errorf("%d return requests, %d made", n, stats.Ops[OpRequestReturn])
	}
	if n := count(t, shop, "SELECT count(*) FROM wp_wc_customer_lookup") - seededCustomers; n < stats.Ops[OpRegisterCustomer] {
		t.Errorf("%d new customers, %d registered", n, stats.Ops[OpRegisterCustomer])
	}

	// ERP: every delivery is of an existing order, named as its origin, which
	// came from an existing shop order; the order's lines are delivered
	pickings := strings2(t, erp, `SELECT p.id::text, COALESCE(o.client_order_ref, 'none') FROM stock_picking p
		LEFT JOIN sale_order o ON o.id = p.sale_id AND o.name = p.origin AND o.state IN ('sale', 'done')
		WHERE p.state = 'done' AND p.carrier_tracking_ref <> '' AND p.date_done IS NOT NULL`)
	if n := count(t, erp, "SELECT count(*) FROM stock_picking"); n != len(pickings) || n != stats.Ops[OpShipOrder] {
		t.Errorf("%d pickings, %d done with tracking, %d shipped", n, len(pickings), stats.Ops[OpShipOrder])
	}
	for id, ref := range pickings {
		if _, ok := orderTotal[ref]; !ok {
			t.Errorf("picking %s: its sale order's shop order %q does not exist", id, ref)
		}
	}
	for what, q := range map[string]string{
		"lines of shipped orders not delivered": `SELECT count(*) FROM sale_order_line l JOIN stock_picking p ON p.sale_id = l.order_id
			WHERE l.qty_delivered <> l.product_uom_qty`,
		"lines of confirmed orders not confirmed": `SELECT count(*) FROM sale_order_line l JOIN sale_order o ON o.id = l.order_id
			WHERE o.state = 'sale' AND l.state <> 'sale'`,
		"invoices not matching their order": `SELECT count(*) FROM account_move m LEFT JOIN sale_order o ON o.name = m.invoice_origin
			WHERE m.move_type = 'out_invoice' AND (o.id IS NULL OR m.ref IS DISTINCT FROM o.client_order_ref OR m.state <> 'posted'
			OR m.name NOT LIKE 'INV/%' OR m.amount_total <> m.amount_untaxed + m.amount_tax
			OR m.amount_total <> (SELECT sum(COALESCE(l.price_subtotal, 0) + COALESCE(l.price_tax, 0)) FROM sale_order_line l WHERE l.order_id = o.id))`,
		"posted credit notes of no order or not adding up": `SELECT count(*) FROM account_move m LEFT JOIN sale_order o ON o.client_order_ref = m.invoice_origin
			WHERE m.move_type = 'out_refund' AND m.state = 'posted' AND (o.id IS NULL OR m.name NOT LIKE 'RINV/%'
			OR m.amount_total <= 0 OR m.amount_total <> m.amount_untaxed + m.amount_tax OR m.amount_total_signed <> -m.amount_total)`,
		"journal entries that do not balance": `SELECT count(*) FROM account_move m WHERE m.state = 'posted'
			AND (SELECT COALESCE(sum(balance), -1) FROM account_move_line l WHERE l.move_id = m.id) <> 0`,
		"receivables that differ from the entry's total": `SELECT count(*) FROM account_move m WHERE m.state = 'posted'
			AND (SELECT sum(abs(balance)) FROM account_move_line l WHERE l.move_id = m.id AND l.display_type = 'payment_term') <> m.amount_total`,
	} {
		if n := count(t, erp, q); n != 0 {
			t.Errorf("%d %s", n, what)
		}
	}
	if n := count(t, erp, "SELECT count(*) FROM account_move WHERE move_type = 'out_invoice'"); n != stats.Ops[OpIssueInvoice] {
		t.Errorf("%d invoices, %d issued", n, stats.Ops[OpIssueInvoice])
	}
	if n := count(t, erp, "SELECT count(*) FROM account_move WHERE move_type = 'out_refund' AND state = 'posted'"); n != stats.Ops[OpApproveReturn] {
		t.Errorf("%d credit notes posted, %d approved", n, stats.Ops[OpApproveReturn])
	}
	return stats
}

func TestGenerateIntegration(t *testing.T) {
	var progress int
	stats := generateRun(t, GenerateOptions{Rate: 50, Duration: 5 * time.Second, Seed: 2026, Workers: 4,
		Progress: func(GenerateStats) { progress++ }, ProgressEvery: time.Second})
	started := stats.Total()
	for _, op := range Ops() {
		started += stats.Idle[op] + stats.Errors[op]
		if stats.Ops[op] == 0 {
			t.Errorf("%s never happened (idle %d, errors %d)", op, stats.Idle[op], stats.Errors[op])
		}
	}
	if started < 200 || started > 251 {
		t.Errorf("%d operations started in 5 s at 50/s", started)
	}
	if progress < 4 {
		t.Errorf("progress reported %d times", progress)
	}
}

// Many workers at once on few rows: nothing fails (lock conflicts are
// retried) and the data stays consistent.
func TestGenerateConcurrentIntegration(t *testing.T) {
	stats := generateRun(t, GenerateOptions{Rate: 400, Duration: 2 * time.Second, Seed: 9, Workers: 16, Mix: map[Op]int{
		OpRegisterCustomer: 4, OpPlaceOrder: 4, OpRequestReturn: 2, OpReceiveStock: 4, OpChangePrice: 2,
		OpConfirmOrder: 3, OpShipOrder: 3, OpIssueInvoice: 3, OpApproveReturn: 2}})
	if stats.Total() < 300 {
		t.Errorf("only %d operations done in 2 s at 400/s with 16 workers", stats.Total())
	}
}
