//go:build integration

package main

import (
	"strings"
	"testing"
	"time"
)

// TestIntegrationSnapshotCommand: a healthy slot is not dropped without
// --force; with it, every row is published again and streaming goes on.
func TestIntegrationSnapshotCommand(t *testing.T) {
	conn := pgConn(t)
	system := uniqueSystem("resnap")
	cleanupSystem(t, conn, system)
	mustExec(t, conn, `DROP TABLE IF EXISTS run_resnap`, `CREATE TABLE run_resnap (id int PRIMARY KEY, v text)`,
		`INSERT INTO run_resnap SELECT g, 'v' FROM generate_series(1, 3) g`)
	cfgText := captureConfig(system, []string{"public.run_resnap"}, "")
	cfg := tempConfig(t, cfgText)
	topic := "tandem." + system + ".public.run_resnap"

	stop := startRun(t, cfgText)
	waitRecords(t, topic, 3, time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	out, code := run(t, "snapshot", "--config", cfg, "--system", system)
	if code != exitFailed || !strings.Contains(out, "pass --force") {
		t.Fatalf("snapshot of a healthy slot without --force: exit %d\n%s", code, out)
	}
	out, code = run(t, "snapshot", "--config", cfg, "--system", system, "--force")
	if code != 0 || !strings.Contains(out, "snapshot done") {
		t.Fatalf("snapshot --force: exit %d\n%s", code, out)
	}
	waitRecords(t, topic, 6, time.Minute)
	stop = startRun(t, cfgText)
	waitStreaming(t, conn, system)
	mustExec(t, conn, `INSERT INTO run_resnap VALUES (4, 'after')`)
	waitRecords(t, topic, 7, time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := len(readOps(t, topic, "r")); n != 6 {
		t.Errorf("%d snapshot reads, want 3 + 3", n)
	}
	if n := len(readOps(t, topic, "c")); n != 1 {
		t.Errorf("%d inserts after the new snapshot, want 1", n)
	}
}
