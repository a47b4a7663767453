package run

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/edatestbed/testbed/internal/report"
	"github.com/edatestbed/testbed/scenarios"
	"github.com/edatestbed/testbed/system/eda"
)

// hops reads, from the EDA services' logs in the bundle, how long each
// event type took from its creation to its emitter's relay publishing it,
// from there to each service that handled it, and how long the handling
// took: where an order's time goes. Rows follow
// eda.EventTypes, then the services' start order; nil for another
// architecture.
func (a *archRun) hops(dir string) []report.Hop {
	if a.plan.arch != scenarios.ArchitectureEDA {
		return nil
	}
	return readHops(filepath.Join(dir, a.plan.arch, "logs"))
}

func readHops(logs string) []report.Hop {
	type pair struct{ event, to string }
	type hists struct{ relay, kafka, handled *hdrhistogram.Histogram }
	seen := map[pair]hists{}
	for _, c := range eda.Components() {
		scanHandled(filepath.Join(logs, c+".log"), func(event string, relay, kafka, handled time.Duration) {
			k := pair{event, c}
			h, ok := seen[k]
			if !ok {
				h = hists{newHopHistogram(), newHopHistogram(), newHopHistogram()}
				seen[k] = h
			}
			// The message's timestamp is to the millisecond: a relay part
			// a little below zero is a relay part of almost nothing.
			_ = h.relay.RecordValue(max(1, relay.Microseconds()))
			_ = h.kafka.RecordValue(max(1, kafka.Microseconds()))
			_ = h.handled.RecordValue(max(1, handled.Microseconds()))
		})
	}
	var out []report.Hop
	for _, typ := range eda.EventTypes() {
		for _, c := range eda.Components() {
			if h, ok := seen[pair{typ, c}]; ok {
				out = append(out, report.Hop{Event: typ, From: eda.Emitter(typ), To: c, Relay: latency(h.relay), Kafka: latency(h.kafka), Handled: latency(h.handled)})
			}
		}
	}
	return out
}

// newHopHistogram holds 1 µs to 10 min at 3 significant figures; longer
// values (an event stuck behind a long outage) are clamped to the top.
func newHopHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(10*time.Minute/time.Microsecond), 3)
}

// scanHandled calls fn for every "event handled" line of a service's log
// that says how long the event waited, and how much of that after its
// publication. A missing log (the service never started) has none.
func scanHandled(path string, fn func(event string, relay, kafka, handled time.Duration)) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(`"event handled"`)) {
			continue
		}
		var l struct {
			Event    string
			Us       int64
			WaitedUs *int64 `json:"waited_us"`
			KafkaUs  *int64 `json:"kafka_us"`
			// Logs written before 2026-12-02 give milliseconds.
			Ms       float64
			WaitedMs *float64 `json:"waited_ms"`
			KafkaMs  *float64 `json:"kafka_ms"`
		}
		if json.Unmarshal(line, &l) != nil {
			continue
		}
		switch {
		case l.WaitedUs != nil && l.KafkaUs != nil:
			fn(l.Event, usDuration(*l.WaitedUs-*l.KafkaUs), usDuration(*l.KafkaUs), usDuration(l.Us))
		case l.WaitedMs != nil && l.KafkaMs != nil:
			fn(l.Event, msDuration(*l.WaitedMs-*l.KafkaMs), msDuration(*l.KafkaMs), msDuration(l.Ms))
		}
	}
}

func usDuration(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
