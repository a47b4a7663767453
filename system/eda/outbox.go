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
// present, so rows are read in commit order. AUTOINCREMENT would also keep
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
// acknowledged. A crash between the two republishes a batch; consumers
// drop the duplicates by event id.
type relay struct {
	log      *slog.Logger
	tel      *telemetry.Telemetry
	db       *sql.DB
	producer sarama.SyncProducer
	wake     chan struct{}
	metrics  *metrics
}

const relayBatch = 500

func newRelay(tel *telemetry.Telemetry, db *sql.DB, p sarama.SyncProducer, m *metrics) *relay {
	return &relay{log: tel.Log, tel: tel, db: db, producer: p, wake: make(chan struct{}, 1), metrics: m}
}

// notify tells the relay there is something to publish without blocking.
func (r *relay) notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *relay) run(ctx context.Context) {
	// The tick catches rows a previous process left behind and any wake-up
	// lost to a full channel.
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	backoff := 50 * time.Millisecond
	for {
		n, err := r.publishBatch(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			r.log.Warn("outbox relay", "err", err, "retry_in", backoff)
			sleep(ctx, backoff)
			backoff = min(2*backoff, 2*time.Second)
			continue
		case n == relayBatch:
			continue
		}
		backoff = 50 * time.Millisecond
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-tick.C:
		}
	}
}

func (r *relay) publishBatch(ctx context.Context) (int, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT seq, topic, key, payload, trace FROM outbox ORDER BY seq LIMIT ?`, relayBatch)
	if err != nil {
		return 0, fmt.Errorf("read outbox: %w", err)
	}
	var msgs []*sarama.ProducerMessage
	var spans []trace.Span
	defer func() {
		for _, sp := range spans {
			sp.End()
		}
	}()
	var last int64
	for rows.Next() {
		var topic, key, tc string
		var payload []byte
		if err := rows.Scan(&last, &topic, &key, &payload, &tc); err != nil {
			rows.Close()
			return 0, fmt.Errorf("scan outbox: %w", err)
		}
		m := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key), Value: sarama.ByteEncoder(payload)}
		// Each message continues the trace of the work that wrote it,
		// through a publish span, into the consumers.
		carrier := propagation.MapCarrier{}
		_ = json.Unmarshal([]byte(tc), &carrier)
		pctx, span := r.tel.Start(r.tel.Extract(ctx, carrier), "publish "+topic, trace.SpanKindProducer,
			attribute.String(telemetry.KeyOrder, key), attribute.String("messaging.destination.name", topic))
		r.tel.Inject(pctx, producerHeaders{m})
		spans = append(spans, span)
		msgs = append(msgs, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read outbox: %w", err)
	}
	if len(msgs) == 0 {
		r.metrics.outbox.Set(0)
		return 0, nil
	}
	// The backlog is measured whatever happens, so that it shows growth
	// while the broker is unreachable, when it matters most.
	defer r.measureBacklog(ctx)
	if err := r.producer.SendMessages(msgs); err != nil {
		for _, sp := range spans {
			sp.RecordError(err)
		}
		return 0, fmt.Errorf("publish %d events: %w", len(msgs), err)
	}
	for _, m := range msgs {
		r.metrics.produced.WithLabelValues(m.Topic).Inc()
	}
	if _, err := r.db.ExecContext(ctx, `DELETE FROM outbox WHERE seq <= ?`, last); err != nil {
		return 0, fmt.Errorf("trim outbox: %w", err)
	}
	return len(msgs), nil
}

func (r *relay) measureBacklog(ctx context.Context) {
	var left int
	if err := r.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&left); err == nil {
		r.metrics.outbox.Set(float64(left))
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
