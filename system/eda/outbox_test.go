package eda

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/edatestbed/testbed/system/store"
)

// TestRelayPublishesEveryEventThroughBrokerErrors has the broker refuse
// the relay's first produce requests, with events in flight behind them,
// and checks that the outbox empties and every event in it reached the
// topic: the relay sends again from the acknowledged head.
func TestRelayPublishesEveryEventThroughBrokerErrors(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(4, Topics()...))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const refusals = 3
	var produces atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if produces.Add(1) > refusals {
			return nil, nil, false
		}
		return refuseProduce(req.(*kmsg.ProduceRequest)), nil, true
	})

	s := benchConsumer(t, Shipping, ShipmentSchema)
	r := startRelay(t, s, c.ListenAddrs())
	ctx := context.Background()

	// More than a read's worth in each transaction, so that failures find
	// events in flight and read behind them.
	want := map[string]bool{}
	for range 3 {
		events := make([]Event, relayBatch+200)
		for i := range events {
			events[i] = NewEvent(OrderShipped, fmt.Sprintf("o-%d", len(want)))
			want[events[i].OrderID] = true
		}
		if err := store.InTx(ctx, s.db, func(tx *sql.Tx) error { return s.addToOutbox(ctx, tx, events) }); err != nil {
			t.Fatal(err)
		}
		r.notify()
	}

	// The outbox keeps its last row (trimOutbox); every other one goes
	// once the broker has acknowledged it and all before it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var left int
		if err := s.db.QueryRow(`SELECT COUNT(*) FROM outbox`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left <= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rows left in the outbox after 30 s (%d produce requests)", left, produces.Load())
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	topic := NewEvent(OrderShipped, "").Topic()
	got := topicKeys(t, c.ListenAddrs(), topic)
	for id := range want {
		if !got[id] {
			t.Errorf("event of %s left the outbox but is not on %s", id, topic)
		}
	}
	if n := produces.Load(); n <= refusals {
		t.Fatalf("%d produce requests, want more than the %d refused", n, refusals)
	}
}

// refuseProduce answers every partition of req with an error sarama does
// not retry, so that the relay sees it at once.
func refuseProduce(req *kmsg.ProduceRequest) *kmsg.ProduceResponse {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	resp.SetVersion(req.Version)
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// topicKeys reads every message of topic up to its end and returns their
// keys.
func topicKeys(t *testing.T, brokers []string, topic string) map[string]bool {
	t.Helper()
	client, err := sarama.NewClient(brokers, SaramaConfig("test-reader", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, part := range parts {
		end, err := client.GetOffset(topic, part, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		if end == 0 {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, part, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		for m := range pc.Messages() {
			keys[string(m.Key)] = true
			if m.Offset >= end-1 {
				break
			}
		}
		pc.Close()
	}
	return keys
}
