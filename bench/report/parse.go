package main

import (
	"bufio"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Set is what one run of the benchmarks printed: the configuration lines
// ("key: value", as go test prints goos: and cpu:, and as bench/run.sh
// adds the machine and the versions) and every result line, grouped by
// benchmark.
type Set struct {
	Config  map[string]string
	Results []*Result // in order of first appearance
	Failed  []string  // benchmarks reported as --- FAIL
	byName  map[string]*Result
}

// Result is one benchmark over its -count runs.
type Result struct {
	Name  string               // without the -GOMAXPROCS suffix
	Units []string             // in order of first appearance
	Runs  map[string][]float64 // unit -> one value per run that reported it
}

// Stat summarizes one metric over the runs.
type Stat struct {
	Median, Min, Max float64
	N                int
}

var (
	configLine = regexp.MustCompile(`^([a-z][a-zA-Z0-9_.-]*):\s+(.*?)\s*$`)
	procSuffix = regexp.MustCompile(`-\d+$`)
	failLine   = regexp.MustCompile(`^\s*--- FAIL: (Benchmark\S*)`)
)

// Parse reads go test -bench output. Lines it does not know (logs, PASS,
// ok) are skipped.
func Parse(r io.Reader) (*Set, error) {
	s := &Set{Config: map[string]string{}, byName: map[string]*Result{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := failLine.FindStringSubmatch(line); m != nil {
			name := procSuffix.ReplaceAllString(m[1], "")
			if !slices.Contains(s.Failed, name) {
				s.Failed = append(s.Failed, name)
			}
			continue
		}
		if strings.HasPrefix(line, "Benchmark") {
			s.addResult(line)
			continue
		}
		if m := configLine.FindStringSubmatch(line); m != nil {
			s.Config[m[1]] = m[2]
		}
	}
	return s, sc.Err()
}

// addResult parses "BenchmarkX-2  3  0 ns/op  105000 rows/s  12.5 p99-ms";
// a line without an iteration count and value-unit pairs is not a result
// (a benchmark's name printed before its log, for instance).
func (s *Set) addResult(line string) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 {
		return
	}
	if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
		return
	}
	vals := map[string]float64{}
	var units []string
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return
		}
		vals[f[i+1]] = v
		units = append(units, f[i+1])
	}
	name := procSuffix.ReplaceAllString(f[0], "")
	r := s.byName[name]
	if r == nil {
		r = &Result{Name: name, Runs: map[string][]float64{}}
		s.byName[name] = r
		s.Results = append(s.Results, r)
	}
	for _, u := range units {
		if _, ok := r.Runs[u]; !ok {
			r.Units = append(r.Units, u)
		}
		r.Runs[u] = append(r.Runs[u], vals[u])
	}
}

// Get returns a benchmark's result, or nil.
func (s *Set) Get(name string) *Result { return s.byName[name] }

// Stat summarizes a metric; ok is false when no run reported it.
func (r *Result) Stat(unit string) (Stat, bool) {
	if r == nil || len(r.Runs[unit]) == 0 {
		return Stat{}, false
	}
	return Summarize(r.Runs[unit]), true
}

// Summarize returns the median (the mean of the middle two for an even
// count), minimum and maximum of vals, which must not be empty.
func Summarize(vals []float64) Stat {
	v := slices.Clone(vals)
	sort.Float64s(v)
	n := len(v)
	med := v[n/2]
	if n%2 == 0 {
		med = (v[n/2-1] + v[n/2]) / 2
	}
	return Stat{Median: med, Min: v[0], Max: v[n-1], N: n}
}
