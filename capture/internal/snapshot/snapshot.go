// Package snapshot is the initial snapshot every capture shares: it reads
// each captured table in key-ordered chunks from a Source (which knows the
// database), delivers each chunk to the Handler as a snapshot transaction,
// and records a chunk as done only once the Handler's side acks it, so an
// interrupted snapshot resumes after its last durable chunk.
//
// Data flow: Runner.Run -> Source.Chunk -> Handler.Begin/Change/Commit with
// a Position per chunk -> (publisher, Kafka) -> Reader.Ack -> Runner.Ack ->
// saver -> Store. Run returns once the final chunk is acked and saved.
package snapshot

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-sync/tandem/capture"
)

// Store keeps the progress durably (bus.OffsetStore in production).
type Store interface {
	Load(ctx context.Context, key string) ([]byte, error)
	Save(ctx context.Context, key string, value []byte) error
}

// Source reads one database's tables for the snapshot, inside a consistent
// view that the caller opened.
type Source interface {
	// Table returns the table's shape (as the log will describe it), the
	// indexes of its key columns, and an estimate of its rows (0: unknown).
	Table(ctx context.Context, qualified string) (t *capture.Table, keys []int, estimate int64, err error)
	// Chunk reads up to limit rows of t ordered by its key, after the key
	// after (nil: from the start), calling fn with each row and its key in
	// text form. fn must not keep the row.
	Chunk(ctx context.Context, t *capture.Table, keys []int, after []*string, limit int,
		fn func(row capture.Row, key []*string) error) error
}

// State is the durable progress of a snapshot.
type State struct {
	Start  json.RawMessage           `json:"start"` // the source's position to stream from afterwards
	Tables map[string]*TableProgress `json:"tables"`
	Seq    uint64                    `json:"seq"` // next event sequence
	Done   bool                      `json:"done"`
}

// TableProgress is how far one table got.
type TableProgress struct {
	LastKey []*string `json:"last_key,omitempty"`
	Rows    int64     `json:"rows"`
	Done    bool      `json:"done"`
}

func (s *State) clone() *State {
	c := *s
	c.Tables = map[string]*TableProgress{}
	for k, v := range s.Tables {
		tp := *v
		c.Tables[k] = &tp
	}
	return &c
}

// Position is the position of a snapshot chunk. It sorts at the snapshot's
// consistent point (Base), before every change streamed after it.
type Position struct {
	Base      capture.Position
	Table     string
	LastKey   []*string
	Rows      int64 // rows of Table done, including this chunk
	TableDone bool
	NextSeq   uint64
	Final     bool // the last chunk of the snapshot
}

func (p Position) String() string {
	return fmt.Sprintf("snapshot@%s %s rows=%d", p.Base, p.Table, p.Rows)
}

// Key is the consistent point's key.
func (p Position) Key() []byte { return p.Base.Key() }

// Runner runs snapshots for one system.
type Runner struct {
	Store     Store // nil: progress is not kept
	Key       string
	Handler   capture.Handler
	Progress  capture.Progress
	Tables    []string
	ChunkRows int
	Log       *slog.Logger

	sv atomic.Pointer[saver]
}

// Load returns the stored state, or nil.
func (r *Runner) Load(ctx context.Context) (*State, error) {
	if r.Store == nil {
		return nil, nil
	}
	data, err := r.Store.Load(ctx, r.Key)
	if err != nil || data == nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("stored snapshot progress is unreadable: %w", err)
	}
	return &st, nil
}

// Save stores st.
func (r *Runner) Save(ctx context.Context, st *State) error {
	if r.Store == nil {
		return nil
	}
	var data []byte
	if st != nil {
		var err error
		if data, err = json.Marshal(st); err != nil {
			return err
		}
	}
	return r.Store.Save(ctx, r.Key, data)
}

// New starts the state of a new snapshot that streams from start.
func (r *Runner) New(ctx context.Context, start any) (*State, error) {
	raw, err := json.Marshal(start)
	if err != nil {
		return nil, err
	}
	st := &State{Start: raw, Tables: map[string]*TableProgress{}}
	if err := r.Save(ctx, st); err != nil {
		return nil, fmt.Errorf("save snapshot progress: %w", err)
	}
	return st, nil
}

