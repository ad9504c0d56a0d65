package status

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// testMetrics are the metrics tandem run registers, by the same names and
// labels (the system and sink labels come from wrapped registerers there).
type testMetrics struct {
	reg          *prometheus.Registry
	entityEvents *prometheus.CounterVec
	badValues    *prometheus.CounterVec
	changes      *prometheus.CounterVec
	sinkEvents   *prometheus.CounterVec
	conflicts    *prometheus.CounterVec
	waiting      *prometheus.GaugeVec
	ackAge       *prometheus.GaugeVec
	pubInFlight  *prometheus.GaugeVec
}

func newTestMetrics(t *testing.T) *testMetrics {
	t.Helper()
	counter := func(name string, l ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: name}, l)
	}
	gauge := func(name string, l ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: name}, l)
	}
	m := &testMetrics{
		reg:          prometheus.NewRegistry(),
		entityEvents: counter(mEntityEvents, "system", "entity", "op"),
		badValues:    counter(mEntityBad, "system", "entity"),
		changes:      counter(mChanges, "system"),
		sinkEvents:   counter(mSinkEvents, "sink", "outcome"),
		conflicts:    counter(mSinkConflicts, "sink", "entity"),
		waiting:      gauge(mSinkWaiting, "sink"),
		ackAge:       gauge(mAckAge, "system"),
		pubInFlight:  gauge(mPubInFlight, "system"),
	}
	m.reg.MustRegister(m.entityEvents, m.badValues, m.changes, m.sinkEvents, m.conflicts, m.waiting, m.ackAge, m.pubInFlight,
		prometheus.NewGauge(prometheus.GaugeOpts{Name: "go_goroutines_test", Help: "not tandem's: not sampled"}))
	return m
}

