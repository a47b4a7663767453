package eda

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/edatestbed/testbed/system/component"
	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/psp"
	"github.com/edatestbed/testbed/system/store"
	"github.com/edatestbed/testbed/system/telemetry"
)

// The components of the system.
const (
	OrderAPI  = "order-api"
	Inventory = "inventory"
	Payment   = "payment"
	Shipping  = "shipping"
	OrderView = "order-view"
)

// Components lists the processes of the system in start order: consumers
// before the producer that feeds them, the read model before the API.
func Components() []string { return []string{Inventory, Payment, Shipping, OrderView, OrderAPI} }

// Config is what the runtime hands an EDA process.
type Config struct {
	Component string   `json:"component"`
	Listen    string   `json:"listen"` // the API for order-api and order-view, health and metrics for all
	DataDir   string   `json:"data_dir"`
	Brokers   []string `json:"brokers"`
	// BrokerRoutes maps each broker address to this component's own link
	// to it; empty means dial brokers directly.
	BrokerRoutes map[string]string    `json:"broker_routes,omitempty"`
	Catalog      domain.CatalogConfig `json:"catalog"`
	PSPURL       string               `json:"psp_url,omitempty"`
	PSPTimeout   time.Duration        `json:"psp_timeout,omitempty"`
	Telemetry    telemetry.Config     `json:"telemetry"`
	// Break disables one guarantee on purpose, for the tests that prove
	// the checkers notice (see Breaks); empty in every real run.
	Break string `json:"break,omitempty"`
}

// handler reacts to one event. Work outside the database (calling the PSP)
// happens before commit; commit applies the state change and records the
// events to emit, exactly once per consumed event.
type handler func(ctx context.Context, e Event, commit commitFunc) error

type commitFunc func(apply func(tx *sql.Tx) ([]Event, error)) error

// service is one process of the system with what they all share.
type service struct {
	name     string
	cfg      Config
	log      *slog.Logger
	tel      *telemetry.Telemetry
	db       *sql.DB
	catalog  *domain.Catalog
	psp      *psp.Guarded
	producer sarama.SyncProducer
	relay    *relay
	reg      *prometheus.Registry
	metrics  *metrics
	mux      *http.ServeMux
	http     *component.HTTPMetrics

	topics   []string
	handlers map[string]handler
	joined   atomic.Bool
	// background work of the component, run until it stops.
	background []func(context.Context)
	// unsafe is order-api's placement producer under BreakNoOutbox.
	unsafe *fireAndForget
	// writes commits every state change, grouped.
	writes *groupCommit
}

type metrics struct {
	consumed   *prometheus.CounterVec
	produced   *prometheus.CounterVec
	retries    prometheus.Counter
	poison     prometheus.Counter
	dlq        *prometheus.CounterVec
	processing prometheus.Histogram
	wait       *prometheus.HistogramVec
	outbox     prometheus.Gauge
	lag        *prometheus.GaugeVec
	terminal   *prometheus.CounterVec // order-api only: the saga's outcomes
}

func newMetrics() *metrics {
	return &metrics{
		consumed:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "events_consumed_total", Help: "Events handled, by topic and type."}, []string{"topic", "type"}),
		produced:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "events_produced_total", Help: "Events the broker acknowledged, by topic."}, []string{"topic"}),
		retries:    prometheus.NewCounter(prometheus.CounterOpts{Name: "event_retries_total", Help: "Handler attempts that failed and were retried."}),
		poison:     prometheus.NewCounter(prometheus.CounterOpts{Name: "events_poison_total", Help: "Messages that could not be decoded."}),
		dlq:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "events_dead_lettered_total", Help: "Messages sent to a dead-letter topic, by source topic and reason."}, []string{"topic", "reason"}),
		processing: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "event_processing_seconds", Help: "Time to handle one event, retries included.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		wait:       prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "event_wait_seconds", Help: "Time from an event's creation to the start of its handling, by type: the producer's commit, its outbox relay, the broker and the consumer's queue.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"type"}),
		outbox:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "outbox_backlog", Help: "Events committed but not yet acknowledged by the broker."}),
		lag:        prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "consumer_lag", Help: "Messages in a partition after the one being handled (high watermark - offset - 1)."}, []string{"topic", "partition"}),
		terminal:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "orders_terminal_total", Help: "Orders that reached a terminal state, by state and reason."}, []string{"state", "reason"}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.consumed, m.produced, m.retries, m.poison, m.dlq, m.processing, m.wait, m.outbox, m.lag, m.terminal}
}

