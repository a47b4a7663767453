package run

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRelayKeptUp serves order-api's outbox gauge as a relay that is 500
// events behind at the end of a probe and then catches up: at 10 orders/s
// the probe fails (more than a second's worth), at 1,000/s it passes, and
// either way the verdict waits until the backlog is gone.
func TestRelayKeptUp(t *testing.T) {
	tests := []struct {
		rate float64
		want bool
	}{
		{10, false},
		{1000, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.rate), func(t *testing.T) {
			var reads atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				backlog := 0
				if reads.Add(1) <= 2 {
					backlog = 500
				}
				fmt.Fprintf(w, "# TYPE outbox_backlog gauge\noutbox_backlog %d\n", backlog)
			}))
			defer srv.Close()
			var progress strings.Builder
			ok, err := relayKeptUp(srv.URL, &progress)(t.Context(), tt.rate)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.want {
				t.Errorf("kept up = %v at %v/s with 500 behind, want %v", ok, tt.rate, tt.want)
			}
			if n := reads.Load(); n < 3 {
				t.Errorf("%d reads of the gauge: the verdict did not wait for the relay to catch up", n)
			}
			if fell := strings.Contains(progress.String(), "fell behind"); fell == tt.want {
				t.Errorf("progress %q", progress.String())
			}
		})
	}
	t.Run("no gauge", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, "# TYPE other gauge\nother 1")
		}))
		defer srv.Close()
		if _, err := relayKeptUp(srv.URL, nil)(t.Context(), 10); err == nil || !strings.Contains(err.Error(), "outbox_backlog") {
			t.Errorf("err = %v, want one naming outbox_backlog", err)
		}
	})
}
