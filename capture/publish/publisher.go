package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/tandem-sync/tandem/bus"
	"github.com/tandem-sync/tandem/capture"
)

// DefaultDrainTimeout bounds Close when Options.DrainTimeout is zero.
const DefaultDrainTimeout = 30 * time.Second

// ErrClosed is returned by the Handler methods once Close has been called.
var ErrClosed = errors.New("publish: publisher is closed")

// Options configure a Publisher.
type Options struct {
	// Kafka holds the brokers, the partitions and replication of the topics
	// the publisher creates, and the producer settings (batch size and
	// bytes, linger, compression, the in-flight byte cap).
	Kafka bus.Config
	// Encoder turns transactions and changes into records.
	Encoder Encoder
	// Ack is the reader's Ack. The publisher calls it with TxEnd and
	// Heartbeat positions, in delivery order, from one goroutine at a time.
	Ack func(capture.Position)
	// Logger receives a line per topic when it is first used, a warning
	// for a failed write other than the one Run returns, and at debug a
	// line per batch. Nil means slog.Default().
	Logger *slog.Logger
	// Registerer receives the publisher's metrics; nil registers none. Two
	// publishers in one registry need distinct labels: wrap it with
	// prometheus.WrapRegistererWith(prometheus.Labels{"system": ...}, reg).
	Registerer prometheus.Registerer
	// DrainTimeout bounds how long Close waits for queued records to be
	// written. Zero means DefaultDrainTimeout.
	DrainTimeout time.Duration
}

// kafkaIO is what the publisher needs from Kafka. New wires it to a
// kafka.Writer; unit tests fake it.
type kafkaIO struct {
	// PartitionsFn makes sure topic exists and returns its partition count.
	// It is called once per topic, from the handler goroutine.
	PartitionsFn func(ctx context.Context, topic string) (int, error)
	// WriteFn writes msgs, all for topic[partition] and in this order, in
	// one produce request with acks=all, and returns once Kafka has them
	// or the write has failed for good. Calls for one partition never
	// overlap; calls for different partitions do.
	WriteFn func(ctx context.Context, topic string, partition int, msgs []kafka.Message) error
	// CloseFn releases the writer; it may be nil.
	CloseFn func() error
	// StatsFn returns the kafka-go writer's counters since the last call;
	// it may be nil. Tests use it to count produce requests.
	StatsFn func() kafka.WriterStats
}

// Publisher writes a reader's transactions to Kafka and acks positions back
// to the reader once they are durable. It implements capture.Handler.
//
// Records are routed to one lane per (topic, partition). A lane writes its
// records in order, one produce request at a time, in batches of up to
// Producer.BatchSize records and Producer.BatchBytes bytes, waiting at most
// Producer.Linger for a batch to fill. If a write fails (after the writer's
// own retries), the publisher stops: no lane writes again, no position is
// acked again, Run returns the error, and every Handler call returns it.
// Records of a partition therefore reach Kafka in order and without gaps;
// the reader restarts from the last acked position, which may produce
// duplicates but never a loss.
//
// Acks: each transaction (and each heartbeat) is a node in a FIFO, with the
// number of its records not yet written. A transaction is complete once its
// Commit has been seen and all its records (BEGIN, changes and END) have
// been written. Run (and Close, for the last one) calls Options.Ack with the
// position of the newest transaction or heartbeat such that it and
// everything before it is complete. Acks are coalesced: when several
// complete at once only the last position is passed, which acks everything
// before it. Ack calls never overlap, and none starts after the first
// failure.
//
// Concurrency: the Handler methods must be called from one goroutine at a
// time (the reader's Run goroutine); Begin, Change and Commit may block on
// the in-flight cap, and the first record of a new topic blocks while the
// topic is created. Run and Close may be called from other goroutines, and
// Close while Run runs. Lanes run on goroutines that the publisher owns
// (one per partition written to, for the publisher's life); Close waits
// for them.
type Publisher struct {
	enc   Encoder
	ack   func(capture.Position)
	log   *slog.Logger
	io    kafkaIO
	m     *metrics
	prod  bus.ProducerConfig
	drain time.Duration

	// State of the handler goroutine; only Begin/Change/Commit/Heartbeat
	// touch it.
	partitions map[string][]int // topic -> partition ids
	cur        *txn             // the open transaction, nil between transactions
	curBegin   capture.TxBegin
	perTable   map[string]int
	lastSchema string // cache of the last table's qualified name
	lastName   string
	lastQName  string

	writeCtx     context.Context // lanes' writes; cancelled on failure
	cancelWrites context.CancelFunc
	failed       chan struct{} // closed on the first failure
	closing      chan struct{} // closed by Close
	ackReady     chan struct{} // a new watermark is ready for Run to deliver

	mu       sync.Mutex
	lanes    map[laneKey]*lane
	inFlight int           // bytes enqueued and not yet written
	peak     int           // highest inFlight so far
	space    chan struct{} // closed and replaced when inFlight drops
	head     *txn          // oldest transaction not yet acked
	tail     *txn
	ackable  capture.Position // newest complete position not yet delivered
	err      error            // first failure
	closed   bool             // Close has been called

	ackMu    sync.Mutex   // serializes Ack calls and failure
	lastAck  atomic.Int64 // unix nanoseconds of the last Ack call
	lanesWG  sync.WaitGroup
	running  atomic.Bool
	closeOne sync.Once
	closeErr error
}