var testTopology = Topology{
	Systems: []System{
		{Name: "erp", Kind: "postgres", Capture: true, Sink: true},
		{Name: "shop", Kind: "mysql", Capture: true, Sink: true},
	},
	Flows: []Flow{
		{Entity: "product", From: "erp", To: "shop"},
		{Entity: "order", From: "shop", To: "erp"},
	},
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func flowNamed(t *testing.T, v View, entity string) FlowView {
	t.Helper()
	for _, f := range v.Flows {
		if f.Entity == entity {
			return f
		}
	}
	t.Fatalf("no flow of %s in %+v", entity, v.Flows)
	return FlowView{}
}

func TestRatesFromCounters(t *testing.T) {
	m := newTestMetrics(t)
	st := New(Options{Topology: testTopology, Gatherer: m.reg})
	m.entityEvents.WithLabelValues("erp", "product", "update").Add(10)
	m.sinkEvents.WithLabelValues("shop", "applied").Add(4)

	st.Sample(t0)
	v := st.View()
	if v.WindowSeconds != 0 || flowNamed(t, v, "product").Captured.Rate != 0 {
		t.Fatalf("one sample has no rate: %+v", v)
	}
	if got := flowNamed(t, v, "product").Captured.Total; got != 10 {
		t.Fatalf("captured total = %v, want 10", got)
	}

	m.entityEvents.WithLabelValues("erp", "product", "update").Add(6)
	m.entityEvents.WithLabelValues("erp", "product", "insert").Add(4) // a new series counts from 0
	m.entityEvents.WithLabelValues("shop", "product", "update").Add(100)
	m.sinkEvents.WithLabelValues("shop", "applied").Add(8)
	m.sinkEvents.WithLabelValues("shop", "dlq").Add(2)
	m.sinkEvents.WithLabelValues("erp", "applied").Add(50)
	m.badValues.WithLabelValues("erp", "product").Add(1)
	m.conflicts.WithLabelValues("shop", "product").Add(3)
	m.changes.WithLabelValues("erp").Add(30)
	st.Sample(t0.Add(2 * time.Second))

	v = st.View()
	if v.WindowSeconds != 2 {
		t.Fatalf("window = %v s, want 2", v.WindowSeconds)
	}
	p := flowNamed(t, v, "product")
	if !near(p.Captured.Rate, 5) || p.Captured.Total != 20 {
		t.Errorf("product captured = %+v, want 20 at 5/s", p.Captured)
	}
	if p.AppliedScope != scopeSink {
		t.Errorf("scope = %q, want sink (no events reported)", p.AppliedScope)
	}
	if a := p.Applied["applied"]; !near(a.Rate, 4) || a.Total != 12 {
		t.Errorf("product applied = %+v, want 12 at 4/s", a)
	}
	if d := p.Applied["dlq"]; !near(d.Rate, 1) {
		t.Errorf("product dlq rate = %v, want 1", d.Rate)
	}
	if p.DLQ != 3 || p.Conflicts != 3 {
		t.Errorf("product dlq, conflicts = %v, %v, want 3 (1 capture + 2 sink), 3", p.DLQ, p.Conflicts)
	}
	o := flowNamed(t, v, "order")
	if o.Captured.Total != 0 || !near(o.Applied["applied"].Rate, 25) {
		t.Errorf("order = %+v, want nothing captured and 25/s applied into erp", o)
	}
	if sys := v.Systems[0]; sys.Name != "erp" || !near(sys.Changes.Rate, 15) {
		t.Errorf("erp changes = %+v, want 15/s", sys.Changes)
	}
}

func TestRateWindowAndCounterReset(t *testing.T) {
	var mu sync.Mutex
	val := 0.0
	g := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		mu.Lock()
		defer mu.Unlock()
		name, sys, v := mChanges, "system", val
		return []*dto.MetricFamily{{Name: &name, Type: dto.MetricType_COUNTER.Enum(), Metric: []*dto.Metric{{
			Label: []*dto.LabelPair{{Name: &sys, Value: &sys}}, Counter: &dto.Counter{Value: &v}}}}}, nil
	})
	set := func(v float64) { mu.Lock(); val = v; mu.Unlock() }
	topo := Topology{Systems: []System{{Name: "system", Capture: true}}}
	st := New(Options{Topology: topo, Gatherer: g, Window: 5 * time.Second, Keep: 4})
	for i := range 10 { // 10 per second for 10 s
		set(float64(10 * i))
		st.Sample(t0.Add(time.Duration(i) * time.Second))
	}
	v := st.View()
	// keep 4: the samples at 6..9 s, all within the window
	if v.WindowSeconds != 3 || !near(v.Systems[0].Changes.Rate, 10) {
		t.Fatalf("window %v s, rate %v, want 3 s and 10/s", v.WindowSeconds, v.Systems[0].Changes.Rate)
	}
	set(20) // restarted: 90 -> 0 -> 20
	st.Sample(t0.Add(10 * time.Second))
	// from the window's first sample (70 at 7 s) to its last (20 at 10 s):
	// the counter went down, so it restarted and counts from 0
	if got := st.View().Systems[0].Changes.Rate; !near(got, 20/3.0) {
		t.Fatalf("rate across a reset = %v", got)
	}

	st = New(Options{Topology: topo, Gatherer: g, Window: 5 * time.Second})
	for i := range 10 {
		set(float64(i * i))
		st.Sample(t0.Add(time.Duration(i) * time.Second))
	}
	if v := st.View(); v.WindowSeconds != 5 || !near(v.Systems[0].Changes.Rate, (81-16)/5.0) {
		t.Fatalf("window %v s, rate %v, want the last 5 s", v.WindowSeconds, v.Systems[0].Changes.Rate)
	}
}

func TestCaptureLag(t *testing.T) {
	m := newTestMetrics(t)
	st := New(Options{Topology: testTopology, Gatherer: m.reg})
	m.ackAge.WithLabelValues("erp").Set(42)
	m.pubInFlight.WithLabelValues("erp").Set(0)
	m.ackAge.WithLabelValues("shop").Set(7.5)
	m.pubInFlight.WithLabelValues("shop").Set(1024)
	m.waiting.WithLabelValues("shop").Set(2)
	st.Sample(t0)
	v := st.View()
	erp, shop := v.Systems[0], v.Systems[1]
	if erp.CaptureLagSeconds == nil || *erp.CaptureLagSeconds != 0 || fmtLag(erp) != "caught up" {
		t.Errorf("erp: nothing in flight is caught up, got %v", fmtLag(erp))
	}
	if *erp.LastAckAgeSeconds != 42 {
		t.Errorf("erp last ack age = %v", *erp.LastAckAgeSeconds)
	}
	if shop.CaptureLagSeconds == nil || *shop.CaptureLagSeconds != 7.5 || fmtLag(shop) != "7.5 s" {
		t.Errorf("shop lag = %v", fmtLag(shop))
	}
	if fmtOpt(shop.PartitionsWaiting) != "2" || fmtOpt(erp.PartitionsWaiting) != "—" {
		t.Errorf("waiting: shop %s, erp %s", fmtOpt(shop.PartitionsWaiting), fmtOpt(erp.PartitionsWaiting))
	}
}

