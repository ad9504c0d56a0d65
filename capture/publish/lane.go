package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tandem-sync/tandem/bus"
)

// laneKey names one partition of one topic.
type laneKey struct {
	topic     string
	partition int
}

// item is one queued record.
type item struct {
	msg  kafka.Message
	tx   *txn
	size int // bus.Record.Size, for the byte caps
}

// lane is the queue of one partition and the goroutine that writes it, one
// batch at a time. The queue fields are guarded by Publisher.mu; batch and
// msgs belong to the lane's goroutine.
type lane struct {
	key  laneKey
	wake chan struct{} // capacity 1: records were queued

	queue   []item // pending records are queue[head:]
	head    int
	bytes   int       // bytes of the pending records
	firstAt time.Time // when the queue last went from empty to not empty

	batch []item
	msgs  []kafka.Message
}

func (l *lane) pending() int { return len(l.queue) - l.head }

// push appends it to the queue. Called with Publisher.mu held.
func (l *lane) push(it item) {
	if l.pending() == 0 {
		l.firstAt = time.Now()
	}
	l.queue = append(l.queue, it)
	l.bytes += it.size
}

// take moves the next batch (at most maxRecords records and maxBytes bytes,
// but at least one record) from the queue into l.batch and returns its
// bytes. Called with Publisher.mu held.
func (l *lane) take(maxRecords, maxBytes int) int {
	pend := l.queue[l.head:]
	n, bytes := 0, 0
	for n < len(pend) && n < maxRecords {
		s := pend[n].size
		if n > 0 && bytes+s > maxBytes {
			break
		}
		bytes += s
		n++
	}
	l.batch = append(l.batch[:0], pend[:n]...)
	clear(pend[:n]) // drop references to the records
	l.head += n
	l.bytes -= bytes
	switch {
	case l.pending() == 0:
		l.queue, l.head = l.queue[:0], 0
	case l.head > len(l.queue)/2:
		k := copy(l.queue, l.queue[l.head:])
		clear(l.queue[k:])
		l.queue, l.head = l.queue[:k], 0
	}
	return bytes
}

// runLane writes the lane's batches until the publisher fails, or it is
// closed and the queue is empty.
func (p *Publisher) runLane(l *lane) {
	defer p.lanesWG.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		bytes, ok := p.nextBatch(l, timer)
		if !ok {
			return
		}
		l.msgs = l.msgs[:0]
		for i := range l.batch {
			l.msgs = append(l.msgs, l.batch[i].msg)
		}
		err := p.write(l)
		n := len(l.msgs)
		clear(l.msgs)
		if err != nil {
			// A write cancelled because the publisher stopped is no
			// write error of its own.
			cancelled := errors.Is(err, context.Canceled) && p.writeCtx.Err() != nil
			if !cancelled {
				p.m.writeErrors.Inc()
			}
			werr := fmt.Errorf("write %d records to %s[%d]: %w", n, l.key.topic, l.key.partition, err)
			if !p.fail(werr) && !cancelled {
				// The first failure is returned by Run; a later one
				// would be lost without this line.
				p.log.Warn("write failed after the publisher stopped", "topic", l.key.topic,
					"partition", l.key.partition, "records", n, "err", err)
			}
			clear(l.batch)
			return
		}
		p.written(l.batch, bytes)
		clear(l.batch)
		p.m.batchWritten(l.key.topic, n, bytes)
		if p.log.Enabled(context.Background(), slog.LevelDebug) {
			p.log.Debug("wrote batch", "topic", l.key.topic, "partition", l.key.partition, "records", n, "bytes", bytes)
		}
	}
}

// nextBatch waits until the lane has a batch to write: a full one, or a
// partial one whose first record has waited Linger, or whatever is left
// once the publisher is closing. It returns false when the lane is done.
func (p *Publisher) nextBatch(l *lane, timer *time.Timer) (int, bool) {
	maxRecords, maxBytes, linger := p.prod.BatchSize, p.prod.BatchBytes, p.prod.Linger
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if p.err != nil {
			return 0, false
		}
		n := l.pending()
		var wait time.Duration
		switch {
		case n == 0 && p.closed:
			return 0, false
		case n == 0:
			wait = -1 // until woken
		case n >= maxRecords || l.bytes >= maxBytes || p.closed || linger <= 0:
			return l.take(maxRecords, maxBytes), true
		default:
			wait = time.Until(l.firstAt.Add(linger))
			if wait <= 0 {
				return l.take(maxRecords, maxBytes), true
			}
		}
		var expired <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			expired = timer.C
		}
		p.mu.Unlock()
		select {
		case <-l.wake:
		case <-expired:
		case <-p.failed:
		case <-p.closing:
		}
		timer.Stop()
		p.mu.Lock()
	}
}

// write writes the lane's batch. While Kafka cannot be reached (a broker
// restarting, a network blip) it tries again with a backoff of up to 5 s,
// for as long as it takes: the capture waits behind the in-flight caps,
// and the stored position stays where Kafka acknowledged. A batch whose
// answer was lost may be written twice; the sinks skip duplicates. Other
// errors (a record too large, no authorization) fail the publisher.
func (p *Publisher) write(l *lane) error {
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := p.io.WriteFn(p.writeCtx, l.key.topic, l.key.partition, l.msgs)
		if err == nil || !bus.Retryable(err) || p.writeCtx.Err() != nil {
			return err
		}
		p.m.writeErrors.Inc()
		p.log.Warn("Kafka unavailable; retrying the write", "topic", l.key.topic, "partition", l.key.partition,
			"records", len(l.msgs), "attempt", attempt, "retry_in", backoff, "err", err)
		select {
		case <-p.writeCtx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}
