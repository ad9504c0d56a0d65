package mapped

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tandem-sync/tandem/bus"
	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/mapping"
	"github.com/tandem-sync/tandem/schema"
)

var (
	posts = &capture.Table{Database: "shop", Schema: "shop", Name: "wp_posts", Version: 1, Columns: []capture.Column{
		{Name: "ID", Type: capture.Type{Kind: capture.KindUint64}, Key: true},
		{Name: "post_title", Type: capture.Type{Kind: capture.KindString}},
		{Name: "post_status", Type: capture.Type{Kind: capture.KindString}},
		{Name: "post_type", Type: capture.Type{Kind: capture.KindString}},
	}}
	postmeta = &capture.Table{Database: "shop", Schema: "shop", Name: "wp_postmeta", Version: 1, Columns: []capture.Column{
		{Name: "meta_id", Type: capture.Type{Kind: capture.KindUint64}, Key: true},
		{Name: "post_id", Type: capture.Type{Kind: capture.KindUint64}},
		{Name: "meta_key", Type: capture.Type{Kind: capture.KindString}},
		{Name: "meta_value", Type: capture.Type{Kind: capture.KindString}},
	}}
	options = &capture.Table{Database: "shop", Schema: "shop", Name: "wp_options", Version: 1, Columns: []capture.Column{
		{Name: "option_id", Type: capture.Type{Kind: capture.KindUint64}, Key: true},
		{Name: "option_value", Type: capture.Type{Kind: capture.KindString}},
	}}
)

// recorder is the publisher's stand-in: it records what it is given.
type recorder struct {
	calls []string
	recs  []*bus.Record
	fail  error
}

func (r *recorder) Begin(context.Context, *capture.TxBegin) error {
	r.calls = append(r.calls, "begin")
	return nil
}
func (r *recorder) Change(_ context.Context, c *capture.Change) error {
	r.calls = append(r.calls, "raw "+c.Table.Name)
	return nil
}
func (r *recorder) Commit(context.Context, *capture.TxEnd) error {
	r.calls = append(r.calls, "commit")
	return nil
}
func (r *recorder) Heartbeat(context.Context, capture.Position) error {
	r.calls = append(r.calls, "heartbeat")
	return nil
}
func (r *recorder) Emit(_ context.Context, rec *bus.Record, unit string) error {
	r.calls = append(r.calls, "emit "+unit)
	r.recs = append(r.recs, rec)
	return r.fail
}

// events is the encoder's stand-in: it keeps the events.
type events struct {
	got    []*schema.EntityEvent
	refuse string // an entity whose events do not encode
}

func (e *events) Entity(_ context.Context, _ *capture.TxBegin, ev *schema.EntityEvent) (bus.Record, error) {
	if ev.Entity == e.refuse {
		return bus.Record{}, &schema.EncodeError{Topic: "t", Column: "sku", Reason: "too long"}
	}
	e.got = append(e.got, ev)
	return bus.Record{Topic: "tandem.shop." + ev.Entity, Value: []byte(fmt.Sprint(ev.Values))}, nil
}

type noRows struct{}

func (noRows) Rows(context.Context, string, string, []string) (*capture.Table, []capture.Row, error) {
	return nil, nil, errors.New("no lookups expected")
}

type pos string

func (p pos) String() string { return string(p) }
func (p pos) Key() []byte    { return []byte(p) }