// Metrics returns fresh copies of the collectors every EDA service
// registers besides component.Metrics, for tools that check dashboards
// and rules against what the services export.
func Metrics() []prometheus.Collector {
	return append(newMetrics().collectors(), psp.BreakerMetrics()...)
}

// processed holds the id of every event a service applied. WITHOUT ROWID
// keeps it one B-tree instead of a table and its key index: one page
// fewer to write per event.
const processedSchema = `CREATE TABLE IF NOT EXISTS processed (id TEXT PRIMARY KEY) WITHOUT ROWID`

// Run starts the component cfg names and serves until ctx ends.
func Run(ctx context.Context, tel *telemetry.Telemetry, cfg Config) error {
	log := tel.Log
	schemas := map[string][]string{
		OrderAPI:  {OrderSchema},
		Inventory: {store.StockSchema, ReservationSchema},
		Payment:   {paymentSchema},
		Shipping:  {ShipmentSchema},
		OrderView: {ViewSchema},
	}
	schema, ok := schemas[cfg.Component]
	if !ok {
		return fmt.Errorf("unknown eda component %q; allowed: %v", cfg.Component, Components())
	}
	if cfg.Break != "" && !slices.Contains(Breaks(), cfg.Break) {
		return fmt.Errorf("unknown break %q; allowed: %v", cfg.Break, Breaks())
	}
	cat, err := domain.NewCatalog(cfg.Catalog)
	if err != nil {
		return fmt.Errorf("build catalogue: %w", err)
	}
	path := filepath.Join(cfg.DataDir, cfg.Component+".db")
	db, err := store.Open(ctx, path, append(schema, processedSchema, outboxSchema)...)
	if err != nil {
		return err
	}
	defer db.Close()

	reg := prometheus.NewRegistry()
	s := &service{
		name: cfg.Component, cfg: cfg, log: log, tel: tel, db: db, catalog: cat, reg: reg,
		metrics:  newMetrics(),
		handlers: map[string]handler{},
	}
	s.writes = newGroupCommit(s)
	reg.MustRegister(s.metrics.collectors()...)
	s.mux = component.Mux(reg, map[string]component.Check{
		"database": func(ctx context.Context) error { return db.PingContext(ctx) },
		"consumer": func(context.Context) error {
			if !s.joined.Load() {
				return errors.New("consumer group not joined yet")
			}
			return nil
		},
	})
	s.http = component.NewHTTPMetrics(reg)

	// Every component produces: to its dead-letter topics, and through its
	// outbox relay when it emits events.
	p, err := sarama.NewSyncProducer(cfg.Brokers, SaramaConfig(cfg.Component, cfg.BrokerRoutes))
	if err != nil {
		return fmt.Errorf("connect producer to %v: %w", cfg.Brokers, err)
	}
	defer p.Close()
	s.producer = p
	if cfg.Component != OrderView {
		read, err := store.OpenReader(path)
		if err != nil {
			return err
		}
		defer read.Close()
		// Its own producer: the relay keeps events in flight through it,
		// and reads whatever the broker answers.
		ap, err := sarama.NewAsyncProducer(cfg.Brokers, SaramaConfig(cfg.Component+"-relay", cfg.BrokerRoutes))
		if err != nil {
			return fmt.Errorf("connect relay producer to %v: %w", cfg.Brokers, err)
		}
		defer ap.Close()
		s.relay = newRelay(tel, read, s.writes, ap, s.metrics)
	}
	if cfg.Break == BreakNoOutbox && cfg.Component == OrderAPI {
		if s.unsafe, err = newFireAndForget(cfg.Brokers, SaramaConfig(cfg.Component+"-unsafe", cfg.BrokerRoutes)); err != nil {
			return err
		}
		defer s.unsafe.p.Close()
	}

	switch cfg.Component {
	case OrderAPI:
		s.orderAPI()
	case Inventory:
		if err := store.SeedStock(ctx, db, cat); err != nil {
			return err
		}
		s.inventory()
	case Payment:
		s.psp = psp.NewGuarded(psp.NewClient(cfg.PSPURL, tel.Client()), "psp")
		reg.MustRegister(s.psp.Collector())
		s.payment()
	case Shipping:
		s.shipping()
	case OrderView:
		s.orderView()
	}
	return s.run(ctx)
}