// txn is one transaction or heartbeat in the ack FIFO.
type txn struct {
	pos         capture.Position // nil until Commit
	outstanding int              // records enqueued and not yet written
	committed   bool             // Commit (or the heartbeat) has been seen
	next        *txn
}

// New builds a Publisher that writes to the Kafka cluster of opts.Kafka. It
// connects lazily: topics are created, and their partition counts read,
// the first time a record names them.
func New(opts Options) (*Publisher, error) {
	if err := opts.Kafka.Validate(); err != nil {
		return nil, fmt.Errorf("kafka config: %w", err)
	}
	io, err := newKafkaIO(opts.Kafka)
	if err != nil {
		return nil, err
	}
	p, err := newPublisher(opts, io)
	if err != nil {
		_ = io.CloseFn()
		return nil, err
	}
	return p, nil
}

func newPublisher(opts Options, io kafkaIO) (*Publisher, error) {
	var errs []error
	if opts.Encoder == nil {
		errs = append(errs, errors.New("publish: Options.Encoder is required"))
	}
	if opts.Ack == nil {
		errs = append(errs, errors.New("publish: Options.Ack is required"))
	}
	if err := opts.Kafka.Producer.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("kafka.producer: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	drain := opts.DrainTimeout
	if drain <= 0 {
		drain = DefaultDrainTimeout
	}
	p := &Publisher{
		enc:        opts.Encoder,
		ack:        opts.Ack,
		log:        log,
		io:         io,
		prod:       opts.Kafka.Producer,
		drain:      drain,
		partitions: map[string][]int{},
		failed:     make(chan struct{}),
		closing:    make(chan struct{}),
		ackReady:   make(chan struct{}, 1),
		lanes:      map[laneKey]*lane{},
		space:      make(chan struct{}),
	}
	p.writeCtx, p.cancelWrites = context.WithCancel(context.Background())
	p.lastAck.Store(time.Now().UnixNano())
	m, err := newMetrics(opts.Registerer, p)
	if err != nil {
		p.cancelWrites()
		return nil, err
	}
	p.m = m
	return p, nil
}

// Run delivers acks to the reader until ctx ends or a write fails. It
// returns nil when ctx ends, and the write's error after a failure. Lanes
// do not depend on Run: records are written whether or not it runs, and
// after it returns queued records are still written until Close.
func (p *Publisher) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("publish: Run called twice")
	}
	for {
		select {
		case <-p.failed:
			return p.failure()
		case <-ctx.Done():
			if err := p.failure(); err != nil {
				return err
			}
			return nil
		case <-p.ackReady:
			p.deliverAcks()
		}
	}
}

// Close stops accepting records, waits for the lanes to write what is
// queued (at most Options.DrainTimeout), delivers the last ack, and closes
// the writer. If the drain times out, the remaining writes are abandoned and
// nothing more is acked. Call it after the reader's Run has returned, and
// before the reader's Close so that the last ack reaches it. Close is safe
// to call more than once; later calls return the first call's result.
func (p *Publisher) Close() error {
	p.closeOne.Do(func() { p.closeErr = p.close() })
	return p.closeErr
}

