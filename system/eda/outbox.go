package eda

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/IBM/sarama"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/edatestbed/testbed/system/telemetry"
)

// The outbox's seq is the rowid: a new row gets one more than the largest
// present, so rows are read in commit order. The relay never deletes the
// last row (see trimOutbox): an empty table would hand out 1 again, behind
// the seq the relay reads after. AUTOINCREMENT would also keep
// numbers of deleted rows from coming back, which the relay does not need
// (it deletes only what it read) and which costs a write to sqlite_sequence
// in every transaction that emits.
const outboxSchema = `CREATE TABLE IF NOT EXISTS outbox (
	seq INTEGER PRIMARY KEY,
	topic TEXT NOT NULL,
	key TEXT NOT NULL,
	payload BLOB NOT NULL,
	trace TEXT NOT NULL DEFAULT ''
)`

// addToOutbox records events in the caller's transaction, with the trace
// context of the work that caused them; the relay publishes them after
// commit, continuing that trace.
func (s *service) addToOutbox(ctx context.Context, tx *sql.Tx, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	carrier := propagation.MapCarrier{}
	s.tel.Inject(ctx, carrier)
	tc, err := json.Marshal(carrier)
	if err != nil {
		return fmt.Errorf("encode trace context: %w", err)
	}
	for _, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode %s: %w", e.Type, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (topic, key, payload, trace) VALUES (?, ?, ?, ?)`, e.Topic(), e.OrderID, b, tc); err != nil {
			return fmt.Errorf("add %s to outbox: %w", e.Type, err)
		}
	}
	return nil
}

// relay publishes the outbox in commit order and deletes what the broker
// acknowledged. A crash between the two republishes what was in flight;
// consumers drop the duplicates by event id.
//
// It keeps up to relayWindow events in flight through an asynchronous
// producer, reading the next rows while the broker acknowledges the last
// ones, and deletes the acknowledged head of the outbox behind them. A
// relay that sent a batch and waited for all of it, as it did, spent a
// round trip per batch in a process busy accepting orders: order-api at
// 11,000 orders/s published 2,000 a second (127 ms a batch of 500, the
// broker idle) and the outbox grew without end.
//
// It reads through a connection of its own and deletes through the group
// commit, so that its reads never queue behind the service's writes.
type relay struct {
	log      *slog.Logger
	tel      *telemetry.Telemetry
	read     *sql.DB
	writes   *groupCommit
	producer sarama.AsyncProducer
	wake     chan struct{}
	metrics  *metrics
}

const (
	// relayBatch is how many rows the relay reads at a time.
	relayBatch = 500
	// relayWindow bounds the events handed to the producer and not yet
	// acknowledged: what a failure sends again.
	relayWindow = 8 * relayBatch
)

func newRelay(tel *telemetry.Telemetry, read *sql.DB, writes *groupCommit, p sarama.AsyncProducer, m *metrics) *relay {
	return &relay{log: tel.Log, tel: tel, read: read, writes: writes, producer: p, wake: make(chan struct{}, 1), metrics: m}
}

// notify tells the relay there is something to publish without blocking.
func (r *relay) notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// outgoing is an outbox row handed to the producer, its Metadata.
type outgoing struct {
	seq  int64
	span trace.Span
	done bool
}

// flight is what the relay has sent and not yet deleted: rows in seq
// order, read after the acknowledged head.
type flight struct {
	sent    []*outgoing // in seq order; the head is the oldest not acknowledged
	open    int         // handed to the producer, neither acknowledged nor failed
	acked   int64       // every row up to here is acknowledged
	read    int64       // the last row read
	failure error       // the first failure since the window was last reset
}

// ack records m's outcome and pops the acknowledged head.
func (f *flight) ack(o *outgoing, err error) {
	o.done = true
	f.open--
	if err != nil {
		o.span.RecordError(err)
		if f.failure == nil {
			f.failure = err
		}
	}
	o.span.End()
	if f.failure != nil {
		return // nothing past a failure counts as the head's until it is sent again
	}
	for len(f.sent) > 0 && f.sent[0].done {
		f.acked = f.sent[0].seq
		f.sent = f.sent[1:]
	}
}

