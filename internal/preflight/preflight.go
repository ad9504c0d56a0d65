// Package preflight holds the result type of `tandem check`: one row per
// prerequisite, with the exact fix for each failure. The checks themselves
// live beside the code that needs the prerequisite (capture/postgres,
// capture/mysql, bus, schema); cmd/ collects and prints them.
package preflight

// Status is the outcome of one check.
type Status string

const (
	Pass Status = "pass"
	Warn Status = "warn" // works, but not as well as it could; does not fail `tandem check`
	Fail Status = "FAIL"
	Skip Status = "skip" // not run because an earlier check failed
)

// Result is one prerequisite checked against one target.
type Result struct {
	Target string `json:"target"` // e.g. "shop (mysql)", "kafka", "schema registry"
	Check  string `json:"check"`  // e.g. "binlog_format"
	Status Status `json:"status"`
	Detail string `json:"detail"`        // what was found
	Fix    string `json:"fix,omitempty"` // the exact change that makes it pass
}

// Recorder collects results for one target.
type Recorder struct {
	Target  string
	Results []Result
}

// Pass records a passing check.
func (r *Recorder) Pass(check, detail string) {
	r.Results = append(r.Results, Result{Target: r.Target, Check: check, Status: Pass, Detail: detail})
}

// Warn records a check that works but should be improved.
func (r *Recorder) Warn(check, detail, fix string) {
	r.Results = append(r.Results, Result{Target: r.Target, Check: check, Status: Warn, Detail: detail, Fix: fix})
}

// Fail records a failing check with its fix.
func (r *Recorder) Fail(check, detail, fix string) {
	r.Results = append(r.Results, Result{Target: r.Target, Check: check, Status: Fail, Detail: detail, Fix: fix})
}

// Skip records a check that could not run.
func (r *Recorder) Skip(check, why string) {
	r.Results = append(r.Results, Result{Target: r.Target, Check: check, Status: Skip, Detail: why})
}

// Check records pass or fail depending on ok.
func (r *Recorder) Check(ok bool, check, detail, fix string) {
	if ok {
		r.Pass(check, detail)
	} else {
		r.Fail(check, detail, fix)
	}
}

// OK reports whether no result failed or was skipped.
func OK(results []Result) bool {
	for _, r := range results {
		if r.Status == Fail || r.Status == Skip {
			return false
		}
	}
	return true
}
