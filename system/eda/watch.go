package eda

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/edatestbed/testbed/system/domain"
)

// Terminal is an order reaching its end state, as the testbed saw it.
type Terminal struct {
	OrderID string
	State   domain.State
	Reason  string
	At      time.Time // when the testbed received the event
}

// Watch follows the topics that carry terminal events (OrderShipped,
// OrderCancelled) from their beginning and calls fn for each, until ctx
// ends. It is the testbed's own observer, not part of the system. routes
// are as in SaramaConfig.
func Watch(ctx context.Context, brokers []string, routes map[string]string, fn func(Terminal)) error {
	cfg := SaramaConfig("testbed-watch", routes)
	consumer, err := sarama.NewConsumer(brokers, cfg)
	if err != nil {
		return fmt.Errorf("watch terminal events at %v: %w", brokers, err)
	}
	var wg sync.WaitGroup
	var errs []error
	for _, topic := range []string{TopicOrders, TopicShipping} {
		parts, err := consumer.Partitions(topic)
		if err != nil {
			errs = append(errs, fmt.Errorf("partitions of %s: %w", topic, err))
			continue
		}
		for _, p := range parts {
			pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
			if err != nil {
				errs = append(errs, fmt.Errorf("consume %s/%d: %w", topic, p, err))
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer pc.AsyncClose()
				for {
					select {
					case <-ctx.Done():
						return
					case m, ok := <-pc.Messages():
						if !ok {
							return
						}
						at := time.Now()
						e, err := decodeEvent(m.Value)
						if err != nil {
							continue
						}
						switch e.Type {
						case OrderShipped:
							fn(Terminal{OrderID: e.OrderID, State: domain.Shipped, At: at})
						case OrderCancelled:
							fn(Terminal{OrderID: e.OrderID, State: domain.Cancelled, Reason: e.Reason, At: at})
						}
					}
				}
			}()
		}
	}
	if len(errs) > 0 {
		_ = consumer.Close()
		wg.Wait()
		return errors.Join(errs...)
	}
	<-ctx.Done()
	wg.Wait()
	return consumer.Close()
}
