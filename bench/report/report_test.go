package main

import (
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sample is go test -bench output as bench/run.sh records it: config lines,
// -count 3 of a tandem benchmark with its limits (one run of a limit
// missing), sub-benchmarks with latency and memory metrics, unit
// benchmarks with ns/op (one with rows/s), logs, and a failure.
const sample = `mode: quick
count: 3
cores: 2
goos: linux
cpu: AMD EPYC
pkg: github.com/tandem-sync/tandem/cmd/tandem
BenchmarkCapturePostgres/BulkInsert-2   	       1	       347.9 B/record	     60000 rows/s	       300.0 startup-ms	    101000 streaming-rows/s
--- BENCH: BenchmarkCapturePostgres/BulkInsert-2
    bench_integration_test.go:257: setup and warm-up 1.451s
BenchmarkCapturePostgres/BulkInsert-2   	       1	       350.1 B/record	     80000 rows/s	       200.0 startup-ms	     99000 streaming-rows/s
BenchmarkCapturePostgres/BulkInsert-2   	       1	       348.0 B/record	     70000 rows/s	       250.0 startup-ms	    100000 streaming-rows/s
BenchmarkRawPostgres/BulkInsert-2       	       1	    100000 rows/s
BenchmarkRawPostgres/BulkInsert-2       	       1	    140000 rows/s
BenchmarkRawKafkaProducePostgres-2     	       1	       348.0 B/record	     35000 rows/s
BenchmarkE2ELatency/rate=1000-2        	       1	        40.0 p50-ms	       90.0 p95-ms	       300.0 p99-ms	       990.0 achieved-tx/s
BenchmarkE2ELatency/rate=1000-2        	       1	        60.0 p50-ms	       95.0 p95-ms	       200.0 p99-ms	       995.0 achieved-tx/s
BenchmarkMemoryRSS/steady-2            	       1	       150.0 peak-rss-MB	      1000 achieved-tx/s
BenchmarkSerializerChange-2   	  490548	      2089 ns/op	 148.41 MB/s	     640 B/op	      18 allocs/op
BenchmarkMappedProductTransaction-2   	   49945	     26645 ns/op	    150121 rows/s	   11472 B/op	     204 allocs/op
BenchmarkSinkApplyMariaDB
--- FAIL: BenchmarkSinkApplyMariaDB
    bench_sink_integration_test.go:99: boom
PASS
ok  	github.com/tandem-sync/tandem/cmd/tandem	44.103s
`

// assertContains fails for each of wants that got lacks.
func assertContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

func parseSample(t *testing.T) *Set {
	t.Helper()
	s, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParse(t *testing.T) {
	s := parseSample(t)
	var names []string
	for _, r := range s.Results {
		names = append(names, r.Name)
	}
	want := []string{"BenchmarkCapturePostgres/BulkInsert", "BenchmarkRawPostgres/BulkInsert", "BenchmarkRawKafkaProducePostgres",
		"BenchmarkE2ELatency/rate=1000", "BenchmarkMemoryRSS/steady", "BenchmarkSerializerChange", "BenchmarkMappedProductTransaction"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("benchmarks %q, want %q", names, want)
	}
	cap := s.Get("BenchmarkCapturePostgres/BulkInsert")
	if got := cap.Runs["rows/s"]; !reflect.DeepEqual(got, []float64{60000, 80000, 70000}) {
		t.Errorf("rows/s runs %v", got)
	}
	if !reflect.DeepEqual(cap.Units, []string{"B/record", "rows/s", "startup-ms", "streaming-rows/s"}) {
		t.Errorf("units %q", cap.Units)
	}
	ser := s.Get("BenchmarkSerializerChange")
	if got := ser.Runs["allocs/op"]; !reflect.DeepEqual(got, []float64{18}) {
		t.Errorf("allocs/op %v", got)
	}
	if s.Config["mode"] != "quick" || s.Config["cores"] != "2" || s.Config["cpu"] != "AMD EPYC" {
		t.Errorf("config %v", s.Config)
	}
	if !reflect.DeepEqual(s.Failed, []string{"BenchmarkSinkApplyMariaDB"}) {
		t.Errorf("failed %q", s.Failed)
	}
	if s.Get("BenchmarkSinkApplyMariaDB") != nil {
		t.Error("a name without values became a result")
	}
}

func TestParseSkipsMalformedLines(t *testing.T) {
	for _, line := range []string{
		"BenchmarkX-2 1 12 rows/s extra",  // odd number of fields
		"BenchmarkX-2 many 12 rows/s",     // no iteration count
		"BenchmarkX-2 1 twelve rows/s",    // not a number
		"BenchmarkX-2 1",                  // no metric
		"Benchmarks run on Tuesday: fine", // prose
	} {
		s, err := Parse(strings.NewReader(line + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Results) != 0 {
			t.Errorf("%q parsed as %+v", line, s.Results[0])
		}
	}
}

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want Stat
	}{
		{[]float64{5}, Stat{Median: 5, Min: 5, Max: 5, N: 1}},
		{[]float64{3, 1, 2}, Stat{Median: 2, Min: 1, Max: 3, N: 3}},
		{[]float64{4, 1, 3, 2}, Stat{Median: 2.5, Min: 1, Max: 4, N: 4}},
		{[]float64{10, 10, 1, 10, 100}, Stat{Median: 10, Min: 1, Max: 100, N: 5}},
	} {
		in := append([]float64(nil), tc.in...)
		if got := Summarize(tc.in); got != tc.want {
			t.Errorf("Summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
		if !reflect.DeepEqual(in, tc.in) {
			t.Errorf("Summarize reordered its input: %v", tc.in)
		}
	}
	var r *Result
	if _, ok := r.Stat("rows/s"); ok {
		t.Error("a missing benchmark has a stat")
	}
}

func TestLimitsAndTargets(t *testing.T) {
	got := LimitsOf("BenchmarkCaptureMariaDB/SmallTx")
	want := []Limit{{"BenchmarkRawMariaDB/SmallTx", "bare go-mysql BinlogSyncer"}, {"BenchmarkRawKafkaProduceMariaDB", "Kafka ProducerPerformance"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("limits %+v, want %+v", got, want)
	}
	if l := LimitsOf("BenchmarkSinkApplyPostgres"); len(l) != 1 || l[0].Name != "BenchmarkRawCopyPostgres" {
		t.Errorf("sink limits %+v", l)
	}
	if l := LimitsOf("BenchmarkRawPostgres/BulkInsert"); len(l) != 0 {
		t.Errorf("a limit has limits: %+v", l)
	}
	ts := TargetsOf("BenchmarkE2ELatency/rate=1000")
	if len(ts) != 2 || ts[0].Met(50) != "yes" || ts[0].Met(51) != "no" || ts[1].Met(300) != "no" {
		t.Errorf("latency targets %+v", ts)
	}
	if ts := TargetsOf("BenchmarkSinkApplyMariaDB"); len(ts) != 1 || ts[0].Met(30_000) != "yes" || ts[0].Met(29_999) != "no" {
		t.Errorf("sink target %+v", ts)
	}
	if ts := TargetsOf("BenchmarkMemoryRSS/tx1M"); len(ts) != 1 || ts[0].Met(1e9) != "-" {
		t.Errorf("tx1M target %+v", ts)
	}
	if ts := TargetsOf("BenchmarkE2ELatency/rate=100"); len(ts) != 0 {
		t.Errorf("rate=100 has targets %+v", ts)
	}
}

func TestHuman(t *testing.T) {
	for v, want := range map[float64]string{0: "0.00", 3.14159: "3.14", 42.42: "42.4", 999: "999", 12345: "12.3k", 105000: "105k", 2.5e6: "2.50M"} {
		if got := human(v); got != want {
			t.Errorf("human(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestWriteMarkdown(t *testing.T) {
	s := parseSample(t)
	var b strings.Builder
	docs := map[string]string{"BenchmarkCapturePostgres": "BenchmarkCapturePostgres: inserts in transactions of 1,000.",
		"BenchmarkSerializerChange": "BenchmarkSerializerChange encodes an insert."}
	if err := WriteMarkdown(&b, s, "2026-11-30", "2026-11-30.svg", docs, "The sink decodes Avro itself.\n"); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	assertContains(t, "markdown", md,
		"| cores (nproc) | 2 |",
		// median 70k of 60k..80k; the limit's median of two runs is 120k; 70/120 = 0.58;
		// the target is met by the streaming rate (median 100k)
		"| CapturePostgres/BulkInsert | 70.0k (60.0k–80.0k) | 100k (99.0k–101k) | bare pglogrepl reader | 120k (100k–140k) | 0.58 | >= 100k row events/s (once streaming) | yes |",
		"| | | | Kafka ProducerPerformance, 348 B records | 35.0k | 2.00 | | |",
		"| E2ELatency/rate=1000 | 50.0 (40.0–60.0) | 92.5 (90.0–95.0) | 250 (200–300) | 992 (990–995) |  | p50 <= 50 ms at 1k tx/s; p99 <= 250 ms at 1k tx/s | yes; yes |",
		"| MemoryRSS/steady |  |  |  | 1000 | 150 | <= 200 MB RSS steady | yes |",
		"| SerializerChange | allocs/op | 1 | 18.0 | 18.0 | 18.0 |",
		"- **CapturePostgres**: inserts in transactions of 1,000.",
		"- **E2ELatency**: (no doc comment found)",
		"- **SerializerChange**: encodes an insert.",
		"These benchmarks failed; see the raw output: BenchmarkSinkApplyMariaDB",
		"![throughput and latency](2026-11-30.svg)",
		"## Profiles and changes\n\nThe sink decodes Avro itself.\n",
	)
	if strings.Contains(md, "| CapturePostgres/BulkInsert | ns/op") {
		t.Error("the all-zero ns/op of an integration benchmark is listed")
	}
	if strings.Contains(md, "| RawPostgres/BulkInsert | 1") {
		t.Error("a limit has a row of its own in the throughput table")
	}
	if strings.Contains(md, "| MappedProductTransaction | 150k") {
		t.Error("a unit benchmark (timed by Go) has a row in the throughput table")
	}
	if !strings.Contains(md, "| MappedProductTransaction | rows/s | 1 | 150121 |") {
		t.Error("a unit benchmark's rows/s is not among every metric")
	}
}

func TestWriteSVG(t *testing.T) {
	s := parseSample(t)
	var b strings.Builder
	if err := WriteSVG(&b, s, "2026-11-30"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	d := xml.NewDecoder(strings.NewReader(out))
	rects, texts := 0, []string{}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v\n%s", err, out)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
		if cd, ok := tok.(xml.CharData); ok {
			texts = append(texts, string(cd))
		}
	}
	assertContains(t, "the plot's texts", strings.Join(texts, "\n"), "CapturePostgres/BulkInsert", "70.0k tandem",
		"120k bare pglogrepl reader", "35.0k Kafka ProducerPerformance", "E2ELatency/rate=1000", "50.0 p50", "250 p99")
	// background, legends (tandem, target, 2 limits; target, 3 percentiles),
	// bars (3 throughput, 3 latency): the unit benchmark is not plotted
	if rects != 15 {
		t.Errorf("%d rects, want 15", rects)
	}
}

func TestScaleTicks(t *testing.T) {
	lin := scale{lo: 0, hi: 130_000}
	if got := lin.ticks(); !reflect.DeepEqual(got, []float64{0, 50_000, 100_000}) {
		t.Errorf("linear ticks %v", got)
	}
	if x := lin.x(65_000); x <= plotLeft || x >= plotRight {
		t.Errorf("x(mid) = %v outside the plot", x)
	}
	lg := scale{lo: 1, hi: 1000, log: true}
	if got := lg.ticks(); len(got) != 4 || got[3] != 1000 {
		t.Errorf("log ticks %v", got)
	}
	if x := lg.x(10); x != plotLeft+(plotRight-plotLeft)/3 {
		t.Errorf("log x(10) = %v", x)
	}
}

func TestRunWritesFiles(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "2026-11-30.txt")
	if err := os.WriteFile(in, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	code := "package x\n\nimport \"testing\"\n\n// BenchmarkMemoryRSS: the peak RSS of a run.\nfunc BenchmarkMemoryRSS(b *testing.B) {}\n"
	if err := os.WriteFile(filepath.Join(src, "x_test.go"), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-in", in, "-src", src}); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "2026-11-30.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "- **MemoryRSS**: the peak RSS of a run.") || !strings.Contains(string(md), "](2026-11-30.svg)") {
		t.Errorf("markdown:\n%s", md)
	}
	if _, err := os.Stat(filepath.Join(dir, "2026-11-30.svg")); err != nil {
		t.Error(err)
	}
	if err := run([]string{"-in", filepath.Join(dir, "missing.txt")}); err == nil {
		t.Error("a missing input is no error")
	}
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, []byte("PASS\n"), 0o644)
	if err := run([]string{"-in", empty, "-src", src}); err == nil || !strings.Contains(err.Error(), "no benchmark results") {
		t.Errorf("an input without results: %v", err)
	}
}
