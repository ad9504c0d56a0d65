//go:build integration

package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/internal/testenv"
	sinkpg "github.com/tandem-sync/tandem/sink/postgres"
)

// sinkCheckConfig maps ck_item both ways between a MariaDB shop and a
// PostgreSQL ERP, so that both run a sink: each needs SELECT, INSERT,
// UPDATE, DELETE on its ck_items and, on the ERP, SELECT on the shared
// ck_units. The checkpoint table ck_checkpoint does not exist.
func sinkCheckConfig(pgDSN, myDSN string) string {
	return fmt.Sprintf(`systems:
  shop:
    kind: mysql
    dsn: %q
    checkpoint_table: ck_checkpoint
    capture: {server_id: 5431}
    entities:
      ck_item:
        table: tandem.ck_items
        id: id
        fields: {sku: sku, name: name, qty: {column: qty, cast: decimal}, unit: unit}
  erp:
    kind: postgres
    dsn: %q
    checkpoint_table: ck_checkpoint
    sink: {connections: 2}
    entities:
      ck_item:
        table: public.ck_items
        id: id
        fields: {sku: code, name: name, qty: qty}
        joins:
          - {table: public.ck_units, owner: id, via: unit_id, shared: true, fields: {unit: code}}
entities:
  ck_item:
    key: [sku]
    fields:
      sku: {type: string, required: true}
      name: {type: string}
      qty: {type: decimal}
      unit: {type: string}
ownership:
  ck_item: {owner: shop, both: [name]}
flows:
  - {entity: ck_item, from: shop, to: erp}
  - {entity: ck_item, from: erp, to: shop}
kafka:
  brokers: [%q]
schema_registry:
  url: %q
`, myDSN, pgDSN, testenv.KafkaBroker(), testenv.RegistryURL())
}

func createSinkCheckTables(t *testing.T) {
	t.Helper()
	pgExec(t, testenv.PostgresDSN(),
		`CREATE TABLE IF NOT EXISTS public.ck_units (id serial PRIMARY KEY, code text NOT NULL UNIQUE)`,
		`CREATE TABLE IF NOT EXISTS public.ck_items (id serial PRIMARY KEY, code text NOT NULL UNIQUE, name text,
		   qty numeric(12,2), unit_id int REFERENCES public.ck_units (id))`,
		`ALTER TABLE public.ck_units REPLICA IDENTITY FULL`,
		`ALTER TABLE public.ck_items REPLICA IDENTITY FULL`)
	myExec(t, testenv.MySQLDSN(),
		"CREATE TABLE IF NOT EXISTS tandem.ck_items (id BIGINT AUTO_INCREMENT PRIMARY KEY, sku VARCHAR(40) NOT NULL UNIQUE, name TEXT, qty DECIMAL(12,2), unit VARCHAR(10))")
}

// wantSinkRows expects each check of the two sinks to have status.
func wantSinkRows(t *testing.T, out, status string, rows [][2]string) {
	t.Helper()
	for _, r := range rows {
		if got := row(t, out, r[0], r[1]); !strings.Contains(got, "  "+status+"  ") {
			t.Errorf("want %s: %s", status, got)
		}
	}
}

var sinkCheckRows = [][2]string{
	{"erp (postgres sink)", "checkpoint table public.ck_checkpoint"},
	{"erp (postgres sink)", "replication origins"},
	{"erp (postgres sink)", "replication origin states"},
	{"erp (postgres sink)", "table public.ck_items"},
	{"erp (postgres sink)", "table public.ck_units"},
	{"shop (mysql sink)", "checkpoint table tandem.ck_checkpoint"},
	{"shop (mysql sink)", "table tandem.ck_items"},
	{"shop (mysql sink)", "skip_replication"},
}

