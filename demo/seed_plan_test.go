package demo

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPlanSeedDeterministic(t *testing.T) {
	opts := SeedOptions{Seed: 3, Now: time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)}.withDefaults()
	a, b := planSeed(opts), planSeed(opts)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same options planned different data")
	}
	opts.Seed = 4
	if c := planSeed(opts); reflect.DeepEqual(a.products, c.products) {
		t.Fatal("another seed planned the same products")
	}
}

func TestPlanSeedInvariants(t *testing.T) {
	p := planSeed(SeedOptions{Now: time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)}.withDefaults())
	if len(p.templates) < 300 || len(p.products) <= len(p.templates) || len(p.customers) < 2000 || len(p.orders) < 300 {
		t.Fatalf("too small: %d templates, %d products, %d customers, %d orders", len(p.templates), len(p.products), len(p.customers), len(p.orders))
	}
	skus, emails := map[string]bool{}, map[string]bool{}
	for _, pr := range p.products {
		if skus[pr.sku] || pr.sku != strings.ToUpper(pr.sku) || !strings.HasPrefix(pr.sku, p.templates[pr.tmpl].code) {
			t.Errorf("SKU %q twice or malformed", pr.sku)
		}
		skus[pr.sku] = true
		if len(pr.barcode) != 13 {
			t.Errorf("barcode %q", pr.barcode)
		}
	}
	for _, c := range p.customers {
		if emails[c.email] || c.email != strings.ToLower(c.email) {
			t.Errorf("e-mail %q twice or not lower case", c.email)
		}
		emails[c.email] = true
	}
	for i, o := range p.orders {
		if len(o.lines) < 1 || len(o.lines) > 5 {
			t.Errorf("order %d has %d lines", i, len(o.lines))
		}
		if i > 0 && o.created.Before(p.orders[i-1].created) {
			t.Errorf("order %d placed before order %d", i, i-1)
		}
		if o.updated.Before(o.created) || o.updated.After(p.now) {
			t.Errorf("order %d updated at %v, created %v", i, o.updated, o.created)
		}
		if _, ok := seedERPState[o.status]; !ok {
			t.Errorf("order %d status %q has no Odoo state", i, o.status)
		}
	}
	if got := seedWC(2490) + " " + seedWC(5000) + " " + seedWC(93) + " " + seedDec(-5); got != "24.9 50 0.93 -0.05" {
		t.Errorf("money formats: %s", got)
	}
	if got := seedEAN13(400638100001); got != "4006381000017" {
		t.Errorf("EAN-13 %s", got)
	}
}
