// Package ready waits for a component to be ready, the same way for every
// runtime: its health endpoint answers 2xx, checked every 25 ms, unless the
// component dies first or the time is up.
package ready

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// exitedError says the component died before it was ready, and why.
type exitedError struct{ cause error }

func (e exitedError) Error() string { return fmt.Sprintf("exited before it was ready (%v)", e.cause) }

// Await polls url until it answers 2xx (nil), exited is closed (an error
// carrying why()), or within passes (an error carrying the last answer).
func Await(ctx context.Context, url string, within time.Duration, exited <-chan struct{}, why func() error) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
			last = fmt.Errorf("health check answered %s", resp.Status)
		} else {
			last = err
		}
		select {
		case <-exited:
			return exitedError{why()}
		case <-ctx.Done():
			return fmt.Errorf("not healthy within %v: %v", within, last)
		case <-tick.C:
		}
	}
}
