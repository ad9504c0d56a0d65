// Package sinktest holds the integration tests that every sink.Target must
// pass (Run), and a capture.Handler that records what a capture reader
// delivers (Recorder), so that a test can check that the target's own
// capture drops what the target writes. Only tests import it.
package sinktest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tandem-sync/tandem/capture"
)

// Seen is one change a Recorder received.
type Seen struct {
	Table string // the table's name, unqualified
	Op    capture.Op
	K     any // the value of the row's column k, if it has one
}

// Recorder is a capture.Handler that keeps the changes of committed
// transactions and acks every position at once.
type Recorder struct {
	// Ack is the reader's Ack; set it before the reader runs.
	Ack func(capture.Position)

	mu   sync.Mutex
	cur  []Seen
	seen []Seen
}

var _ capture.Handler = (*Recorder)(nil)

func (r *Recorder) Begin(context.Context, *capture.TxBegin) error {
	r.mu.Lock()
	r.cur = nil
	r.mu.Unlock()
	return nil
}

func (r *Recorder) Change(_ context.Context, c *capture.Change) error {
	s := Seen{Table: c.Table.Name, Op: c.Op}
	row := c.After
	if row == nil {
		row = c.Before
	}
	if i := c.Table.ColumnIndex("k"); i >= 0 && row != nil {
		s.K = row[i]
	}
	r.mu.Lock()
	r.cur = append(r.cur, s)
	r.mu.Unlock()
	return nil
}

func (r *Recorder) Commit(_ context.Context, tx *capture.TxEnd) error {
	r.mu.Lock()
	r.seen = append(r.seen, r.cur...)
	r.cur = nil
	r.mu.Unlock()
	r.Ack(tx.Position)
	return nil
}

func (r *Recorder) Heartbeat(_ context.Context, pos capture.Position) error {
	r.Ack(pos)
	return nil
}

// Has reports whether a committed change to table set column k to k.
func (r *Recorder) Has(table, k string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.seen {
		if s.Table == table && s.K == k {
			return true
		}
	}
	return false
}

// Tables lists the tables of the changes received.
func (r *Recorder) Tables() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, s := range r.seen {
		out[s.Table]++
	}
	return out
}

// WaitFor waits up to 30s for a change to table that sets k, and fails
// the test without one.
func (r *Recorder) WaitFor(t *testing.T, table, k string) {
	t.Helper()
	r.await(t, "a change to "+table+" with k = "+k, func() bool { return r.Has(table, k) }, nil)
}

// Streaming waits until the capture streams: it inserts a marker row (k
// marker-<n>) into table with insert every second until one arrives.
func (r *Recorder) Streaming(t *testing.T, table string, insert func(k string)) {
	t.Helper()
	n := 0
	r.await(t, "a marker row in "+table, func() bool {
		for i := range n {
			if r.Has(table, fmt.Sprintf("marker-%d", i)) {
				return true
			}
		}
		return false
	}, func() {
		insert(fmt.Sprintf("marker-%d", n))
		n++
	})
}

func (r *Recorder) await(t *testing.T, what string, done func() bool, poke func()) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		if poke != nil && i%20 == 0 {
			poke()
		}
		if done() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the capture delivered no %s within 30s (changes per table: %v)", what, r.Tables())
}

// Unique is a name no other test run uses: prefix_<digits>.
func Unique(prefix string) string {
	return fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano()%1e12)
}
