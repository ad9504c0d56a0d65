package main

import (
	"fmt"
	"math"
	"regexp"
)

// throughputUnit is the metric the throughput table and panel compare.
const throughputUnit = "rows/s"

// streamingUnit is a capture's rate once its first event is out.
const streamingUnit = "streaming-rows/s"

// limitRule names the raw limits of the tandem benchmarks that match re:
// each template is expanded with re's submatches.
type limitRule struct {
	re     *regexp.Regexp
	limits []limitTemplate
}

type limitTemplate struct{ name, label string }

var limitRules = []limitRule{
	{regexp.MustCompile(`^BenchmarkCapture(Postgres)(/\w+)$`), []limitTemplate{
		{"BenchmarkRaw$1$2", "bare pglogrepl reader"},
		{"BenchmarkRawKafkaProduce$1", "Kafka ProducerPerformance"},
	}},
	{regexp.MustCompile(`^BenchmarkCapture(MariaDB)(/\w+)$`), []limitTemplate{
		{"BenchmarkRaw$1$2", "bare go-mysql BinlogSyncer"},
		{"BenchmarkRawKafkaProduce$1", "Kafka ProducerPerformance"},
	}},
	{regexp.MustCompile(`^BenchmarkSinkApplyPostgres$`), []limitTemplate{{"BenchmarkRawCopyPostgres", "pgx COPY"}}},
	{regexp.MustCompile(`^BenchmarkSinkApplyMariaDB$`), []limitTemplate{{"BenchmarkRawInsertMariaDB", "multi-row INSERT of 500"}}},
}

// Limit is a raw limit of a tandem benchmark.
type Limit struct{ Name, Label string }

// LimitsOf returns the limits of a tandem benchmark (none for a limit or
// an unknown benchmark).
func LimitsOf(name string) []Limit {
	var out []Limit
	for _, r := range limitRules {
		m := r.re.FindStringSubmatchIndex(name)
		if m == nil {
			continue
		}
		for _, t := range r.limits {
			out = append(out, Limit{Name: string(r.re.ExpandString(nil, t.name, name, m)), Label: t.label})
		}
	}
	return out
}

// Target is a goal of DESIGN.md section 9 for the benchmarks matching re.
type Target struct {
	re    *regexp.Regexp
	Unit  string
	Op    string  // ">=" or "<="; empty for a goal without a number
	Value float64 // the bound
	Text  string  // as DESIGN states it
}

var targets = []Target{
	{re: regexp.MustCompile(`^BenchmarkCapturePostgres/`), Unit: streamingUnit, Op: ">=", Value: 100_000, Text: ">= 100k row events/s (once streaming)"},
	{re: regexp.MustCompile(`^BenchmarkCaptureMariaDB/`), Unit: streamingUnit, Op: ">=", Value: 100_000, Text: ">= 100k row events/s (once streaming)"},
	{re: regexp.MustCompile(`^BenchmarkSinkApplyPostgres$`), Unit: "rows/s", Op: ">=", Value: 50_000, Text: ">= 50k rows/s"},
	{re: regexp.MustCompile(`^BenchmarkSinkApplyMariaDB$`), Unit: "rows/s", Op: ">=", Value: 30_000, Text: ">= 30k rows/s"},
	{re: regexp.MustCompile(`^BenchmarkE2ELatency/rate=1000$`), Unit: "p50-ms", Op: "<=", Value: 50, Text: "p50 <= 50 ms at 1k tx/s"},
	{re: regexp.MustCompile(`^BenchmarkE2ELatency/rate=1000$`), Unit: "p99-ms", Op: "<=", Value: 250, Text: "p99 <= 250 ms at 1k tx/s"},
	{re: regexp.MustCompile(`^BenchmarkMemoryRSS/steady$`), Unit: "peak-rss-MB", Op: "<=", Value: 200, Text: "<= 200 MB RSS steady"},
	{re: regexp.MustCompile(`^BenchmarkMemoryRSS/tx1M$`), Unit: "peak-rss-MB", Text: "bounded with a 1M-row transaction"},
}

// TargetsOf returns the targets of a benchmark.
func TargetsOf(name string) []Target {
	var out []Target
	for _, t := range targets {
		if t.re.MatchString(name) {
			out = append(out, t)
		}
	}
	return out
}

// Met says whether v meets the target: "yes", "no", or "-" for a goal
// without a number.
func (t Target) Met(v float64) string {
	switch {
	case t.Op == ">=" && v >= t.Value, t.Op == "<=" && v <= t.Value:
		return "yes"
	case t.Op == "":
		return "-"
	default:
		return "no"
	}
}

// human prints a figure with 3 significant digits and k/M suffixes.
func human(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return trimFloat(v/1e6) + "M"
	case a >= 1e4:
		return trimFloat(v/1e3) + "k"
	default:
		return trimFloat(v)
	}
}

func trimFloat(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
