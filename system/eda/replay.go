package eda

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/IBM/sarama"

	"github.com/edatestbed/testbed/system/store"
)

// Replay rebuilds the read model from the event log alone: every event of
// every topic, from the beginning to the end the topic has now, each event
// id once, folded into db (opened with ViewSchema) by the projection
// order-view itself uses. It returns how many events it applied.
func Replay(ctx context.Context, brokers []string, db *sql.DB) (int, error) {
	client, err := sarama.NewClient(brokers, SaramaConfig("testbed-replay", nil))
	if err != nil {
		return 0, fmt.Errorf("replay from %v: %w", brokers, err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return 0, fmt.Errorf("replay: %w", err)
	}
	defer consumer.Close()
	seen := map[string]bool{}
	applied := 0
	for _, topic := range Topics() {
		parts, err := client.Partitions(topic)
		if err != nil {
			return applied, fmt.Errorf("partitions of %s: %w", topic, err)
		}
		for _, p := range parts {
			end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
			if err != nil {
				return applied, fmt.Errorf("end of %s/%d: %w", topic, p, err)
			}
			if end == 0 {
				continue
			}
			pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
			if err != nil {
				return applied, fmt.Errorf("read %s/%d: %w", topic, p, err)
			}
			var batch []Event
			for done := false; !done; {
				select {
				case <-ctx.Done():
					pc.Close()
					return applied, ctx.Err()
				case m := <-pc.Messages():
					done = m.Offset+1 >= end
					e, err := decodeEvent(m.Value)
					if err != nil || seen[e.ID] {
						continue // poison, or a redelivered duplicate
					}
					seen[e.ID] = true
					batch = append(batch, e)
				}
			}
			pc.Close()
			err = store.InTx(ctx, db, func(tx *sql.Tx) error {
				for _, e := range batch {
					if err := projectTx(ctx, tx, e); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return applied, fmt.Errorf("fold %s/%d: %w", topic, p, err)
			}
			applied += len(batch)
		}
	}
	return applied, nil
}

// ReadViews reads every row of a read model.
func ReadViews(ctx context.Context, db *sql.DB) (map[string]View, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, customer, amount, state, reason FROM order_view`)
	if err != nil {
		return nil, fmt.Errorf("read order view: %w", err)
	}
	defer rows.Close()
	out := map[string]View{}
	for rows.Next() {
		var v View
		if err := rows.Scan(&v.ID, &v.Customer, &v.Amount, &v.State, &v.Reason); err != nil {
			return nil, fmt.Errorf("read order view: %w", err)
		}
		out[v.ID] = v
	}
	return out, rows.Err()
}
