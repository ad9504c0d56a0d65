package snapshot

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"testing"

	"github.com/tandem-sync/tandem/capture"
)

type pos uint64

func (p pos) String() string { return strconv.FormatUint(uint64(p), 10) }
func (p pos) Key() []byte    { return binary.BigEndian.AppendUint64(nil, uint64(p)) }

// source serves tables of n rows with ids 1..n.
type source map[string]int

func (s source) Table(_ context.Context, q string) (*capture.Table, []int, int64, error) {
	t := &capture.Table{Name: q, Columns: []capture.Column{{Name: "id", Key: true, Type: capture.Type{Kind: capture.KindInt64}}}}
	return t, []int{0}, int64(s[q]), nil
}

func (s source) Chunk(_ context.Context, t *capture.Table, _ []int, after []*string, limit int, fn func(capture.Row, []*string) error) error {
	from := 1
	if after != nil {
		n, _ := strconv.Atoi(*after[0])
		from = n + 1
	}
	for id := from; id <= s[t.Name] && id < from+limit; id++ {
		k := strconv.Itoa(id)
		if err := fn(capture.Row{int64(id)}, []*string{&k}); err != nil {
			return err
		}
	}
	return nil
}

// handler records rows and acks every chunk at its commit.
type handler struct {
	runner *Runner
	rows   []int64
	seqs   []uint64
	chunks int
	stopAt int // fail the commit of this chunk (1-based), 0: never
}

func (h *handler) Begin(context.Context, *capture.TxBegin) error { return nil }
func (h *handler) Change(_ context.Context, c *capture.Change) error {
	h.rows = append(h.rows, c.After[0].(int64))
	h.seqs = append(h.seqs, c.Seq)
	return nil
}
func (h *handler) Commit(_ context.Context, tx *capture.TxEnd) error {
	h.chunks++
	if h.chunks == h.stopAt {
		return errors.New("crash")
	}
	h.runner.Ack(tx.Position.(Position))
	return nil
}
func (h *handler) Heartbeat(context.Context, capture.Position) error { return nil }

type store struct {
	mu   sync.Mutex
	m    map[string][]byte
	fail error
}

func (s *store) Load(_ context.Context, k string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k], nil
}

func (s *store) Save(_ context.Context, k string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.m[k] = v
	return nil
}

func newRunner(h *handler, st *store) *Runner {
	r := &Runner{Store: st, Key: "snap", Handler: h, Tables: []string{"a", "b"}, ChunkRows: 10, Log: slog.New(slog.DiscardHandler)}
	h.runner = r
	return r
}

func TestRunDeliversEveryRowAndSavesDone(t *testing.T) {
	st := &store{m: map[string][]byte{}}
	h := &handler{}
	r := newRunner(h, st)
	state, err := r.New(context.Background(), "start")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background(), state, pos(7), source{"a": 25, "b": 10}, false); err != nil {
		t.Fatal(err)
	}
	if len(h.rows) != 35 || h.chunks != 5 { // a: 10, 10, 5; b: 10, then an empty chunk that ends it
		t.Fatalf("%d rows in %d chunks, want 35 in 5", len(h.rows), h.chunks)
	}
	for i, s := range h.seqs {
		if s != uint64(i) {
			t.Fatalf("seq %d at row %d", s, i)
		}
	}
	var saved State
	if err := json.Unmarshal(st.m["snap"], &saved); err != nil {
		t.Fatal(err)
	}
	// Acks coalesce, so only the last chunk's numbers are sure to be saved.
	if !saved.Done || !saved.Tables["a"].Done || !saved.Tables["b"].Done || saved.Seq != 35 || saved.Tables["b"].Rows != 10 {
		t.Errorf("saved state %+v (b %+v)", saved, saved.Tables["b"])
	}
}

func TestRunResumesAfterTheLastAckedChunk(t *testing.T) {
	st := &store{m: map[string][]byte{}}
	h := &handler{stopAt: 3}
	r := newRunner(h, st)
	state, _ := r.New(context.Background(), "start")
	err := r.Run(context.Background(), state, pos(7), source{"a": 25, "b": 10}, false)
	if err == nil || err.Error() != "crash" {
		t.Fatalf("first run: %v, want the crash", err)
	}
	resumed, err := r.Load(context.Background())
	if err != nil || resumed == nil || resumed.Done {
		t.Fatalf("stored state %+v, %v", resumed, err)
	}
	h2 := &handler{}
	r2 := newRunner(h2, st)
	if err := r2.Run(context.Background(), resumed, pos(7), source{"a": 25, "b": 10}, true); err != nil {
		t.Fatal(err)
	}
	if h2.rows[0] != 21 || len(h2.rows) != 15 { // the crash came at a's third chunk (21..25), after two were acked
		t.Fatalf("resumed at row %d with %d rows, want 21 and 15", h2.rows[0], len(h2.rows))
	}
	if h2.seqs[0] < 1<<32 {
		t.Errorf("resumed sequences start at %d, not past anything unacked", h2.seqs[0])
	}
}

func TestRunFailsWhenTheFinalProgressCannotBeSaved(t *testing.T) {
	st := &store{m: map[string][]byte{}}
	h := &handler{}
	r := newRunner(h, st)
	state, _ := r.New(context.Background(), "start")
	st.fail = errors.New("kafka down")
	err := r.Run(context.Background(), state, pos(7), source{"a": 3}, false)
	if err == nil || err.Error() != "kafka down" {
		t.Fatalf("Run = %v, want the failed save", err)
	}
}
