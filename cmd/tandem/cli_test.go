package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-sync/tandem/mapping"
)

// run runs the CLI in-process and returns what it printed and its exit code.
func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	root := newRootCmd(&out, &out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return out.String(), 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			out.WriteString(ee.err.Error())
		}
		return out.String(), ee.code
	}
	return out.String() + err.Error(), exitFailed
}

func tempConfig(t testing.TB, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tandem.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const cliConfig = `systems:
  shop:
    kind: mysql
    dsn: u:s3cret-shop@tcp(127.0.0.1:1)/shop
    capture: {server_id: 9}
kafka: {brokers: ["127.0.0.1:1"]}
schema_registry: {url: "http://127.0.0.1:1/apis/ccompat/v7"}
`

func TestConfigValidate(t *testing.T) {
	out, code := run(t, "config", "validate", "--config", tempConfig(t, cliConfig))
	if code != 0 || !strings.Contains(out, "valid (1 systems: [shop])") {
		t.Fatalf("exit %d: %s", code, out)
	}
	bad := strings.Replace(cliConfig, "kind: mysql", "kind: mysq", 1) + "extra: 1\n"
	path := tempConfig(t, bad)
	out, code = run(t, "config", "validate", "--config", path)
	if code != exitBadUsage {
		t.Fatalf("exit %d, want %d: %s", code, exitBadUsage, out)
	}
	for _, want := range []string{
		path + `:3: systems.shop.kind: "mysq" is not one of postgres, mysql`,
		path + `:8: extra: unknown key "extra"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestConfigShowRedactsSecrets(t *testing.T) {
	out, code := run(t, "config", "show", "--config", tempConfig(t, cliConfig))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	if strings.Contains(out, "s3cret") || !strings.Contains(out, "dsn: '[redacted]'") {
		t.Errorf("secret not redacted:\n%s", out)
	}
	if !strings.Contains(out, "checkpoint_table: tandem_checkpoint") || !strings.Contains(out, "heartbeat: 10s") {
		t.Errorf("defaults not shown:\n%s", out)
	}
}

func TestConfigReferenceMatchesStructs(t *testing.T) {
	out, code := run(t, "config", "reference")
	if code != 0 || out != mapping.Reference() {
		t.Fatalf("exit %d, output differs from mapping.Reference()", code)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"check", "--no-such-flag"},
		{"check", "--config", "/nonexistent/tandem.yaml"},
		{"check", "--config", "x", "--output", "xml"},
	} {
		out, code := run(t, args...)
		if code != exitBadUsage {
			t.Errorf("tandem %s: exit %d, want %d: %s", strings.Join(args, " "), code, exitBadUsage, out)
		}
	}
	out, _ := run(t, "check", "--config", "/nonexistent/tandem.yaml")
	if !strings.Contains(out, "read config: open /nonexistent/tandem.yaml") {
		t.Errorf("missing file error: %s", out)
	}
}

func TestCheckUnknownSystem(t *testing.T) {
	out, code := run(t, "check", "--config", tempConfig(t, cliConfig), "--system", "erp")
	if code != exitBadUsage || !strings.Contains(out, `--system "erp" is not in`) {
		t.Fatalf("exit %d: %s", code, out)
	}
}

// TestCheckReportsUnreachable runs check against closed ports: every target
// fails with a fix, and the exit code is 1. Nothing listens on port 1.
func TestCheckReportsUnreachable(t *testing.T) {
	out, code := run(t, "check", "--config", tempConfig(t, cliConfig), "--timeout", "5s")
	if code != exitFailed {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{
		"shop (mysql)     connect  FAIL    nothing accepts connections at 127.0.0.1:1",
		"fix: start MySQL/MariaDB, or fix the host and port in systems.shop.dsn",
		"kafka            connect  FAIL",
		"schema registry  connect  FAIL    connection refused at http://127.0.0.1:1/apis/ccompat/v7",
		"3 of 3 checks failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cret") {
		t.Errorf("output shows the password:\n%s", out)
	}
}

func TestHelpExplains(t *testing.T) {
	out, code := run(t, "check", "--help")
	if code != 0 {
		t.Fatal(code)
	}
	for _, want := range []string{"wal_level=logical", "binlog_row_metadata=FULL", "Exit code 0 only when every check passes"} {
		if !strings.Contains(out, want) {
			t.Errorf("check --help lacks %q", want)
		}
	}
}