func (r *relay) run(ctx context.Context) {
	// The tick catches rows a previous process left behind and any wake-up
	// lost to a full channel, and paces trims.
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	backoff := 50 * time.Millisecond
	pause := func(err error) {
		r.log.Warn("outbox relay", "err", err, "retry_in", backoff)
		sleep(ctx, backoff)
		backoff = min(2*backoff, 2*time.Second)
	}
	f := r.start(ctx)
	var queue []*sarama.ProducerMessage // read, not yet handed to the producer
	more := true                        // there may be rows past f.read
	trimmed := f.acked
	trims := make(chan error, 1)
	trimming := false
	trimDue := false // the tick passed since the last trim
	for {
		if f.failure != nil && f.open == 0 {
			// Everything sent has an outcome: send again from the
			// acknowledged head, after a pause.
			r.measureBacklog(ctx, f.acked)
			endSpans(queue)
			err := f.failure
			queue, f = nil, flight{acked: f.acked, read: f.acked}
			more = true
			pause(err)
		}
		if ctx.Err() != nil {
			return
		}
		if more && len(queue) == 0 && f.failure == nil && len(f.sent) < relayWindow {
			limit := min(relayBatch, relayWindow-len(f.sent))
			msgs, err := r.readBatch(ctx, f.read, limit)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				pause(err)
				continue
			}
			more = len(msgs) == limit // a full read: read on without waiting for a wake-up
			for _, m := range msgs {
				o := m.Metadata.(*outgoing)
				f.sent = append(f.sent, o)
				f.read = o.seq
			}
			queue = msgs
		}
		// Trimming costs a write transaction; at a few events a second
		// that was one per event beside the event's own. A relay trims a
		// batch's worth at once, or whatever is acknowledged at the
		// tick: what a crash sends again is at most that.
		if !trimming && f.acked > trimmed && (trimDue || f.acked-trimmed >= relayBatch) {
			trimming, trimDue = true, false
			upto := f.acked
			go func() { trims <- r.writes.do(ctx, trimOutbox(ctx, upto)) }()
			trimmed = upto
		}
		var input chan<- *sarama.ProducerMessage
		var next *sarama.ProducerMessage
		if len(queue) > 0 && f.failure == nil {
			input, next = r.producer.Input(), queue[0]
		}
		select {
		case <-ctx.Done():
			return
		case input <- next:
			queue = queue[1:]
			f.open++
		case m := <-r.producer.Successes():
			f.ack(m.Metadata.(*outgoing), nil)
			r.metrics.produced.WithLabelValues(m.Topic).Inc()
			if f.failure == nil {
				backoff = 50 * time.Millisecond
			}
		case pe := <-r.producer.Errors():
			f.ack(pe.Msg.Metadata.(*outgoing), fmt.Errorf("publish to %s: %w", pe.Msg.Topic, pe.Err))
		case err := <-trims:
			trimming = false
			if err != nil && ctx.Err() == nil {
				// Not retried at once: the next trim deletes up to the
				// head acknowledged by then, these rows too. Till then they
				// stay published, at worst sent again by a restarted relay.
				r.log.Warn("trim outbox", "err", err)
			}
			r.measureBacklog(ctx, f.acked)
		case <-r.wake:
			more = true
		case <-tick.C:
			more, trimDue = true, true
		}
	}
}

// start finds where a relay starts: after the row before the first the
// outbox holds, waiting for the database as long as ctx lasts.
func (r *relay) start(ctx context.Context) flight {
	for {
		var first int64
		err := r.read.QueryRowContext(ctx, `SELECT COALESCE(MIN(seq), 1) FROM outbox`).Scan(&first)
		if err == nil || ctx.Err() != nil {
			r.measureBacklog(ctx, first-1)
			return flight{acked: first - 1, read: first - 1}
		}
		r.log.Warn("outbox relay", "err", fmt.Errorf("read outbox head: %w", err), "retry_in", time.Second)
		sleep(ctx, time.Second)
	}
}

// trimOutbox deletes the rows up to seq upto, all but the last row of the
// table: that one stays, published, so that the next row's seq is larger
// than any the relay has read. A relay started afresh publishes it once
// more, a duplicate its consumers drop.
func trimOutbox(ctx context.Context, upto int64) func(tx *sql.Tx) ([]Event, error) {
	return func(tx *sql.Tx) ([]Event, error) {
		_, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE seq <= ? AND seq < (SELECT MAX(seq) FROM outbox)`, upto)
		return nil, err
	}
}

// readBatch reads up to limit outbox rows after seq and makes each a
// message continuing the trace of the work that wrote it, through a
// publish span that ends with the broker's answer.
func (r *relay) readBatch(ctx context.Context, after int64, limit int) ([]*sarama.ProducerMessage, error) {
	rows, err := r.read.QueryContext(ctx, `SELECT seq, topic, key, payload, trace FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	defer rows.Close()
	var msgs []*sarama.ProducerMessage
	for rows.Next() {
		var seq int64
		var topic, key, tc string
		var payload []byte
		if err := rows.Scan(&seq, &topic, &key, &payload, &tc); err != nil {
			endSpans(msgs)
			return nil, fmt.Errorf("scan outbox: %w", err)
		}
		m := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key), Value: sarama.ByteEncoder(payload)}
		carrier := propagation.MapCarrier{}
		_ = json.Unmarshal([]byte(tc), &carrier)
		pctx, span := r.tel.Start(r.tel.Extract(ctx, carrier), "publish "+topic, trace.SpanKindProducer,
			attribute.String(telemetry.KeyOrder, key), attribute.String("messaging.destination.name", topic))
		r.tel.Inject(pctx, producerHeaders{m})
		m.Metadata = &outgoing{seq: seq, span: span}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		endSpans(msgs)
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return msgs, nil
}

func endSpans(msgs []*sarama.ProducerMessage) {
	for _, m := range msgs {
		m.Metadata.(*outgoing).span.End()
	}
}

// measureBacklog sets the outbox gauge to the rows after acked, the
// acknowledged head: the largest seq less acked, an index look-up (seqs
// are handed out without gaps), where COUNT(*) read the whole backlog.
func (r *relay) measureBacklog(ctx context.Context, acked int64) {
	var last int64
	if err := r.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM outbox`).Scan(&last); err == nil {
		r.metrics.outbox.Set(float64(max(last-acked, 0)))
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