func (p *Publisher) close() error {
	p.mu.Lock()
	p.closed = true
	close(p.closing)
	p.mu.Unlock()

	deadline := time.Now().Add(p.drain)
	var errs []error
	if !waitTimeout(&p.lanesWG, p.drain) {
		p.mu.Lock()
		left := p.inFlight
		p.mu.Unlock()
		err := fmt.Errorf("publish: close: %d bytes still unwritten after %s; abandoned", left, p.drain)
		p.fail(err)
		errs = append(errs, err)
		p.lanesWG.Wait() // lanes return promptly: their writes are cancelled
	}
	p.deliverAcks()
	p.cancelWrites()
	if p.io.CloseFn != nil {
		done := make(chan error, 1)
		go func() { done <- p.io.CloseFn() }()
		select {
		case err := <-done:
			if err != nil {
				errs = append(errs, fmt.Errorf("publish: close writer: %w", err))
			}
		case <-time.After(max(time.Until(deadline), time.Second)):
			// The writer is still retrying an abandoned batch; its
			// goroutine ends with the process.
			errs = append(errs, errors.New("publish: close writer: timed out"))
		}
	}
	return errors.Join(errs...)
}

// waitTimeout waits for wg and reports whether it finished within d.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// Begin encodes the BEGIN record of tx and queues it. It blocks while the
// bytes in flight are at the cap.
func (p *Publisher) Begin(ctx context.Context, tx *capture.TxBegin) error {
	if p.cur != nil {
		return fmt.Errorf("publish: Begin of tx %s while tx %s is open", tx.ID, p.curBegin.ID)
	}
	if err := p.usable(); err != nil {
		return err
	}
	p.curBegin = *tx
	rec, err := p.enc.Begin(ctx, &p.curBegin)
	if err != nil {
		return fmt.Errorf("encode BEGIN of tx %s: %w", tx.ID, err)
	}
	t := &txn{}
	p.mu.Lock()
	p.appendLocked(t)
	p.mu.Unlock()
	p.cur = t
	p.perTable = map[string]int{}
	return p.enqueue(ctx, &rec, t)
}

// Change encodes c and queues its record on its partition's lane. It blocks
// while the bytes in flight are at the cap. It keeps nothing of c.
func (p *Publisher) Change(ctx context.Context, c *capture.Change) error {
	if p.cur == nil {
		return errors.New("publish: Change outside a transaction")
	}
	rec, err := p.enc.Change(ctx, &p.curBegin, c)
	if err != nil {
		return fmt.Errorf("encode change of %s at %s: %w", c.Table.QualifiedName(), posString(c.Position), err)
	}
	if c.Table.Schema != p.lastSchema || c.Table.Name != p.lastName {
		p.lastSchema, p.lastName, p.lastQName = c.Table.Schema, c.Table.Name, c.Table.QualifiedName()
	}
	p.perTable[p.lastQName]++
	return p.enqueue(ctx, &rec, p.cur)
}

// Emit queues a record encoded elsewhere (an entity event built from the
// transaction's changes) as part of the open transaction, counted under
// unit (e.g. the entity's name) in the END record's counts. It blocks while
// the bytes in flight are at the cap. The publisher keeps rec's bytes until
// Kafka has them.
func (p *Publisher) Emit(ctx context.Context, rec *bus.Record, unit string) error {
	if p.cur == nil {
		return errors.New("publish: Emit outside a transaction")
	}
	p.perTable[unit]++
	return p.enqueue(ctx, rec, p.cur)
}

// Commit encodes the END record of tx, with the per-table counts of its
// changes, and queues it. The transaction's position is acked once all its
// records, and those of every earlier transaction, are written.
func (p *Publisher) Commit(ctx context.Context, tx *capture.TxEnd) error {
	t := p.cur
	if t == nil {
		return fmt.Errorf("publish: Commit of tx %s outside a transaction", tx.ID)
	}
	if tx.Position == nil {
		return fmt.Errorf("publish: Commit of tx %s has no position", tx.ID)
	}
	rec, err := p.enc.End(ctx, tx, p.perTable)
	if err != nil {
		return fmt.Errorf("encode END of tx %s: %w", tx.ID, err)
	}
	if err := p.enqueue(ctx, &rec, t); err != nil {
		return err
	}
	p.mu.Lock()
	t.pos = tx.Position
	t.committed = true
	p.advanceLocked()
	p.mu.Unlock()
	p.cur, p.perTable = nil, nil
	return nil
}

