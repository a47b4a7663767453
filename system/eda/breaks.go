package eda

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/IBM/sarama"
)

// Guarantees a test can break on purpose, one per run, to prove that the
// checkers see what each guarantee protects: a checker that cannot fail is
// a defect. They are never set by scenarios or the command line.
const (
	// BreakCommitFirst acknowledges a message before handling it, handing
	// it to a worker queue, and never retries (at-most-once): a crash loses
	// what is queued, a failure what failed.
	BreakCommitFirst = "commit-before-process"
	// BreakSkipDedup forgets which events were handled, and inventory
	// overwrites reservations: a redelivery after a crash reserves twice.
	BreakSkipDedup = "skip-dedup"
	// BreakNoOutbox has order-api write the order and hand its event to an
	// asynchronous, batching producer instead of the outbox: a crash loses
	// the batch of accepted orders not yet sent.
	BreakNoOutbox = "no-outbox"
)

// Breaks lists the switches, for validation.
func Breaks() []string { return []string{BreakCommitFirst, BreakSkipDedup, BreakNoOutbox} }

// queueFirst is ConsumeClaim under BreakCommitFirst.
func (g groupHandler) queueFirst(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	ctx := sess.Context()
	queue := make(chan *sarama.ConsumerMessage, 4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for msg := range queue {
			g.s.process(ctx, msg, false)
		}
	}()
	defer func() {
		close(queue)
		<-done
	}()
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			sess.MarkMessage(msg, "")
			queue <- msg
		case <-ctx.Done():
			return nil
		}
	}
}

// fireAndForget is order-api's placement under BreakNoOutbox.
type fireAndForget struct{ p sarama.AsyncProducer }

func newFireAndForget(brokers []string, cfg *sarama.Config) (*fireAndForget, error) {
	cfg.Producer.Return.Successes = false
	cfg.Producer.Return.Errors = false
	// Batching for a second is what makes the loss visible: a crash takes
	// a second of accepted orders with it.
	cfg.Producer.Flush.Frequency = time.Second
	p, err := sarama.NewAsyncProducer(brokers, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect fire-and-forget producer: %w", err)
	}
	return &fireAndForget{p: p}, nil
}

func (f *fireAndForget) send(_ context.Context, e Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	f.p.Input() <- &sarama.ProducerMessage{Topic: e.Topic(), Key: sarama.StringEncoder(e.OrderID), Value: sarama.ByteEncoder(b)}
	return nil
}
