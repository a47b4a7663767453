// Package compare measures the testbed's load generator against vegeta,
// the field's reference open-model load generator, on the same target in
// the same run, so the testbed's ceiling is a figure with a yardstick.
package compare

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/edatestbed/testbed/internal/loadgen"
)

// Result is both generators on one target.
type Result struct {
	Ours, Vegeta       float64 // highest sustained rate, requests/s
	Rate               float64 // the common rate the latencies were taken at
	OursP99, VegetaP99 time.Duration
}

// sustainShare is the share of a probe's requests that must be answered
// with success within the step: the same rule for both generators.
const sustainShare = 0.99

// Run starts a trivial local target (204 at once) and measures both
// generators against it: the highest rate each sustains (same search, same
// rule: no error, 99 % of the requests answered within the step), then the
// p99 of each at half the lower of the two.
func Run(ctx context.Context, step time.Duration) (Result, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Result{}, fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/"

	var res Result
	if res.Ours, err = loadgen.MaxRate(ctx, loadgen.Target{URL: url}, 1000, step); err != nil {
		return res, fmt.Errorf("our load generator: %w", err)
	}
	// Like ours, vegeta keeps one client, so every probe starts on warm
	// connections and no probe leaves its idle ones behind.
	hc := &http.Client{Timeout: step, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1024}}
	defer hc.CloseIdleConnections()
	if res.Vegeta, err = loadgen.Search(1000, step, func(rate float64) (bool, error) {
		ok, _, err := vegetaProbe(ctx, hc, url, rate, step)
		return ok, err
	}); err != nil {
		return res, fmt.Errorf("vegeta: %w", err)
	}
	res.Rate = min(res.Ours, res.Vegeta) / 2
	if res.OursP99, err = oursP99(ctx, url, res.Rate, step); err != nil {
		return res, err
	}
	if _, res.VegetaP99, err = vegetaProbe(ctx, hc, url, res.Rate, step); err != nil {
		return res, err
	}
	return res, nil
}

// vegetaProbe attacks url at rate for step and judges it by the rule of
// loadgen.MaxRate, counting answers by arrival within the step.
func vegetaProbe(ctx context.Context, hc *http.Client, url string, rate float64, step time.Duration) (bool, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return false, 0, err
	}
	a := vegeta.NewAttacker(vegeta.Client(hc), vegeta.MaxWorkers(1024))
	tr := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodPost, URL: url, Body: []byte("{}"),
		Header: http.Header{"Content-Type": {"application/json"}}})
	pacer := vegeta.ConstantPacer{Freq: int(rate), Per: time.Second}
	start := time.Now()
	var m vegeta.Metrics
	inTime, failed := 0, false
	for r := range a.Attack(tr, pacer, step, "probe-"+strconv.Itoa(int(rate))) {
		m.Add(r)
		if r.Code/100 != 2 || r.Error != "" {
			failed = true
		}
		if r.Timestamp.Add(r.Latency).Sub(start) < step {
			inTime++
		}
	}
	m.Close()
	want := sustainShare*rate*step.Seconds() - 1
	return !failed && float64(inTime) >= want, m.Latencies.P99, nil
}

// oursP99 runs our generator at rate for step and reads its p99, which is
// measured from the intended send time.
func oursP99(ctx context.Context, url string, rate float64, step time.Duration) (time.Duration, error) {
	a, err := loadgen.New(loadgen.Config{
		URL: url, Rate: rate, Warmup: step / 5, Duration: step, Timeout: step, MaxInFlight: 1024,
		Next: func(seq uint64) loadgen.Request {
			return loadgen.Request{ID: strconv.FormatUint(seq, 10), Body: []byte("{}")}
		},
	})
	if err != nil {
		return 0, err
	}
	r, err := a.Run(ctx)
	if err != nil {
		return 0, err
	}
	return time.Duration(r.AcceptLatency().ValueAtQuantile(99)) * time.Microsecond, nil
}
