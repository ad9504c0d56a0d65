//go:build integration

package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/tandem-sync/tandem/internal/testenv"
)

// TestIntegrationDemoFlowsBothWays runs `tandem demo` as make demo does,
// bounded: fixtures, seed, the preset's sync and generated traffic on both
// sides for 30 s. Events must flow both ways, and none may be
// dead-lettered.
func TestIntegrationDemoFlowsBothWays(t *testing.T) {
	preset := filepath.Join(testenv.RepoRoot(t), "deploy", "examples", "woocommerce-odoo.yaml")
	out, code := run(t, "demo", "--config", preset, "--duration", "30s", "--rate", "20")
	if code != 0 {
		t.Fatalf("tandem demo exit %d:\n%s", code, out)
	}
	count := func(re string) int {
		m := regexp.MustCompile(re).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no %q in:\n%s", re, out)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	toERP, toShop := count(`shop -> erp\s+(\d+) events`), count(`erp -> shop\s+(\d+) events`)
	if toERP == 0 || toShop == 0 {
		t.Errorf("events did not flow both ways: shop -> erp %d, erp -> shop %d", toERP, toShop)
	}
	if dlq := count(`dead-lettered\s+(\d+) events`); dlq != 0 {
		t.Errorf("%d events dead-lettered:\n%s", dlq, out)
	}
	if ops := count(`(\d+) operations in`); ops < 300 {
		t.Errorf("only %d generated operations in 30s at 20/s", ops)
	}
	t.Logf("shop -> erp %d, erp -> shop %d events", toERP, toShop)
}
