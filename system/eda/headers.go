package eda

import "github.com/IBM/sarama"

// producerHeaders lets a propagator write trace context into a message.
type producerHeaders struct{ m *sarama.ProducerMessage }

func (h producerHeaders) Get(key string) string {
	for _, r := range h.m.Headers {
		if string(r.Key) == key {
			return string(r.Value)
		}
	}
	return ""
}

func (h producerHeaders) Set(key, value string) {
	for i, r := range h.m.Headers {
		if string(r.Key) == key {
			h.m.Headers[i].Value = []byte(value)
			return
		}
	}
	h.m.Headers = append(h.m.Headers, sarama.RecordHeader{Key: []byte(key), Value: []byte(value)})
}

func (h producerHeaders) Keys() []string {
	keys := make([]string, len(h.m.Headers))
	for i, r := range h.m.Headers {
		keys[i] = string(r.Key)
	}
	return keys
}

// consumerHeaders lets a propagator read trace context from a message.
type consumerHeaders []*sarama.RecordHeader

func (h consumerHeaders) Get(key string) string {
	for _, r := range h {
		if string(r.Key) == key {
			return string(r.Value)
		}
	}
	return ""
}

// Set is never called on received messages; the propagation interface
// requires it.
func (h consumerHeaders) Set(string, string) {}

func (h consumerHeaders) Keys() []string {
	keys := make([]string, len(h))
	for i, r := range h {
		keys[i] = string(r.Key)
	}
	return keys
}
