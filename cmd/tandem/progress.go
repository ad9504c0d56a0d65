package main

import (
	"log/slog"
	"os"
	"sync"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/tandem-sync/tandem/capture"
)

// newProgress shows snapshot progress as a bar per table on a terminal, and
// as log lines otherwise.
func newProgress(stderr *os.File, log *slog.Logger) capture.Progress {
	if stderr != nil && term.IsTerminal(int(stderr.Fd())) {
		return &barProgress{out: stderr, bars: map[string]*progressbar.ProgressBar{}}
	}
	return &capture.LogProgress{Log: log}
}

type barProgress struct {
	out  *os.File
	mu   sync.Mutex
	bars map[string]*progressbar.ProgressBar
}

func (p *barProgress) Start(table string, estimate, done int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	max := estimate
	if max <= 0 {
		max = -1 // unknown: a spinner with a count
	}
	b := progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(p.out),
		progressbar.OptionSetDescription("snapshot "+table),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionOnCompletion(func() { _, _ = p.out.WriteString("\n") }),
	)
	_ = b.Add64(done)
	p.bars[table] = b
}

func (p *barProgress) Add(table string, rows int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b := p.bars[table]; b != nil {
		_ = b.Add64(rows)
	}
}

func (p *barProgress) Done(table string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b := p.bars[table]; b != nil {
		_ = b.Finish()
		delete(p.bars, table)
	}
}
