package eda

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/IBM/sarama"
)

const outboxSchema = `CREATE TABLE IF NOT EXISTS outbox (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	topic TEXT NOT NULL,
	key TEXT NOT NULL,
	payload BLOB NOT NULL
)`

// addToOutbox records events in the caller's transaction; the relay
// publishes them after commit.
func addToOutbox(ctx context.Context, tx *sql.Tx, events []Event) error {
	for _, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode %s: %w", e.Type, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (topic, key, payload) VALUES (?, ?, ?)`, e.Topic(), e.OrderID, b); err != nil {
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
	db       *sql.DB
	producer sarama.SyncProducer
	wake     chan struct{}
	metrics  *metrics
}

const relayBatch = 500

func newRelay(log *slog.Logger, db *sql.DB, p sarama.SyncProducer, m *metrics) *relay {
	return &relay{log: log, db: db, producer: p, wake: make(chan struct{}, 1), metrics: m}
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
	rows, err := r.db.QueryContext(ctx, `SELECT seq, topic, key, payload FROM outbox ORDER BY seq LIMIT ?`, relayBatch)
	if err != nil {
		return 0, fmt.Errorf("read outbox: %w", err)
	}
	var msgs []*sarama.ProducerMessage
	var last int64
	for rows.Next() {
		var topic, key string
		var payload []byte
		if err := rows.Scan(&last, &topic, &key, &payload); err != nil {
			rows.Close()
			return 0, fmt.Errorf("scan outbox: %w", err)
		}
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key), Value: sarama.ByteEncoder(payload)})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read outbox: %w", err)
	}
	if len(msgs) == 0 {
		r.metrics.outbox.Set(0)
		return 0, nil
	}
	if err := r.producer.SendMessages(msgs); err != nil {
		return 0, fmt.Errorf("publish %d events: %w", len(msgs), err)
	}
	for _, m := range msgs {
		r.metrics.produced.WithLabelValues(m.Topic).Inc()
	}
	if _, err := r.db.ExecContext(ctx, `DELETE FROM outbox WHERE seq <= ?`, last); err != nil {
		return 0, fmt.Errorf("trim outbox: %w", err)
	}
	var left int
	if err := r.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&left); err == nil {
		r.metrics.outbox.Set(float64(left))
	}
	return len(msgs), nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
