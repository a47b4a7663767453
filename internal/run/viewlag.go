package run

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/edatestbed/testbed/internal/report"
	"github.com/edatestbed/testbed/system/eda"
)

// readModelLag measures, for every order whose terminal event the testbed
// saw, how much later order-view logged applying it: the staleness of the
// CQRS read model during the run. Both times come from this machine's
// clock; the view's is when it finished handling the event.
func (a *archRun) readModelLag(dir string) *report.Latency {
	// done holds each order's first terminal event once summarize has read
	// them back.
	if a.plan.synchronous || a.done == nil {
		return nil
	}
	f, err := os.Open(filepath.Join(dir, a.plan.arch, "logs", eda.OrderView+".log"))
	if err != nil {
		return nil
	}
	defer f.Close()
	h := hdrhistogram.New(1, int64(10*time.Minute/time.Microsecond), 3)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !strings.Contains(string(line), `"event handled"`) {
			continue
		}
		var l struct {
			Time  time.Time
			Order string
			Event string
		}
		if json.Unmarshal(line, &l) != nil || (l.Event != eda.OrderShipped && l.Event != eda.OrderCancelled) {
			continue
		}
		c, ok := a.done[l.Order]
		if !ok {
			continue
		}
		// The view may apply an event before the testbed's own consumer
		// sees it: that is no lag.
		_ = h.RecordValue(max(1, l.Time.Sub(c.At).Microseconds()))
	}
	l := latency(h)
	return &l
}
