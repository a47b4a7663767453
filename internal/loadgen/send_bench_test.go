//go:build unix

package loadgen

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkSend is one worker's send path, request by request, against a
// no-op server in the same process: build the request, send it, read the
// answer, classify it, fill in the Record and hand it on. ns/op is one loopback round
// trip and allocs/op counts client and server together, so a change to the
// send path shows against the same server cost. cpu-ns/op is the CPU the
// process spent per request, which other processes on the machine disturb
// less than the wall time of a round trip.
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	for _, bc := range []struct {
		name     string
		classify func(int, []byte) Outcome
	}{
		{"classify=status", nil},
		{"classify=body", func(status int, body []byte) Outcome { return Outcome{Accepted: status == http.StatusNoContent} }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			a, err := New(Config{URL: srv.URL, Rate: 1, Duration: time.Second, Timeout: 10 * time.Second,
				MaxInFlight: 1, Next: orderRequest, Classify: bc.classify})
			if err != nil {
				b.Fatal(err)
			}
			defer a.transport.CloseIdleConnections()
			var last Record
			r := &run{a: a, base: b.Context(), seq: newSequencer(func(rec *Record) error {
				last = *rec
				return nil
			})}
			body := []byte(`{"sku":"a","qty":1}`)
			w := &worker{dl: deadline{base: r.base, timeout: a.cfg.Timeout}}
			defer w.dl.release()
			b.ReportAllocs()
			cpu0 := busyCPU(b)
			for seq := uint64(0); b.Loop(); seq++ {
				a.inFlight.Add(1)
				r.hit(w, job{rec: Record{Seq: seq}, due: time.Now(), body: body})
				if last.Seq != seq || last.Kind != Accepted {
					b.Fatalf("record %+v, want request %d accepted", last, seq)
				}
			}
			b.ReportMetric((busyCPU(b)-cpu0)/float64(b.N)*1e9, "cpu-ns/op")
		})
	}
}
