package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// machineKeys are the configuration lines of the machine and the versions,
// in the order the report shows them, with their labels.
var machineKeys = []struct{ key, label string }{
	{"cores", "cores (nproc)"},
	{"memory", "memory (MemTotal)"},
	{"cpu-model", "CPU"},
	{"goos", "OS"},
	{"goarch", "architecture"},
	{"loadavg-start", "load average before"},
	{"loadavg-end", "load average after"},
	{"kafka-topics", "topics on the local Kafka at the start (thousands left by earlier runs slow it down)"},
	{"go", "Go"},
	{"postgres", "PostgreSQL"},
	{"mariadb", "MariaDB"},
	{"kafka", "Kafka (deploy/local/kafka/pom.xml)"},
	{"tandem", "tandem (git describe)"},
}

// runKeys describe the run itself.
var runKeys = []struct{ key, label string }{
	{"mode", "mode"},
	{"count", "runs per benchmark (-count)"},
	{"rows", "capture rows (TANDEM_BENCH_ROWS)"},
	{"smalltx-rows", "small-transaction capture rows (TANDEM_BENCH_SMALLTX_ROWS)"},
	{"sink-rows", "sink rows (TANDEM_BENCH_SINK_ROWS)"},
	{"latency-seconds", "load per latency run (TANDEM_BENCH_LATENCY_SECONDS)"},
	{"started", "started"},
	{"wall-time", "wall time"},
}

// latencyUnits are the columns of the latency and memory table, when
// present.
var latencyUnits = []string{"p50-ms", "p95-ms", "p99-ms", "max-ms", "achieved-tx/s", "peak-rss-MB", "rows/s"}

