//go:build unix

package loadgen

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"
)

// BenchmarkPacer attacks a no-op server at fixed rates for b.N requests.
// ns/op is set by the rate; what the pacer costs shows in the custom
// metrics: CPU per request (client and server, which share the process),
// the worst latency (which includes any pacer lag), and the share of
// requests that failed or were dropped.
func BenchmarkPacer(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	for _, rate := range []float64{1000, 5000, 20000} {
		b.Run(fmt.Sprintf("rate=%.0f", rate), func(b *testing.B) {
			a, err := New(Config{
				URL:         srv.URL,
				Rate:        rate,
				Duration:    time.Duration(float64(b.N) / rate * 1e9),
				Timeout:     10 * time.Second,
				MaxInFlight: 1000,
				Next:        orderRequest,
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
			n := float64(len(res.Records))
			b.ReportMetric((busyCPU(b)-cpu0)/n*1e9, "cpu-ns/req")
			b.ReportMetric(float64(res.AcceptLatency().Max()), "max-µs")
			var failed int64
			for _, s := range res.Seconds() {
				failed += s.Failed
			}
			b.ReportMetric(float64(failed)/n, "failed/req")
		})
	}
}

// busyCPU is the CPU time the process has used so far, in seconds. It
// comes from the kernel, so other processes on the machine do not inflate
// it the way wall time would.
func busyCPU(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
