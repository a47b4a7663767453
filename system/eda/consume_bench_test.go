package eda

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/edatestbed/testbed/system/store"
	"github.com/edatestbed/testbed/system/telemetry"
)

// benchConsumer is the part of a service that handling an event and relaying
// the outbox touch: its database, telemetry as a run has it (spans sampled,
// info logs, JSON, here to io.Discard), metrics, handlers and group commit.
// It has no consumer group and no HTTP server; producer is nil unless the
// benchmark sets one.
func benchConsumer(b testing.TB, name string, schema ...string) *service {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	tel, err := telemetry.New(ctx, telemetry.Config{Arch: "eda"}, name, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	dir := b.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, name+".db"), append(schema, processedSchema, outboxSchema)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	s := &service{name: name, cfg: Config{Component: name, DataDir: dir}, log: tel.Log, tel: tel, db: db,
		metrics: newMetrics(), handlers: map[string]handler{}}
	s.writes = newGroupCommit(s)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.writes.run(ctx)
	}()
	b.Cleanup(func() { cancel(); <-done })
	return s
}

// paymentSucceededMsg is the message shipping consumes for order n.
func paymentSucceededMsg(n int64) *sarama.ConsumerMessage {
	e := NewEvent(PaymentSucceeded, fmt.Sprintf("o-%d", n))
	e.Customer = "c-1"
	e.Amount = 4200
	v, _ := json.Marshal(e) // as the relay publishes it; an Event always encodes
	return &sarama.ConsumerMessage{Topic: TopicPayments, Key: []byte(e.OrderID), Value: v, Offset: n}
}

// BenchmarkConsume is shipping handling one PaymentSucceeded it has not
// seen: decode, and one group commit that records the event id (its
// INSERT OR IGNORE is the dedup), the shipment and the OrderShipped event
// in the outbox. serial is one partition's claim, handled message after
// message; parallel is 2×GOMAXPROCS claims at once (four on a two-core
// machine; a topic of the system has 32 partitions, spread over the
// consumers of its group), whose writes the group commit shares. The
// message is built inside the loop, a few microseconds of the operation.
func BenchmarkConsume(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		s := benchConsumer(b, Shipping, ShipmentSchema)
		s.shipping()
		ctx := context.Background()
		b.ReportAllocs()
		var n int64
		for b.Loop() {
			n++
			if !s.process(ctx, paymentSucceededMsg(n), true) {
				b.Fatal("event not handled")
			}
		}
		checkShipped(b, s.db, n)
	})
	b.Run("parallel", func(b *testing.B) {
		s := benchConsumer(b, Shipping, ShipmentSchema)
		s.shipping()
		ctx := context.Background()
		var n atomic.Int64
		b.ReportAllocs()
		b.SetParallelism(2)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !s.process(ctx, paymentSucceededMsg(n.Add(1)), true) {
					b.Error("event not handled")
					return
				}
			}
		})
		checkShipped(b, s.db, n.Load())
	})
}

// checkShipped makes sure the benchmark measured the work, not a failure
// that returned early.
func checkShipped(b *testing.B, db *sql.DB, want int64) {
	b.Helper()
	var shipped, outbox int64
	if err := db.QueryRow(`SELECT (SELECT COUNT(*) FROM shipments), (SELECT COUNT(*) FROM outbox)`).Scan(&shipped, &outbox); err != nil {
		b.Fatal(err)
	}
	if shipped != want || outbox != want {
		b.Fatalf("%d shipments, %d outbox rows after %d events, want one each", shipped, outbox, want)
	}
}

// startRelay runs s's outbox relay against brokers, as Run does, until
// the test ends.
func startRelay(tb testing.TB, s *service, brokers []string) *relay {
	tb.Helper()
	p, err := sarama.NewAsyncProducer(brokers, SaramaConfig(s.name+"-relay", nil))
	if err != nil {
		tb.Fatal(err)
	}
	read, err := store.OpenReader(filepath.Join(s.cfg.DataDir, s.name+".db"))
	if err != nil {
		p.Close()
		tb.Fatal(err)
	}
	r := newRelay(s.tel, read, s.writes, p, s.metrics)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.run(ctx)
	}()
	tb.Cleanup(func() {
		cancel()
		<-done
		p.Close()
		read.Close()
	})
	return r
}

// BenchmarkOutboxRelay is the relay publishing relayBatch events per op to
// an embedded Kafka-protocol broker, the one the package's tests use, with
// acks from all replicas as the services ask, and deleting them from the
// outbox: the outbox is filled outside the timing, then the relay drains
// it, its window of events in flight as in a run. ns/event is the relay's
// cost per event.
func BenchmarkOutboxRelay(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(4, Topics()...))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s := benchConsumer(b, Shipping, ShipmentSchema)
	r := startRelay(b, s, c.ListenAddrs())
	ctx := context.Background()

	var order int
	fill := func(n int) {
		events := make([]Event, n)
		for i := range events {
			order++
			events[i] = NewEvent(OrderShipped, fmt.Sprintf("o-%d", order))
		}
		if err := store.InTx(ctx, s.db, func(tx *sql.Tx) error { return s.addToOutbox(ctx, tx, events) }); err != nil {
			b.Fatal(err)
		}
		r.notify()
	}
	produced := s.metrics.produced.WithLabelValues(NewEvent(OrderShipped, "").Topic())
	// A poll, not a wait for readiness: a tenth of a millisecond late at
	// most, against drains of many milliseconds.
	await := func(want int) {
		for int(testutil.ToFloat64(produced)) < want {
			time.Sleep(100 * time.Microsecond)
		}
	}
	fill(1) // connections and metadata, outside the timing
	await(1)
	b.ReportAllocs()
	b.ResetTimer()
	b.StopTimer()
	fill(b.N * relayBatch)
	b.StartTimer()
	await(1 + b.N*relayBatch)
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*relayBatch), "ns/event")
}
