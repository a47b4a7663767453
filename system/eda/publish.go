package eda

import (
	"context"
	"fmt"

	"github.com/IBM/sarama"
)

// Publish puts raw messages (key, value) on topic from outside the system,
// waiting for acks=all: the testbed's way to inject poison messages.
// routes are as in SaramaConfig.
func Publish(ctx context.Context, brokers []string, routes map[string]string, topic string, keys []string, values [][]byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := sarama.NewSyncProducer(brokers, SaramaConfig("testbed-publisher", routes))
	if err != nil {
		return fmt.Errorf("connect publisher to %v: %w", brokers, err)
	}
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, len(keys))
	for i := range keys {
		msgs[i] = &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(keys[i]), Value: sarama.ByteEncoder(values[i])}
	}
	return p.SendMessages(msgs)
}
