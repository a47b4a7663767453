package faults

import (
	"context"
	"fmt"
	"strconv"
	"sync"
)

// Publisher is what a poison-message fault needs: a way to put raw
// messages on a topic.
type Publisher interface {
	Publish(ctx context.Context, topic string, msgs []Message) error
}

// Message is one raw message.
type Message struct {
	Key   string
	Value []byte
}

// Poison publishes messages no consumer can process: half are not JSON at
// all, half are JSON events of an unknown type without an id. A consumer
// that stalls on them, or crashes, fails the fault; one that skips them (or
// dead-letters them) passes.
type Poison struct {
	pub   Publisher
	topic string
	count int

	mu   sync.Mutex
	sent bool
}

// NewPoison returns a fault publishing count poison messages to topic.
func NewPoison(p Publisher, topic string, count int) *Poison {
	return &Poison{pub: p, topic: topic, count: count}
}

// Inject publishes the messages, once.
func (p *Poison) Inject(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sent {
		return nil
	}
	msgs := make([]Message, p.count)
	for i := range msgs {
		msgs[i] = Message{Key: "poison-" + strconv.Itoa(i), Value: []byte("\x00\xffnot an event " + strconv.Itoa(i))}
		if i%2 == 1 {
			msgs[i].Value = fmt.Appendf(nil, `{"type":"Poison","order_id":"poison-%d","note":"no id, unknown type"}`, i)
		}
	}
	if err := p.pub.Publish(ctx, p.topic, msgs); err != nil {
		return fmt.Errorf("publish %d poison messages to %s: %w", p.count, p.topic, err)
	}
	p.sent = true
	return nil
}

// Heal does nothing: published messages stay in the log, as they would.
func (p *Poison) Heal(context.Context) error { return nil }

// Sent is how many poison messages went out.
func (p *Poison) Sent() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sent {
		return p.count
	}
	return 0
}

// Describe says what and where.
func (p *Poison) Describe() string {
	return fmt.Sprintf("publish %d malformed events to topic %s", p.count, p.topic)
}
