//go:build integration

package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/tandem-sync/tandem/internal/testenv"
)

// runTandem runs the CLI in-process and returns its stdout and exit code.
func runTandem(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd(&out, &errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	code := 0
	if err != nil {
		var ee *exitError
		if !errors.As(err, &ee) {
			t.Fatalf("tandem %s: unexpected error %v", strings.Join(args, " "), err)
		}
		code = ee.code
	}
	return out.String() + errOut.String(), code
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tandem.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func configFor(pgDSN, myDSN string, pgTables, myTables []string) string {
	return fmt.Sprintf(`systems:
  shop:
    kind: mysql
    dsn: %q
    capture:
      server_id: 5401
      tables: [%s]
  erp:
    kind: postgres
    dsn: %q
    capture:
      tables: [%s]
kafka:
  brokers: [%q]
schema_registry:
  url: %q
`, myDSN, strings.Join(myTables, ", "), pgDSN, strings.Join(pgTables, ", "), testenv.KafkaBroker(), testenv.RegistryURL())
}

func pgExec(t *testing.T, dsn string, stmts ...string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect to PostgreSQL (is the stack up? make up): %v", err)
	}
	defer conn.Close(context.Background())
	for _, s := range stmts {
		if _, err := conn.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func myExec(t *testing.T, dsn string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s (is the stack up? make up): %v", s, err)
		}
	}
}

// row finds the check row for target and check in the table output.
func row(t *testing.T, out, target, check string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `\s+` + regexp.QuoteMeta(check) + `\s+.*$`)
	m := re.FindString(out)
	if m == "" {
		t.Fatalf("no row for %s / %s in:\n%s", target, check, out)
	}
	return m
}

// fixAfter returns the fix line that follows the row of target and check.
func fixAfter(t *testing.T, out, target, check string) string {
	t.Helper()
	r := row(t, out, target, check)
	rest := out[strings.Index(out, r)+len(r)+1:]
	line, _, _ := strings.Cut(rest, "\n")
	if !strings.Contains(line, "fix: ") {
		t.Fatalf("no fix after %q:\n%s", r, out)
	}
	return strings.TrimSpace(line)
}

func TestIntegrationCheckPassesOnLocalStack(t *testing.T) {
	pgExec(t, testenv.PostgresDSN(),
		`CREATE TABLE IF NOT EXISTS public.check_items (id bigint PRIMARY KEY, name text)`)
	myExec(t, testenv.MySQLDSN(),
		"CREATE TABLE IF NOT EXISTS tandem.check_items (id BIGINT PRIMARY KEY, name TEXT)")
	cfg := writeConfig(t, configFor(testenv.PostgresDSN(), testenv.MySQLDSN(),
		[]string{"public.check_items"}, []string{"tandem.check_items"}))
	out, code := runTandem(t, "check", "--config", cfg)
	if code != 0 {
		t.Fatalf("tandem check exit %d against the local stack:\n%s", code, out)
	}
	for _, want := range [][2]string{
		{"erp (postgres)", "wal_level"}, {"erp (postgres)", "replication connection"},
		{"erp (postgres)", "table public.check_items"}, {"shop (mysql)", "binlog_row_metadata"},
		{"shop (mysql)", "privileges"}, {"shop (mysql)", "table tandem.check_items"},
		{"kafka", "connect"}, {"schema registry", "connect"},
	} {
		if r := row(t, out, want[0], want[1]); !strings.Contains(r, " pass ") {
			t.Errorf("want pass: %s", r)
		}
	}
	if !regexp.MustCompile(`All \d+ checks passed`).MatchString(out) {
		t.Errorf("no summary line:\n%s", out)
	}
}

