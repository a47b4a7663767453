//go:build unix

package compare

import (
	"fmt"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/edatestbed/testbed/internal/loadgen"
)

// BenchmarkGenerators drives the trivial target of Run with each generator
// at the same fixed rates, b.N requests each, one after the other in the
// same process. ns/op is set by the rate. The comparison is in the custom
// metrics, which the load of other processes disturbs less than a ceiling
// search: the CPU this process spends per request (both generators share it
// with the same target, so the difference is the generators'), the median
// and p99 latency each generator reports (ours from the intended send time,
// vegeta's from the moment a worker took the tick), vegeta's p99 taken from
// its schedule as ours is (p99-sched-µs), and the share of requests that
// failed. Run it with -count and compare the gen= lines with benchstat.
func BenchmarkGenerators(b *testing.B) {
	url, stop, err := serveTarget()
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	for _, rate := range []float64{5000, 10000} {
		b.Run(fmt.Sprintf("rate=%.0f/gen=ours", rate), func(b *testing.B) {
			a, err := loadgen.New(loadgen.Config{
				URL: url, Rate: rate, Warmup: 200 * time.Millisecond,
				Duration: time.Duration(float64(b.N) / rate * 1e9), Timeout: 10 * time.Second, MaxInFlight: 1024,
				Next: func(seq uint64) loadgen.Request {
					return loadgen.Request{ID: strconv.FormatUint(seq, 10), Body: []byte("{}")}
				},
			})
			if err != nil {
				b.Fatal(err)
			}
			cpu0 := busyCPU(b)
			b.ResetTimer()
			res, err := a.Run(b.Context())
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			cpu := busyCPU(b) - cpu0
			var failed, n int64
			for _, s := range res.Seconds() {
				failed += s.Failed
				n += s.Offered
			}
			h := res.AcceptLatency()
			// The warm-up's CPU is spread over the measured requests: it is
			// a fifth of their number at most, and vegeta's warm-up below
			// is counted the same way.
			b.ReportMetric(cpu/float64(n)*1e9, "cpu-ns/req")
			b.ReportMetric(float64(h.ValueAtQuantile(50)), "p50-µs")
			b.ReportMetric(float64(h.ValueAtQuantile(99)), "p99-µs")
			b.ReportMetric(float64(failed)/float64(n), "failed/req")
		})
		b.Run(fmt.Sprintf("rate=%.0f/gen=vegeta", rate), func(b *testing.B) {
			hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1024}}
			defer hc.CloseIdleConnections()
			tr := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodPost, URL: url, Body: []byte("{}"),
				Header: http.Header{"Content-Type": {"application/json"}}})
			pacer := vegeta.ConstantPacer{Freq: int(rate), Per: time.Second}
			interval := time.Second / time.Duration(pacer.Freq)
			lat := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
			sched := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
			var n, failed int
			// The results are read as they come, as Run's probes read them,
			// rather than kept: a slice of them would make vegeta's heap,
			// and so its garbage collection, larger than in Run.
			attack := func(d time.Duration, measure bool) {
				a := vegeta.NewAttacker(vegeta.Client(hc), vegeta.MaxWorkers(1024))
				start := time.Now()
				for r := range a.Attack(tr, pacer, d, "bench") {
					if !measure {
						continue
					}
					n++
					if r.Code/100 != 2 || r.Error != "" {
						failed++
						continue
					}
					_ = lat.RecordValue(r.Latency.Microseconds())
					due := start.Add(time.Duration(r.Seq+1) * interval) // as in vegetaProbe
					_ = sched.RecordValue(max(r.Timestamp.Add(r.Latency).Sub(due).Microseconds(), 1))
				}
			}
			cpu0 := busyCPU(b)
			attack(200*time.Millisecond, false) // the warm-up ours has
			b.ResetTimer()
			attack(time.Duration(float64(b.N)/rate*1e9), true)
			b.StopTimer()
			cpu := busyCPU(b) - cpu0
			b.ReportMetric(cpu/float64(n)*1e9, "cpu-ns/req")
			b.ReportMetric(float64(lat.ValueAtQuantile(50)), "p50-µs")
			b.ReportMetric(float64(lat.ValueAtQuantile(99)), "p99-µs")
			b.ReportMetric(float64(sched.ValueAtQuantile(99)), "p99-sched-µs")
			b.ReportMetric(float64(failed)/float64(n), "failed/req")
		})
	}
}

// busyCPU is the CPU time the process has used so far, in seconds: the
// kernel's count, which other processes on the machine do not inflate.
func busyCPU(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
