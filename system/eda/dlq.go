package eda

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/IBM/sarama"
)

// DLQSuffix names the dead-letter topic of a topic: orders -> orders.dlq.
const DLQSuffix = ".dlq"

// Why a message was dead-lettered.
const (
	ReasonUndecodable = "undecodable" // not an event at all: poison
	ReasonFailed      = "failed"      // an event its handler kept failing on
)

// Headers a dead letter carries, besides the original message's.
const (
	HeaderDLQReason    = "dlq.reason"
	HeaderDLQConsumer  = "dlq.consumer"
	HeaderDLQAttempts  = "dlq.attempts"
	HeaderDLQError     = "dlq.error"
	HeaderDLQTopic     = "dlq.topic"
	HeaderDLQPartition = "dlq.partition"
	HeaderDLQOffset    = "dlq.offset"
	HeaderDLQAt        = "dlq.at"
)

// DLQTopics lists the dead-letter topic of every topic.
func DLQTopics() []string {
	var out []string
	for _, t := range Topics() {
		out = append(out, t+DLQSuffix)
	}
	return out
}

// deadLetter copies msg to its topic's dead-letter topic with why, and
// retries until the broker takes it or the session ends; it reports
// whether msg may be marked consumed.
func (s *service) deadLetter(ctx context.Context, msg *sarama.ConsumerMessage, reason string, attempts int, cause error) bool {
	dl := &sarama.ProducerMessage{Topic: msg.Topic + DLQSuffix, Key: sarama.ByteEncoder(msg.Key), Value: sarama.ByteEncoder(msg.Value)}
	for _, h := range msg.Headers {
		dl.Headers = append(dl.Headers, *h)
	}
	for k, v := range map[string]string{
		HeaderDLQReason: reason, HeaderDLQConsumer: s.name, HeaderDLQAttempts: strconv.Itoa(attempts),
		HeaderDLQError: cause.Error(), HeaderDLQTopic: msg.Topic,
		HeaderDLQPartition: strconv.Itoa(int(msg.Partition)), HeaderDLQOffset: strconv.FormatInt(msg.Offset, 10),
		HeaderDLQAt: time.Now().UTC().Format(time.RFC3339Nano),
	} {
		dl.Headers = append(dl.Headers, sarama.RecordHeader{Key: []byte(k), Value: []byte(v)})
	}
	backoff := 100 * time.Millisecond
	for {
		_, _, err := s.producer.SendMessage(dl)
		if err == nil {
			s.metrics.dlq.WithLabelValues(msg.Topic, reason).Inc()
			return true
		}
		s.log.Warn("dead-letter publish failed, retrying", "topic", dl.Topic, "err", fmt.Sprint(err))
		sleep(ctx, backoff)
		if ctx.Err() != nil {
			return false
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// DeadLetter is one message of a dead-letter topic, as read back.
type DeadLetter struct {
	Topic     string            `json:"topic"` // the dead-letter topic
	Partition int32             `json:"partition"`
	Offset    int64             `json:"offset"`
	Key       string            `json:"key"`
	Value     string            `json:"value"`
	Headers   map[string]string `json:"headers"`
}

// ReadDeadLetters reads every dead-letter topic from the beginning up to
// its end at the time of the call. routes map advertised broker addresses
// to where this process reaches them, as in SaramaConfig.
func ReadDeadLetters(ctx context.Context, brokers []string, routes map[string]string) ([]DeadLetter, error) {
	client, err := sarama.NewClient(brokers, SaramaConfig("testbed-dlq-reader", routes))
	if err != nil {
		return nil, fmt.Errorf("read dead letters from %v: %w", brokers, err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	defer consumer.Close()
	var out []DeadLetter
	for _, topic := range DLQTopics() {
		parts, err := client.Partitions(topic)
		if err != nil {
			return out, fmt.Errorf("partitions of %s: %w", topic, err)
		}
		for _, p := range parts {
			end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
			if err != nil {
				return out, fmt.Errorf("end of %s/%d: %w", topic, p, err)
			}
			if end == 0 {
				continue
			}
			pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
			if err != nil {
				return out, fmt.Errorf("read %s/%d: %w", topic, p, err)
			}
			for done := false; !done; {
				select {
				case <-ctx.Done():
					pc.Close()
					return out, ctx.Err()
				case m := <-pc.Messages():
					dl := DeadLetter{Topic: topic, Partition: p, Offset: m.Offset, Key: string(m.Key), Value: string(m.Value), Headers: map[string]string{}}
					for _, h := range m.Headers {
						dl.Headers[string(h.Key)] = string(h.Value)
					}
					out = append(out, dl)
					done = m.Offset+1 >= end
				}
			}
			pc.Close()
		}
	}
	return out, nil
}
