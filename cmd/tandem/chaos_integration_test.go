//go:build integration

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tandem-sync/tandem/demo"
	"github.com/tandem-sync/tandem/internal/testenv"
)

// chaosDuration is how long TestIntegrationE2EChaos generates traffic: 90 s
// in make test, TANDEM_CHAOS_DURATION (make soak: 5m) otherwise.
func chaosDuration(t *testing.T) time.Duration {
	v := os.Getenv("TANDEM_CHAOS_DURATION")
	if v == "" {
		return 90 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 60*time.Second {
		t.Fatalf("TANDEM_CHAOS_DURATION=%q: want a duration of at least 60s", v)
	}
	return d
}

// chaosConfig writes the preset as a user would run it against the chaos
// test's own Kafka broker: a fresh topic prefix, streaming from now on
// (the seed is on both sides already), metrics on metrics.
func chaosConfig(t *testing.T, preset, broker, prefix, metrics string) string {
	t.Helper()
	src, err := os.ReadFile(preset)
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	for _, r := range [][2]string{
		{`brokers: ["127.0.0.1:59092"]`, fmt.Sprintf("brokers: [%q]", broker)},
		{"topic_prefix: tandem\n", "topic_prefix: " + prefix + "\n"},
		{"    capture:\n", "    capture:\n      snapshot: never\n"},
	} {
		if !strings.Contains(s, r[0]) {
			t.Fatalf("the preset has no %q any more: update chaosConfig", r[0])
		}
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	s += fmt.Sprintf("http:\n  listen: %q\n", metrics)
	return tempConfig(t, s)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// chaosEvent is one disruption: kill -9 of the replicator, or a Kafka
// restart, at an offset from the start of the traffic.
type chaosEvent struct {
	at    time.Duration
	kafka bool
}

// chaosPlan spreads at least 5 kills (one per 9 s on average) and one
// Kafka restart, at random, over the traffic's first part. The events
// after the restart happen later by the time it took (about 20 s, planned
// for); the last 25 s are quiet so that the sync has caught up when the
// traffic stops.
func chaosPlan(r *rand.Rand, d time.Duration) []chaosEvent {
	window := d - 45*time.Second
	n := max(5, int(window/(9*time.Second)))
	var plan []chaosEvent
	slot := (window - 5*time.Second) / time.Duration(n)
	for i := range n { // one kill in each slot, not in its first 2 s
		plan = append(plan, chaosEvent{at: 5*time.Second + time.Duration(i)*slot + 2*time.Second + time.Duration(r.Int64N(int64(slot-2*time.Second)))})
	}
	plan = append(plan, chaosEvent{at: window/2 + time.Duration(r.Int64N(int64(3*time.Second))), kafka: true})
	sort.Slice(plan, func(i, j int) bool { return plan[i].at < plan[j].at })
	return plan
}

// TestIntegrationE2EChaos runs the preset as users do, one `tandem run`
// process for both systems, while the demo's generator acts as both
// applications. The process is killed with SIGKILL at random at least five
// times (and started again, as a supervisor would) and its Kafka broker is
// restarted once. After the traffic stops:
//   - the topics stop growing within 10 s (no event loops);
//   - every shop order is in the ERP exactly once, with each line once,
//     and every customer once;
//   - tandem verify reports no drift;
//   - nothing was dead-lettered.
func TestIntegrationE2EChaos(t *testing.T) {
	dur := chaosDuration(t)
	bin := buildTandem(t)
	kenv := []string{"INSTANCE=kafka-chaos", "KAFKA_PORT=59192", "KAFKA_CONTROLLER_PORT=59193", "KAFKA_HEAP=384m"}
	testenv.StartInstance(t, "kafka", kenv...)
	broker := "127.0.0.1:59192"

	e, _ := seedPreset(t)
	prefix := fmt.Sprintf("chaos%d", time.Now().UnixNano())
	metrics := freeAddr(t)
	cfg := chaosConfig(t, e.preset, broker, prefix, metrics)
	logPath := filepath.Join(t.TempDir(), "tandem.log")
	p := startTandem(t, bin, cfg, logPath)
	defer func() {
		if alive(p) {
			p.kill9()
		}
	}()
	restart := func() { p = startTandem(t, bin, cfg, logPath) }
	waitUntil(t, "the ERP capture streams", 2*time.Minute, func() bool {
		_, ok := scrapeSums(metrics, "system", "tandem_capture_confirmed_lsn")["tandem_capture_confirmed_lsn"]["erp"]
		return ok
	})
	time.Sleep(2 * time.Second) // the shop's binlog position is taken at start too

	// the applications
	gopts := demo.DefaultGenerateOptions()
	gopts.Rate, gopts.Seed = 20, 7
	genCtx, stopGen := context.WithTimeout(context.Background(), dur)
	defer stopGen()
	var stats demo.GenerateStats
	var genErr error
	genDone := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(genDone)
		stats, genErr = demo.Generate(genCtx, e.shop, e.erp, gopts)
	}()

	// the disruptions
	kills := 0
	var shift time.Duration // the Kafka restart's
	for _, ev := range chaosPlan(rand.New(rand.NewPCG(uint64(start.UnixNano()), 7)), dur) {
		time.Sleep(time.Until(start.Add(ev.at + shift)))
		if !alive(p) {
			log, _ := os.ReadFile(logPath)
			t.Errorf("tandem run exited by itself before %s; log tail:\n%s", ev.at, tail(string(log), 3000))
			p.kill9()
			restart()
			continue
		}
		if ev.kafka {
			t.Logf("%s: restarting Kafka", time.Since(start).Round(time.Second))
			began := time.Now()
			instance(t, "kafka", "down", kenv...)
			time.Sleep(3 * time.Second)
			instance(t, "kafka", "up", kenv...)
			shift = time.Since(began)
			t.Logf("%s: Kafka is back", time.Since(start).Round(time.Second))
			continue
		}
		p.kill9()
		kills++
		// the killed member would hold its partitions until its session
		// times out; a supervisor's restart is faster than that
		for _, g := range []string{"tandem-sink-shop", "tandem-sink-erp"} {
			evictGroupAt(t, broker, g)
		}
		restart()
		t.Logf("%s: kill -9 #%d", time.Since(start).Round(time.Second), kills)
	}
	<-genDone
	stopped := time.Now()
	if genErr != nil {
		t.Fatalf("generator: %v", genErr)
	}
	t.Logf("generated for %s: %s", stopped.Sub(start).Round(time.Second), stats.String())
	if kills < 5 {
		t.Errorf("only %d kills", kills)
	}

	// no loops: the topics' end offsets stop growing within 10 s
	var last map[string]int64
	lastGrowth := stopped
	for time.Since(stopped) < 30*time.Second {
		now, err := testenv.EndOffsets(broker, prefix+".")
		if err != nil {
			t.Fatalf("end offsets: %v", err)
		}
		for topic := range now {
			if strings.HasSuffix(topic, ".offsets") {
				delete(now, topic) // positions move with the source's WAL, not with events
			}
		}
		if last != nil && !mapsEqual(last, now) {
			lastGrowth = time.Now()
			if grew := lastGrowth.Sub(stopped); grew > 10*time.Second {
				t.Logf("%s after the traffic stopped: %s", grew.Round(time.Millisecond), offsetDiff(last, now))
			}
		}
		last = now
		time.Sleep(500 * time.Millisecond)
	}
	if grew := lastGrowth.Sub(stopped); grew > 10*time.Second {
		t.Errorf("topics still grew %s after the traffic stopped (loop or lag): %v", grew.Round(time.Millisecond), last)
	} else {
		t.Logf("topics flat %s after the traffic stopped", grew.Round(time.Millisecond))
	}
	if !alive(p) {
		log, _ := os.ReadFile(logPath)
		t.Fatalf("tandem run exited by itself; log tail:\n%s", tail(string(log), 3000))
	}
	p.term(t)

	// exactly once: every shop order, line and customer once in the ERP
	shopOrders := column(t, e.shop, `SELECT CAST(id AS CHAR) FROM wp_wc_orders WHERE type = 'shop_order'`)
	erpOrders := column(t, e.erp, `SELECT client_order_ref FROM sale_order WHERE client_order_ref IS NOT NULL`)
	counts := map[string]int{}
	for _, o := range erpOrders {
		counts[o]++
	}
	missing, twice := 0, 0
	for _, o := range shopOrders {
		switch counts[o] {
		case 0:
			missing++
		case 1:
		default:
			twice++
			t.Errorf("shop order %s is %d times in the ERP", o, counts[o])
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d shop orders are not in the ERP", missing, len(shopOrders))
	}
	for what, q := range map[string]string{
		"order lines": `SELECT order_id || '/' || sequence FROM sale_order_line WHERE NOT is_delivery GROUP BY order_id, sequence HAVING count(*) > 1`,
		"customers":   `SELECT email FROM res_partner WHERE type = 'contact' AND email IS NOT NULL GROUP BY email HAVING count(*) > 1`,
	} {
		if dup := column(t, e.erp, q); len(dup) > 0 {
			t.Errorf("%s in the ERP twice: %v", what, dup)
		}
	}
	t.Logf("%d shop orders, all in the ERP exactly once (%d ERP orders)", len(shopOrders), len(erpOrders))

	// what lives on the shop's order row (create: false), which verify
	// compares only where both sides have it: every ERP invoice and
	// tracking number of a shop order is on that order
	for what, q := range map[string][2]string{
		"invoice numbers": {`SELECT ref || '=' || name FROM account_move WHERE move_type = 'out_invoice' AND ref IS NOT NULL`,
			`SELECT CONCAT(order_id, '=', meta_value) FROM wp_wc_orders_meta WHERE meta_key = '_invoice_number'`},
		"tracking numbers": {`SELECT so.client_order_ref || '=' || p.carrier_tracking_ref FROM stock_picking p JOIN sale_order so ON so.id = p.sale_id
			WHERE p.carrier_tracking_ref IS NOT NULL AND so.client_order_ref IS NOT NULL`,
			`SELECT CONCAT(order_id, '=', meta_value) FROM wp_wc_orders_meta WHERE meta_key = '_tracking_number'`},
	} {
		inShop := map[string]bool{}
		for _, v := range column(t, e.shop, q[1]) {
			inShop[v] = true
		}
		erpSide := column(t, e.erp, q[0])
		var lost []string
		for _, v := range erpSide {
			if !inShop[v] {
				lost = append(lost, v)
			}
		}
		if len(lost) > 0 {
			t.Errorf("%d of %d ERP %s (order=number) are not on the shop's orders: %v", len(lost), len(erpSide), what, lost[:min(len(lost), 10)])
		} else {
			t.Logf("all %d ERP %s are on the shop's orders", len(erpSide), what)
		}
	}

	out, code := run(t, "verify", "--config", cfg, "--limit", "20")
	if code != 0 {
		t.Errorf("tandem verify after the chaos: exit %d\n%s", code, out)
	}

	// nothing dead-lettered; conflicts are the preset's to decide
	for topic, n := range last {
		if strings.HasSuffix(topic, ".dlq") && n > 0 {
			t.Errorf("%d events dead-lettered on %s", n, topic)
		}
	}
	log, _ := os.ReadFile(logPath)
	t.Logf("%d kills, 1 Kafka restart; transient retries logged: %d (sink), %d (Kafka writes); end offsets %v",
		kills, strings.Count(string(log), "transient error; retrying"), strings.Count(string(log), "Kafka unavailable"), last)
	if last[prefix+".conflicts"] > 0 {
		t.Logf("conflicts logged: %s", conflictSummary(t, broker, prefix+".conflicts"))
	}
}

// offsetDiff shows the topics whose end offsets differ.
func offsetDiff(a, b map[string]int64) string {
	var out []string
	for k, v := range b {
		if a[k] != v {
			out = append(out, fmt.Sprintf("%s %d -> %d", k, a[k], v))
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// conflictSummary counts the conflicts topic's records by sink, entity,
// field and the decision's first words.
func conflictSummary(t *testing.T, broker, topic string) string {
	t.Helper()
	counts := map[string]int{}
	for _, m := range testenv.ReadTopicAt(t, broker, topic) {
		var c struct {
			Entity, Field, Decision, Sink string
		}
		if err := json.Unmarshal(m.Value, &c); err != nil {
			t.Errorf("conflict record %s: %v", m.Value, err)
			continue
		}
		d, _, _ := strings.Cut(c.Decision, ",")
		d, _, _ = strings.Cut(d, ": kept")
		counts[fmt.Sprintf("%s sink: %s.%s: %s", c.Sink, c.Entity, c.Field, d)]++
	}
	var out []string
	for k, n := range counts {
		out = append(out, fmt.Sprintf("%d × %s", n, k))
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// evictGroupAt removes every member of a consumer group on broker
// (LeaveGroup on their behalf); a broker that does not answer is logged.
func evictGroupAt(t *testing.T, broker, group string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := &kafka.Client{Addr: kafka.TCP(broker)}
	resp, err := c.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
	if err != nil || len(resp.Groups) == 0 {
		t.Logf("describe group %s: %v", group, err)
		return
	}
	var members []kafka.LeaveGroupRequestMember
	for _, m := range resp.Groups[0].Members {
		members = append(members, kafka.LeaveGroupRequestMember{ID: m.MemberID})
	}
	if len(members) == 0 {
		return
	}
	if _, err := c.LeaveGroup(ctx, &kafka.LeaveGroupRequest{GroupID: group, Members: members}); err != nil {
		t.Logf("remove the killed members from group %s: %v", group, err)
	}
}
