package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/semaphore"

	"github.com/tandem-sync/tandem/bus"
	"github.com/tandem-sync/tandem/mapping"
	"github.com/tandem-sync/tandem/schema"
	"github.com/tandem-sync/tandem/schema/entities"
)

// Options configure a Sink.
type Options struct {
	System   string // the target system
	Config   *mapping.Config
	Target   Target
	Registry *schema.Registry
	Logger   *slog.Logger
	// Registerer receives the sink's metrics (wrap it with a sink label
	// when several sinks share it); nil registers none.
	Registerer prometheus.Registerer
	// OnApplied, if set, is called after each committed batch with what
	// became of its events (for status pages). It runs on the partition's
	// goroutine: it must be quick and safe for concurrent use.
	OnApplied func([]Report)
}

// Report is what became of one event, as OnApplied reports it.
type Report struct {
	Time      time.Time
	Sink      string
	Topic     string
	Partition int
	Offset    int64
	Entity    string
	Key       string // the natural key, as text
	Op        string
	Origin    string
	Outcome   string // applied, noop, skipped, duplicate, loop, dlq
	Reason    string // for dlq
}

// Sink applies the entity events that flow into one system. Run it once.
type Sink struct {
	opts     Options
	sys      *mapping.System
	cfg      mapping.SinkConfig
	kafka    bus.Config
	topics   []string
	dec      *schema.Decoder
	writer   *Writer
	log      *slog.Logger
	m        *metrics
	bytes    *semaphore.Weighted
	conns    *semaphore.Weighted
	out      *kafka.Writer // dead letters and conflicts
	dlq      string
	conflict string

	appliedMu sync.Mutex
	applied   chan struct{} // closed and replaced whenever a batch commits
}

// Topics returns the topics a sink into system sys reads: the aggregate
// topic of every flow into it, from each source system.
func Topics(cfg *mapping.Config, sys string) ([]string, error) {
	set := map[string]bool{}
	for _, f := range cfg.Flows {
		if f.To != sys {
			continue
		}
		e, err := cfg.Entity(f.Entity)
		if err != nil {
			return nil, err
		}
		set[schema.EntityTopic(cfg.Kafka.TopicPrefix, f.From, entities.Entity{Aggregate: e.Aggregate})] = true
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out, nil
}

// New builds the sink of opts.System.
func New(opts Options) (*Sink, error) {
	sys := opts.Config.Systems[opts.System]
	if sys == nil {
		return nil, fmt.Errorf("no system %q", opts.System)
	}
	topics, err := Topics(opts.Config, opts.System)
	if err != nil {
		return nil, err
	}
	if len(topics) == 0 {
		return nil, fmt.Errorf("no flow goes to %s, so it has nothing to apply", opts.System)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	w, err := NewWriter(opts.Config, opts.System, opts.Target.Dialect())
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	kc := opts.Config.Kafka
	tr, err := kc.Transport()
	if err != nil {
		return nil, err
	}
	s := &Sink{
		opts: opts, sys: sys, cfg: sys.Sink, kafka: kc, topics: topics,
		dec: schema.NewDecoder(opts.Registry), writer: w, log: opts.Logger.With("sink", opts.System), m: m,
		bytes:    semaphore.NewWeighted(int64(sys.Sink.MaxInFlightBytes)),
		conns:    semaphore.NewWeighted(int64(sys.Sink.Connections)),
		dlq:      kc.Topic(opts.System, "dlq"),
		conflict: kc.TopicPrefix + ".conflicts",
		applied:  make(chan struct{}),
	}
	s.out = &kafka.Writer{Addr: kafka.TCP(kc.Brokers...), Transport: tr, RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond, Balancer: &kafka.Hash{}, AllowAutoTopicCreation: false}
	return s, nil
}

// Run applies events until ctx ends or a fatal error occurs.
func (s *Sink) Run(ctx context.Context) error {
	defer s.out.Close()
	if err := s.retry(ctx, "set up the target", func() error { return s.opts.Target.Setup(ctx) }); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("sink %s: set up the target: %w", s.opts.System, err)
	}
	if err := s.kafka.EnsureTopics(ctx, nil, append([]string{s.dlq, s.conflict}, s.topics...)...); err != nil {
		return fmt.Errorf("sink %s: topics: %w", s.opts.System, err)
	}
	dialer, err := s.kafka.Dialer()
	if err != nil {
		return err
	}
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID: s.cfg.Group, Brokers: s.kafka.Brokers, Dialer: dialer, Topics: s.topics,
		// a member that died (kill -9) holds its partitions until its
		// session times out: keep that short (Kafka's minimum is 6s)
		SessionTimeout: 10 * time.Second, HeartbeatInterval: 2 * time.Second, RebalanceTimeout: 10 * time.Second,
		StartOffset: kafka.FirstOffset, Logger: nil, ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			s.log.Debug("kafka consumer group", "msg", fmt.Sprintf(msg, args...))
		}),
	})
	if err != nil {
		return fmt.Errorf("sink %s: consumer group %s: %w", s.opts.System, s.cfg.Group, err)
	}
	defer group.Close()
	s.log.Info("sink running", "group", s.cfg.Group, "topics", s.topics)
	fatal := make(chan error, 1)
	for {
		gen, err := group.Next(ctx)
		if err != nil {
			select {
			case ferr := <-fatal:
				return ferr
			default:
			}
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, kafka.ErrGroupClosed) {
				return nil
			}
			s.log.Warn("consumer group", "err", err)
			if !sleep(ctx, time.Second) {
				return nil
			}
			continue
		}
		var parts []string
		for topic, as := range gen.Assignments {
			for _, a := range as {
				tp := TopicPartition{Topic: topic, Partition: a.ID}
				parts = append(parts, topic+"/"+strconv.Itoa(a.ID))
				gen.Start(func(ctx context.Context) {
					if err := s.runPartition(ctx, tp); err != nil && ctx.Err() == nil {
						select {
						case fatal <- err:
						default:
						}
						group.Close()
					}
				})
			}
		}
		sort.Strings(parts)
		s.log.Info("partitions assigned", "generation", gen.ID, "partitions", parts)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// signalApplied wakes the partitions waiting for a reference.