// TestIntegrationCheckFailsOnMisconfiguredServers starts a PostgreSQL with
// wal_level=replica and a MariaDB with binlog_format=STATEMENT on other ports
// and expects check to fail, naming the fix for each.
func TestIntegrationCheckFailsOnMisconfiguredServers(t *testing.T) {
	testenv.StartInstance(t, "postgres", "INSTANCE=pg-replica", "PG_PORT=55433", "PG_WAL_LEVEL=replica")
	testenv.StartInstance(t, "mariadb", "INSTANCE=mariadb-stmt", "MARIADB_PORT=53307", "MARIADB_BINLOG_FORMAT=STATEMENT")
	pgDSN := "postgres://tandem:tandem@127.0.0.1:55433/tandem"
	myDSN := "tandem:tandem@tcp(127.0.0.1:53307)/tandem"
	pgExec(t, pgDSN,
		`CREATE TABLE IF NOT EXISTS public.no_key (a int, b text)`,
		`CREATE TABLE IF NOT EXISTS public.with_key (id int PRIMARY KEY)`)
	myExec(t, myDSN, "CREATE TABLE IF NOT EXISTS tandem.no_key (a INT, b TEXT)")
	cfg := writeConfig(t, configFor(pgDSN, myDSN,
		[]string{"public.with_key", "public.no_key", "public.missing"}, []string{"tandem.no_key"}))

	out, code := runTandem(t, "check", "--config", cfg)
	if code != 1 {
		t.Fatalf("tandem check exit %d, want 1:\n%s", code, out)
	}
	cases := []struct{ target, check, detail, fix string }{
		{"erp (postgres)", "wal_level", "wal_level is replica", "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL"},
		{"erp (postgres)", "table public.no_key", "no primary key", `ALTER TABLE "public"."no_key" ADD PRIMARY KEY`},
		{"erp (postgres)", "table public.missing", "no such table", "fix the name in systems.erp.capture.tables"},
		{"shop (mysql)", "binlog_format", "binlog_format is STATEMENT", "SET GLOBAL binlog_format = 'ROW';"},
		{"shop (mysql)", "table tandem.no_key", "no primary key", "ALTER TABLE `tandem`.`no_key` ADD PRIMARY KEY"},
	}
	for _, c := range cases {
		r := row(t, out, c.target, c.check)
		if !strings.Contains(r, " FAIL ") || !strings.Contains(r, c.detail) {
			t.Errorf("want FAIL with %q, got: %s", c.detail, r)
		}
		if fix := fixAfter(t, out, c.target, c.check); !strings.Contains(fix, c.fix) {
			t.Errorf("%s/%s fix = %q, want it to contain %q", c.target, c.check, fix, c.fix)
		}
	}
	if r := row(t, out, "erp (postgres)", "table public.with_key"); !strings.Contains(r, " pass ") {
		t.Errorf("a good table should still pass: %s", r)
	}
	if !regexp.MustCompile(`\d+ of \d+ checks failed`).MatchString(out) {
		t.Errorf("no failure summary:\n%s", out)
	}
}

