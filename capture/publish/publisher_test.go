package publish

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/tandem-sync/tandem/bus"
	"github.com/tandem-sync/tandem/capture"
)

// pos is a test position.
type pos uint64

func (p pos) String() string { return fmt.Sprintf("pos%d", uint64(p)) }
func (p pos) Key() []byte    { return binary.BigEndian.AppendUint64(nil, uint64(p)) }

var items = &capture.Table{Schema: "public", Name: "items", Columns: []capture.Column{{Name: "k", Key: true}}}

// fakeEncoder encodes a change as a record on topic "data" keyed by its
// first After value, with value "<tx>/<seq>"; BEGIN and END go to topic
// "tx" with a nil key. Its Fn fields override that.
type fakeEncoder struct {
	BeginFn  func(ctx context.Context, tx *capture.TxBegin) (bus.Record, error)
	ChangeFn func(ctx context.Context, tx *capture.TxBegin, c *capture.Change) (bus.Record, error)
	EndFn    func(ctx context.Context, tx *capture.TxEnd, perTable map[string]int) (bus.Record, error)

	encoded atomic.Int64 // records returned
	bytes   atomic.Int64 // their bytes
}

func (e *fakeEncoder) count(r bus.Record, err error) (bus.Record, error) {
	if err == nil {
		e.encoded.Add(1)
		e.bytes.Add(int64(r.Size()))
	}
	return r, err
}

func (e *fakeEncoder) Begin(ctx context.Context, tx *capture.TxBegin) (bus.Record, error) {
	if e.BeginFn != nil {
		return e.count(e.BeginFn(ctx, tx))
	}
	return e.count(bus.Record{Topic: "tx", Value: []byte("BEGIN " + tx.ID)}, nil)
}

func (e *fakeEncoder) Change(ctx context.Context, tx *capture.TxBegin, c *capture.Change) (bus.Record, error) {
	if e.ChangeFn != nil {
		return e.count(e.ChangeFn(ctx, tx, c))
	}
	return e.count(bus.Record{Topic: "data", Key: []byte(c.After[0].(string)), Value: fmt.Appendf(nil, "%s/%d", tx.ID, c.Seq)}, nil)
}

func (e *fakeEncoder) End(ctx context.Context, tx *capture.TxEnd, perTable map[string]int) (bus.Record, error) {
	if e.EndFn != nil {
		return e.count(e.EndFn(ctx, tx, perTable))
	}
	return e.count(bus.Record{Topic: "tx", Value: fmt.Appendf(nil, "END %s %v", tx.ID, perTable)}, nil)
}

// write is one call of the fake writer.
type write struct {
	lane   laneKey
	values []string
	err    error
}

// fakeKafka stands in for the cluster: every topic has 3 partitions. A
// write to a gated lane waits until the gate is closed (or the write's ctx
// ends); FailFn decides whether the nth call (from 1) to a lane fails.
type fakeKafka struct {
	FailFn func(l laneKey, n int) error
	// Stubborn writes wait for their gate even after their ctx ends, like
	// a produce request that is already on the wire.
	Stubborn bool

	mu      sync.Mutex
	gates   map[laneKey]chan struct{}
	calls   map[laneKey]int
	writes  []write // finished calls, in the order they finished
	written atomic.Int64
}

func newFakeKafka() *fakeKafka {
	return &fakeKafka{gates: map[laneKey]chan struct{}{}, calls: map[laneKey]int{}}
}

func (f *fakeKafka) gate(l laneKey) { f.mu.Lock(); f.gates[l] = make(chan struct{}); f.mu.Unlock() }

func (f *fakeKafka) open(l laneKey) { f.mu.Lock(); close(f.gates[l]); f.mu.Unlock() }