func (s *Sink) signalApplied() {
	s.appliedMu.Lock()
	close(s.applied)
	s.applied = make(chan struct{})
	s.appliedMu.Unlock()
}

func (s *Sink) appliedChan() <-chan struct{} {
	s.appliedMu.Lock()
	defer s.appliedMu.Unlock()
	return s.applied
}

// partition is the state of one assigned partition.
type partition struct {
	tp       TopicPartition
	position string // the source order of the last event applied or skipped
	r        *kafka.Reader
	held     int64 // bytes held from the in-flight budget
}

// retry runs fn until it succeeds, fails for good, or ctx ends; transient
// errors (the target may be down) are retried with backoff.
func (s *Sink) retry(ctx context.Context, what string, fn func() error) error {
	backoff := 100 * time.Millisecond
	for {
		err := fn()
		if err == nil || ctx.Err() != nil || s.opts.Target.Classify(err) != Transient {
			return err
		}
		s.m.retries.Inc()
		s.log.Warn("transient error; retrying", "doing", what, "err", err, "in", backoff.String())
		if !sleep(ctx, backoff) {
			return ctx.Err()
		}
		backoff = min(backoff*2, s.cfg.RetryMax)
	}
}

// checkpoint reads the stored checkpoint of a partition, creating its row
// when there is none, retrying while the target is unreachable.
func (s *Sink) checkpoint(ctx context.Context, tp TopicPartition) (cp Checkpoint, err error) {
	err = s.retry(ctx, fmt.Sprintf("read the checkpoint of %s[%d]", tp.Topic, tp.Partition), func() error {
		cp, err = s.readCheckpoint(ctx, tp)
		return err
	})
	return cp, err
}