// Run reads every table not done yet, delivers each chunk, and returns once
// the final chunk is acked and saved. base is the consistent point the
// chunks sort at. resumed says the view is not the one the snapshot began
// in (a crash intervened): sequences then jump past anything the crashed
// run may have delivered unacked, so nothing is deduped away downstream.
func (r *Runner) Run(ctx context.Context, st *State, base capture.Position, src Source, resumed bool) error {
	if resumed {
		st.Seq += 1 << 32
		r.Log.Warn("resuming an interrupted snapshot in a new consistent view; rows changed since it began arrive again from the stream")
	}
	sv := &saver{r: r, state: st.clone(), wake: make(chan struct{}, 1), saved: make(chan error, 1), stop: make(chan struct{})}
	r.sv.Store(sv)
	done := make(chan struct{})
	go func() { defer close(done); sv.run(ctx) }()
	defer func() { close(sv.stop); <-done; r.sv.Store(nil) }()

	var last Position
	for _, table := range r.Tables {
		tp := st.Tables[table]
		if tp == nil {
			tp = &TableProgress{}
			st.Tables[table] = tp
		}
		if tp.Done {
			continue
		}
		pos, err := r.table(ctx, st, base, src, table, tp)
		if err != nil {
			return err
		}
		last = pos
	}
	if last.Table == "" {
		st.Done = true
		return r.Save(ctx, st)
	}
	select {
	case err := <-sv.saved:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Runner) table(ctx context.Context, st *State, base capture.Position, src Source, qualified string, tp *TableProgress) (Position, error) {
	t, keys, estimate, err := src.Table(ctx, qualified)
	if err != nil {
		return Position{}, err
	}
	if r.Progress != nil {
		r.Progress.Start(qualified, estimate, tp.Rows)
		defer r.Progress.Done(qualified)
	}
	lastKey, rows := tp.LastKey, tp.Rows
	for {
		seq0 := st.Seq
		begun := false
		count := 0
		var keyOut []*string
		begin := func() error {
			begun = true
			return r.Handler.Begin(ctx, &capture.TxBegin{ID: "snapshot", Position: base, Snapshot: true})
		}
		err := src.Chunk(ctx, t, keys, lastKey, r.ChunkRows, func(row capture.Row, key []*string) error {
			if !begun {
				if err := begin(); err != nil {
					return err
				}
			}
			keyOut = append(keyOut[:0], key...)
			c := capture.Change{Op: capture.OpRead, Table: t, After: row, Position: base, Seq: st.Seq}
			st.Seq++
			count++
			return r.Handler.Change(ctx, &c)
		})
		if err != nil {
			return Position{}, err
		}
		rows += int64(count)
		if r.Progress != nil {
			r.Progress.Add(qualified, int64(count))
		}
		done := count < r.ChunkRows
		pos := Position{Base: base, Table: qualified, LastKey: append([]*string(nil), keyOut...), Rows: rows,
			TableDone: done, NextSeq: st.Seq, Final: done && r.lastPending(qualified, st)}
		if count == 0 {
			pos.LastKey = lastKey
		}
		if !begun {
			if err := begin(); err != nil {
				return Position{}, err
			}
		}
		if err := r.Handler.Commit(ctx, &capture.TxEnd{ID: "snapshot", Position: pos, Changes: int(st.Seq - seq0)}); err != nil {
			return Position{}, err
		}
		lastKey = pos.LastKey
		if done {
			return pos, nil
		}
	}
}

// lastPending reports whether table is the last table not yet done.
func (r *Runner) lastPending(table string, st *State) bool {
	seen := false
	for _, t := range r.Tables {
		if t == table {
			seen = true
			continue
		}
		if seen && (st.Tables[t] == nil || !st.Tables[t].Done) {
			return false
		}
	}
	return true
}

// Ack records an acked chunk. It never blocks.
func (r *Runner) Ack(p Position) {
	sv := r.sv.Load()
	if sv == nil {
		return
	}
	sv.mu.Lock()
	sv.latest = &p
	sv.mu.Unlock()
	select {
	case sv.wake <- struct{}{}:
	default:
	}
}

// saver persists the latest acked chunk each time it is woken. It keeps
// its own copy of the state: it records what was acked, while the reading
// side runs ahead with what was read.
type saver struct {
	r      *Runner
	state  *State
	mu     sync.Mutex
	latest *Position
	wake   chan struct{}
	saved  chan error
	stop   chan struct{} // closed when Run ends
}

func (sv *saver) run(ctx context.Context) {
	for {
		stopping := false
		select {
		case <-ctx.Done():
			return
		case <-sv.wake:
		case <-sv.stop:
			// Run is ending (an error): keep what was acked so far, so that
			// a resume does not read it again.
			stopping = true
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
		}
		sv.mu.Lock()
		p := sv.latest
		sv.latest = nil
		sv.mu.Unlock()
		if p == nil {
			if stopping {
				return
			}
			continue
		}
		st := sv.state
		for _, t := range sv.r.Tables { // earlier tables are done
			if t == p.Table {
				break
			}
			if st.Tables[t] == nil {
				st.Tables[t] = &TableProgress{}
			}
			st.Tables[t].Done = true
		}
		tp := st.Tables[p.Table]
		if tp == nil {
			tp = &TableProgress{}
			st.Tables[p.Table] = tp
		}
		tp.LastKey, tp.Rows, tp.Done = p.LastKey, p.Rows, p.TableDone
		st.Seq, st.Done = p.NextSeq, p.Final
		err := sv.r.Save(ctx, st)
		if err != nil {
			sv.r.Log.Error("save snapshot progress", "err", err)
		}
		if p.Final {
			sv.saved <- err
			return
		}
		if stopping {
			return
		}
	}
}