// DDL publishes a schema change statement as a one-record unit, acked at
// d.Position once written. With an encoder that does not publish DDL it
// acts as a Heartbeat.
func (p *Publisher) DDL(ctx context.Context, d *capture.DDL) error {
	enc, ok := p.enc.(DDLEncoder)
	if !ok {
		return p.Heartbeat(ctx, d.Position)
	}
	if p.cur != nil {
		return fmt.Errorf("publish: DDL inside tx %s", p.curBegin.ID)
	}
	if d.Position == nil {
		return errors.New("publish: DDL without a position")
	}
	rec, err := enc.DDL(ctx, d)
	if err != nil {
		return fmt.Errorf("encode DDL: %w", err)
	}
	t := &txn{}
	p.mu.Lock()
	p.appendLocked(t)
	p.mu.Unlock()
	if err := p.enqueue(ctx, &rec, t); err != nil {
		return err
	}
	p.mu.Lock()
	t.pos = d.Position
	t.committed = true
	p.advanceLocked()
	p.mu.Unlock()
	return nil
}

// Heartbeat registers pos as an empty transaction: it is acked as soon as
// every earlier transaction is. It never blocks.
func (p *Publisher) Heartbeat(ctx context.Context, pos capture.Position) error {
	if p.cur != nil {
		return fmt.Errorf("publish: Heartbeat inside tx %s", p.curBegin.ID)
	}
	if pos == nil {
		return errors.New("publish: Heartbeat without a position")
	}
	if err := p.usable(); err != nil {
		return err
	}
	t := &txn{pos: pos, committed: true}
	p.mu.Lock()
	p.appendLocked(t)
	p.advanceLocked()
	p.mu.Unlock()
	return nil
}

// usable returns the reason the publisher takes no more records, if any.
func (p *Publisher) usable() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.usableLocked()
}

func (p *Publisher) usableLocked() error {
	if p.err != nil {
		return fmt.Errorf("publish: stopped: %w", p.err)
	}
	if p.closed {
		return ErrClosed
	}
	return nil
}

// enqueue routes rec to its lane, as part of t. It blocks, respecting ctx,
// while adding rec would take the bytes in flight past the cap (a record
// larger than the cap goes alone once nothing else is in flight).
func (p *Publisher) enqueue(ctx context.Context, rec *bus.Record, t *txn) error {
	parts, err := p.topicPartitions(ctx, rec.Topic)
	if err != nil {
		return err
	}
	partition := partitionOf(rec.Key, parts)
	size := rec.Size()
	item := item{msg: message(rec, partition), tx: t, size: size}

	p.mu.Lock()
	for {
		if err := p.usableLocked(); err != nil {
			p.mu.Unlock()
			return err
		}
		if p.inFlight == 0 || p.inFlight+size <= p.prod.MaxInFlightBytes {
			break
		}
		space := p.space
		p.mu.Unlock()
		select {
		case <-space:
		case <-p.failed:
		case <-p.closing:
		case <-ctx.Done():
			return ctx.Err()
		}
		p.mu.Lock()
	}
	p.inFlight += size
	p.peak = max(p.peak, p.inFlight)
	t.outstanding++
	key := laneKey{rec.Topic, partition}
	l := p.lanes[key]
	if l == nil {
		l = &lane{key: key, wake: make(chan struct{}, 1)}
		p.lanes[key] = l
		p.lanesWG.Add(1)
		go p.runLane(l)
	}
	l.push(item)
	p.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return nil
}

