package eda

import (
	"time"

	"github.com/IBM/sarama"
)

// KafkaVersion is the protocol version the clients speak. Static group
// membership (KIP-345) needs 2.3 or later; it lets a crashed consumer come
// back under the same identity without waiting out a rebalance.
var KafkaVersion = sarama.V3_6_0_0

// SaramaConfig is the client configuration every component shares:
// idempotent producer with acks=all, consumer groups with static membership.
func SaramaConfig(clientID string) *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = clientID
	c.Version = KafkaVersion
	c.Net.DialTimeout = 3 * time.Second
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
	c.Consumer.Group.Session.Timeout = 6 * time.Second // the broker's minimum
	c.Consumer.Group.Heartbeat.Interval = time.Second
	c.Consumer.Group.InstanceId = clientID
	return c
}