func preset(t *testing.T, edit func(*mapping.Config)) *mapping.Config {
	t.Helper()
	path := filepath.Join("..", "..", "deploy", "examples", "woocommerce-odoo.yaml")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := mapping.Load(path, src, config.Env{Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(cfg)
	}
	return cfg
}

func newHandler(t *testing.T, cfg *mapping.Config, maxPending int) (*Handler, *recorder, *events, *prometheus.Registry) {
	t.Helper()
	next, enc, reg := &recorder{}, &events{}, prometheus.NewRegistry()
	h, err := New(Options{System: "shop", Config: cfg, Rows: noRows{}, Next: next, Encoder: enc,
		DLQTopic: "tandem.shop.dlq", MaxPending: maxPending, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return h, next, enc, reg
}

func run(t *testing.T, h *Handler, changes ...*capture.Change) {
	t.Helper()
	ctx := context.Background()
	if err := h.Begin(ctx, &capture.TxBegin{ID: "tx1", Position: pos("p1")}); err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		if err := h.Change(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Commit(ctx, &capture.TxEnd{ID: "tx1", Position: pos("p1")}); err != nil {
		t.Fatal(err)
	}
}

func product() []*capture.Change {
	return []*capture.Change{
		{Op: capture.OpInsert, Table: posts, After: capture.Row{uint64(10), "Blue mug", "publish", "product"}},
		{Op: capture.OpInsert, Table: postmeta, After: capture.Row{uint64(1), uint64(10), "_sku", "MUG-1"}},
		{Op: capture.OpInsert, Table: postmeta, After: capture.Row{uint64(2), uint64(10), "_regular_price", "19.99"}},
		{Op: capture.OpInsert, Table: options, After: capture.Row{uint64(5), "x"}},
	}
}

func TestEntityEventsInsteadOfRawRows(t *testing.T) {
	h, next, enc, reg := newHandler(t, preset(t, nil), 0)
	run(t, h, product()...)
	want := []string{"begin", "raw wp_options", "emit price", "emit product", "emit stock_level", "commit"}
	if !slices.Equal(next.calls, want) {
		t.Errorf("calls %v, want %v", next.calls, want)
	}
	for i, ev := range enc.got {
		if ev.Seq != uint64(i) || ev.Values["sku"] != "MUG-1" || ev.Op != capture.OpInsert || ev.Table != posts {
			t.Errorf("event %d: %+v", i, ev)
		}
	}
	if got := testutil.ToFloat64(h.m.events.WithLabelValues("product", "c")); got != 1 {
		t.Errorf("events metric %v", got)
	}
	if n, _ := testutil.GatherAndCount(reg, "tandem_entity_events_total"); n != 3 {
		t.Errorf("metric series %d", n)
	}
}

func TestRawTopicsAllAndNone(t *testing.T) {
	for mode, want := range map[string]int{capture.RawAll: 4, capture.RawNone: 0} {
		h, next, _, _ := newHandler(t, preset(t, func(c *mapping.Config) { c.Systems["shop"].Capture.RawTopics = mode }), 0)
		run(t, h, product()...)
		raw := 0
		for _, c := range next.calls {
			if strings.HasPrefix(c, "raw ") {
				raw++
			}
		}
		if raw != want {
			t.Errorf("raw_topics %s: %d raw changes (%v), want %d", mode, raw, next.calls, want)
		}
	}
}

// TestBadValueGoesToTheDeadLetterTopic: the event goes out without the
// field; the value goes to the DLQ, with its reason, in the same
// transaction.
func TestBadValueGoesToTheDeadLetterTopic(t *testing.T) {
	h, next, enc, _ := newHandler(t, preset(t, nil), 0)
	changes := product()
	changes[2].After[3] = "cheap"
	run(t, h, changes...)
	var dlq []*bus.Record
	for _, r := range next.recs {
		if r.Topic == "tandem.shop.dlq" {
			dlq = append(dlq, r)
		}
	}
	if len(dlq) != 1 { // product.list_price (_regular_price)
		t.Fatalf("dlq records %d: %v", len(dlq), next.calls)
	}
	if r := string(dlq[0].Headers["tandem.reason"]); !strings.Contains(r, `value "cheap": is not a decimal number`) ||
		!strings.Contains(string(dlq[0].Value), `"table":"shop.wp_postmeta"`) {
		t.Errorf("dlq record: %s %s", r, dlq[0].Value)
	}
	for _, ev := range enc.got {
		if ev.Entity == "product" && (ev.Values["list_price"] != nil || ev.Values["name"] != "Blue mug") {
			t.Errorf("product event %+v", ev.Values)
		}
	}
	if next.calls[len(next.calls)-1] != "commit" {
		t.Errorf("the transaction must still commit: %v", next.calls)
	}
}

func TestEncodeErrorGoesToTheDeadLetterTopic(t *testing.T) {
	h, next, enc, _ := newHandler(t, preset(t, nil), 0)
	enc.refuse = "price"
	run(t, h, product()...)
	if !slices.Contains(next.calls, "emit dlq") || slices.Contains(next.calls, "emit price") {
		t.Errorf("calls %v", next.calls)
	}
}

// TestLargeTransactionIsFlushedInParts: a transaction touching more
// instances than MaxPending publishes as it goes, in order.
func TestLargeTransactionIsFlushedInParts(t *testing.T) {
	h, next, enc, _ := newHandler(t, preset(t, func(c *mapping.Config) {
		c.Systems["shop"].Entities = map[string]*mapping.EntityMapping{"customer": c.Systems["shop"].Entities["customer"]}
	}), 2)
	lookup := &capture.Table{Database: "shop", Schema: "shop", Name: "wp_wc_customer_lookup", Version: 1, Columns: []capture.Column{
		{Name: "customer_id", Type: capture.Type{Kind: capture.KindUint64}, Key: true},
		{Name: "email", Type: capture.Type{Kind: capture.KindString}},
	}}
	ctx := context.Background()
	if err := h.Begin(ctx, &capture.TxBegin{ID: "big", Position: pos("p")}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		c := &capture.Change{Op: capture.OpInsert, Table: lookup, After: capture.Row{uint64(i), fmt.Sprintf("c%d@example.com", i)}}
		if err := h.Change(ctx, c); err != nil {
			t.Fatal(err)
		}
		if i == 1 && len(enc.got) != 2 {
			t.Fatalf("after 2 instances: %d events", len(enc.got))
		}
	}
	if err := h.Commit(ctx, &capture.TxEnd{ID: "big", Position: pos("p")}); err != nil {
		t.Fatal(err)
	}
	if len(enc.got) != 5 {
		t.Fatalf("%d events", len(enc.got))
	}
	for i, ev := range enc.got {
		if ev.Seq != uint64(i) || ev.Values["email"] != fmt.Sprintf("c%d@example.com", i) {
			t.Errorf("event %d: seq %d %v", i, ev.Seq, ev.Values)
		}
	}
	_ = next
}

func TestLimiter(t *testing.T) {
	l := newLimiter(1 << 62)
	if _, ok := l.allow("a"); !ok {
		t.Fatal("first warning held back")
	}
	for range 3 {
		if _, ok := l.allow("a"); ok {
			t.Fatal("repeat warning let through")
		}
	}
	if _, ok := l.allow("b"); !ok {
		t.Error("another key held back")
	}
	l.every = 0
	if n, ok := l.allow("a"); !ok || n != 3 {
		t.Errorf("after the interval: %d held, ok %v", n, ok)
	}
}

// BenchmarkMappedProductTransaction: one WooCommerce product transaction
// (a posts row and three postmeta rows) through assemble and resolve, into
// three entity events (product, price, stock_level), with no lookups.
func BenchmarkMappedProductTransaction(b *testing.B) {
	cfg := preset(&testing.T{}, nil)
	next, enc := &recorder{}, &events{}
	h, err := New(Options{System: "shop", Config: cfg, Rows: noRows{}, Next: next, Encoder: enc})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	changes := product()[:3]
	changes = append(changes, &capture.Change{Op: capture.OpInsert, Table: postmeta, After: capture.Row{uint64(3), uint64(10), "_stock", "12"}})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := uint64(i + 100)
		changes[0].After[0] = id
		for _, c := range changes[1:] {
			c.After[1] = id
		}
		changes[1].After[3] = fmt.Sprintf("SKU-%d", i)
		if err := h.Begin(ctx, &capture.TxBegin{ID: "tx", Position: pos("p")}); err != nil {
			b.Fatal(err)
		}
		for _, c := range changes {
			if err := h.Change(ctx, c); err != nil {
				b.Fatal(err)
			}
		}
		if err := h.Commit(ctx, &capture.TxEnd{ID: "tx", Position: pos("p")}); err != nil {
			b.Fatal(err)
		}
		next.calls, next.recs, enc.got = next.calls[:0], next.recs[:0], enc.got[:0]
	}
	b.ReportMetric(float64(b.N*len(changes))/b.Elapsed().Seconds(), "rows/s")
}

// TestSnapshotChunksKeepOrder: snapshot chunks share one position; their
// entity events must still number upwards across chunks, or a sink would
// take the second chunk's events for duplicates of the first's.
func TestSnapshotChunksKeepOrder(t *testing.T) {
	h, _, enc, _ := newHandler(t, preset(t, func(c *mapping.Config) {
		c.Systems["shop"].Entities = map[string]*mapping.EntityMapping{"customer": c.Systems["shop"].Entities["customer"]}
	}), 0)
	lookup := &capture.Table{Database: "shop", Schema: "shop", Name: "wp_wc_customer_lookup", Version: 1, Columns: []capture.Column{
		{Name: "customer_id", Type: capture.Type{Kind: capture.KindUint64}, Key: true},
		{Name: "email", Type: capture.Type{Kind: capture.KindString}},
	}}
	ctx := context.Background()
	seq := uint64(0)
	for chunk := range 2 {
		if err := h.Begin(ctx, &capture.TxBegin{ID: "snapshot", Position: pos("snap"), Snapshot: true}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			c := &capture.Change{Op: capture.OpRead, Table: lookup, Seq: seq, After: capture.Row{seq, fmt.Sprintf("c%d@example.com", seq)}}
			seq++
			if err := h.Change(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.Commit(ctx, &capture.TxEnd{ID: "snapshot", Position: pos("snap")}); err != nil {
			t.Fatal(err)
		}
		_ = chunk
	}
	if len(enc.got) != 6 {
		t.Fatalf("%d events", len(enc.got))
	}
	for i := 1; i < len(enc.got); i++ {
		if enc.got[i].Seq <= enc.got[i-1].Seq {
			t.Errorf("event %d has seq %d after %d: order must grow across chunks", i, enc.got[i].Seq, enc.got[i-1].Seq)
		}
	}
}