// topicPartitions returns the partition ids of topic, creating the topic
// the first time it is seen.
func (p *Publisher) topicPartitions(ctx context.Context, topic string) ([]int, error) {
	if parts, ok := p.partitions[topic]; ok {
		return parts, nil
	}
	n, err := p.io.PartitionsFn(ctx, topic)
	for backoff := 250 * time.Millisecond; err != nil && bus.Retryable(err) && ctx.Err() == nil; backoff = min(2*backoff, 5*time.Second) {
		p.log.Warn("Kafka unavailable; retrying to prepare the topic", "topic", topic, "retry_in", backoff, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		n, err = p.io.PartitionsFn(ctx, topic)
	}
	if err != nil {
		return nil, fmt.Errorf("prepare topic %s: %w", topic, err)
	}
	if n < 1 {
		return nil, fmt.Errorf("prepare topic %s: it has no partitions", topic)
	}
	parts := make([]int, n)
	for i := range parts {
		parts[i] = i
	}
	p.partitions[topic] = parts
	p.log.Info("publishing to topic", "topic", topic, "partitions", n)
	return parts, nil
}

// partitionOf is the Java client's default partition of key (murmur2); a
// nil key goes to partition 0.
func partitionOf(key []byte, parts []int) int {
	if key == nil {
		return 0
	}
	return kafka.Murmur2Balancer{Consistent: true}.Balance(kafka.Message{Key: key}, parts...)
}

func message(rec *bus.Record, partition int) kafka.Message {
	m := kafka.Message{Topic: rec.Topic, Partition: partition, Key: rec.Key, Value: rec.Value}
	if len(rec.Headers) > 0 {
		names := make([]string, 0, len(rec.Headers))
		for k := range rec.Headers {
			names = append(names, k)
		}
		sort.Strings(names)
		m.Headers = make([]kafka.Header, len(names))
		for i, k := range names {
			m.Headers[i] = kafka.Header{Key: k, Value: rec.Headers[k]}
		}
	}
	return m
}

// written records that a lane's batch is durable: it frees the batch's
// bytes, counts down its transactions and moves the ack watermark.
func (p *Publisher) written(items []item, bytes int) {
	p.mu.Lock()
	p.inFlight -= bytes
	var last *txn
	for i := range items {
		if t := items[i].tx; t != last {
			last = t
			// Count runs of one transaction at once.
			n := 1
			for j := i + 1; j < len(items) && items[j].tx == t; j++ {
				n++
			}
			t.outstanding -= n
		}
	}
	p.advanceLocked()
	close(p.space)
	p.space = make(chan struct{})
	p.mu.Unlock()
}

// appendLocked adds t at the tail of the ack FIFO. p.mu must be held.
func (p *Publisher) appendLocked(t *txn) {
	if p.tail == nil {
		p.head = t
	} else {
		p.tail.next = t
	}
	p.tail = t
}

// advanceLocked pops every complete transaction at the head of the FIFO and
// makes the newest popped position the one to ack. Called with p.mu held.
func (p *Publisher) advanceLocked() {
	moved := false
	for t := p.head; t != nil && t.committed && t.outstanding == 0; t = p.head {
		p.head = t.next
		t.next = nil
		if p.err == nil {
			p.ackable = t.pos
			moved = true
		}
	}
	if p.head == nil {
		p.tail = nil
	}
	if moved {
		select {
		case p.ackReady <- struct{}{}:
		default:
		}
	}
}

// deliverAcks passes the newest complete position to the reader, unless
// the publisher has failed.
func (p *Publisher) deliverAcks() {
	p.ackMu.Lock()
	defer p.ackMu.Unlock()
	p.mu.Lock()
	pos := p.ackable
	p.ackable = nil
	failed := p.err != nil
	p.mu.Unlock()
	if pos == nil || failed {
		return
	}
	p.ack(pos)
	p.lastAck.Store(time.Now().UnixNano())
}

// fail records the first failure: it stops the lanes, cancels their
// writes and stops acks. Once it returns, no Ack call starts. It reports
// whether err was the first failure.
func (p *Publisher) fail(err error) bool {
	p.ackMu.Lock()
	p.mu.Lock()
	first := p.err == nil
	if first {
		p.err = err
		p.ackable = nil
		close(p.failed)
	}
	p.mu.Unlock()
	p.ackMu.Unlock()
	if first {
		p.cancelWrites()
	}
	return first
}

func (p *Publisher) failure() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *Publisher) inFlightBytes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inFlight
}

func posString(pos capture.Position) string {
	if pos == nil {
		return "?"
	}
	return pos.String()
}
