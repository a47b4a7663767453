package eda

import (
	"net"
	"reflect"
	"time"

	"github.com/IBM/sarama"
	gometrics "github.com/rcrowley/go-metrics"
)

// KafkaVersion is the protocol version the clients speak. Static group
// membership (KIP-345) needs 2.3 or later; it lets a crashed consumer come
// back under the same identity without waiting out a rebalance.
var KafkaVersion = sarama.V3_6_0_0

// SaramaConfig is the client configuration every component shares:
// idempotent producer with acks=all, consumer groups with static membership.
// routes maps a broker's advertised address to the address this client must
// dial instead: its own proxy to that broker, so that a fault can cut one
// client from one broker and nobody else.
func SaramaConfig(clientID string, routes map[string]string) *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = clientID
	c.Version = KafkaVersion
	c.MetricRegistry = discardMetrics{}
	c.Net.DialTimeout = 3 * time.Second
	// A broker that vanishes (node loss, blackhole) costs a request this
	// long before the client moves on; Kafka's 30 s default would make
	// every such fault look six times worse than a tuned deployment.
	c.Net.ReadTimeout = 5 * time.Second
	c.Net.WriteTimeout = 5 * time.Second
	if len(routes) > 0 {
		c.Net.Proxy.Enable = true
		c.Net.Proxy.Dialer = routeDialer{routes: routes, d: net.Dialer{Timeout: c.Net.DialTimeout, KeepAlive: c.Net.KeepAlive}}
	}
	c.Metadata.Retry.Backoff = 200 * time.Millisecond

	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Idempotent = true
	c.Net.MaxOpenRequests = 1 // required by the idempotent producer
	c.Producer.Return.Successes = true
	c.Producer.Retry.Max = 10
	c.Producer.Retry.Backoff = 100 * time.Millisecond

	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.AutoCommit.Interval = 200 * time.Millisecond
	c.Consumer.MaxWaitTime = 100 * time.Millisecond
	// A partition's share of one fetch answer. Sarama's 1 MiB default,
	// times the 32 partitions a consumer may hold on a broker, let a
	// consumer behind a backlog carry 24 MB of answers (payment, heap
	// profile of a run at 2,500 orders/s); 256 KiB is still some 400
	// events a partition a fetch, far more than a handler gets through
	// before the next one.
	c.Consumer.Fetch.Default = 256 << 10
	c.Consumer.Group.Session.Timeout = 6 * time.Second // the broker's minimum
	c.Consumer.Group.Heartbeat.Interval = time.Second
	c.Consumer.Group.InstanceId = clientID
	return c
}

// routeDialer dials the route of a broker address when it has one.
type routeDialer struct {
	routes map[string]string
	d      net.Dialer
}

func (r routeDialer) Dial(network, addr string) (net.Conn, error) {
	if to, ok := r.routes[addr]; ok {
		addr = to
	}
	return r.d.Dial(network, addr)
}

// discardMetrics is a go-metrics registry that keeps nothing. Sarama
// records rates, sizes and latencies of every request and message into its
// registry; we export none of them (our own Prometheus series say what a
// run needs), and recording them cost 4-6 % of each consumer's CPU at 500
// orders/s (go-metrics' meters and exponentially decaying samples, CPU
// profiles of shipping, payment and order-view). Sarama's own switch,
// metrics.UseNilMetrics, is a process-wide variable.
type discardMetrics struct{}

// GetOrRegister hands out go-metrics' no-op kinds for the constructors
// sarama passes, and builds anything else as the standard registry would,
// so that a kind a later sarama asks for still works.
func (discardMetrics) GetOrRegister(_ string, m any) any {
	switch m.(type) {
	case func() gometrics.Meter:
		return gometrics.NilMeter{}
	case func() gometrics.Counter:
		return gometrics.NilCounter{}
	case func() gometrics.Histogram:
		return gometrics.NilHistogram{}
	}
	if v := reflect.ValueOf(m); v.Kind() == reflect.Func && v.Type().NumIn() == 0 && v.Type().NumOut() == 1 {
		return v.Call(nil)[0].Interface()
	}
	return m
}

func (discardMetrics) Each(func(string, any))            {}
func (discardMetrics) Get(string) any                    { return nil }
func (discardMetrics) GetAll() map[string]map[string]any { return nil }
func (discardMetrics) Register(string, any) error        { return nil }
func (discardMetrics) RunHealthchecks()                  {}
func (discardMetrics) Unregister(string)                 {}
func (discardMetrics) UnregisterAll()                    {}
