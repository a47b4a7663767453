package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func orderRequest(seq uint64) Request {
	return Request{ID: fmt.Sprintf("o-%d", seq), Body: []byte(`{"sku":"a","qty":1}`)}
}

// attack runs cfg against url with the defaults tests share.
func attack(t *testing.T, url string, cfg Config) *Result {
	t.Helper()
	cfg.URL = url
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = 1000
	}
	if cfg.Next == nil {
		cfg.Next = orderRequest
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func kinds(recs []Record) map[Kind]int {
	m := make(map[Kind]int)
	for _, r := range recs {
		m[r.Kind]++
	}
	return m
}

func TestRunSchedulesExactly(t *testing.T) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || string(body) != `{"sku":"a","qty":1}` {
			t.Errorf("got %s %q %q, want POST application/json with the order", r.Method, r.Header.Get("Content-Type"), body)
		}
		got.Add(1)
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()

	// MaxInFlight covers every request, so that a stall of this machine
	// cannot turn a request into a drop.
	const total, warm = 1400, 200
	cfg := Config{URL: srv.URL, Rate: 1000, Warmup: 200 * time.Millisecond, Duration: 1200 * time.Millisecond,
		Timeout: 10 * time.Second, MaxInFlight: total, Next: orderRequest}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Progress is read while the attack runs, as the CLI does; the race
	// detector checks that this is safe.
	stop := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for {
			select {
			case <-stop:
				return
			default:
				_ = a.Snapshot()
				time.Sleep(time.Millisecond)
			}
		}
	}()
	res, err := a.Run(t.Context())
	close(stop)
	<-polled
	if err != nil {
		t.Fatal(err)
	}

	if n := got.Load(); n != total {
		t.Errorf("server got %d requests, want %d", n, total)
	}
	if len(res.Records) != total {
		t.Fatalf("got %d records, want %d", len(res.Records), total)
	}
	for i, rec := range res.Records {
		want := time.Duration(i)*time.Millisecond - cfg.Warmup
		if rec.Seq != uint64(i) || rec.Intended != want || rec.Warmup != (i < warm) || rec.ID != fmt.Sprintf("o-%d", i) {
			t.Fatalf("record %d = %+v, want seq %d intended %v warmup %v", i, rec, i, want, i < warm)
		}
	}
	if k := kinds(res.Records); k[Accepted] != total {
		t.Errorf("kinds %v, want all %d accepted", k, total)
	}
	want := []Bucket{{T: 0, Offered: 1000, Accepted: 1000}, {T: time.Second, Offered: 200, Accepted: 200}}
	if got := res.Seconds(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("seconds = %+v, want %+v", got, want)
	}
	if n := res.AcceptLatency().TotalCount(); n != total-warm {
		t.Errorf("accept latency has %d values, want %d", n, total-warm)
	}
	if s := a.Snapshot(); s.Offered != total || s.Accepted != total || s.Failed != 0 || s.InFlight != 0 {
		t.Errorf("snapshot after run = %+v", s)
	}
}

func TestRunLatencyIncludesQueueing(t *testing.T) {
	// The server answers one request at a time, so requests queue behind
	// each other; their latency must count that wait from the intended time.
	const sleep = 20 * time.Millisecond
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		time.Sleep(sleep)
	}))
	defer srv.Close()

	res := attack(t, srv.URL, Config{Rate: 100, Duration: 200 * time.Millisecond})
	n := len(res.Records)
	var worst time.Duration
	for _, rec := range res.Records {
		if rec.Kind != Accepted || rec.Latency < sleep {
			t.Errorf("record %+v: want accepted with latency >= %v", rec, sleep)
		}
		worst = max(worst, rec.Latency)
	}
	// The n-th answer cannot come before n×sleep after the start, and the
	// last request was due (n-1)/rate after it.
	if floor := time.Duration(n)*sleep - time.Duration(n-1)*10*time.Millisecond; worst < floor {
		t.Errorf("worst latency %v, want >= %v: queueing was not counted", worst, floor)
	}
}