func (f *fakeKafka) io() kafkaIO {
	return kafkaIO{
		PartitionsFn: func(context.Context, string) (int, error) { return 3, nil },
		WriteFn: func(ctx context.Context, topic string, partition int, msgs []kafka.Message) error {
			l := laneKey{topic, partition}
			f.mu.Lock()
			f.calls[l]++
			n := f.calls[l]
			g := f.gates[l]
			f.mu.Unlock()
			var err error
			switch {
			case g != nil && f.Stubborn:
				<-g
			case g != nil:
				select {
				case <-g:
				case <-ctx.Done():
					err = ctx.Err()
				}
			}
			if err == nil && f.FailFn != nil {
				err = f.FailFn(l, n)
			}
			w := write{lane: l, err: err}
			for _, m := range msgs {
				if m.Topic != topic || m.Partition != partition {
					panic(fmt.Sprintf("message for %s[%d] in a write to %s[%d]", m.Topic, m.Partition, topic, partition))
				}
				w.values = append(w.values, string(m.Value))
				if err == nil {
					f.written.Add(int64(len(m.Topic) + len(m.Key) + len(m.Value)))
				}
			}
			f.mu.Lock()
			f.writes = append(f.writes, w)
			f.mu.Unlock()
			return err
		},
	}
}

// lanesWritten returns the values written (successfully) per lane, in order.
func (f *fakeKafka) lanesWritten() map[laneKey][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[laneKey][]string{}
	for _, w := range f.writes {
		if w.err == nil {
			out[w.lane] = append(out[w.lane], w.values...)
		}
	}
	return out
}

func (f *fakeKafka) callsTo(l laneKey) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[l]
}

type ackLog struct {
	mu   sync.Mutex
	acks []capture.Position
	ch   chan capture.Position
}

func (a *ackLog) ack(p capture.Position) {
	a.mu.Lock()
	a.acks = append(a.acks, p)
	a.mu.Unlock()
	if a.ch != nil {
		a.ch <- p
	}
}

func (a *ackLog) get() []capture.Position {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]capture.Position(nil), a.acks...)
}

func producer() bus.ProducerConfig {
	return bus.ProducerConfig{BatchSize: 100, BatchBytes: 1 << 20, Compression: "none", MaxInFlightBytes: 1 << 20}
}