func TestRecorder(t *testing.T) {
	r := NewRecorder(3)
	if got := r.Recent(20); len(got) != 0 {
		t.Fatalf("empty recorder: %v", got)
	}
	for i := range 5 {
		r.Record(Event{Key: fmt.Sprint(i)})
	}
	keys := func(es []Event) string {
		var ks []string
		for _, e := range es {
			ks = append(ks, e.Key)
		}
		return strings.Join(ks, ",")
	}
	if got := keys(r.Recent(20)); got != "4,3,2" {
		t.Errorf("Recent(20) = %s, want the last 3, newest first", got)
	}
	if got := keys(r.Recent(2)); got != "4,3" {
		t.Errorf("Recent(2) = %s", got)
	}
	if got := r.Recent(-1); len(got) != 0 {
		t.Errorf("Recent(-1) = %v", got)
	}
	r.RecordAll([]Event{{Key: "5"}, {Key: "6"}})
	if got := keys(r.Recent(3)); got != "6,5,4" {
		t.Errorf("after RecordAll: %s", got)
	}

	// concurrent use (run with -race)
	r = NewRecorder(20)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 100 {
				r.Record(Event{Key: fmt.Sprint(g, i)})
				_ = r.Recent(5)
			}
		})
	}
	wg.Wait()
	if got := r.Recent(50); len(got) != 20 {
		t.Errorf("after 400 records: %d kept, want 20", len(got))
	}
}

func TestEventsPerFlow(t *testing.T) {
	m := newTestMetrics(t)
	ev := NewEvents(20)
	hook := ev.Hook("shop")
	st := New(Options{Topology: testTopology, Gatherer: m.reg, Events: ev})
	st.Sample(t0)
	batch := []Event{
		{Sink: "shop", Entity: "product", Key: "SKU-1", Op: "update", Origin: "erp", Outcome: "applied"},
		{Sink: "shop", Entity: "product", Key: "SKU-2", Op: "insert", Origin: "erp", Outcome: "applied"},
		{Sink: "shop", Entity: "customer", Key: "a@b", Op: "update", Origin: "erp", Outcome: "applied"}, // another flow
		{Sink: "shop", Entity: "product", Key: "SKU-3", Op: "update", Origin: "shop", Outcome: "loop"},
	}
	hook(batch)
	m.sinkEvents.WithLabelValues("shop", "applied").Add(3)
	st.Sample(t0.Add(time.Second))
	v := st.View()
	p := flowNamed(t, v, "product")
	if p.AppliedScope != scopeFlow || p.Applied["applied"].Rate != 2 || p.Applied["loop"].Total != 0 {
		t.Errorf("product applied = %s %+v, want 2/s for this flow only", p.AppliedScope, p.Applied)
	}
	if o := flowNamed(t, v, "order"); o.AppliedScope != scopeSink {
		t.Errorf("order into erp (no hook) scope = %s", o.AppliedScope)
	}
	var shop SinkView
	for _, s := range v.Sinks {
		if s.Name == "shop" {
			shop = s
		}
	}
	if !shop.Reports || len(shop.Recent) != 4 || shop.Recent[0].Key != "SKU-3" {
		t.Errorf("shop sink = %+v, want 4 recent events, newest first", shop)
	}
	if shop.Outcomes["applied"].Total != 3 {
		t.Errorf("shop outcomes come from its metrics: %+v", shop.Outcomes)
	}
}

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	return rec
}

func newMux(st *Status) *http.ServeMux {
	mux := http.NewServeMux()
	st.Register(mux)
	return mux
}

func TestJSONView(t *testing.T) {
	m := newTestMetrics(t)
	ev := NewEvents(20)
	st := New(Options{Topology: testTopology, Gatherer: m.reg, Events: ev})
	st.Sample(t0)
	m.entityEvents.WithLabelValues("shop", "order", "insert").Add(3)
	ev.Hook("erp")([]Event{{Time: t0, Sink: "erp", Entity: "order", Key: "1001", Op: "insert", Origin: "shop", Outcome: "applied"}})
	st.Sample(t0.Add(time.Second))

	rec := get(t, newMux(st), "/status.json")
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	var raw map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"time", "window_seconds", "flows", "systems", "sinks"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("no %q in %s", k, rec.Body)
		}
	}
	var v View
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	o := flowNamed(t, v, "order")
	if o.From != "shop" || o.To != "erp" || o.Captured.Rate != 3 || o.Applied["applied"].Rate != 1 || o.AppliedScope != "flow" {
		t.Errorf("order flow = %+v", o)
	}
	if len(v.Sinks) != 2 || v.Sinks[0].Name != "erp" || len(v.Sinks[0].Recent) != 1 || v.Sinks[0].Recent[0].Key != "1001" {
		t.Errorf("sinks = %+v", v.Sinks)
	}
	if !v.Time.Equal(t0.Add(time.Second)) {
		t.Errorf("time = %v", v.Time)
	}
	if !strings.Contains(rec.Body.String(), `"recent": []`) {
		t.Errorf("a sink without events has an empty list, not null: %s", rec.Body)
	}
}

