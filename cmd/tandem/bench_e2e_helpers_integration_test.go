//go:build integration

package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Helpers of the end-to-end and memory benchmarks: the tandem binary as a
// subprocess under a testing.B, its peak RSS, and percentiles.

// benchRun is one "tandem run --config <file>" subprocess and its log.
type benchRun struct {
	p       *proc
	logPath string
	done    bool
}

// startBenchRun writes cfgText to a file and starts tandem run on it; the
// end of tb kills it if stop was not called.
func startBenchRun(tb testing.TB, bin, cfgText string) *benchRun {
	tb.Helper()
	r := &benchRun{logPath: filepath.Join(tb.TempDir(), "tandem.log")}
	r.p = startTandem(tb, bin, tempConfig(tb, cfgText), r.logPath)
	tb.Cleanup(func() {
		if !r.done {
			r.p.kill9()
		}
	})
	return r
}

// logTail is the end of the process's log.
func (r *benchRun) logTail() string {
	b, _ := os.ReadFile(r.logPath)
	return tail(string(b), 3000)
}

// check fails tb when the process exited by itself.
func (r *benchRun) check(tb testing.TB) {
	tb.Helper()
	if !alive(r.p) {
		tb.Fatalf("tandem run exited by itself; log tail:\n%s", r.logTail())
	}
}

// waitCount polls count until it reaches want, failing tb with the log
// tail when it does not within the bound or the process exits.
func (r *benchRun) waitCount(tb testing.TB, what string, want int64, within time.Duration, count func() int64) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for {
		n := count()
		if n >= want {
			return
		}
		r.check(tb)
		if time.Now().After(deadline) {
			tb.Fatalf("%s: %d of %d after %s; tandem log tail:\n%s", what, n, want, within, r.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cpuSeconds is the CPU time the process used so far (user and system),
// from /proc/<pid>/stat in clock ticks of 1/100 s.
func (r *benchRun) cpuSeconds() float64 {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r.p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(st), ')')
	f := strings.Fields(string(st[i+1:])) // from field 3, state
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100
}

// peakRSS is the process's peak resident set size (VmHWM) in MB.
func (r *benchRun) peakRSS(tb testing.TB) float64 {
	tb.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", r.p.cmd.Process.Pid))
	if err != nil {
		tb.Fatalf("read the RSS of tandem run: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				tb.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb / 1024
		}
	}
	tb.Fatalf("no VmHWM in /proc/%d/status", r.p.cmd.Process.Pid)
	return 0
}

// stop ends the process with SIGTERM and fails tb when it does not exit 0
// within a minute.
func (r *benchRun) stop(tb testing.TB) {
	tb.Helper()
	r.done = true
	r.p.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- r.p.cmd.Wait() }()
	select {
	case err := <-exited:
		r.p.log.Close()
		if err != nil {
			tb.Errorf("tandem run after SIGTERM: %v; log tail:\n%s", err, r.logTail())
		}
	case <-time.After(time.Minute):
		r.p.cmd.Process.Kill()
		<-exited
		r.p.log.Close()
		tb.Errorf("tandem run did not stop within a minute of SIGTERM")
	}
}

// percentiles returns the p-th percentiles (nearest rank, p in 0..100) of
// xs, which it sorts.
func percentiles(xs []float64, ps ...float64) []float64 {
	sort.Float64s(xs)
	out := make([]float64, len(ps))
	if len(xs) == 0 {
		return out
	}
	for i, p := range ps {
		k := int(float64(len(xs))*p/100+0.999999) - 1
		out[i] = xs[min(max(k, 0), len(xs)-1)]
	}
	return out
}

// scrapeSums reads addr's /metrics and returns, for each metric whose
// name starts with one of prefixes, its value by the value of label
// (summed over the other labels); nil when it does not answer.
func scrapeSums(addr, label string, prefixes ...string) map[string]map[string]float64 {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := map[string]map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		name, rest, ok := strings.Cut(line, "{")
		if !ok || !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		_, lv, _ := strings.Cut(rest, label+`="`)
		lv, _, _ = strings.Cut(lv, `"`)
		f := strings.Fields(rest)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			continue
		}
		if out[name] == nil {
			out[name] = map[string]float64{}
		}
		out[name][lv] += v
	}
	return out
}