// on registers h for events of type typ and subscribes to their topic.
func (s *service) on(typ string, h handler) {
	s.handlers[typ] = h
	if t := topicOf[typ]; !slices.Contains(s.topics, t) {
		s.topics = append(s.topics, t)
	}
}

func (s *service) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	group, err := sarama.NewConsumerGroup(s.cfg.Brokers, "eda-"+s.name, SaramaConfig(s.name, s.cfg.BrokerRoutes))
	if err != nil {
		return fmt.Errorf("join consumer group eda-%s at %v: %w", s.name, s.cfg.Brokers, err)
	}
	work := append([]func(context.Context){func(ctx context.Context) { s.consume(ctx, group) }, s.writes.run}, s.background...)
	if s.relay != nil {
		work = append(work, s.relay.run)
	}
	var wg sync.WaitGroup
	for _, w := range work {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w(ctx)
		}()
	}
	err = component.Serve(ctx, s.log, s.cfg.Listen, s.tel.Handler(s.name, s.mux))
	cancel()
	wg.Wait()
	return errors.Join(err, group.Close())
}

func (s *service) consume(ctx context.Context, group sarama.ConsumerGroup) {
	go func() {
		for err := range group.Errors() {
			s.log.Warn("consumer group", "err", err)
		}
	}()
	for ctx.Err() == nil {
		if err := group.Consume(ctx, s.topics, groupHandler{s}); err != nil && ctx.Err() == nil {
			s.log.Warn("consume", "topics", s.topics, "err", err)
			sleep(ctx, 500*time.Millisecond)
		}
	}
}

type groupHandler struct{ s *service }

func (g groupHandler) Setup(sarama.ConsumerGroupSession) error {
	g.s.joined.Store(true)
	return nil
}