func TestRunDropsBeyondMaxInFlight(t *testing.T) {
	const sleep = 50 * time.Millisecond
	var served, cur, peak atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		n := cur.Add(1)
		defer cur.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(sleep)
	}))
	defer srv.Close()

	res := attack(t, srv.URL, Config{Rate: 200, Duration: 300 * time.Millisecond, MaxInFlight: 1})
	if len(res.Records) != 60 {
		t.Fatalf("got %d records, want 60: the pacer must not slow down", len(res.Records))
	}
	k := kinds(res.Records)
	if k[Accepted] == 0 || k[Dropped] == 0 || k[Accepted]+k[Dropped] != 60 {
		t.Errorf("kinds %v, want accepted and dropped only", k)
	}
	if int64(k[Accepted]) != served.Load() {
		t.Errorf("server saw %d requests, %d accepted: dropped requests must not be sent", served.Load(), k[Accepted])
	}
	if p := peak.Load(); p != 1 {
		t.Errorf("server saw %d concurrent requests, want 1", p)
	}
	for _, rec := range res.Records {
		if rec.Kind == Accepted && rec.Latency < sleep {
			t.Errorf("record %+v: latency below the server's %v", rec, sleep)
		}
		if rec.Kind == Dropped && rec.Status != 0 {
			t.Errorf("dropped record %+v has a status", rec)
		}
	}
	b := res.Seconds()
	if len(b) != 1 || b[0].Offered != 60 || b[0].Dropped != int64(k[Dropped]) || b[0].Failed != int64(k[Dropped]) {
		t.Errorf("seconds = %+v, want 60 offered and every drop counted as failed", b)
	}
}

func TestRunClassifiesByStatus(t *testing.T) {
	tests := []struct {
		status int
		want   Kind
	}{
		{http.StatusOK, Accepted},
		{http.StatusAccepted, Accepted},
		{http.StatusFound, Rejected}, // an answer, not a redirect to follow
		{http.StatusBadRequest, Rejected},
		{http.StatusInternalServerError, Rejected},
		{http.StatusServiceUnavailable, Rejected},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.status == http.StatusFound {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			res := attack(t, srv.URL, Config{Rate: 100, Duration: 100 * time.Millisecond})
			if len(res.Records) != 10 {
				t.Fatalf("got %d records, want 10", len(res.Records))
			}
			for _, rec := range res.Records {
				if rec.Kind != tt.want || rec.Status != tt.status {
					t.Errorf("record %+v, want %v with status %d", rec, tt.want, tt.status)
				}
			}
		})
	}
}

func TestRunTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	const timeout = 50 * time.Millisecond
	res := attack(t, srv.URL, Config{Rate: 100, Duration: 100 * time.Millisecond, Timeout: timeout})
	if len(res.Records) != 10 {
		t.Fatalf("got %d records, want 10", len(res.Records))
	}
	for _, rec := range res.Records {
		if rec.Kind != Timeout || rec.Status != 0 || rec.Latency < timeout {
			t.Errorf("record %+v, want a timeout after >= %v without status", rec, timeout)
		}
	}
	if b := res.Seconds(); b[0].Timeout != 10 || b[0].Failed != 10 {
		t.Errorf("seconds = %+v, want 10 timeouts counted as failed", b)
	}
}

func TestRunTransportError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more: connections are refused

	res := attack(t, url, Config{Rate: 100, Duration: 100 * time.Millisecond})
	if k := kinds(res.Records); k[Error] != 10 {
		t.Errorf("kinds %v, want 10 errors", k)
	}
}

func TestRunClassifyTerminal(t *testing.T) {
	// Like the monolith: even orders answer with their terminal state, odd
	// ones are only taken; the server names the order.
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		state := ""
		if i%2 == 0 {
			state = "shipped"
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"id": fmt.Sprintf("srv-%d", i), "state": state})
	}))
	defer srv.Close()

	classify := func(status int, body []byte) Outcome {
		var ans struct{ ID, State string }
		if err := json.Unmarshal(body, &ans); err != nil {
			t.Errorf("classify got %q: %v", body, err)
		}
		return Outcome{Accepted: status == http.StatusOK, OrderID: ans.ID, Terminal: ans.State}
	}
	res := attack(t, srv.URL, Config{Rate: 100, Duration: 100 * time.Millisecond, Classify: classify})

	done := make(map[string]Completion)
	var terminal int
	for _, rec := range res.Records {
		if rec.Kind != Accepted || !strings.HasPrefix(rec.ID, "srv-") {
			t.Fatalf("record %+v, want accepted under the server's id", rec)
		}
		if rec.Terminal != "" {
			terminal++
			continue
		}
		done[rec.ID] = Completion{At: res.Start.Add(rec.Intended + time.Second), State: "cancelled"}
	}
	if terminal == 0 || terminal == len(res.Records) {
		t.Fatalf("%d of %d records terminal, want some", terminal, len(res.Records))
	}
	c := res.Complete(done, time.Hour)
	if c.Completed != int64(len(res.Records)) || c.Unfinished != 0 || c.States["shipped"] != int64(terminal) {
		t.Errorf("completions %+v, want all %d completed, %d shipped", c, len(res.Records), terminal)
	}
}

