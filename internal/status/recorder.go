package status

import (
	"sync"
	"time"
)

// Event is what became of one event a sink handled.
type Event struct {
	Time    time.Time `json:"time"`
	Sink    string    `json:"sink"`
	Entity  string    `json:"entity"`
	Key     string    `json:"key"`
	Op      string    `json:"op"`
	Origin  string    `json:"origin"`  // the system the change was captured in
	Outcome string    `json:"outcome"` // applied, noop, skipped, duplicate, loop, dlq
	Reason  string    `json:"reason,omitempty"`
}

// OnApplied is how a sink reports a committed batch: called once per batch,
// after its commit, from the sink's partition goroutines.
type OnApplied func([]Event)

// Recorder keeps the last events recorded, in a ring. It is safe for
// concurrent use.
type Recorder struct {
	mu   sync.Mutex
	ring []Event
	next int  // where the next event goes
	full bool // the ring has wrapped
}

// NewRecorder returns a Recorder that keeps the last size events (at
// least one).
func NewRecorder(size int) *Recorder {
	return &Recorder{ring: make([]Event, max(size, 1))}
}

// Record adds e, dropping the oldest event when the ring is full.
func (r *Recorder) Record(e Event) {
	r.mu.Lock()
	r.add(e)
	r.mu.Unlock()
}

// RecordAll adds events in order under one lock.
func (r *Recorder) RecordAll(events []Event) {
	r.mu.Lock()
	for _, e := range events {
		r.add(e)
	}
	r.mu.Unlock()
}

func (r *Recorder) add(e Event) {
	r.ring[r.next] = e
	r.next++
	if r.next == len(r.ring) {
		r.next, r.full = 0, true
	}
}

// Recent returns at most n of the last events, newest first.
func (r *Recorder) Recent(n int) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	have := r.next
	if r.full {
		have = len(r.ring)
	}
	n = min(max(n, 0), have)
	out := make([]Event, n)
	for i := range out {
		out[i] = r.ring[(r.next-1-i+len(r.ring))%len(r.ring)]
	}
	return out
}

// tally is the key events are counted under.
type tally struct {
	sink, entity, origin, outcome string
}

// Events gathers what the sinks report: a Recorder per sink, and a count
// of events per sink, entity, origin and outcome (which the sink's own
// metrics do not break down by entity). It is safe for concurrent use.
type Events struct {
	size int

	mu     sync.Mutex
	sinks  map[string]*Recorder
	hooked map[string]bool
	counts map[tally]float64
}

// NewEvents returns an empty set that keeps the last size events of each
// sink.
func NewEvents(size int) *Events {
	return &Events{size: size, sinks: map[string]*Recorder{}, hooked: map[string]bool{}, counts: map[tally]float64{}}
}

// Hook returns the function sink reports its batches to, and marks sink as
// reporting: from then on the status view takes its per-flow numbers from
// what it reports.
func (e *Events) Hook(sink string) OnApplied {
	e.mu.Lock()
	e.hooked[sink] = true
	e.mu.Unlock()
	return func(batch []Event) { e.record(sink, batch) }
}

func (e *Events) record(sink string, batch []Event) {
	if len(batch) == 0 {
		return
	}
	e.mu.Lock()
	for _, ev := range batch {
		e.counts[tally{sink: sink, entity: ev.Entity, origin: ev.Origin, outcome: ev.Outcome}]++
	}
	r := e.recorderLocked(sink)
	e.mu.Unlock()
	r.RecordAll(batch)
}

// Recorder returns sink's recorder, creating it on first use.
func (e *Events) Recorder(sink string) *Recorder {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.recorderLocked(sink)
}

func (e *Events) recorderLocked(sink string) *Recorder {
	r := e.sinks[sink]
	if r == nil {
		r = NewRecorder(e.size)
		e.sinks[sink] = r
	}
	return r
}

// Hooked reports whether sink reports its batches.
func (e *Events) Hooked(sink string) bool {
	if e == nil {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hooked[sink]
}

// series returns the counts as synthetic counter series, for the sampler.
func (e *Events) series() []seriesValue {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	out := make([]seriesValue, 0, len(e.counts))
	for k, v := range e.counts {
		out = append(out, seriesValue{name: flowEventsSeries, labels: labels{
			"sink": k.sink, "entity": k.entity, "origin": k.origin, "outcome": k.outcome}, value: v})
	}
	e.mu.Unlock()
	return out
}