// TestIntegrationCheckBadCredentialsAndPrivileges covers a wrong password and
// users without replication privileges.
func TestIntegrationCheckBadCredentialsAndPrivileges(t *testing.T) {
	pgExec(t, testenv.PostgresDSN(),
		`DO $$ BEGIN
		   IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tandem_plain') THEN
		     CREATE ROLE tandem_plain LOGIN PASSWORD 'plain';
		   END IF;
		 END $$`,
		`CREATE TABLE IF NOT EXISTS public.check_items (id bigint PRIMARY KEY, name text)`,
		`GRANT SELECT ON public.check_items TO tandem_plain`)
	myExec(t, testenv.MySQLDSN(),
		"CREATE USER IF NOT EXISTS 'tandem_plain'@'127.0.0.1' IDENTIFIED BY 'plain'",
		"CREATE TABLE IF NOT EXISTS tandem.check_items (id BIGINT PRIMARY KEY, name TEXT)",
		"GRANT SELECT ON tandem.* TO 'tandem_plain'@'127.0.0.1'")

	wrongPW := configFor(
		strings.Replace(testenv.PostgresDSN(), "tandem:tandem@", "tandem:wrong@", 1),
		strings.Replace(testenv.MySQLDSN(), "tandem:tandem@", "tandem:wrong@", 1),
		[]string{"public.check_items"}, []string{"tandem.check_items"})
	out, code := runTandem(t, "check", "--config", writeConfig(t, wrongPW), "--system", "erp", "--system", "shop")
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	if r := row(t, out, "erp (postgres)", "connect"); !strings.Contains(r, `password authentication failed for user "tandem"`) {
		t.Errorf("postgres wrong password: %s", r)
	}
	if r := row(t, out, "shop (mysql)", "connect"); !strings.Contains(r, `access denied for user "tandem"`) {
		t.Errorf("mysql wrong password: %s", r)
	}
	if strings.Contains(out, "wrong") {
		t.Errorf("output shows the password:\n%s", out)
	}

	plain := configFor(
		strings.Replace(testenv.PostgresDSN(), "tandem:tandem@", "tandem_plain:plain@", 1),
		strings.Replace(testenv.MySQLDSN(), "tandem:tandem@", "tandem_plain:plain@", 1),
		[]string{"public.check_items"}, []string{"tandem.check_items"})
	out, code = runTandem(t, "check", "--config", writeConfig(t, plain), "--system", "erp", "--system", "shop")
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	if fix := fixAfter(t, out, "erp (postgres)", "replication role"); !strings.Contains(fix, `ALTER ROLE "tandem_plain" WITH REPLICATION;`) {
		t.Errorf("postgres replication role fix: %s", fix)
	}
	if fix := fixAfter(t, out, "shop (mysql)", "privileges"); !strings.Contains(fix, "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'tandem_plain'") {
		t.Errorf("mysql privileges fix: %s", fix)
	}
}

// TestIntegrationCheckValidatesMappingAgainstLiveSchema maps an entity onto
// real tables and expects check to name a missing column and a type that
// needs a cast.
func TestIntegrationCheckValidatesMappingAgainstLiveSchema(t *testing.T) {
	myExec(t, testenv.MySQLDSN(),
		"CREATE TABLE IF NOT EXISTS tandem.map_items (id BIGINT PRIMARY KEY, sku VARCHAR(40), price VARCHAR(20))")
	pgExec(t, testenv.PostgresDSN(),
		`CREATE TABLE IF NOT EXISTS public.map_items (id int PRIMARY KEY, code text, amount numeric(12,2))`,
		`ALTER TABLE public.map_items REPLICA IDENTITY DEFAULT`)
	cfg := fmt.Sprintf(`systems:
  shop:
    kind: mysql
    dsn: %q
    capture: {server_id: 5401}
    entities:
      item:
        table: tandem.map_items
        id: id
        fields:
          sku: sku
          price: price
  erp:
    kind: postgres
    dsn: %q
    entities:
      item:
        table: public.map_items
        id: id
        fields:
          sku: code
          price: amount_total
entities:
  item:
    key: [sku]
    fields:
      sku: {type: string}
      price: {type: decimal}
kafka:
  brokers: [%q]
schema_registry:
  url: %q
`, testenv.MySQLDSN(), testenv.PostgresDSN(), testenv.KafkaBroker(), testenv.RegistryURL())
	out, code := runTandem(t, "check", "--config", writeConfig(t, cfg), "--system", "shop", "--system", "erp")
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	if r := row(t, out, "shop (mysql)", "mapping item"); !strings.Contains(r, "field price: column tandem.map_items.price is varchar; field is decimal: add cast: decimal") {
		t.Errorf("shop mapping: %s", r)
	}
	if r := row(t, out, "erp (postgres)", "mapping item"); !strings.Contains(r, "field price: column public.map_items.amount_total does not exist") {
		t.Errorf("erp mapping: %s", r)
	}
	// a mapped table is captured without being listed, and the check
	// suggests the replica identity that makes changed exact
	if r := row(t, out, "erp (postgres)", "table public.map_items"); !strings.Contains(r, " warn ") || !strings.Contains(r, "every mapped column of the row counts as changed") {
		t.Errorf("mapped table row: %s", r)
	}
	if fix := fixAfter(t, out, "erp (postgres)", "table public.map_items"); !strings.Contains(fix, "REPLICA IDENTITY FULL;") {
		t.Errorf("mapped table fix: %s", fix)
	}
}
