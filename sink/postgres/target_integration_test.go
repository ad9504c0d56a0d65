//go:build integration

package postgres

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	cappg "github.com/tandem-sync/tandem/capture/postgres"
	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/internal/testenv"
	"github.com/tandem-sync/tandem/sink"
	"github.com/tandem-sync/tandem/sink/internal/sinktest"
)

// pgExec runs statements on a connection of the test's own.
func pgExec(t *testing.T, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testenv.PostgresDSN())
	if err != nil {
		t.Fatalf("connect to PostgreSQL (is the stack up? make up): %v", err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// openTarget returns a set-up target; when the test ends it is closed, and
// its checkpoint table and replication origins are dropped.
func openTarget(t *testing.T, sinkName, ckpt string, conns int) *Target {
	t.Helper()
	ctx := context.Background()
	t.Cleanup(func() {
		pgExec(t, "DROP TABLE IF EXISTS public."+ckpt)
		if err := DropOrigins(ctx, config.Secret(testenv.PostgresDSN()), sinkName); err != nil {
			t.Error(err)
		}
	})
	tg, err := New(ctx, Options{System: "it", Sink: sinkName, DSN: config.Secret(testenv.PostgresDSN()), CheckpointTable: ckpt, MaxConns: conns})
	return sinktest.Ready(t, tg, err)
}

// runCapture runs the PostgreSQL capture on tables until the test ends,
// then drops its slot and publication.
func runCapture(t *testing.T, tables []string, ckpt string) *sinktest.Recorder {
	t.Helper()
	capCfg := sinktest.CaptureConfig(sinktest.Unique("it"), tables)
	rec := &sinktest.Recorder{}
	rd, err := cappg.New(cappg.Options{
		System: "it", DSN: config.Secret(testenv.PostgresDSN()), Capture: capCfg, CheckpointTable: ckpt,
		Handler: rec, SpoolDir: t.TempDir(), StatusInterval: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // after Start's: once the reader stopped
		deadline := time.Now().Add(15 * time.Second)
		for {
			conn, err := pgx.Connect(context.Background(), testenv.PostgresDSN())
			if err == nil {
				_, err = conn.Exec(context.Background(), "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", capCfg.Slot)
				conn.Close(context.Background())
			}
			if err == nil || time.Now().After(deadline) {
				if err != nil {
					t.Errorf("drop slot %s: %v", capCfg.Slot, err)
				}
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		pgExec(t, "DROP PUBLICATION IF EXISTS "+quoteIdent(capCfg.Publication))
	})
	sinktest.Start(t, rd, rec)
	return rec
}

func pgDB() sinktest.DB {
	return sinktest.DB{
		Open: func(t *testing.T, sinkName, ckpt string, conns int) sink.Target {
			return openTarget(t, sinkName, ckpt, conns)
		},
		Exec:    pgExec,
		Qualify: func(name string) string { return "public." + name },
		ItemsDDL: func(table string) string {
			return "CREATE TABLE " + Dialect{}.Quote(table) + ` (id bigserial PRIMARY KEY, k text NOT NULL UNIQUE,
				n integer NOT NULL, price numeric(12,2), doc json)`
		},
		Capture: runCapture,
	}
}

func TestIntegrationSinkTargetPostgres(t *testing.T) {
	sinktest.Run(t, pgDB())
}

func TestIntegrationSinkTargetPostgresQueryDecodes(t *testing.T) {
	tg := openTarget(t, sinktest.Unique("it"), sinktest.Unique("sink_ckpt"), 2)
	table := "public." + sinktest.Unique("sink_types")
	mood := sinktest.Unique("sink_mood")
	pgExec(t, "CREATE TYPE "+mood+" AS ENUM ('sad', 'ok', 'happy')",
		"CREATE TABLE "+table+` (id int8 PRIMARY KEY, i2 int2, i4 int4, amount numeric(26,8), f4 float4, f8 float8,
			flag bool, name text, code varchar(10), raw bytea, d date, ts timestamp, tstz timestamptz, uid uuid,
			doc json, docb jsonb, mood `+mood+`, nothing text)`,
		`INSERT INTO `+table+` VALUES (1, -32768, 2147483647, 12345678901234567.12345678, 0.1, -2.5e-300,
			true, 'emoji 😀', 'abc', '\x00ff', '2024-02-29', '2024-02-29 13:14:15.123456',
			'2024-02-29 13:14:15.654321+02', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
			'{"a": [1, 2]}', '{"b": {"c": null}}', 'happy', NULL)`)
	t.Cleanup(func() { pgExec(t, "DROP TABLE IF EXISTS "+table, "DROP TYPE IF EXISTS "+mood) })
	names := []string{"id", "i2", "i4", "amount", "f4", "f8", "flag", "name", "code", "raw", "d", "ts", "tstz", "uid", "doc", "docb", "mood", "nothing", "amount * 3"}
	want := []any{int64(1), int64(-32768), int64(2147483647), sinktest.Rat("12345678901234567.12345678"), 0.1, -2.5e-300,
		true, "emoji 😀", "abc", []byte{0, 0xff}, sinktest.Time("2024-02-29T00:00:00Z"), sinktest.Time("2024-02-29T13:14:15.123456Z"),
		sinktest.Time("2024-02-29T11:14:15.654321Z"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		`{"a": [1, 2]}`, `{"b": {"c": null}}`, "happy", nil, sinktest.Rat("37037036703703701.37037034")}
	q := "SELECT " + strings.Join(names, ", ") + " FROM " + table
	// without arguments, and with (another protocol path in pgx)
	for _, rows := range [][][]any{sinktest.Rows(t, tg, q), sinktest.Rows(t, tg, q+" WHERE id = $1", int64(1))} {
		if len(rows) != 1 {
			t.Fatalf("%d rows", len(rows))
		}
		sinktest.CheckRow(t, names, rows[0], want)
	}
}

// TestIntegrationSinkTargetPostgresOrigins: each connection has an origin
// of its own; a second target of the same sink (a second process) finds
// them all in use, and gets them once the first lets go.
func TestIntegrationSinkTargetPostgresOrigins(t *testing.T) {
	name := sinktest.Unique("it")
	ckpt := sinktest.Unique("sink_ckpt")
	first := openTarget(t, name, ckpt, 2)
	ctx := context.Background()
	var txs []sink.Tx
	for range 2 {
		tx, err := first.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	for i, tx := range txs {
		err := tx.Query(ctx, "SELECT pg_replication_origin_session_is_setup()", nil, func(row []any) error {
			if row[0] != true {
				t.Errorf("transaction %d runs under no replication origin", i)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	second := openTarget(t, name, ckpt, 2)
	_, err := second.Begin(ctx)
	if err == nil || !strings.Contains(err.Error(), "in use by another session") {
		t.Fatalf("Begin while another process holds every origin: %v", err)
	}
	if got := second.Classify(err); got != sink.Transient {
		t.Errorf("Classify(origins in use) = %v, want Transient", got)
	}
	for _, tx := range txs {
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
	}
	first.Close() // resets the origins as it closes its connections
	tx, err := second.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin once the first target closed: %v", err)
	}
	tx.Rollback(ctx)
}

func TestIntegrationSinkTargetPostgresSetupNeedsPrivilege(t *testing.T) {
	role := sinktest.Unique("sink_role")
	pgExec(t, "CREATE ROLE "+role+" LOGIN PASSWORD 'x'", "GRANT ALL ON SCHEMA public TO "+role)
	t.Cleanup(func() { pgExec(t, "REVOKE ALL ON SCHEMA public FROM "+role, "DROP ROLE IF EXISTS "+role) })
	cfg, err := pgx.ParseConfig(testenv.PostgresDSN())
	if err != nil {
		t.Fatal(err)
	}
	dsn := "postgres://" + role + ":x@" + cfg.Host + ":" + strconv.Itoa(int(cfg.Port)) + "/" + cfg.Database
	ckpt := sinktest.Unique("sink_ckpt")
	t.Cleanup(func() { pgExec(t, "DROP TABLE IF EXISTS public."+ckpt) })
	tg, err := New(context.Background(), Options{System: "it", Sink: sinktest.Unique("it"), DSN: config.Secret(dsn), CheckpointTable: ckpt})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	err = tg.Setup(context.Background())
	if err == nil || !strings.Contains(err.Error(), "GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text)") {
		t.Fatalf("Setup without the privilege: %v, want an error naming the GRANT", err)
	}
}
