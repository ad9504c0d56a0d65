// Package testenv gives integration tests the local stack's connection
// settings and a way to start extra service instances (for example a
// deliberately misconfigured PostgreSQL) with the project's own scripts.
//
// Integration tests never skip: a missing service fails the test loudly, with
// the command that starts it.
package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func get(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// PostgresDSN is the local stack's PostgreSQL (superuser tandem).
func PostgresDSN() string {
	return get("TANDEM_TEST_PG_DSN", "postgres://tandem:tandem@127.0.0.1:55432/tandem")
}

// MySQLDSN is the local stack's MariaDB (user tandem with all privileges).
func MySQLDSN() string {
	return get("TANDEM_TEST_MYSQL_DSN", "tandem:tandem@tcp(127.0.0.1:53306)/tandem")
}

// KafkaBroker is the local stack's Kafka bootstrap address.
func KafkaBroker() string { return get("TANDEM_TEST_KAFKA", "127.0.0.1:59092") }

// RegistryURL is the local stack's Confluent-compatible registry API.
func RegistryURL() string {
	return get("TANDEM_TEST_REGISTRY", "http://127.0.0.1:58081/apis/ccompat/v7")
}

// RepoRoot returns the repository root (the folder holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = up
	}
}

// StartInstance runs deploy/local/<script>.sh up with the given environment
// (for example INSTANCE=pg-replica PG_PORT=55433 PG_WAL_LEVEL=replica), fails
// the test with the script's output if it does not start, and stops the
// instance when the test ends.
func StartInstance(t testing.TB, script string, env ...string) {
	t.Helper()
	root := RepoRoot(t)
	path := filepath.Join(root, "deploy", "local", script+".sh")
	run := func(verb string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", path, verb)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("up"); err != nil {
		t.Fatalf("start %s %s: %v\n%s", script, strings.Join(env, " "), err, out)
	}
	t.Cleanup(func() {
		if out, err := run("down"); err != nil {
			t.Errorf("stop %s %s: %v\n%s", script, strings.Join(env, " "), err, out)
		}
	})
}
