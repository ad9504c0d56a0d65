//go:build integration

package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"github.com/tandem-sync/tandem/internal/testenv"
	"github.com/tandem-sync/tandem/sink"
)

// replayPair is a shop on MariaDB whose customers and orders flow to an ERP
// on PostgreSQL (one way: the ERP is the only sink), with an append-only
// audit trigger on the ERP's tables that records every row the sink writes.
type replayPair struct {
	shop, erp string
	cfgText   string
	cfgPath   string
	topics    []string // the ERP sink's topics
	my        *sql.DB
	pg        *pgx.Conn
	stop      func() error
}

func newReplayPair(t *testing.T) *replayPair {
	t.Helper()
	p := &replayPair{shop: uniqueSystem("rpshop"), erp: uniqueSystem("rperp"), my: myDB(t), pg: pgConn(t)}
	p.topics = []string{"tandem." + p.shop + ".customer", "tandem." + p.shop + ".order"}
	cleanupSystem(t, p.pg, p.erp)
	cleanupOrigins(t, p.erp)
	pairTables(t, p.my, p.pg, "rp_", 100)
	mustExec(t, p.pg, `DROP TABLE IF EXISTS rp_audit`,
		`CREATE TABLE rp_audit (id bigserial PRIMARY KEY, tbl text NOT NULL, op text NOT NULL, row_id int NOT NULL)`,
		`CREATE OR REPLACE FUNCTION rp_audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO rp_audit (tbl, op, row_id) VALUES (TG_TABLE_NAME, TG_OP, CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
			RETURN NULL;
		END $$`,
		`CREATE TRIGGER rp_audit AFTER INSERT OR UPDATE OR DELETE ON rp_partner FOR EACH ROW EXECUTE FUNCTION rp_audit_row()`,
		`CREATE TRIGGER rp_audit AFTER INSERT OR UPDATE OR DELETE ON rp_sale_order FOR EACH ROW EXECUTE FUNCTION rp_audit_row()`)
	shopEntities, erpEntities := pairEntities("rp_", "")
	p.cfgText = "systems:\n" + mysqlSystem(p.shop, []string{"tandem.rp_ping"}, "") + shopEntities + pgSystem(p.erp, "") + erpEntities +
		fmt.Sprintf(`ownership: {customer: {owner: %[1]s}, order: {owner: %[1]s}}
flows: [{entity: customer, from: %[1]s, to: %[2]s}, {entity: order, from: %[1]s, to: %[2]s}]
`, p.shop, p.erp) + stackTail()
	p.cfgPath = writeConfig(t, p.cfgText)
	p.start(t)
	waitRecords(t, "tandem."+p.shop+".tandem.rp_ping", 1, time.Minute)
	return p
}

// start runs tandem in-process until p.stop.
func (p *replayPair) start(t *testing.T) {
	t.Helper()
	p.stop = startRun(t, p.cfgText)
	waitStreaming(t, p.pg, p.erp)
}

// replay runs tandem replay on the ERP's sink.
func (p *replayPair) replay(t *testing.T, args ...string) (string, int) {
	t.Helper()
	return run(t, append([]string{"replay", "--config", p.cfgPath, "--sink", p.erp}, args...)...)
}