func TestRunCapsClassifyBody(t *testing.T) {
	big := strings.Repeat("x", 3*maxBody)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, big)
	}))
	defer srv.Close()

	var sizes sync.Map
	classify := func(status int, body []byte) Outcome {
		sizes.Store(len(body), true)
		return Outcome{Accepted: true}
	}
	res := attack(t, srv.URL, Config{Rate: 100, Duration: 50 * time.Millisecond, Classify: classify})
	if k := kinds(res.Records); k[Accepted] != 5 {
		t.Errorf("kinds %v, want 5 accepted", k)
	}
	sizes.Range(func(k, _ any) bool {
		if k.(int) != maxBody {
			t.Errorf("classify got %d bytes, want the first %d", k, maxBody)
		}
		return true
	})
}

func TestRunCancel(t *testing.T) {
	const seen = 5
	var n atomic.Int64
	enough := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == seen {
			close(enough)
		}
	}))
	defer srv.Close()

	a, err := New(Config{URL: srv.URL, Rate: 100, Duration: time.Minute, Timeout: 10 * time.Second,
		MaxInFlight: 100, Next: orderRequest})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		<-enough
		cancel()
	}()
	res, err := a.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run returned %v, want context.Canceled", err)
	}
	if len(res.Records) < seen || len(res.Records) >= 6000 {
		t.Fatalf("got %d records, want a partial run of at least %d", len(res.Records), seen)
	}
	for i, rec := range res.Records {
		if rec.Seq != uint64(i) || rec.Kind == 0 {
			t.Errorf("record %d = %+v, want a finished request", i, rec)
		}
	}
	if res.Duration >= time.Minute || res.Duration <= 0 {
		t.Errorf("duration %v, want the scheduled part of the minute", res.Duration)
	}
	if _, err := a.Run(t.Context()); err == nil {
		t.Error("second run succeeded, want an error")
	}
}

func TestNewValidates(t *testing.T) {
	good := Config{URL: "http://127.0.0.1:1/orders", Rate: 10, Duration: time.Second, Timeout: time.Second,
		MaxInFlight: 1, Next: orderRequest}
	if _, err := New(good); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   []string
	}{
		{"no url", func(c *Config) { c.URL = "" }, []string{"url"}},
		{"relative url", func(c *Config) { c.URL = "/orders" }, []string{"url", "absolute"}},
		{"ftp url", func(c *Config) { c.URL = "ftp://host/orders" }, []string{"url", "http"}},
		{"zero rate", func(c *Config) { c.Rate = 0 }, []string{"rate 0"}},
		{"negative warmup", func(c *Config) { c.Warmup = -time.Second }, []string{"warmup"}},
		{"zero duration", func(c *Config) { c.Duration = 0 }, []string{"duration"}},
		{"zero timeout", func(c *Config) { c.Timeout = 0 }, []string{"timeout"}},
		{"zero max in flight", func(c *Config) { c.MaxInFlight = 0 }, []string{"max in flight"}},
		{"no next", func(c *Config) { c.Next = nil }, []string{"next"}},
		{"too many", func(c *Config) { c.Rate = 1e9; c.Duration = time.Hour }, []string{"more than"}},
		{"empty period", func(c *Config) { c.Rate = 1; c.Warmup = 500 * time.Millisecond; c.Duration = 300 * time.Millisecond },
			[]string{"no request falls in the measured period"}},
		{"everything", func(c *Config) { *c = Config{Rate: -1} },
			[]string{"url", "rate -1", "duration", "timeout", "max in flight", "next"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.change(&cfg)
			_, err := New(cfg)
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestSnapshotBeforeRun(t *testing.T) {
	a, err := New(Config{URL: "http://127.0.0.1:1", Rate: 1, Duration: time.Second, Timeout: time.Second,
		MaxInFlight: 1, Next: orderRequest})
	if err != nil {
		t.Fatal(err)
	}
	if s := a.Snapshot(); s != (Snapshot{}) {
		t.Errorf("snapshot before run = %+v, want zero", s)
	}
}

// Observe gets every record once, as final as Result holds it: answered
// and dropped requests alike.
func TestRunObservesEveryRecord(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
	}))
	defer srv.Close()
	var mu sync.Mutex
	seen := map[uint64]Record{}
	res := attack(t, srv.URL, Config{Rate: 200, Duration: 300 * time.Millisecond, MaxInFlight: 1, Observe: func(r Record) {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := seen[r.Seq]; dup {
			t.Errorf("record %d observed twice", r.Seq)
		}
		seen[r.Seq] = r
	}})
	if len(seen) != len(res.Records) {
		t.Fatalf("observed %d records, the result holds %d", len(seen), len(res.Records))
	}
	k := kinds(res.Records)
	if k[Accepted] == 0 || k[Dropped] == 0 {
		t.Fatalf("kinds %v: want both accepted and dropped requests to observe", k)
	}
	for _, want := range res.Records {
		if got := seen[want.Seq]; got != want {
			t.Errorf("observed %+v, result holds %+v", got, want)
		}
	}
}
