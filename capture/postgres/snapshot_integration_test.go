//go:build integration

package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/capture/internal/snapshot"
	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/internal/testenv"
)

// memStore is an in-memory Store.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStore) Load(_ context.Context, k string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k], nil
}

func (s *memStore) Save(_ context.Context, k string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = append([]byte(nil), v...)
	return nil
}

var errStop = errors.New("stop here")

// stopAfter wraps a recorder and fails after n snapshot commits.
type stopAfter struct {
	*recorder
	n       int32
	commits atomic.Int32
}

func (s *stopAfter) Commit(ctx context.Context, tx *capture.TxEnd) error {
	if _, ok := tx.Position.(snapshot.Position); ok && s.commits.Add(1) > s.n {
		return errStop
	}
	return s.recorder.Commit(ctx, tx)
}

func newSnapshotReader(t *testing.T, system string, h capture.Handler, store Store, tables ...string) *Reader {
	capCfg := capture.Default()
	capCfg.Tables = tables
	capCfg.ChunkRows = 1000
	capCfg.Heartbeat = time.Second
	capCfg.SetDefaults(system)
	rd, err := New(Options{System: system, DSN: config.Secret(testenv.PostgresDSN()), Capture: capCfg,
		CheckpointTable: "tandem_checkpoint", Handler: h, SpoolDir: t.TempDir(), Store: store, StatusInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

// ids collects, per id, the ops that delivered it.
func (r *recorder) ids(table string) map[int64][]capture.Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[int64][]capture.Op{}
	for _, tx := range r.txs {
		for _, c := range tx.changes {
			if c.Table.Name == table && c.After != nil {
				id := c.After[0].(int64)
				out[id] = append(out[id], c.Op)
			}
		}
	}
	return out
}

func TestIntegrationSnapshotThenStreamNoGapNoOverlap(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testenv.PostgresDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	sqlExec(t, conn, `DROP TABLE IF EXISTS it_snap`, `CREATE TABLE it_snap (id bigint PRIMARY KEY, v text)`,
		`INSERT INTO it_snap SELECT g, 'seed' FROM generate_series(1, 25000) g`)
	system := fmt.Sprintf("snap%d", time.Now().UnixNano()%1e9)
	rec := &recorder{}
	rd := newSnapshotReader(t, system, rec, &memStore{m: map[string][]byte{}}, "public.it_snap")
	rec.reader = rd
	defer func() {
		dropSlot(t, conn, "tandem_"+system)
		sqlExec(t, conn, "DROP PUBLICATION IF EXISTS tandem_"+system)
	}()

	// writers insert new rows while the snapshot runs
	var next atomic.Int64
	next.Store(25001)
	stopWriters := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		wconn, err := pgx.Connect(ctx, testenv.PostgresDSN())
		if err != nil {
			t.Error(err)
			return
		}
		defer wconn.Close(ctx)
		for {
			select {
			case <-stopWriters:
				return
			default:
			}
			id := next.Add(1) - 1
			if _, err := wconn.Exec(ctx, "INSERT INTO it_snap VALUES ($1, 'live')", id); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rd.Run(runCtx) }()
	time.Sleep(2 * time.Second)
	close(stopWriters)
	wg.Wait()
	last := next.Load() - 1
	deadline := time.Now().Add(60 * time.Second)
	for int64(len(rec.ids("it_snap"))) < last && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	rd.Close()
	ids := rec.ids("it_snap")
	reads := 0
	for id := int64(1); id <= last; id++ {
		ops := ids[id]
		if len(ops) != 1 {
			t.Fatalf("id %d delivered %d times (%v): want exactly once, as r or c", id, len(ops), ops)
		}
		if ops[0] == capture.OpRead {
			reads++
		}
	}
	if reads < 25000 || last <= 25000 {
		t.Fatalf("reads %d of %d rows; live inserts up to %d", reads, last, last)
	}
	rec.mu.Lock()
	var snapTx, seqOK = 0, true
	var prev uint64
	for _, tx := range rec.txs {
		if tx.begin.Snapshot {
			snapTx++
			for _, c := range tx.changes {
				if c.Seq < prev {
					seqOK = false
				}
				prev = c.Seq
			}
		}
	}
	rec.mu.Unlock()
	if snapTx < 26 || !seqOK {
		t.Errorf("snapshot chunks %d (want >= 26 of 1000 rows), sequences increasing %v", snapTx, seqOK)
	}
}

func TestIntegrationSnapshotResumesAfterCrash(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testenv.PostgresDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	sqlExec(t, conn, `DROP TABLE IF EXISTS it_resume_a`, `DROP TABLE IF EXISTS it_resume_b`,
		`CREATE TABLE it_resume_a (id bigint PRIMARY KEY, v text)`, `CREATE TABLE it_resume_b (id bigint PRIMARY KEY, v text)`,
		`INSERT INTO it_resume_a SELECT g, 'a' FROM generate_series(1, 3500) g`,
		`INSERT INTO it_resume_b SELECT g, 'b' FROM generate_series(1, 2500) g`)
	system := fmt.Sprintf("resume%d", time.Now().UnixNano()%1e9)
	store := &memStore{m: map[string][]byte{}}
	defer func() {
		dropSlot(t, conn, "tandem_"+system)
		sqlExec(t, conn, "DROP PUBLICATION IF EXISTS tandem_"+system)
	}()

	// first run: dies after two acked chunks
	rec1 := &recorder{}
	h1 := &stopAfter{recorder: rec1, n: 2}
	rd1 := newSnapshotReader(t, system, h1, store, "public.it_resume_a", "public.it_resume_b")
	rec1.reader = rd1
	if err := rd1.Run(ctx); !errors.Is(err, errStop) {
		t.Fatalf("first run: %v, want the injected stop", err)
	}
	rd1.Close()
	time.Sleep(500 * time.Millisecond) // let the saver catch up with the last ack
	first := rec1.ids("it_resume_a")
	if len(first) != 2000 {
		t.Fatalf("first run delivered %d rows of a, want 2000", len(first))
	}
	sqlExec(t, conn, `UPDATE it_resume_a SET v = 'changed' WHERE id = 3000`)

	// second run resumes after the last acked chunk
	rec2 := &recorder{}
	rd2 := newSnapshotReader(t, system, rec2, store, "public.it_resume_a", "public.it_resume_b")
	rec2.reader = rd2
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rd2.Run(runCtx) }()
	deadline := time.Now().Add(30 * time.Second)
	for (len(rec2.ids("it_resume_a")) < 1500 || len(rec2.ids("it_resume_b")) < 2500) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("second run: %v", err)
	}
	rd2.Close()
	a, b := rec2.ids("it_resume_a"), rec2.ids("it_resume_b")
	for id := int64(1); id <= 3500; id++ {
		_, inFirst := first[id]
		_, inSecond := a[id]
		if inFirst == inSecond && id <= 2000 {
			t.Fatalf("id %d: first run %v, second run %v; want exactly one", id, inFirst, inSecond)
		}
		if id > 2000 && !inSecond {
			t.Fatalf("id %d of a missing after resume", id)
		}
	}
	if len(b) != 2500 {
		t.Fatalf("b has %d rows after resume, want 2500", len(b))
	}
	// the resumed run's sequences are above anything the first run used
	var maxFirst, minSecond uint64 = 0, ^uint64(0)
	for _, tx := range rec1.txs {
		for _, c := range tx.changes {
			maxFirst = max(maxFirst, c.Seq)
		}
	}
	for _, tx := range rec2.txs {
		for _, c := range tx.changes {
			if tx.begin.Snapshot {
				minSecond = min(minSecond, c.Seq)
			}
		}
	}
	if minSecond <= maxFirst {
		t.Errorf("resumed sequences start at %d, not above the first run's %d", minSecond, maxFirst)
	}
}
