package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/internal/preflight"
	"github.com/tandem-sync/tandem/mapping"
)

func loadTestConfig(t *testing.T, path string, src []byte) *mapping.Config {
	t.Helper()
	cfg, err := mapping.Load(path, src, config.Env{Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("the config does not validate:\n%v", err)
	}
	return cfg
}

// wantSinkTables compares sinkTables(cfg, sys) with want: table ->
// privileges, comma-separated.
func wantSinkTables(t *testing.T, cfg *mapping.Config, sys string, want map[string]string) {
	t.Helper()
	got := sinkTables(cfg, sys)
	for table, privs := range got {
		if w, ok := want[table]; !ok {
			t.Errorf("%s: the sink needs %s on %s, want nothing", sys, strings.Join(privs, ", "), table)
		} else if g := strings.Join(privs, ", "); g != w {
			t.Errorf("%s: the sink needs %s on %s, want %s", sys, g, table, w)
		}
	}
	for table, w := range want {
		if _, ok := got[table]; !ok {
			t.Errorf("%s: the sink needs nothing on %s, want %s", sys, table, w)
		}
	}
}

// TestSinkTablesPreset pins what the sinks of the WooCommerce/Odoo preset
// need on each table.
func TestSinkTablesPreset(t *testing.T) {
	path := filepath.Join("..", "..", "deploy", "examples", "woocommerce-odoo.yaml")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := loadTestConfig(t, path, src)
	wantSinkTables(t, cfg, "shop", map[string]string{
		// products are created and soft-deleted (post_status=trash); price
		// and stock_level live on the product's post: they never create
		// it, and a delete of theirs leaves it (delete: none by default)
		"shop.wp_posts":    "SELECT, INSERT, UPDATE",
		"shop.wp_postmeta": "SELECT, INSERT, UPDATE, DELETE",
		// order, shipment, invoice and return all have create: false, so
		// their deletes leave the order row
		"shop.wp_wc_orders":      "SELECT, UPDATE",
		"shop.wp_wc_orders_meta": "SELECT, INSERT, UPDATE, DELETE",
		// order flows in with status and fulfilment_status only: its
		// joined tables are only read
		"shop.wp_wc_order_operational_data": "SELECT",
		"shop.wp_wc_order_addresses":        "SELECT",
		"shop.wp_woocommerce_tax_rates":     "SELECT, INSERT, UPDATE, DELETE",
	})
	wantSinkTables(t, cfg, "erp", map[string]string{
		"public.sale_order":      "SELECT, INSERT, UPDATE, DELETE",
		"public.sale_order_line": "SELECT, INSERT, UPDATE, DELETE",
		"public.res_partner":     "SELECT, INSERT, UPDATE, DELETE",
		"public.account_move":    "SELECT, INSERT, UPDATE, DELETE",
		// the currency an order points at (shared: true)
		"public.res_currency": "SELECT",
		// the product an order line refers to (ref: product)
		"public.product_product":  "SELECT",
		"public.product_template": "SELECT",
	})
}

// TestSinkTablesRules covers what the preset does not: a root table none
// of whose columns a flowing field maps, and a system no flow goes to.
func TestSinkTablesRules(t *testing.T) {
	cfg := loadTestConfig(t, "diagram.yaml", []byte(diagramTestConfig))
	// into the shop flow status (the ERP's) and phone (both's), meta keys
	// both: the root row is inserted and deleted, never updated
	wantSinkTables(t, cfg, "shop", map[string]string{
		"shop.wp_users":    "SELECT, INSERT, DELETE",
		"shop.wp_usermeta": "SELECT, INSERT, UPDATE, DELETE",
	})
	wantSinkTables(t, cfg, "erp", map[string]string{"public.res_partner": "SELECT, INSERT, UPDATE, DELETE"})

	noFlows := loadTestConfig(t, "cli.yaml", []byte(cliConfig))
	if got := sinkTables(noFlows, "shop"); got != nil {
		t.Errorf("no flow goes to shop, yet its sink needs %v", got)
	}
	if sinkPreflight(noFlows, "shop") != nil {
		t.Error("a system no flow goes to has sink checks")
	}
}

// TestCheckClocks: tandem check warns when last writer wins lacks a clock.
func TestCheckClocks(t *testing.T) {
	preset := filepath.Join("..", "..", "deploy", "examples", "woocommerce-odoo.yaml")
	src, err := os.ReadFile(preset)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := mapping.Load(preset, src, config.Env{Lookup: func(string) (string, bool) { return "", false }, ReadFile: os.ReadFile})
	if err != nil {
		t.Fatal(err)
	}
	res := checkClocks(cfg)
	if len(res) != 2 || res[0].Check != "last writer wins: order" || res[0].Status != preflight.Pass || res[1].Status != preflight.Pass {
		t.Fatalf("the preset: %+v", res)
	}
	delete(cfg.Systems["shop"].Entities["return"].Fields, "updated_at")
	res = checkClocks(cfg)
	if res[1].Status != preflight.Warn || !strings.Contains(res[1].Detail, "refund_amount changed on both sides") ||
		!strings.Contains(res[1].Detail, "which shop does not map for return") || !strings.Contains(res[1].Fix, "systems.shop.entities.return.fields") {
		t.Errorf("without the shop's return clock: %+v", res[1])
	}
}