func (s *Sink) readCheckpoint(ctx context.Context, tp TopicPartition) (Checkpoint, error) {
	cps, err := s.opts.Target.Checkpoints(ctx, s.cfg.Group)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("read checkpoints: %w", err)
	}
	if cp, ok := cps[tp]; ok {
		return cp, nil
	}
	// a row to lock from the first batch on: locking a row that is not
	// there takes gap locks on MariaDB, which deadlock with the other
	// partitions' first inserts
	cp := Checkpoint{Consumer: s.cfg.Group, Topic: tp.Topic, Partition: tp.Partition, Offset: -1}
	if err := s.opts.Target.SetCheckpoint(ctx, cp); err != nil {
		return cp, fmt.Errorf("create the checkpoint of %s[%d]: %w", tp.Topic, tp.Partition, err)
	}
	return cp, nil
}

// runPartition reads one partition from the stored checkpoint and applies
// it, batch by batch, until ctx ends (a rebalance or shutdown).
func (s *Sink) runPartition(ctx context.Context, tp TopicPartition) error {
	cp, err := s.checkpoint(ctx, tp)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	dialer, err := s.kafka.Dialer()
	if err != nil {
		return err
	}
	p := &partition{tp: tp}
	p.r = kafka.NewReader(kafka.ReaderConfig{Brokers: s.kafka.Brokers, Dialer: dialer, Topic: tp.Topic, Partition: tp.Partition,
		MinBytes: 1, MaxBytes: 4 << 20, MaxWait: 100 * time.Millisecond, QueueCapacity: 1000})
	defer p.r.Close()
	start := kafka.FirstOffset
	if cp.Offset >= 0 {
		start = cp.Offset + 1
	}
	p.position = cp.Position
	if err := p.r.SetOffset(start); err != nil {
		return err
	}
	defer func() { s.bytes.Release(p.held) }()
	for ctx.Err() == nil {
		batch, err := s.fetch(ctx, p)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("sink %s: read %s[%d]: %w", s.opts.System, tp.Topic, tp.Partition, err)
		}
		if err := s.applyBatch(ctx, p, batch); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Error("sink stopped", "topic", tp.Topic, "partition", tp.Partition, "err", err)
			return err
		}
	}
	return nil
}

// fetch returns the next batch: what is left of the last one, then what
// is fetched now, up to batch_events, waiting only for the first message.
func (s *Sink) fetch(ctx context.Context, p *partition) ([]kafka.Message, error) {
	var batch []kafka.Message
	for len(batch) < s.cfg.BatchEvents {
		fctx := ctx
		var cancel context.CancelFunc
		if len(batch) > 0 {
			fctx, cancel = context.WithTimeout(ctx, 5*time.Millisecond) // take what is already there
		}
		m, err := p.r.FetchMessage(fctx)
		if cancel != nil {
			cancel()
		}
		if err != nil {
			if len(batch) > 0 && ctx.Err() == nil {
				return batch, nil
			}
			return nil, err
		}
		n := int64(len(m.Key) + len(m.Value))
		if err := s.bytes.Acquire(ctx, n); err != nil {
			return nil, err
		}
		p.held += n
		s.m.inFlight.Add(float64(n))
		batch = append(batch, m)
	}
	return batch, nil
}

// release gives the bytes of applied messages back to the budget.
func (s *Sink) release(p *partition, msgs []kafka.Message) {
	var n int64
	for _, m := range msgs {
		n += int64(len(m.Key) + len(m.Value))
	}
	s.bytes.Release(n)
	p.held -= n
	s.m.inFlight.Sub(float64(n))
}

// item is one message of a batch with what became of it.
type item struct {
	msg       kafka.Message
	ev        *Event
	dead      string // set before applying: it goes to the dead-letter topic with this reason
	outcome   string // applied, noop, skipped, duplicate, loop, dlq
	reason    string
	conflicts []Conflict
}

