// Package ready waits for a component to be ready, the same way for every
// runtime: its health endpoint answers 2xx, checked every 25 ms, unless the
// component dies first or the time is up; and when it is not, says why
// from the end of its log.
package ready

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
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

// LogTail returns the last lines of a component's log, to put the cause of
// a failed start into the error a user sees; "" when there are none.
func LogTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return fmt.Sprintf("\nlast lines of %s:\n  %s", path, bytes.Join(lines, []byte("\n  ")))
}
