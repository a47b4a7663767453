package balancer

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// replica is a fake monolith replica that records what it was sent.
type replica struct {
	name    string
	srv     *httptest.Server
	healthy atomic.Bool
	// answer decides the reply to POST /orders; nil answers 200.
	answer func(w http.ResponseWriter) bool

	mu     sync.Mutex
	bodies []string
}

func newReplica(t *testing.T, name string) *replica {
	t.Helper()
	r := &replica{name: name}
	r.healthy.Store(true)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/healthz" {
			if !r.healthy.Load() {
				http.Error(w, "database unreachable", http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, string(b))
		r.mu.Unlock()
		if r.answer != nil && r.answer(w) {
			return
		}
		io.WriteString(w, r.name)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *replica) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

func newBalancer(t *testing.T, tryTimeout time.Duration, rs ...*replica) (*Balancer, *httptest.Server) {
	t.Helper()
	cfg := Config{HealthTimeout: time.Second, TryTimeout: tryTimeout}
	for _, r := range rs {
		cfg.Backends = append(cfg.Backends, Backend{Name: r.name, Addr: r.srv.Listener.Addr().String()})
	}
	b, err := New(cfg, &http.Transport{Proxy: nil}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(b)
	t.Cleanup(front.Close)
	return b, front
}

// post sends POST /orders through the balancer and returns who answered.
func post(t *testing.T, front *httptest.Server, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(front.URL+"/orders", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRoundRobin(t *testing.T) {
	a, b := newReplica(t, "a"), newReplica(t, "b")
	_, front := newBalancer(t, 0, a, b)
	var who []string
	for range 4 {
		_, name := post(t, front, `{"id":"o"}`)
		who = append(who, name)
	}
	if got := strings.Join(who, ","); got != "a,b,a,b" {
		t.Fatalf("answered by %s, want a,b,a,b", got)
	}
}

func TestHealthChecksTakeReplicasOutAndBack(t *testing.T) {
	a, b := newReplica(t, "a"), newReplica(t, "b")
	lb, front := newBalancer(t, 0, a, b)
	b.healthy.Store(false)
	lb.Check(context.Background())
	if v := value(t, lb.up.WithLabelValues("b")); v != 0 {
		t.Fatalf("lb_backend_up{b} = %v after a failed check, want 0", v)
	}
	for range 3 {
		if _, name := post(t, front, `{}`); name != "a" {
			t.Fatalf("answered by %s while b fails its health check", name)
		}
	}
	if lb.Healthy(context.Background()) != nil {
		t.Fatal("balancer unhealthy with a in rotation")
	}
	b.healthy.Store(true)
	lb.Check(context.Background())
	seen := map[string]bool{}
	for range 2 {
		_, name := post(t, front, `{}`)
		seen[name] = true
	}
	if !seen["b"] {
		t.Fatal("b not back in rotation after a passed check")
	}
	a.healthy.Store(false)
	b.healthy.Store(false)
	lb.Check(context.Background())
	if lb.Healthy(context.Background()) == nil {
		t.Fatal("balancer healthy with no replica in rotation")
	}
}

func TestRetryOnAnotherReplica(t *testing.T) {
	tests := []struct {
		name   string
		answer func(w http.ResponseWriter) bool
		// down: the failed replica leaves the rotation at once.
		down bool
	}{
		{"connection dropped", func(w http.ResponseWriter) bool {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return true
		}, true},
		{"503", func(w http.ResponseWriter) bool {
			http.Error(w, "place order: database gone", http.StatusServiceUnavailable)
			return true
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := newReplica(t, "a"), newReplica(t, "b")
			a.answer = tt.answer
			lb, front := newBalancer(t, 0, a, b)
			code, name := post(t, front, `{"id":"o-1"}`)
			if code != http.StatusOK || name != "b" {
				t.Fatalf("answer %d from %q, want 200 from b", code, name)
			}
			// The same order went to both: the id makes the second a replay.
			if ga, gb := a.got(), b.got(); len(ga) != 1 || len(gb) != 1 || ga[0] != `{"id":"o-1"}` || gb[0] != ga[0] {
				t.Fatalf("bodies a=%q b=%q; want the order once at each", ga, gb)
			}
			if v := value(t, lb.retries); v != 1 {
				t.Fatalf("lb_retries_total = %v, want 1", v)
			}
			if down := value(t, lb.up.WithLabelValues("a")) == 0; down != tt.down {
				t.Fatalf("a out of rotation = %v, want %v", down, tt.down)
			}
		})
	}
}

func TestRetryAfterTryTimeout(t *testing.T) {
	a, b := newReplica(t, "a"), newReplica(t, "b")
	release := make(chan struct{})
	defer close(release)
	a.answer = func(http.ResponseWriter) bool { <-release; return false }
	_, front := newBalancer(t, 50*time.Millisecond, a, b)
	if code, name := post(t, front, `{"id":"o-1"}`); code != http.StatusOK || name != "b" {
		t.Fatalf("answer %d from %q, want 200 from b after a hung", code, name)
	}
}

func TestOnlyIdempotentRequestsAreRetried(t *testing.T) {
	a, b := newReplica(t, "a"), newReplica(t, "b")
	a.answer = func(w http.ResponseWriter) bool {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return true
	}
	_, front := newBalancer(t, 0, a, b)
	resp, err := http.Post(front.URL+"/refunds", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || len(b.got()) != 0 {
		t.Fatalf("POST /refunds answered %d, b saw %d requests; want a's 503 passed through and no retry", resp.StatusCode, len(b.got()))
	}
}

func TestAllReplicasFail(t *testing.T) {
	a, b := newReplica(t, "a"), newReplica(t, "b")
	fail := func(w http.ResponseWriter) bool {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return true
	}
	a.answer, b.answer = fail, fail
	_, front := newBalancer(t, 0, a, b)
	if code, _ := post(t, front, `{}`); code != http.StatusServiceUnavailable {
		t.Fatalf("answer %d with every replica failing, want the last 503", code)
	}
	if len(a.got())+len(b.got()) != 2 {
		t.Fatalf("tried %d times, want each replica once", len(a.got())+len(b.got()))
	}
}

// value reads a counter or gauge.
func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

func TestLastTryIsNotCutShort(t *testing.T) {
	a, b := newReplica(t, "a"), newReplica(t, "b")
	slow := func(http.ResponseWriter) bool { time.Sleep(100 * time.Millisecond); return false }
	a.answer = slow
	lb, front := newBalancer(t, 20*time.Millisecond, a, b)
	b.healthy.Store(false)
	lb.Check(context.Background())
	// a is the only replica in rotation: slower than a try, it still answers.
	if code, name := post(t, front, `{}`); code != http.StatusOK || name != "a" {
		t.Fatalf("answer %d from %q, want 200 from a, the only replica in rotation", code, name)
	}
}

func TestRetryBudget(t *testing.T) {
	a, b := newReplica(t, "a"), newReplica(t, "b")
	lb, front := newBalancer(t, 0, a, b)
	// Requests in flight, some of them retries already: the budget is a
	// share of the first, at least minRetries.
	for _, tt := range []struct {
		active, retrying int64
		may              bool
	}{
		{1, 0, true},
		{1, minRetries - 1, true},
		{1, minRetries, false},
		{100, 19, true},
		{100, 20, false},
	} {
		lb.active.Store(tt.active)
		lb.retrying.Store(tt.retrying)
		if got := lb.mayRetry(); got != tt.may {
			t.Errorf("%d in flight, %d retrying: mayRetry = %v, want %v", tt.active, tt.retrying, got, tt.may)
		}
	}
	lb.active.Store(0)
	lb.retrying.Store(minRetries)
	a.answer = func(w http.ResponseWriter) bool {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return true
	}
	// The budget is spent: a's failure goes back to the client as it is.
	if code, _ := post(t, front, `{}`); code != http.StatusServiceUnavailable || len(b.got()) != 0 {
		t.Fatalf("answer %d, b saw %d requests; want a's 503 and no retry past the budget", code, len(b.got()))
	}
}
