package mapping

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-sync/tandem/internal/config"
)

func loadExample(t testing.TB, name string) *Config {
	t.Helper()
	path := filepath.Join("..", "deploy", "examples", name)
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, src, config.Env{Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("the shipped example does not validate:\n%v", err)
	}
	return cfg
}

// TestPresetCoversEveryEntity: the WooCommerce/Odoo preset validates and
// maps every built-in entity on both sides, in the usual directions.
func TestPresetCoversEveryEntity(t *testing.T) {
	cfg := loadExample(t, "woocommerce-odoo.yaml")
	for _, e := range Builtins() {
		for _, sys := range []string{"shop", "erp"} {
			if cfg.Systems[sys].Entities[e.Name] == nil {
				t.Errorf("system %s does not map %s", sys, e.Name)
			}
		}
	}
	dirs := map[string]bool{}
	for _, f := range cfg.Flows {
		dirs[f.Entity+":"+f.From+">"+f.To] = true
	}
	for _, want := range []string{"order:shop>erp", "order_line:shop>erp", "customer:shop>erp", "product:erp>shop",
		"price:erp>shop", "stock_level:erp>shop", "shipment:erp>shop", "invoice:erp>shop", "tax_rate:erp>shop",
		"order:erp>shop", "return:shop>erp", "return:erp>shop"} {
		if !dirs[want] {
			t.Errorf("no flow %s", want)
		}
	}
	if o, _ := cfg.Owner("order", "status"); o != "erp" {
		t.Errorf("order status owner %s, want erp", o)
	}
}

func TestLocalExampleValidates(t *testing.T) {
	loadExample(t, "local.yaml")
}

// TestPresetDiagramGolden pins the diagram of the shipped preset, and checks
// that the README embeds the current one.
func TestPresetDiagramGolden(t *testing.T) {
	cfg := loadExample(t, "woocommerce-odoo.yaml")
	got, err := cfg.Diagram(FormatMermaid)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "preset.mermaid.golden")
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./mapping -update)", err)
	}
	if got != string(want) {
		t.Errorf("the preset's diagram differs from %s (run go test ./mapping -update if the change is intended)", golden)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```mermaid\n"+got) {
		t.Errorf("README.md does not embed the preset's current diagram; run make docs")
	}
}
