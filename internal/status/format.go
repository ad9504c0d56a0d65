package status

import (
	"math"
	"strconv"
	"time"
)

// The formats of the view's numbers, shared by the page (its script
// mirrors them) and the terminal.

func fmtRate(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func fmtInt(v float64) string { return strconv.FormatFloat(math.Round(v), 'f', 0, 64) }

func fmtSecs(v float64) string { return fmtRate(v) + " s" }

// fmtOpt formats a gauge that may be missing.
func fmtOpt(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmtInt(*v)
}

// fmtScope marks numbers that are a sink's totals rather than a flow's.
func fmtScope(scope string) string {
	if scope == scopeSink {
		return "*"
	}
	return ""
}

func fmtClock(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Local().Format("15:04:05")
}

func fmtLag(s SystemView) string {
	switch {
	case !s.Capture || s.CaptureLagSeconds == nil:
		return "—"
	case *s.CaptureLagSeconds == 0:
		return "caught up"
	}
	return fmtSecs(*s.CaptureLagSeconds)
}

// waitingText is what a sink without recent events shows.
func waitingText(reports bool) string {
	if reports {
		return "waiting for events"
	}
	return "waiting for events (this sink does not report its events yet)"
}
