package loadgen

import (
	"encoding/json"
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

func TestRunSendsAfterTimeout(t *testing.T) {
	// One worker sends every request, slow and fast in turn, and a slow one
	// is answered only when the client gives up. A request that follows a
	// timeout must go out under a deadline of its own: had it inherited the
	// expired one, the Transport would fail it without sending it.
	release := make(chan struct{})
	var mu sync.Mutex
	seen := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var o struct{ ID, Speed string }
		if err := json.NewDecoder(r.Body).Decode(&o); err != nil {
			t.Errorf("decode %v", err)
		}
		if o.Speed == "slow" {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		mu.Lock()
		seen[o.ID] = true
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	defer close(release)

	next := func(seq uint64) Request {
		speed := "fast"
		if seq%2 == 0 {
			speed = "slow"
		}
		return Request{ID: fmt.Sprint(seq), Body: fmt.Appendf(nil, `{"id":"%d","speed":"%s"}`, seq, speed)}
	}
	res := attack(t, srv.URL, Config{Rate: 5, Duration: time.Second, Timeout: 50 * time.Millisecond,
		MaxInFlight: 1, Next: next})
	if len(res.Records) != 5 {
		t.Fatalf("got %d records, want 5", len(res.Records))
	}
	mu.Lock()
	defer mu.Unlock()
	for i, rec := range res.Records {
		// A stall of this machine longer than the gap between requests
		// turns a request into a drop: the cap at work, not a deadline
		// reused.
		switch {
		case rec.Kind == Dropped:
		case i%2 == 0 && rec.Kind != Timeout:
			t.Errorf("slow record %+v, want a timeout", rec)
		case i%2 == 1 && !seen[rec.ID]:
			t.Errorf("fast record %+v never reached the server", rec)
		}
	}
}

func TestRunSendsURLUserAsBasicAuth(t *testing.T) {
	// The Transport gets requests without an http.Client, which is what
	// turns user info in the URL into an Authorization header.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "ann" || p != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()

	res := attack(t, strings.Replace(srv.URL, "://", "://ann:s3cret@", 1), Config{Rate: 100, Duration: 50 * time.Millisecond})
	if k := kinds(res.Records); k[Accepted] != 5 {
		t.Errorf("kinds %v, want 5 accepted", k)
	}
}

// countingTransport counts the requests a caller's Client sends.
type countingTransport struct {
	n atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestRunUsesCallerClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || string(body) != `{"sku":"a","qty":1}` {
			t.Errorf("got %s %q %q, want POST application/json with the order", r.Method, r.Header.Get("Content-Type"), body)
		}
	}))
	defer srv.Close()

	rt := &countingTransport{}
	client := &http.Client{Transport: rt}
	defer client.CloseIdleConnections()
	res := attack(t, srv.URL, Config{Rate: 100, Duration: 50 * time.Millisecond, Client: client})
	if k := kinds(res.Records); k[Accepted] != 5 || rt.n.Load() != 5 {
		t.Errorf("kinds %v, client sent %d, want 5 accepted through the caller's client", kinds(res.Records), rt.n.Load())
	}
}