func newTestPublisher(t *testing.T, prod bus.ProducerConfig, fk *fakeKafka, enc Encoder, acks *ackLog) *Publisher {
	t.Helper()
	opts := Options{
		Kafka:   bus.Config{Producer: prod},
		Encoder: enc,
		Ack:     acks.ack,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		// Short, so that a failed test's cleanup does not hang on a
		// closed gate.
		DrainTimeout: 2 * time.Second,
	}
	p, err := newPublisher(opts, fk.io())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// keyFor returns a key that the publisher routes to partition part of 3.
func keyFor(t *testing.T, part int) string {
	for i := range 1000 {
		k := fmt.Sprintf("k%d", i)
		if partitionOf([]byte(k), []int{0, 1, 2}) == part {
			return k
		}
	}
	t.Fatalf("no key for partition %d", part)
	return ""
}

// waitFor waits for cond; it fails the test if cond does not hold within
// a generous bound. It asserts no timing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// tx sends one transaction whose changes carry the given keys.
func tx(ctx context.Context, p *Publisher, id string, at pos, keys ...string) error {
	if err := p.Begin(ctx, &capture.TxBegin{ID: id, Position: at}); err != nil {
		return err
	}
	for i, k := range keys {
		if err := p.Change(ctx, &capture.Change{Op: capture.OpInsert, Table: items, After: capture.Row{k}, Position: at, Seq: uint64(i)}); err != nil {
			return err
		}
	}
	return p.Commit(ctx, &capture.TxEnd{ID: id, Position: at, Changes: len(keys)})
}

func data(part int) laneKey { return laneKey{"data", part} }

func TestAcksInOrderWhenLanesCompleteOutOfOrder(t *testing.T) {
	// tx1 writes to partitions 0 and 1, tx2 to partition 2. Lanes are
	// released one at a time, in the given order; after each release the
	// test delivers the pending ack and checks what was acked so far.
	tests := []struct {
		name  string
		order []int
		want  [][]capture.Position // acks after each release
	}{
		{"later tx first", []int{2, 1, 0}, [][]capture.Position{nil, nil, {pos(2)}}},
		{"in order", []int{0, 1, 2}, [][]capture.Position{nil, {pos(1)}, {pos(1), pos(2)}}},
		{"middle", []int{1, 2, 0}, [][]capture.Position{nil, nil, {pos(2)}}},
		{"first tx, then later", []int{1, 0, 2}, [][]capture.Position{nil, {pos(1)}, {pos(1), pos(2)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			fk := newFakeKafka()
			for i := range 3 {
				fk.gate(data(i))
			}
			acks := &ackLog{}
			p := newTestPublisher(t, producer(), fk, &fakeEncoder{}, acks)
			if err := tx(ctx, p, "t1", 1, keyFor(t, 0), keyFor(t, 1)); err != nil {
				t.Fatal(err)
			}
			if err := tx(ctx, p, "t2", 2, keyFor(t, 2)); err != nil {
				t.Fatal(err)
			}
			// BEGIN/END records go through the ungated tx lane.
			waitFor(t, "BEGIN and END records", func() bool { return len(fk.lanesWritten()[laneKey{"tx", 0}]) == 4 })
			p.deliverAcks()
			if got := acks.get(); len(got) != 0 {
				t.Fatalf("acked %v before any change was written", got)
			}
			size := map[int]int{} // bytes of the record of each partition
			gated := 0
			for part := range 3 {
				size[part] = len("data") + len(keyFor(t, part)) + len("t1/0")
				gated += size[part]
			}
			for i, part := range tc.order {
				fk.open(data(part))
				gated -= size[part]
				waitFor(t, "the write to settle", func() bool {
					return len(fk.lanesWritten()[data(part)]) == 1 && p.inFlightBytes() == gated
				})
				p.deliverAcks()
				if got := acks.get(); !reflect.DeepEqual(got, tc.want[i]) {
					t.Fatalf("after releasing partitions %v: acks %v, want %v", tc.order[:i+1], got, tc.want[i])
				}
			}
		})
	}
}

func TestNothingAckedOrWrittenAfterFailure(t *testing.T) {
	ctx := context.Background()
	fk := newFakeKafka()
	fk.Stubborn = true // a write in flight may still succeed after the failure
	boom := errors.New("NOT_ENOUGH_REPLICAS")
	fk.FailFn = func(l laneKey, n int) error {
		if l == data(0) && n == 1 {
			return boom
		}
		return nil
	}
	fk.gate(data(0))
	fk.gate(data(1))
	prod := producer()
	prod.BatchSize = 1 // one record per write
	acks := &ackLog{}
	p := newTestPublisher(t, prod, fk, &fakeEncoder{}, acks)
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx) }()

	k0, k1 := keyFor(t, 0), keyFor(t, 1)
	// t1: one record to partition 1, whose write is in flight when the
	//     failure comes and succeeds after it: t1 is then complete, but
	//     must not be acked.
	// t2: two records to partition 0: the first write fails; the second
	//     record must never be written.
	// t3: one more record to partition 1, which must never be written.
	if err := tx(ctx, p, "t1", 1, k1); err != nil {
		t.Fatal(err)
	}
	if err := tx(ctx, p, "t2", 2, k0, k0); err != nil {
		t.Fatal(err)
	}
	if err := tx(ctx, p, "t3", 3, k1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the writes to start", func() bool { return fk.callsTo(data(0)) == 1 && fk.callsTo(data(1)) == 1 })
	fk.open(data(0))
	err := <-runErr
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "write 1 records to data[0]") {
		t.Fatalf("Run returned %v; want the wrapped write error", err)
	}
	fk.open(data(1))
	waitFor(t, "the write in flight to finish", func() bool { return len(fk.lanesWritten()[data(1)]) == 1 })

	// The handler refuses more work.
	if err := tx(ctx, p, "t4", 4, k1); !errors.Is(err, boom) {
		t.Fatalf("Begin after the failure returned %v, want the failure", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	p.deliverAcks()

	if n := fk.callsTo(data(0)); n != 1 {
		t.Errorf("partition 0 got %d writes; want 1 (none after the failed one)", n)
	}
	if n := fk.callsTo(data(1)); n != 1 {
		t.Errorf("partition 1 got %d writes; want 1 (none started after the failure)", n)
	}
	if got := acks.get(); len(got) != 0 {
		t.Errorf("acked %v after the failure", got)
	}
}

func TestBackpressureBlocksAtTheCap(t *testing.T) {
	fk := newFakeKafka()
	fk.gate(data(0))
	enc := &fakeEncoder{}
	// Every change record is 12 bytes ("data" + "k0"-ish key + "t1/N").
	enc.ChangeFn = func(_ context.Context, tx *capture.TxBegin, c *capture.Change) (bus.Record, error) {
		return bus.Record{Topic: "data", Key: []byte(c.After[0].(string)), Value: fmt.Appendf(nil, "%s/%03d", tx.ID, c.Seq)}, nil
	}
	// BEGIN and END go to a lane of their own, and take 1 byte.
	enc.BeginFn = func(context.Context, *capture.TxBegin) (bus.Record, error) { return bus.Record{Topic: "t"}, nil }
	enc.EndFn = func(context.Context, *capture.TxEnd, map[string]int) (bus.Record, error) {
		return bus.Record{Topic: "t"}, nil
	}
	k := keyFor(t, 0)
	size := len("data") + len(k) + len("t1/000")
	prod := producer()
	prod.BatchBytes = 1024
	prod.MaxInFlightBytes = 1024 + 3*size // room for 1024/size + 3 records
	fits := prod.MaxInFlightBytes / size
	acks := &ackLog{}
	p := newTestPublisher(t, prod, fk, enc, acks)

	ctx := context.Background()
	if err := p.Begin(ctx, &capture.TxBegin{ID: "t1", Position: pos(1)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "BEGIN written", func() bool { return p.inFlightBytes() == 0 })
	change := func(ctx context.Context, seq int) error {
		return p.Change(ctx, &capture.Change{Op: capture.OpInsert, Table: items, After: capture.Row{k}, Seq: uint64(seq)})
	}
	for i := range fits {
		if err := change(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.inFlightBytes(); got != fits*size {
		t.Fatalf("in flight %d, want %d", got, fits*size)
	}

	// The next change does not fit: it blocks until its ctx ends.
	cctx, cancel := context.WithCancel(ctx)
	blocked := make(chan error, 1)
	go func() { blocked <- change(cctx, fits) }()
	waitFor(t, "the change to be encoded", func() bool { return enc.encoded.Load() == int64(fits+2) })
	cancel()
	if err := <-blocked; !errors.Is(err, context.Canceled) {
		t.Fatalf("Change over the cap returned %v; want it to block until ctx ends", err)
	}
	if got := p.inFlightBytes(); got != fits*size {
		t.Fatalf("in flight %d after the cancelled change, want %d", got, fits*size)
	}

	// Once Kafka takes the queued records, a blocked change goes through.
	done := make(chan error, 1)
	go func() { done <- change(ctx, fits) }()
	fk.open(data(0))
	if err := <-done; err != nil {
		t.Fatalf("Change after the writes: %v", err)
	}
	if err := p.Commit(ctx, &capture.TxEnd{ID: "t1", Position: pos(1)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "everything written", func() bool { return p.inFlightBytes() == 0 })
	p.deliverAcks()
	if got := acks.get(); !reflect.DeepEqual(got, []capture.Position{pos(1)}) {
		t.Fatalf("acks %v, want [pos1]", got)
	}
	if p.peak > prod.MaxInFlightBytes {
		t.Fatalf("peak in flight %d over the cap %d", p.peak, prod.MaxInFlightBytes)
	}
}

func TestHeartbeatAckedAfterEarlierTransactions(t *testing.T) {
	ctx := context.Background()
	fk := newFakeKafka()
	fk.gate(data(0))
	acks := &ackLog{}
	p := newTestPublisher(t, producer(), fk, &fakeEncoder{}, acks)

	// A heartbeat with nothing before it is acked at once.
	if err := p.Heartbeat(ctx, pos(1)); err != nil {
		t.Fatal(err)
	}
	p.deliverAcks()
	if err := tx(ctx, p, "t2", 2, keyFor(t, 0)); err != nil {
		t.Fatal(err)
	}
	if err := p.Heartbeat(ctx, pos(3)); err != nil {
		t.Fatal(err)
	}
	p.deliverAcks()
	if got := acks.get(); !reflect.DeepEqual(got, []capture.Position{pos(1)}) {
		t.Fatalf("acks %v while t2 is unwritten; want [pos1]", got)
	}
	fk.open(data(0))
	waitFor(t, "t2 written", func() bool { return p.inFlightBytes() == 0 })
	p.deliverAcks()
	// t2 and the heartbeat complete together; the ack is coalesced.
	if got := acks.get(); !reflect.DeepEqual(got, []capture.Position{pos(1), pos(3)}) {
		t.Fatalf("acks %v; want [pos1 pos3]", got)
	}
}

func TestOpenTransactionNotAcked(t *testing.T) {
	// Every record of t1 so far is written, but its Commit has not come:
	// it must not be acked, nor may the heartbeat-free FIFO lose it.
	ctx := context.Background()
	fk := newFakeKafka()
	acks := &ackLog{}
	p := newTestPublisher(t, producer(), fk, &fakeEncoder{}, acks)
	if err := p.Begin(ctx, &capture.TxBegin{ID: "t1", Position: pos(1)}); err != nil {
		t.Fatal(err)
	}
	if err := p.Change(ctx, &capture.Change{Op: capture.OpInsert, Table: items, After: capture.Row{"k"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "BEGIN and the change written", func() bool { return p.inFlightBytes() == 0 })
	p.deliverAcks()
	if got := acks.get(); len(got) != 0 {
		t.Fatalf("acked %v before Commit", got)
	}
	if err := p.Commit(ctx, &capture.TxEnd{ID: "t1", Position: pos(1)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "END written", func() bool { return p.inFlightBytes() == 0 })
	p.deliverAcks()
	if got := acks.get(); !reflect.DeepEqual(got, []capture.Position{pos(1)}) {
		t.Fatalf("acks %v after Commit, want [pos1]", got)
	}
}

func TestRunDeliversAcksInOrder(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	fk := newFakeKafka()
	acks := &ackLog{ch: make(chan capture.Position, 100)}
	reg := prometheus.NewRegistry()
	opts := Options{
		Kafka:      bus.Config{Producer: producer()},
		Encoder:    &fakeEncoder{},
		Ack:        acks.ack,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registerer: reg,
	}
	p, err := newPublisher(opts, fk.io())
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx) }()
	for i := 1; i <= 50; i++ {
		if i%10 == 0 {
			if err := p.Heartbeat(ctx, pos(i)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := tx(ctx, p, fmt.Sprint(i), pos(i), keyFor(t, i%3), keyFor(t, (i+1)%3)); err != nil {
			t.Fatal(err)
		}
	}
	var last pos
	timeout := time.After(20 * time.Second) // a bound on the wait, not an assertion on timing
	for last != 50 {
		var a pos
		select {
		case got := <-acks.ch:
			a = got.(pos)
		case <-timeout:
			t.Fatalf("no ack of pos50; last %v", last)
		}
		if a <= last {
			t.Fatalf("ack %v after %v", a, last)
		}
		last = a
	}
	cancel()
	if err := <-runErr; err != nil {
		t.Fatalf("Run returned %v after ctx ended; want nil", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// 45 transactions of 2 changes; 90 BEGIN/END records.
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			name := f.GetName()
			for _, l := range m.GetLabel() {
				name += "/" + l.GetValue()
			}
			switch {
			case m.Counter != nil:
				got[name] = m.Counter.GetValue()
			case m.Gauge != nil:
				got[name] = m.Gauge.GetValue()
			case m.Histogram != nil:
				got[name] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	for name, want := range map[string]float64{
		"tandem_publish_records_total/data": 90,
		"tandem_publish_records_total/tx":   90,
		"tandem_publish_in_flight_bytes":    0,
		"tandem_publish_write_errors_total": 0,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	if got["tandem_publish_batch_records"] < 1 || got["tandem_publish_bytes_total"] < 1 {
		t.Errorf("batch histogram or bytes counter empty: %v", got)
	}
	if _, err := newPublisher(opts, fk.io()); err == nil {
		t.Error("a second publisher on the same registry registered the same metrics")
	}
}

func TestLargeTransactionStaysUnderTheCap(t *testing.T) {
	const n = 200_000
	fk := newFakeKafka()
	enc := &fakeEncoder{}
	var peak int64
	keys := []string{keyFor(t, 0), keyFor(t, 1), keyFor(t, 2)}
	enc.ChangeFn = func(_ context.Context, tx *capture.TxBegin, c *capture.Change) (bus.Record, error) {
		// Bytes handed over and not yet written (the current record is
		// not handed over yet).
		if d := enc.bytes.Load() - fk.written.Load(); d > peak {
			peak = d
		}
		return bus.Record{Topic: "data", Key: []byte(keys[c.Seq%3]), Value: make([]byte, 100)}, nil
	}
	prod := producer()
	prod.BatchSize = 50
	prod.BatchBytes = 4096
	prod.MaxInFlightBytes = 64 << 10
	acks := &ackLog{}
	p := newTestPublisher(t, prod, fk, enc, acks)

	ctx := context.Background()
	if err := p.Begin(ctx, &capture.TxBegin{ID: "big", Position: pos(7)}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := p.Change(ctx, &capture.Change{Op: capture.OpInsert, Table: items, After: capture.Row{"x"}, Seq: uint64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Commit(ctx, &capture.TxEnd{ID: "big", Position: pos(7), Changes: n}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "everything written", func() bool { return p.inFlightBytes() == 0 })
	p.deliverAcks()

	if got := acks.get(); !reflect.DeepEqual(got, []capture.Position{pos(7)}) {
		t.Fatalf("acks %v, want [pos7]", got)
	}
	if peak > int64(prod.MaxInFlightBytes) {
		t.Errorf("the encoder ran %d bytes ahead of Kafka; the cap is %d", peak, prod.MaxInFlightBytes)
	}
	if p.peak > prod.MaxInFlightBytes {
		t.Errorf("peak in flight %d over the cap %d", p.peak, prod.MaxInFlightBytes)
	}
	total := 0
	for l, vs := range fk.lanesWritten() {
		if l.topic == "data" {
			total += len(vs)
		}
	}
	if total != n {
		t.Errorf("%d change records written, want %d", total, n)
	}
	fk.mu.Lock()
	for _, w := range fk.writes {
		if len(w.values) > prod.BatchSize {
			t.Errorf("a write of %d records; batch_size is %d", len(w.values), prod.BatchSize)
			break
		}
	}
	fk.mu.Unlock()
}

// batches splits n records into batches of per, the last one shorter.
func batches(n, per int) []int {
	var out []int
	for ; n > per; n -= per {
		out = append(out, per)
	}
	return append(out, n)
}

func TestBatching(t *testing.T) {
	// Linger is long, so only size, bytes and Close end a batch. Values
	// are 10 bytes, records 4+len(key)+10 bytes.
	k := keyFor(t, 0)
	size := 4 + len(k) + 10
	tests := []struct {
		name       string
		batchSize  int
		batchBytes int
		records    int
		want       []int
	}{
		{"by count", 100, 1 << 20, 250, []int{100, 100, 50}},
		{"by bytes", 1000, 1024, 200, batches(200, 1024/size)},
		{"short", 100, 1 << 20, 7, []int{7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fk := newFakeKafka()
			enc := &fakeEncoder{}
			enc.ChangeFn = func(_ context.Context, _ *capture.TxBegin, c *capture.Change) (bus.Record, error) {
				return bus.Record{Topic: "data", Key: []byte(k), Value: fmt.Appendf(nil, "%010d", c.Seq)}, nil
			}
			prod := producer()
			prod.BatchSize, prod.BatchBytes, prod.Linger = tc.batchSize, tc.batchBytes, time.Hour
			acks := &ackLog{}
			p := newTestPublisher(t, prod, fk, enc, acks)
			ctx := context.Background()
			if err := p.Begin(ctx, &capture.TxBegin{ID: "t", Position: pos(1)}); err != nil {
				t.Fatal(err)
			}
			for i := range tc.records {
				if err := p.Change(ctx, &capture.Change{Op: capture.OpInsert, Table: items, After: capture.Row{k}, Seq: uint64(i)}); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.Commit(ctx, &capture.TxEnd{ID: "t", Position: pos(1)}); err != nil {
				t.Fatal(err)
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			var sizes []int
			var values []string
			for _, w := range fk.writes {
				if w.lane == data(0) {
					sizes = append(sizes, len(w.values))
					values = append(values, w.values...)
				}
			}
			if !reflect.DeepEqual(sizes, tc.want) {
				t.Errorf("batches %v, want %v", sizes, tc.want)
			}
			for i, v := range values {
				if v != fmt.Sprintf("%010d", i) {
					t.Fatalf("record %d is %s: out of order", i, v)
				}
			}
			// Close drained everything and delivered the last ack.
			if got := acks.get(); !reflect.DeepEqual(got, []capture.Position{pos(1)}) {
				t.Errorf("acks after Close %v, want [pos1]", got)
			}
		})
	}
}

func TestCloseGivesUpAfterDrainTimeout(t *testing.T) {
	fk := newFakeKafka()
	fk.gate(data(0)) // never opened: the write waits for its ctx
	acks := &ackLog{}
	opts := Options{
		Kafka:        bus.Config{Producer: producer()},
		Encoder:      &fakeEncoder{},
		Ack:          acks.ack,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		DrainTimeout: 50 * time.Millisecond,
	}
	p, err := newPublisher(opts, fk.io())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := tx(ctx, p, "t1", 1, keyFor(t, 0)); err != nil {
		t.Fatal(err)
	}
	err = p.Close()
	if err == nil || !strings.Contains(err.Error(), "unwritten") {
		t.Fatalf("Close returned %v; want the abandoned drain", err)
	}
	p.deliverAcks()
	if got := acks.get(); len(got) != 0 {
		t.Fatalf("acked %v though t1 was never written", got)
	}
	if err := tx(ctx, p, "t2", 2, keyFor(t, 0)); err == nil {
		t.Fatal("Begin after Close succeeded")
	}
}

func TestHandlerProtocol(t *testing.T) {
	ctx := context.Background()
	ch := &capture.Change{Op: capture.OpInsert, Table: items, After: capture.Row{"k"}}
	tests := []struct {
		name string
		call func(p *Publisher) error
		want string
	}{
		{"change outside tx", func(p *Publisher) error { return p.Change(ctx, ch) }, "outside a transaction"},
		{"commit outside tx", func(p *Publisher) error { return p.Commit(ctx, &capture.TxEnd{ID: "x", Position: pos(1)}) }, "outside a transaction"},
		{"heartbeat inside tx", func(p *Publisher) error {
			if err := p.Begin(ctx, &capture.TxBegin{ID: "x"}); err != nil {
				return err
			}
			return p.Heartbeat(ctx, pos(1))
		}, "inside tx x"},
		{"nested begin", func(p *Publisher) error {
			if err := p.Begin(ctx, &capture.TxBegin{ID: "x"}); err != nil {
				return err
			}
			return p.Begin(ctx, &capture.TxBegin{ID: "y"})
		}, "while tx x is open"},
		{"commit without position", func(p *Publisher) error {
			if err := p.Begin(ctx, &capture.TxBegin{ID: "x"}); err != nil {
				return err
			}
			return p.Commit(ctx, &capture.TxEnd{ID: "x"})
		}, "has no position"},
		{"encoder error", func(p *Publisher) error {
			p.enc.(*fakeEncoder).ChangeFn = func(context.Context, *capture.TxBegin, *capture.Change) (bus.Record, error) {
				return bus.Record{}, errors.New("no schema")
			}
			if err := p.Begin(ctx, &capture.TxBegin{ID: "x"}); err != nil {
				return err
			}
			return p.Change(ctx, ch)
		}, "encode change of public.items at ?: no schema"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestPublisher(t, producer(), newFakeKafka(), &fakeEncoder{}, &ackLog{})
			err := tc.call(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestPerTableCountsAndRouting(t *testing.T) {
	fk := newFakeKafka()
	enc := &fakeEncoder{}
	var got map[string]int
	enc.EndFn = func(_ context.Context, _ *capture.TxEnd, perTable map[string]int) (bus.Record, error) {
		got = perTable
		return bus.Record{Topic: "tx"}, nil
	}
	p := newTestPublisher(t, producer(), fk, enc, &ackLog{})
	ctx := context.Background()
	other := &capture.Table{Schema: "public", Name: "lines"}
	if err := p.Begin(ctx, &capture.TxBegin{ID: "t", Position: pos(1)}); err != nil {
		t.Fatal(err)
	}
	for i, tbl := range []*capture.Table{items, other, items, items} {
		if err := p.Change(ctx, &capture.Change{Op: capture.OpInsert, Table: tbl, After: capture.Row{"same-key"}, Seq: uint64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Commit(ctx, &capture.TxEnd{ID: "t", Position: pos(1)}); err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"public.items": 3, "public.lines": 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("per-table counts %v, want %v", got, want)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// One key, one partition, in order; nil keys go to partition 0.
	lanes := fk.lanesWritten()
	want := laneKey{"data", partitionOf([]byte("same-key"), []int{0, 1, 2})}
	if vs := lanes[want]; !reflect.DeepEqual(vs, []string{"t/0", "t/1", "t/2", "t/3"}) {
		t.Errorf("partition %d holds %v", want.partition, vs)
	}
	if vs := lanes[laneKey{"tx", 0}]; len(vs) != 2 {
		t.Errorf("BEGIN/END (nil keys) in partition 0 of tx: %v", vs)
	}
}

func TestPartitionOfMatchesJavaClient(t *testing.T) {
	// The Java client's default partition is
	// (murmur2(key) & 0x7fffffff) % n; these murmur2 values are Java's
	// (the vectors of librdkafka's rdmurmur2.c).
	parts := make([]int, 100)
	for i := range parts {
		parts[i] = i
	}
	for _, tc := range []struct {
		key    string
		murmur uint32
	}{
		{"kafka", 0xd067cf64},
		{"giberish123456789", 0x8f552b0c},
		{"1234", 0x9fc97b14},
		{"4", 0x5a4b5ca1},
		{"", 0x106e08d9},
	} {
		want := int((tc.murmur & 0x7fffffff) % 100)
		if got := partitionOf([]byte(tc.key), parts); got != want {
			t.Errorf("partitionOf(%q) = %d, want %d", tc.key, got, want)
		}
	}
	if got := partitionOf(nil, parts); got != 0 {
		t.Errorf("nil key went to partition %d, want 0", got)
	}
}

// TestEmitJoinsTheOpenTransaction: a record encoded elsewhere (an entity
// event) is written with the transaction, counted in its END record, and
// the transaction is acked only once it is written.
func TestEmitJoinsTheOpenTransaction(t *testing.T) {
	ctx := context.Background()
	fk := newFakeKafka()
	key := keyFor(t, 1)
	fk.gate(data(1))
	acks := &ackLog{}
	p := newTestPublisher(t, producer(), fk, &fakeEncoder{}, acks)
	if err := p.Emit(ctx, &bus.Record{Topic: "data", Key: []byte(key)}, "product"); err == nil {
		t.Fatal("Emit outside a transaction was accepted")
	}
	if err := p.Begin(ctx, &capture.TxBegin{ID: "t1", Position: pos(1)}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := p.Emit(ctx, &bus.Record{Topic: "data", Key: []byte(key), Value: []byte("entity")}, "product"); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Commit(ctx, &capture.TxEnd{ID: "t1", Position: pos(1)}); err != nil {
		t.Fatal(err)
	}
	endWritten := func() string {
		for l, vals := range fk.lanesWritten() {
			for _, v := range vals {
				if l.topic == "tx" && strings.HasPrefix(v, "END") {
					return v
				}
			}
		}
		return ""
	}
	waitFor(t, "END written", func() bool { return endWritten() != "" })
	p.deliverAcks()
	if got := acks.get(); len(got) != 0 {
		t.Fatalf("acked %v before the emitted records were written", got)
	}
	fk.open(data(1))
	waitFor(t, "emitted records written", func() bool { return p.inFlightBytes() == 0 })
	p.deliverAcks()
	if got := acks.get(); !reflect.DeepEqual(got, []capture.Position{pos(1)}) {
		t.Fatalf("acks %v, want [pos1]", got)
	}
	if end := endWritten(); end != "END t1 map[product:2]" {
		t.Errorf("END record %q", end)
	}
	if got := fk.lanesWritten()[data(1)]; !reflect.DeepEqual(got, []string{"entity", "entity"}) {
		t.Errorf("written %v", got)
	}
}