// checkpoints reads the ERP sink's checkpoint rows.
func (p *replayPair) checkpoints(t *testing.T) map[sink.TopicPartition]sink.Checkpoint {
	t.Helper()
	rows, err := p.pg.Query(context.Background(), `SELECT topic, kafka_partition, kafka_offset, source_position
		FROM tandem_checkpoint WHERE consumer = $1`, "tandem-sink-"+p.erp)
	if err != nil {
		t.Fatal(err)
	}
	out := map[sink.TopicPartition]sink.Checkpoint{}
	for rows.Next() {
		var cp sink.Checkpoint
		var part int32
		if err := rows.Scan(&cp.Topic, &part, &cp.Offset, &cp.Position); err != nil {
			t.Fatal(err)
		}
		cp.Partition = int(part)
		out[sink.TopicPartition{Topic: cp.Topic, Partition: cp.Partition}] = cp
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// kafkaClient is a client with a transport of its own: a transport
// answers metadata requests from its cache, which learns of new topics
// only when it refreshes.
func kafkaClient(t *testing.T) *kafka.Client {
	tr := &kafka.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &kafka.Client{Addr: kafka.TCP(testenv.KafkaBroker()), Transport: tr, Timeout: 30 * time.Second}
}

// offsets returns the earliest and end offsets of every partition of the
// sink's topics (3 each), in topic and partition order.
func (p *replayPair) offsets(t *testing.T) []replayRow {
	t.Helper()
	rows, err := replayPlan(context.Background(), kafkaClient(t), p.topics, replayOptions{partition: -1, to: replayTo{kind: "latest"}}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3*len(p.topics) {
		t.Fatalf("%d partitions in %v, want 3 each", len(rows), p.topics)
	}
	return rows
}

// waitCaughtUp waits until the sink's checkpoints reach the end offsets.
func (p *replayPair) waitCaughtUp(t *testing.T) {
	t.Helper()
	waitUntil(t, "the sink's checkpoints reach the end offsets", 2*time.Minute, func() bool {
		cps := p.checkpoints(t)
		for _, r := range p.offsets(t) {
			if cp, ok := cps[r.tp]; r.latest > 0 && (!ok || cp.Offset < r.latest-1) {
				return false
			}
		}
		return true
	})
}

// waitSinkJoined waits until the sink's consumer group has a member.
func (p *replayPair) waitSinkJoined(t *testing.T) {
	t.Helper()
	client := kafkaClient(t)
	waitUntil(t, "the sink joined its consumer group", time.Minute, func() bool {
		m, err := groupMembers(context.Background(), client, "tandem-sink-"+p.erp)
		return err == nil && len(m) > 0
	})
}

// target returns every row of the ERP's tables, and the number of audit
// rows.
func (p *replayPair) target(t *testing.T) (rows []string, audits int) {
	t.Helper()
	for _, q := range []string{`SELECT t::text FROM rp_partner t ORDER BY id`, `SELECT t::text FROM rp_sale_order t ORDER BY id`} {
		r, err := p.pg.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			var s string
			if err := r.Scan(&s); err != nil {
				t.Fatal(err)
			}
			rows = append(rows, s)
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
	}
	n, _ := strconv.Atoi(pgString(t, p.pg, `SELECT count(*)::text FROM rp_audit`))
	return rows, n
}

// replayTable parses tandem replay's table: partition -> old and new offsets.
func replayTable(t *testing.T, out string) map[sink.TopicPartition][2]int64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^(tandem\.\S+)\s+(\d+)\s+(\d+)(?: \(none stored\))?\s+(\d+)$`)
	got := map[sink.TopicPartition][2]int64{}
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		part, _ := strconv.Atoi(m[2])
		old, _ := strconv.ParseInt(m[3], 10, 64)
		next, _ := strconv.ParseInt(m[4], 10, 64)
		got[sink.TopicPartition{Topic: m[1], Partition: part}] = [2]int64{old, next}
	}
	return got
}

// TestIntegrationReplayToTimeRewritesNothing: after a replay to a time, the
// sink re-reads every event from that time on and applies none of them (no
// audit row: the target held the values), and the target is unchanged.
func TestIntegrationReplayToTimeRewritesNothing(t *testing.T) {
	p := newReplayPair(t)
	myMust(t, p.my,
		`INSERT INTO tandem.rp_customer (email, last_name) VALUES ('ann@example.com', 'Lee'), ('bob@example.com', 'Ng'), ('cy@example.com', 'Ode')`,
		`INSERT INTO tandem.rp_order (id, billing_email, status, total_amount, currency) VALUES
			(1, 'ann@example.com', 'wc-pending', 10.50, 'EUR'), (2, 'bob@example.com', 'wc-processing', 20, 'EUR'), (3, 'cy@example.com', 'wc-pending', 30, 'USD')`)
	waitUntil(t, "the orders reached the ERP", time.Minute, func() bool {
		return pgString(t, p.pg, `SELECT count(*)::text FROM rp_sale_order`) == "3"
	})
	p.waitCaughtUp(t)

	// T is a whole second, so that RFC 3339 without fractions names it
	at := time.Now().Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(at) + 500*time.Millisecond)
	// after T each row changes once: replayed, every event is a no-op
	myMust(t, p.my,
		`UPDATE tandem.rp_customer SET last_name = 'Lee-Park' WHERE email = 'ann@example.com'`,
		`INSERT INTO tandem.rp_customer (email, last_name) VALUES ('dee@example.com', 'Dee')`,
		`INSERT INTO tandem.rp_order (id, billing_email, status, total_amount, currency) VALUES (4, 'dee@example.com', 'wc-completed', 40, 'EUR')`,
		`UPDATE tandem.rp_order SET total_amount = 22.25 WHERE id = 2`,
		`DELETE FROM tandem.rp_order WHERE id = 3`)
	q := `SELECT string_agg(o.client_order_ref || ':' || p.name || ':' || o.state || ':' || o.amount_total::text, ',' ORDER BY o.client_order_ref)
		FROM rp_sale_order o JOIN rp_partner p ON p.id = o.partner_id`
	want := "1:Lee-Park:draft:10.50,2:Ng:sale:22.25,4:Dee:done:40.00"
	waitUntil(t, "the changes after T reached the ERP", time.Minute, func() bool { return pgString(t, p.pg, q) == want })
	p.waitCaughtUp(t)
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	before, audits := p.target(t)
	if audits < 11 { // 4 customers, 4 orders, 2 updates and a delete
		t.Fatalf("%d audit rows: the audit trigger does not record the sink's writes", audits)
	}
	stored := p.checkpoints(t)

	// where the replay must move each partition: its first record at or
	// after T, or its end
	wantNext := map[sink.TopicPartition]int64{}
	var after int64
	for _, r := range p.offsets(t) {
		wantNext[r.tp] = r.latest
		for _, m := range testenv.ReadTopic(t, r.tp.Topic) {
			if m.Partition == r.tp.Partition && !m.Time.Before(at) {
				wantNext[r.tp] = min(wantNext[r.tp], m.Offset)
			}
		}
		after += r.latest - wantNext[r.tp]
	}
	if after < 5 {
		t.Fatalf("%d records after T, want at least the 5 changes", after)
	}

	out, code := p.replay(t, "--to-time", at.UTC().Format(time.RFC3339))
	if code != 0 {
		t.Fatalf("replay: exit %d:\n%s", code, out)
	}
	t.Logf("tandem replay --to-time:\n%s", out)
	table := replayTable(t, out)
	if len(table) != len(wantNext) {
		t.Fatalf("%d rows in the table, want %d:\n%s", len(table), len(wantNext), out)
	}
	cps := p.checkpoints(t)
	for tp, next := range wantNext {
		old := int64(0)
		if cp, ok := stored[tp]; ok {
			old = cp.Offset + 1
		}
		if got := table[tp]; got != [2]int64{old, next} {
			t.Errorf("%s[%d]: table says old %d new %d, want %d %d", tp.Topic, tp.Partition, got[0], got[1], old, next)
		}
		if cp := cps[tp]; cp.Offset != next-1 || cp.Position != "" {
			t.Errorf("%s[%d]: stored offset %d position %q, want %d and empty", tp.Topic, tp.Partition, cp.Offset, cp.Position, next-1)
		}
	}
	if !strings.Contains(out, fmt.Sprintf("its next run re-reads %d event(s).", after)) {
		t.Errorf("the summary does not say %d events are re-read:\n%s", after, out)
	}

	p.start(t)
	p.waitCaughtUp(t)
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	for tp, cp := range p.checkpoints(t) {
		if wantNext[tp] < cp.Offset+1 && cp.Position == "" {
			t.Errorf("%s[%d]: re-read but no position stored again", tp.Topic, tp.Partition)
		}
	}
	rows, n := p.target(t)
	if strings.Join(rows, "\n") != strings.Join(before, "\n") {
		t.Errorf("the target changed:\nbefore\n%s\nafter\n%s", strings.Join(before, "\n"), strings.Join(rows, "\n"))
	}
	if n != audits {
		t.Errorf("%d rows written by the replay (audit rows %d -> %d); replayed events must be no-ops", n-audits, audits, n)
	}
}

// TestIntegrationReplayRefusalsDryRunEarliest: replay refuses while the
// sink runs and on bad input; --dry-run changes nothing; --to-offset
// earliest re-reads everything, again without a write.
func TestIntegrationReplayRefusalsDryRunEarliest(t *testing.T) {
	p := newReplayPair(t)
	myMust(t, p.my,
		`INSERT INTO tandem.rp_customer (email, last_name) VALUES ('eve@example.com', 'Eve'), ('fay@example.com', 'Fay')`,
		`INSERT INTO tandem.rp_order (id, billing_email, status, total_amount, currency) VALUES (11, 'eve@example.com', 'wc-pending', 5, 'EUR'), (12, 'fay@example.com', 'wc-pending', 6, 'EUR')`)
	waitUntil(t, "the orders reached the ERP", time.Minute, func() bool {
		return pgString(t, p.pg, `SELECT count(*)::text FROM rp_sale_order`) == "2"
	})
	p.waitCaughtUp(t)
	p.waitSinkJoined(t)
	stored := p.checkpoints(t)

	out, code := p.replay(t, "--to-offset", "earliest")
	group := "tandem-sink-" + p.erp
	if code != exitFailed || !strings.Contains(out, "sink "+p.erp+" is running: its consumer group "+group+" has 1 active member(s) (") ||
		!strings.Contains(out, "stop the tandem run that runs it, then replay") {
		t.Errorf("replay while the sink runs: exit %d, want 1 and a refusal:\n%s", code, out)
	}
	if got := p.checkpoints(t); fmt.Sprint(got) != fmt.Sprint(stored) {
		t.Errorf("the refused replay changed the checkpoints: %v -> %v", stored, got)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	before, audits := p.target(t)
	stored = p.checkpoints(t)

	// bad input
	badTopic := "tandem." + p.erp + ".customer"
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--sink", "nope", "--to-offset", "earliest"}, exitBadUsage,
			`--sink "nope" is not a system in ` + p.cfgPath + ` (systems flows go to: ` + p.erp + `)`},
		{[]string{"--sink", p.shop, "--to-offset", "earliest"}, exitBadUsage,
			`--sink "` + p.shop + `": no flow goes to ` + p.shop + `, so it has no sink (systems flows go to: ` + p.erp + `)`},
		{[]string{"--to-offset", "earliest", "--topic", badTopic}, exitBadUsage,
			`--topic "` + badTopic + `" is not a topic sink ` + p.erp + ` reads (its topics: ` + strings.Join(p.topics, ", ") + `)`},
		{[]string{"--to-offset", "earliest", "--topic", p.topics[0], "--partition", "3"}, exitBadUsage,
			`--partition 3 does not exist: topic ` + p.topics[0] + ` has partitions 0-2`},
		{[]string{"--to-offset", "earliest", "--to-time", "1h"}, exitBadUsage, "--to-offset and --to-time exclude each other: give one"},
		{nil, exitBadUsage, "say where to replay from: --to-offset earliest|latest|N or --to-time T"},
		{[]string{"--to-offset", "first"}, exitBadUsage, `--to-offset "first": want earliest, latest or an offset (a whole number, 0 or more)`},
		{[]string{"--to-time", "yesterday"}, exitBadUsage, `--to-time "yesterday": want an RFC 3339 time (2026-11-30T10:00:00Z) or a duration ago (90m, 2h, 3d)`},
	} {
		out, code := p.replay(t, c.args...)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("replay %s: exit %d, want %d and %q:\n%s", strings.Join(c.args, " "), code, c.code, c.want, out)
		}
	}

	// --dry-run: the plan, and nothing changed
	out, code = p.replay(t, "--to-offset", "earliest", "--dry-run")
	if code != 0 || !strings.Contains(out, "Dry run: nothing changed.") || len(replayTable(t, out)) != 6 {
		t.Errorf("dry run: exit %d:\n%s", code, out)
	}
	for tp, r := range replayTable(t, out) {
		if r[1] != 0 {
			t.Errorf("dry run: %s[%d] would move to %d, want 0 (earliest)", tp.Topic, tp.Partition, r[1])
		}
	}
	if got := p.checkpoints(t); fmt.Sprint(got) != fmt.Sprint(stored) {
		t.Errorf("--dry-run changed the checkpoints: %v -> %v", stored, got)
	}

	// --to-offset earliest: everything again, and no write
	out, code = p.replay(t, "--to-offset", "earliest")
	if code != 0 || !strings.Contains(out, "6 partition(s) of sink "+p.erp+" moved; its next run re-reads 4 event(s).") {
		t.Fatalf("replay --to-offset earliest: exit %d:\n%s", code, out)
	}
	cps := p.checkpoints(t)
	if len(cps) != 6 {
		t.Errorf("%d checkpoints stored, want one per partition (6): %v", len(cps), cps)
	}
	for _, cp := range cps {
		if cp.Offset != -1 || cp.Position != "" {
			t.Errorf("%s[%d]: offset %d position %q, want -1 and empty", cp.Topic, cp.Partition, cp.Offset, cp.Position)
		}
	}
	p.start(t)
	p.waitCaughtUp(t)
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	rows, n := p.target(t)
	if strings.Join(rows, "\n") != strings.Join(before, "\n") || n != audits {
		t.Errorf("replaying from the earliest offset wrote %d rows; target before\n%s\nafter\n%s", n-audits, strings.Join(before, "\n"), strings.Join(rows, "\n"))
	}

	// --to-offset N is clamped, with a note
	out, code = p.replay(t, "--to-offset", "1000", "--topic", p.topics[1], "--partition", "0")
	end := p.offsets(t)[3].latest // order, partition 0
	if code != 0 || !strings.Contains(out, fmt.Sprintf("note: %s[0]: offset 1000 is outside [0, %d] (earliest, latest): using %d", p.topics[1], end, end)) ||
		len(replayTable(t, out)) != 1 {
		t.Errorf("replay --to-offset 1000: exit %d:\n%s", code, out)
	}
}

func TestIntegrationReplayHelp(t *testing.T) {
	out, code := run(t, "replay", "--help")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"--to-offset earliest", "the first offset whose timestamp is at", "replay refuses while the sink's Kafka",
		"The stored source position is cleared", "tandem replay --config tandem.yaml --sink erp --to-time 2h --dry-run"} {
		if !strings.Contains(out, want) {
			t.Errorf("replay --help lacks %q", want)
		}
	}
}
