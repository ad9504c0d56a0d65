package capture

import (
	"log/slog"
	"sync"
	"time"
)

// Progress receives the progress of a snapshot, per table. Calls come from
// the reader's goroutine. cmd/ shows it as bars on a terminal; LogProgress
// logs it.
type Progress interface {
	// Start begins a table with an estimate of its rows (0 if unknown) and
	// the rows already done by an earlier, interrupted run.
	Start(table string, estimate, done int64)
	// Add counts rows read.
	Add(table string, rows int64)
	// Done ends a table.
	Done(table string)
}

// LogProgress logs snapshot progress at most every Every (default 5s) per
// table, and when a table is done.
type LogProgress struct {
	Log   *slog.Logger
	Every time.Duration

	mu     sync.Mutex
	tables map[string]*progressLine
}

type progressLine struct {
	estimate, done int64
	last           time.Time
	start          time.Time
}

func (p *LogProgress) Start(table string, estimate, done int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tables == nil {
		p.tables = map[string]*progressLine{}
	}
	p.tables[table] = &progressLine{estimate: estimate, done: done, last: time.Now(), start: time.Now()}
	p.Log.Info("snapshot table", "table", table, "rows_estimate", estimate, "rows_done", done)
}

func (p *LogProgress) Add(table string, rows int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.tables[table]
	if l == nil {
		return
	}
	l.done += rows
	every := p.Every
	if every <= 0 {
		every = 5 * time.Second
	}
	if time.Since(l.last) >= every {
		l.last = time.Now()
		p.Log.Info("snapshot progress", "table", table, "rows_done", l.done, "rows_estimate", l.estimate)
	}
}

func (p *LogProgress) Done(table string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l := p.tables[table]; l != nil {
		p.Log.Info("snapshot table done", "table", table, "rows", l.done, "seconds", time.Since(l.start).Seconds())
	}
}
