package status

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"
)

// recentOnTerminal is how many of each sink's last events the terminal
// table lists.
const recentOnTerminal = 5

// clearScreen moves the cursor home and clears the terminal.
const clearScreen = "\x1b[H\x1b[2J"

// WriteTable writes v as compact tables: flows, systems, and each sink's
// last events.
func WriteTable(w io.Writer, v View) error {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "tandem status %s, rates over %s\n", fmtClock(v.Time), fmtSecs(v.WindowSeconds))
	if v.Error != "" {
		fmt.Fprintf(&buf, "metrics: %s\n", v.Error)
	}
	buf.WriteByte('\n')
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FLOW\tCAPTURED/S\tAPPLIED/S\tNOOP/S\tSKIP+DUP/S\tDLQ\tCONFLICTS")
	sinkScope := false
	for _, f := range v.Flows {
		mark := fmtScope(f.AppliedScope)
		sinkScope = sinkScope || mark != ""
		fmt.Fprintf(tw, "%s %s->%s\t%s\t%s%s\t%s%s\t%s%s\t%s\t%s\n", f.Entity, f.From, f.To, fmtRate(f.Captured.Rate),
			fmtRate(f.Applied["applied"].Rate), mark, fmtRate(f.Applied["noop"].Rate), mark,
			fmtRate(f.Applied["skipped"].Rate+f.Applied["duplicate"].Rate), mark, fmtInt(f.DLQ), fmtInt(f.Conflicts))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "SYSTEM\tCAPTURE LAG\tCHANGES/S\tTX/S\tLOOP DROPS\tSINK EVENTS/S\tWAITING\tRETRIES")
	for _, s := range v.Systems {
		fmt.Fprintf(tw, "%s (%s)\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Kind, fmtLag(s), fmtRate(s.Changes.Rate),
			fmtRate(s.Transactions.Rate), fmtInt(s.LoopDrops.Total), fmtRate(s.SinkEvents.Rate),
			fmtOpt(s.PartitionsWaiting), fmtInt(s.SinkRetries))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if sinkScope {
		buf.WriteString("* the sink's totals over every flow into it\n")
	}
	for _, s := range v.Sinks {
		fmt.Fprintf(&buf, "\nlast events applied by %s\n", s.Name)
		recent := s.Recent[:min(len(s.Recent), recentOnTerminal)]
		if len(recent) == 0 {
			fmt.Fprintf(&buf, "  %s\n", waitingText(s.Reports))
			continue
		}
		tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
		for _, e := range recent {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", fmtClock(e.Time), e.Entity, e.Key, e.Op, e.Outcome)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// Summary is v on one line, for a log.
func Summary(v View) string {
	var parts []string
	for _, f := range v.Flows {
		parts = append(parts, fmt.Sprintf("%s %s->%s: captured %s/s, applied %s/s%s, dlq %s, conflicts %s",
			f.Entity, f.From, f.To, fmtRate(f.Captured.Rate), fmtRate(f.Applied["applied"].Rate), fmtScope(f.AppliedScope),
			fmtInt(f.DLQ), fmtInt(f.Conflicts)))
	}
	for _, s := range v.Systems {
		var what []string
		if s.Capture {
			what = append(what, "capture lag "+fmtLag(s))
		}
		if s.Sink {
			what = append(what, "partitions waiting "+fmtOpt(s.PartitionsWaiting))
		}
		parts = append(parts, s.Name+": "+strings.Join(what, ", "))
	}
	return strings.Join(parts, "; ")
}

// Dashboard clears w and writes the table every interval until ctx is
// done. w should be a terminal.
func (s *Status) Dashboard(ctx context.Context, w io.Writer, every time.Duration) {
	tick(ctx, every, func() {
		if _, err := io.WriteString(w, clearScreen); err == nil {
			_ = WriteTable(w, s.View())
		}
	})
}

// LogEvery logs the view's summary every interval until ctx is done.
func (s *Status) LogEvery(ctx context.Context, log *slog.Logger, every time.Duration) {
	tick(ctx, every, func() {
		log.Info("status", "summary", Summary(s.View()))
	})
}

// tick calls fn every interval until ctx is done.
func tick(ctx context.Context, every time.Duration, fn func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