// applyBatch applies a batch in target transactions until every event in
// it is applied, skipped or dead-lettered. Transient errors are retried
// with backoff; a row the database refuses sends the batch through again
// one savepoint per event, so that only that event is dead-lettered. An
// event whose reference is missing commits what came before it and waits,
// retried whenever another batch commits, for at most reference_wait;
// then it goes to the dead-letter topic. Other partitions go on.
func (s *Sink) applyBatch(ctx context.Context, p *partition, msgs []kafka.Message) error {
	items := make([]*item, len(msgs))
	for i, m := range msgs {
		it := &item{msg: m}
		ev, err := decodeEvent(ctx, s.dec, m)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			it.dead = "undecodable: " + err.Error()
		}
		it.ev = ev
		items[i] = it
	}
	var waitSince time.Time
	backoff := 100 * time.Millisecond
	isolate := false
	for len(items) > 0 {
		done, err := s.tryBatch(ctx, p, items, isolate)
		if err != nil {
			var rf *rowFailure
			switch {
			case errors.As(err, &rf) && !isolate:
				isolate = true
				continue
			case errors.As(err, &rf):
				return fmt.Errorf("event at offset %d: %w", rf.offset, rf.err)
			case s.transient(err):
				s.m.retries.Inc()
				s.log.Warn("transient error; retrying", "topic", p.tp.Topic, "partition", p.tp.Partition, "err", err, "in", backoff.String())
				if !sleep(ctx, backoff) {
					return ctx.Err()
				}
				backoff = min(backoff*2, s.cfg.RetryMax)
				continue
			}
			return err
		}
		backoff = 100 * time.Millisecond
		if done > 0 {
			s.release(p, msgs[:done])
			items, msgs = items[done:], msgs[done:]
			waitSince, isolate = time.Time{}, false
			continue
		}
		// the first event waits for a reference
		head := items[0]
		if waitSince.IsZero() {
			waitSince = time.Now()
		}
		if time.Since(waitSince) >= s.cfg.ReferenceWait {
			head.dead = "reference not found within " + s.cfg.ReferenceWait.String() + ": " + head.reason
			continue
		}
		s.m.waiting.Inc()
		select {
		case <-ctx.Done():
		case <-s.appliedChan():
		case <-time.After(time.Second):
		}
		s.m.waiting.Dec()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// rowFailure is an event the database refused outside isolation mode.
type rowFailure struct {
	offset int64
	err    error
}

func (e *rowFailure) Error() string { return e.err.Error() }

// tryBatch runs one target transaction over items and returns how many it
// covered (committed). It stops before the first event that waits for a
// reference (whose reason says what it waits for); 0 means that event is
// the first.
func (s *Sink) tryBatch(ctx context.Context, p *partition, items []*item, isolate bool) (int, error) {
	if err := s.conns.Acquire(ctx, 1); err != nil {
		return 0, err
	}
	defer s.conns.Release(1)
	start := time.Now()
	tx, err := s.opts.Target.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	// Lock and read the stored checkpoint (not a change), then upsert it:
	// the first change of the transaction, by which the target's capture
	// drops what follows.
	stored, ok, err := tx.Stored(ctx, s.cfg.Group, p.tp)
	if err != nil {
		return 0, err
	}
	position := p.position
	if ok && stored.Position > position {
		position = stored.Position // another worker got further
	}
	cp := Checkpoint{Consumer: s.cfg.Group, Topic: p.tp.Topic, Partition: p.tp.Partition, Offset: items[0].msg.Offset - 1, Position: position}
	if ok && stored.Offset > cp.Offset {
		cp.Offset = stored.Offset
	}
	if err := tx.Checkpoint(ctx, []Checkpoint{cp}); err != nil {
		return 0, err
	}
	for _, it := range items {
		it.outcome, it.reason, it.conflicts = "", "", nil
	}
	// settled is what becomes of it without applying it, or "" to apply
	settled := func(it *item) string {
		switch {
		case it.dead != "":
			return "dlq"
		case position != "" && it.ev.Source.Order <= position:
			return "duplicate"
		case it.ev.Origin == s.opts.System:
			return "loop"
		}
		return ""
	}
	// live reports whether it is to be applied, settling it otherwise
	live := func(it *item) bool {
		it.outcome = settled(it)
		if it.outcome == "dlq" {
			it.reason = it.dead
		}
		return it.outcome == ""
	}
	applied := func(it *item, outcome Outcome, conflicts []Conflict) {
		it.outcome, it.conflicts = outcome.String(), conflicts
		if it.ev.Source.Order > position {
			position = it.ev.Source.Order
		}
	}
	// failed settles an event Apply refused: false means stop (it waits for
	// a reference); err a failure of the whole transaction.
	failed := func(it *item, err error) (bool, error) {
		if mr, ok := asMissing(err); ok {
			it.reason = mr.Error()
			return false, nil
		}
		de, isData := asData(err)
		if !isData && s.opts.Target.Classify(err) != RowError {
			return false, err
		}
		if !isData && !isolate {
			return false, &rowFailure{offset: it.msg.Offset, err: err}
		}
		it.outcome = "dlq"
		if isData {
			it.reason = de.Reason
		} else {
			it.reason = "the target refused it: " + err.Error()
		}
		return true, nil
	}
	done := 0
loop:
	for done < len(items) {
		it := items[done]
		if !live(it) {
			done++
			continue
		}
		if !isolate && s.writer.bulkPlanFor(it.ev.Entity) != nil {
			// a run of live events of one entity, applied in bulk
			run := []*item{it}
			for j := done + 1; j < len(items) && settled(items[j]) == "" && items[j].ev.Entity == it.ev.Entity; j++ {
				run = append(run, items[j])
			}
			evs := make([]*Event, len(run))
			for j, r := range run {
				evs[j] = r.ev
			}
			outs, confs, n, err := s.writer.ApplyBulk(ctx, tx, evs)
			for j := range n {
				applied(run[j], outs[j], confs[j])
			}
			done += n
			if err == nil {
				continue
			}
			goOn, ferr := failed(run[n], err)
			if ferr != nil {
				return 0, ferr
			}
			if !goOn {
				break loop
			}
			done++
			continue
		}
		if isolate {
			if err := tx.Savepoint(ctx, "tandem_event"); err != nil {
				return 0, err
			}
		}
		outcome, conflicts, err := s.writer.Apply(ctx, tx, it.ev)
		if err != nil {
			goOn, ferr := failed(it, err)
			if ferr != nil {
				return 0, ferr
			}
			if !goOn {
				break
			}
			if isolate {
				if err := tx.RollbackTo(ctx, "tandem_event"); err != nil {
					return 0, err
				}
			}
			done++
			continue
		}
		applied(it, outcome, conflicts)
		done++
	}
	if done == 0 {
		return 0, nil // the first event waits; nothing to commit
	}
	cp.Offset, cp.Position = items[done-1].msg.Offset, position
	if err := tx.Checkpoint(ctx, []Checkpoint{cp}); err != nil {
		return 0, err
	}
	// dead letters and conflicts reach Kafka before the commit: a crash
	// repeats them, never loses them
	if err := s.publish(ctx, p, items[:done]); err != nil {
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	p.position = position
	s.m.batchSeconds.Observe(time.Since(start).Seconds())
	for _, it := range items[:done] {
		s.m.events.WithLabelValues(it.outcome).Inc()
	}
	s.signalApplied()
	if s.opts.OnApplied != nil {
		now := time.Now()
		report := make([]Report, 0, done)
		for _, it := range items[:done] {
			a := Report{Time: now, Sink: s.opts.System, Topic: it.msg.Topic, Partition: it.msg.Partition, Offset: it.msg.Offset,
				Outcome: it.outcome, Reason: it.reason}
			if it.ev != nil {
				a.Entity, a.Op, a.Origin = it.ev.Entity, it.ev.Op.String(), it.ev.Origin
				if info := s.writer.cat[it.ev.Entity]; info != nil {
					a.Key = keyText(it.ev.Values, info.Key)
				}
			}
			report = append(report, a)
		}
		s.opts.OnApplied(report)
	}
	return done, nil
}

// publish writes the dead letters and conflicts of applied items.
func (s *Sink) publish(ctx context.Context, p *partition, items []*item) error {
	var msgs []kafka.Message
	for _, it := range items {
		if it.outcome == "dlq" {
			s.log.Warn("dead-lettered", "topic", p.tp.Topic, "partition", p.tp.Partition, "offset", it.msg.Offset, "reason", it.reason)
			msgs = append(msgs, kafka.Message{Topic: s.dlq, Key: it.msg.Key, Value: it.msg.Value, Headers: []kafka.Header{
				{Key: "tandem.reason", Value: []byte(it.reason)},
				{Key: "tandem.stage", Value: []byte("sink")},
				{Key: "tandem.sink", Value: []byte(s.opts.System)},
				{Key: "tandem.topic", Value: []byte(it.msg.Topic)},
				{Key: "tandem.partition", Value: []byte(strconv.Itoa(it.msg.Partition))},
				{Key: "tandem.offset", Value: []byte(strconv.FormatInt(it.msg.Offset, 10))},
			}})
		}
		for _, c := range it.conflicts {
			s.m.conflicts.WithLabelValues(c.Entity).Inc()
			body, _ := json.Marshal(map[string]any{
				"entity": c.Entity, "key": jsonable(c.Key), "field": c.Field,
				"source":   map[string]any{"system": c.SourceSystem, "value": jsonable(c.SourceValue), "commit_time": c.SourceTime, "event_id": it.ev.EventID},
				"target":   map[string]any{"system": c.TargetSystem, "value": jsonable(c.TargetValue), "updated_at": c.TargetTime},
				"decision": c.Decision, "sink": s.opts.System, "topic": it.msg.Topic, "partition": it.msg.Partition, "offset": it.msg.Offset,
			})
			msgs = append(msgs, kafka.Message{Topic: s.conflict, Key: []byte(c.Entity + ":" + keyText(c.Key, sortedKeys(c.Key))), Value: body})
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	if err := s.out.WriteMessages(ctx, msgs...); err != nil {
		return kafkaWriteError{err}
	}
	return nil
}

// kafkaWriteError is a failed write of dead letters or conflicts; the
// batch is retried while Kafka is unreachable (bus.Retryable).
type kafkaWriteError struct{ err error }

func (e kafkaWriteError) Error() string { return "write to Kafka: " + e.err.Error() }
func (e kafkaWriteError) Unwrap() error { return e.err }

// transient reports whether err passes: the target's transient errors,
// and Kafka being unreachable.
func (s *Sink) transient(err error) bool {
	var ke kafkaWriteError
	if errors.As(err, &ke) {
		return bus.Retryable(ke.err)
	}
	return s.opts.Target.Classify(err) == Transient
}

// jsonable turns canonical values into what reads well in JSON: decimals
// as exact strings.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonable(e)
		}
		return out
	case nil, string, bool, int64, float64, time.Time:
		return x
	}
	return display(v)
}

type metrics struct {
	events       *prometheus.CounterVec
	conflicts    *prometheus.CounterVec
	retries      prometheus.Counter
	waiting      prometheus.Gauge
	inFlight     prometheus.Gauge
	batchSeconds prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_sink_events_total",
			Help: "Events the sink handled, by outcome: applied, noop (the target held the values), skipped (not for this target), duplicate (at or below the stored position), loop (the target's own), dlq."},
			[]string{"outcome"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_sink_conflicts_total",
			Help: "Conflicts detected and written to the conflicts topic, by entity."}, []string{"entity"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_sink_transient_retries_total",
			Help: "Batches retried after a transient error (lost connection, deadlock, serialization failure)."}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tandem_sink_partitions_waiting",
			Help: "Partitions whose next event waits for a reference the target does not have yet."}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tandem_sink_in_flight_bytes",
			Help: "Bytes fetched from Kafka and not yet applied."}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tandem_sink_batch_seconds",
			Help: "Time per applied batch (one target transaction).", Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.events, m.conflicts, m.retries, m.waiting, m.inFlight, m.batchSeconds} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("sink: register metrics: %w", err)
		}
	}
	return m, nil
}