func TestIntegrationCheckSinkPasses(t *testing.T) {
	createSinkCheckTables(t)
	cfg := writeConfig(t, sinkCheckConfig(testenv.PostgresDSN(), testenv.MySQLDSN()))
	out, code := runTandem(t, "check", "--config", cfg, "--system", "erp", "--system", "shop")
	if code != 0 {
		t.Fatalf("tandem check exit %d against the local stack:\n%s", code, out)
	}
	wantSinkRows(t, out, "pass", sinkCheckRows)
	for _, want := range []string{
		"table public.ck_items                  pass    SELECT, INSERT, UPDATE, DELETE granted",
		"table public.ck_units                  pass    SELECT granted",
		"does not exist yet; tandem run creates it",
		"tandem_erp_0..1",
		"is a superuser",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestIntegrationCheckSinkWithoutPrivileges runs the checks as a role and a
// user that may only read the tables, expects each missing privilege to
// fail with its GRANT, runs those GRANTs, and expects the checks to pass.
func TestIntegrationCheckSinkWithoutPrivileges(t *testing.T) {
	createSinkCheckTables(t)
	// the fix names pg_replication_origin_create only while the sink's
	// origins are missing: start from none (the demo's sink is also "erp")
	if err := sinkpg.DropOrigins(context.Background(), config.Secret(testenv.PostgresDSN()), "erp"); err != nil {
		t.Fatal(err)
	}
	dropPG := `DO $$ BEGIN
	  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'ck_sink_plain') THEN
	    DROP OWNED BY ck_sink_plain;
	    DROP ROLE ck_sink_plain;
	  END IF;
	END $$`
	dropMy := "DROP USER IF EXISTS 'ck_sink_plain'@'127.0.0.1'"
	pgExec(t, testenv.PostgresDSN(), dropPG,
		`CREATE ROLE ck_sink_plain LOGIN PASSWORD 'plain'`,
		`GRANT SELECT ON public.ck_items, public.ck_units TO ck_sink_plain`)
	myExec(t, testenv.MySQLDSN(), dropMy,
		"CREATE USER 'ck_sink_plain'@'127.0.0.1' IDENTIFIED BY 'plain'",
		"GRANT SELECT ON tandem.ck_items TO 'ck_sink_plain'@'127.0.0.1'")
	t.Cleanup(func() {
		pgExec(t, testenv.PostgresDSN(), dropPG)
		myExec(t, testenv.MySQLDSN(), dropMy)
	})
	cfg := writeConfig(t, sinkCheckConfig(
		strings.Replace(testenv.PostgresDSN(), "tandem:tandem@", "ck_sink_plain:plain@", 1),
		strings.Replace(testenv.MySQLDSN(), "tandem:tandem@", "ck_sink_plain:plain@", 1)))

	out, code := runTandem(t, "check", "--config", cfg, "--system", "erp", "--system", "shop")
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	cases := []struct{ target, check, fix string }{
		{"erp (postgres sink)", "checkpoint table public.ck_checkpoint",
			`GRANT CREATE ON SCHEMA "public" TO "ck_sink_plain";`},
		{"erp (postgres sink)", "replication origins",
			`GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text), pg_replication_origin_session_setup(text), pg_replication_origin_session_reset() TO "ck_sink_plain";`},
		{"erp (postgres sink)", "table public.ck_items",
			`GRANT INSERT, UPDATE, DELETE ON "public"."ck_items" TO "ck_sink_plain"; GRANT USAGE ON SEQUENCE public.ck_items_id_seq TO "ck_sink_plain";`},
		{"shop (mysql sink)", "checkpoint table tandem.ck_checkpoint",
			"GRANT CREATE, SELECT, INSERT, UPDATE ON `tandem`.`ck_checkpoint` TO 'ck_sink_plain'@'127.0.0.1';"},
		{"shop (mysql sink)", "table tandem.ck_items",
			"GRANT INSERT, UPDATE, DELETE ON `tandem`.`ck_items` TO 'ck_sink_plain'@'127.0.0.1';"},
	}
	var pgFixes, myFixes []string
	for _, c := range cases {
		if r := row(t, out, c.target, c.check); !strings.Contains(r, " FAIL ") {
			t.Errorf("want FAIL: %s", r)
		}
		fix := strings.TrimPrefix(fixAfter(t, out, c.target, c.check), "fix: ")
		fix = strings.TrimPrefix(fix, "as a superuser run: ")
		if fix != c.fix {
			t.Errorf("%s / %s fix:\n got %s\nwant %s", c.target, c.check, fix, c.fix)
		}
		if strings.HasPrefix(c.target, "erp") {
			pgFixes = append(pgFixes, fix)
		} else {
			myFixes = append(myFixes, fix)
		}
	}
	wantSinkRows(t, out, "pass", [][2]string{
		{"erp (postgres sink)", "replication origin states"},
		{"erp (postgres sink)", "table public.ck_units"},
		{"shop (mysql sink)", "skip_replication"},
	})
	if t.Failed() {
		t.Fatalf("output:\n%s", out)
	}

	// the fixes are the whole story: run them, and every sink check passes
	pgExec(t, testenv.PostgresDSN(), pgFixes...)
	myExec(t, testenv.MySQLDSN(), myFixes...)
	out, _ = runTandem(t, "check", "--config", cfg, "--system", "erp", "--system", "shop")
	wantSinkRows(t, out, "pass", sinkCheckRows)
	if t.Failed() {
		t.Logf("output after the fixes:\n%s", out)
	}
}