func TestPageHandler(t *testing.T) {
	m := newTestMetrics(t)
	st := New(Options{Topology: testTopology, Gatherer: m.reg, Diagram: Diagram{Mermaid: "flowchart LR\n  a -->|\"x<y\"| b\n"}})
	st.Sample(t0)
	rec := get(t, newMux(st), "/status")
	body := rec.Body.String()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("content type %q", ct)
	}
	for _, want := range []string{
		"product <span class=\"muted\">erp → shop</span>",
		"order <span class=\"muted\">shop → erp</span>",
		`data-k="flows.0.captured.per_second"`,
		`data-k="systems.1.sink_partitions_waiting"`,
		"waiting for events (this sink does not report its events yet)",
		`fetch("status.json"`,
		"setInterval(refresh, 2000)",
		"<pre>flowchart LR\n  a --&gt;|&#34;x&lt;y&#34;| b\n</pre>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"http://", "https://", "<script src", "<link"} {
		if strings.Contains(body, bad) {
			t.Errorf("page loads something from outside: %q", bad)
		}
	}

	ev := NewEvents(20)
	ev.Hook("shop")([]Event{{Time: t0, Sink: "shop", Entity: "product", Key: "SKU-<1>", Op: "update", Origin: "erp", Outcome: "applied"}})
	ev.Hook("erp") // reports, but nothing yet
	svg := []byte("<?xml version=\"1.0\"?>\n<!DOCTYPE svg>\n<svg width=\"1\"><g/></svg>\n")
	st = New(Options{Topology: testTopology, Gatherer: m.reg, Events: ev, Diagram: Diagram{SVG: svg, Mermaid: "unused"}})
	st.Sample(t0)
	body = get(t, st.PageHandler(), "/status").Body.String()
	if !strings.Contains(body, "<svg width=\"1\"><g/></svg>") || strings.Contains(body, "<?xml") || strings.Contains(body, "unused") {
		t.Errorf("the SVG is not inlined alone:\n%s", body)
	}
	if !strings.Contains(body, "<td>SKU-&lt;1&gt;</td>") {
		t.Errorf("the recent event is missing or unescaped")
	}
	if !strings.Contains(body, "waiting for events</td>") {
		t.Errorf("the erp sink has reported nothing yet: want plain waiting text")
	}

	rec = httptest.NewRecorder()
	newMux(st).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/status", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
}

func TestTerminal(t *testing.T) {
	m := newTestMetrics(t)
	ev := NewEvents(20)
	ev.Hook("shop")([]Event{{Time: t0, Sink: "shop", Entity: "product", Key: "SKU-1", Op: "update", Origin: "erp", Outcome: "applied"}})
	st := New(Options{Topology: testTopology, Gatherer: m.reg, Events: ev})
	m.entityEvents.WithLabelValues("erp", "product", "update").Add(1)
	m.ackAge.WithLabelValues("erp").Set(3)
	st.Sample(t0)
	m.entityEvents.WithLabelValues("erp", "product", "update").Add(4)
	st.Sample(t0.Add(2 * time.Second))
	var buf bytes.Buffer
	if err := WriteTable(&buf, st.View()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"FLOW", "product erp->shop  2.0", "order shop->erp", "0.0*", "* the sink's totals",
		"erp (postgres)  caught up", "last events applied by shop", "SKU-1", "update", "last events applied by erp\n  waiting for events"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	sum := Summary(st.View())
	for _, want := range []string{"product erp->shop: captured 2.0/s, applied 0.0/s, dlq 0, conflicts 0", "erp: capture lag caught up, partitions waiting —"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q: %s", want, sum)
		}
	}
	if strings.Contains(sum, "\n") {
		t.Errorf("summary spans lines: %q", sum)
	}
}