func cell(st Stat, ok bool) string {
	if !ok {
		return ""
	}
	if st.N == 1 {
		return human(st.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", human(st.Median), human(st.Min), human(st.Max))
}

// isLimit says whether a benchmark is the raw limit of another one.
func isLimit(s *Set, name string) bool {
	for _, r := range s.Results {
		for _, l := range LimitsOf(r.Name) {
			if l.Name == name {
				return true
			}
		}
	}
	return false
}

// isUnit says whether a benchmark is timed by Go (ns/op), as the unit
// benchmarks are; those are listed with every metric only.
func isUnit(r *Result) bool {
	st, ok := r.Stat("ns/op")
	return ok && st.Max > 0
}

// isThroughput says whether a benchmark has a row of its own in the
// throughput table and plot: a tandem benchmark against the stack with
// rows/s.
func isThroughput(s *Set, r *Result) bool {
	_, ok := r.Stat(throughputUnit)
	return ok && !isLimit(s, r.Name) && !isLatency(r) && !isUnit(r)
}

// isLatency says whether a benchmark goes to the latency and memory table.
func isLatency(r *Result) bool {
	for _, u := range r.Units {
		if slices.Contains(latencyUnits[:4], u) || u == "peak-rss-MB" { // not startup-ms, a capture's
			return true
		}
	}
	return false
}

// WriteMarkdown writes the report: the run, the machine and versions,
// throughput against the limits and targets, latency and memory, every
// metric, the profiling notes (bench/profiling.md), the workloads, and the
// plot.
func WriteMarkdown(w io.Writer, s *Set, title, plot string, docs map[string]string, notes string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# tandem benchmarks, %s\n\n", title)
	b.WriteString("Every figure is the median of the runs, with the minimum and the maximum in parentheses. " +
		"Targets are those of DESIGN.md section 9; a limit is the same workload run by the bare client library " +
		"(or Kafka's own producer) in the same run, and tandem/limit is the ratio of the medians.\n\n")
	writeKV(&b, "Run", runKeys, s.Config)
	writeKV(&b, "Machine and versions", machineKeys, s.Config)
	if len(s.Failed) > 0 {
		fmt.Fprintf(&b, "## Failed\n\nThese benchmarks failed; see the raw output: %s\n\n", strings.Join(s.Failed, ", "))
	}
	writeThroughput(&b, s)
	writeLatency(&b, s)
	writeAll(&b, s)
	if notes = strings.TrimSpace(notes); notes != "" {
		b.WriteString("## Profiles and changes\n\n" + notes + "\n\n")
	}
	writeWorkloads(&b, s, docs)
	if plot != "" {
		fmt.Fprintf(&b, "## Plot\n\n![throughput and latency](%s)\n", plot)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeKV(b *strings.Builder, heading string, keys []struct{ key, label string }, cfg map[string]string) {
	fmt.Fprintf(b, "## %s\n\n| | |\n|---|---|\n", heading)
	for _, k := range keys {
		if v, ok := cfg[k.key]; ok {
			fmt.Fprintf(b, "| %s | %s |\n", k.label, v)
		}
	}
	b.WriteString("\n")
}

func writeThroughput(b *strings.Builder, s *Set) {
	b.WriteString("## Throughput against the limits (rows/s)\n\n")
	b.WriteString("A capture's rows/s runs from the start of tandem run to the last event in Kafka; once streaming runs from its first " +
		"event on (without connecting, reading the stored position and preparing topics, startup-ms below), which is what a target " +
		"of row events per second measures. tandem/limit compares rows/s.\n\n")
	b.WriteString("| benchmark | tandem | once streaming | limit | limit rows/s | tandem/limit | target | met |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range s.Results {
		if !isThroughput(s, r) {
			continue
		}
		st, _ := r.Stat(throughputUnit)
		limits := LimitsOf(r.Name)
		tt, met := "", ""
		for _, t := range TargetsOf(r.Name) {
			if ts, ok := r.Stat(t.Unit); ok && (t.Unit == throughputUnit || t.Unit == streamingUnit) {
				tt, met = t.Text, t.Met(ts.Median)
			}
		}
		sst, sok := r.Stat(streamingUnit)
		first := fmt.Sprintf("| %s | %s | %s ", strings.TrimPrefix(r.Name, "Benchmark"), cell(st, true), cell(sst, sok))
		if len(limits) == 0 {
			fmt.Fprintf(b, "%s| | | | %s | %s |\n", first, tt, met)
			continue
		}
		for i, l := range limits {
			ls, lok := s.Get(l.Name).Stat(throughputUnit)
			ratio := "missing"
			if lok && ls.Median > 0 {
				ratio = fmt.Sprintf("%.2f", st.Median/ls.Median)
			}
			label := l.Label
			if size, ok := s.Get(l.Name).Stat("B/record"); ok {
				label = fmt.Sprintf("%s, %.0f B records", label, size.Median)
			}
			if i == 0 {
				fmt.Fprintf(b, "%s| %s | %s | %s | %s | %s |\n", first, label, cell(ls, lok), ratio, tt, met)
			} else {
				fmt.Fprintf(b, "| | | | %s | %s | %s | | |\n", label, cell(ls, lok), ratio)
			}
		}
	}
	b.WriteString("\n")
}

func writeLatency(b *strings.Builder, s *Set) {
	var rows []*Result
	var cols []string
	for _, r := range s.Results {
		if !isLatency(r) {
			continue
		}
		rows = append(rows, r)
		for _, u := range latencyUnits {
			if _, ok := r.Runs[u]; ok && !slices.Contains(cols, u) {
				cols = append(cols, u)
			}
		}
	}
	if len(rows) == 0 {
		return
	}
	slices.SortStableFunc(cols, func(a, b string) int { return slices.Index(latencyUnits, a) - slices.Index(latencyUnits, b) })
	b.WriteString("## Latency and memory\n\n| benchmark | " + strings.Join(cols, " | ") + " | target | met |\n|---" +
		strings.Repeat("|---", len(cols)+2) + "|\n")
	for _, r := range rows {
		fmt.Fprintf(b, "| %s |", strings.TrimPrefix(r.Name, "Benchmark"))
		for _, u := range cols {
			fmt.Fprintf(b, " %s |", cell(r.Stat(u)))
		}
		var tt, met []string
		for _, t := range TargetsOf(r.Name) {
			tt = append(tt, t.Text)
			if st, ok := r.Stat(t.Unit); ok {
				met = append(met, t.Met(st.Median))
			} else {
				met = append(met, "missing")
			}
		}
		fmt.Fprintf(b, " %s | %s |\n", strings.Join(tt, "; "), strings.Join(met, "; "))
	}
	b.WriteString("\n")
}

func writeAll(b *strings.Builder, s *Set) {
	b.WriteString("## Every metric\n\n| benchmark | metric | runs | median | min | max |\n|---|---|---|---|---|---|\n")
	for _, r := range s.Results {
		for _, u := range r.Units {
			st, _ := r.Stat(u)
			if u == "ns/op" && st.Max == 0 {
				continue // the integration benchmarks report their own units
			}
			fmt.Fprintf(b, "| %s | %s | %d | %s | %s | %s |\n", strings.TrimPrefix(r.Name, "Benchmark"), u, st.N,
				trimFloat(st.Median), trimFloat(st.Min), trimFloat(st.Max))
		}
	}
	b.WriteString("\n")
}

func writeWorkloads(b *strings.Builder, s *Set, docs map[string]string) {
	b.WriteString("## Workloads\n\nFrom the benchmarks' doc comments.\n\n")
	var seen []string
	for _, r := range s.Results {
		fn, _, _ := strings.Cut(r.Name, "/")
		if slices.Contains(seen, fn) {
			continue
		}
		seen = append(seen, fn)
		doc := docs[fn]
		if doc == "" {
			doc = "(no doc comment found)"
		}
		doc = strings.TrimPrefix(strings.TrimPrefix(doc, fn+": "), fn+" ")
		fmt.Fprintf(b, "- **%s**: %s\n", strings.TrimPrefix(fn, "Benchmark"), doc)
	}
	b.WriteString("\n")
}