func (g groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (g groupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	if g.s.cfg.Break == BreakCommitFirst {
		return g.queueFirst(sess, claim)
	}
	ctx := sess.Context()
	lag := g.s.metrics.lag.WithLabelValues(claim.Topic(), strconv.Itoa(int(claim.Partition())))
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			lag.Set(float64(max(0, claim.HighWaterMarkOffset()-msg.Offset-1)))
			if g.s.process(ctx, msg, true) {
				sess.MarkMessage(msg, "")
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// maxAttempts bounds how often a failing event is tried before it is
// dead-lettered; transient failures (a dependency down) do not count.
const maxAttempts = 8

// transientError marks a failure that will pass when a dependency comes
// back: the event is retried for as long as it takes, never dead-lettered.
type transientError struct{ error }

func (t transientError) Unwrap() error { return t.error }

func transient(err error) error { return transientError{err} }

// process handles one message, retrying failures with capped exponential
// backoff and jitter. A message that cannot be decoded, or keeps failing
// for a reason that is not transient, goes to the dead-letter topic and
// consumption goes on. It reports whether the message may be marked
// consumed: false only when the session ends first. Without retry a
// failure drops the message: what at-most-once delivery does.
func (s *service) process(ctx context.Context, msg *sarama.ConsumerMessage, retry bool) bool {
	e, err := decodeEvent(msg.Value)
	if err != nil {
		s.metrics.poison.Inc()
		s.log.Error("undecodable message, dead-lettering", "topic", msg.Topic, "partition", msg.Partition, "offset", msg.Offset, "err", err)
		return s.deadLetter(ctx, msg, ReasonUndecodable, 1, err)
	}
	h := s.handlers[e.Type]
	if h == nil {
		return true
	}
	ctx = s.tel.Extract(ctx, consumerHeaders(msg.Headers))
	ctx, span := s.tel.Start(ctx, "consume "+e.Type, trace.SpanKindConsumer,
		attribute.String(telemetry.KeyOrder, e.OrderID), attribute.String(telemetry.KeyEvent, e.Type),
		attribute.String(telemetry.KeyEventID, e.ID), attribute.String("messaging.destination.name", msg.Topic))
	defer span.End()
	start := time.Now()
	// How long the event took to get here, from its creation in the
	// producer's transaction: where an order's time goes between two
	// services. The message's timestamp, when the emitter's relay handed it
	// to its Kafka producer (to the millisecond), splits that wait into the
	// relay's part and Kafka's. Every clock is this host's.
	waited := start.Sub(e.At)
	s.metrics.wait.WithLabelValues(e.Type).Observe(waited.Seconds())
	defer func() { s.metrics.processing.Observe(time.Since(start).Seconds()) }()
	backoff := 20 * time.Millisecond
	counted := 0
	for attempt := 1; ; attempt++ {
		err := s.handle(ctx, h, e)
		if err == nil {
			s.metrics.consumed.WithLabelValues(msg.Topic, e.Type).Inc()
			// Whole microseconds: slog's JSON handler writes a float
			// through encoding/json, three of them 5 % of order-view's CPU.
			s.log.InfoContext(ctx, "event handled", "order", e.OrderID, "event", e.Type, "attempts", attempt,
				"us", time.Since(start).Microseconds(), "waited_us", waited.Microseconds(), "kafka_us", start.Sub(msg.Timestamp).Microseconds())
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if !retry {
			s.log.ErrorContext(ctx, "handler failed, message dropped (at-most-once)", "order", e.OrderID, "event", e.ID, "err", err)
			return true
		}
		if !errors.As(err, new(transientError)) {
			if counted++; counted >= maxAttempts {
				s.log.ErrorContext(ctx, "event keeps failing, dead-lettering", "order", e.OrderID, "event", e.ID, "attempts", attempt, "err", err)
				return s.deadLetter(ctx, msg, ReasonFailed, attempt, err)
			}
		}
		s.metrics.retries.Inc()
		span.AddEvent("retry", trace.WithAttributes(attribute.String("error", err.Error())))
		s.log.WarnContext(ctx, "handler failed, retrying", "order", e.OrderID, "event", e.ID, "err", err, "retry_in", backoff)
		sleep(ctx, backoff/2+rand.N(backoff/2+1))
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (s *service) handle(ctx context.Context, h handler, e Event) error {
	if s.cfg.Break == BreakSkipDedup {
		return h(ctx, e, func(apply func(tx *sql.Tx) ([]Event, error)) error { return s.emit(ctx, apply) })
	}
	// The event's id goes into processed in the transaction that applies
	// it, so a redelivery changes nothing. Nothing is looked up before the
	// handler runs: the only work a handler does before its commit is the
	// PSP's, idempotent by order id, and a look-up would cost every event a
	// read transaction for the rare duplicate.
	return h(ctx, e, func(apply func(tx *sql.Tx) ([]Event, error)) error {
		return s.emit(ctx, func(tx *sql.Tx) ([]Event, error) {
			res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO processed (id) VALUES (?)`, e.ID)
			if err != nil {
				return nil, fmt.Errorf("record %s processed: %w", e.ID, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return nil, nil // a concurrent redelivery won
			}
			return apply(tx)
		})
	})
}

// emit runs apply in a transaction, adds the events it returns to the
// outbox in the same transaction, and wakes the relay after commit.
func (s *service) emit(ctx context.Context, apply func(tx *sql.Tx) ([]Event, error)) error {
	return s.writes.do(ctx, apply)
}
