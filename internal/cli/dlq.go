package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/edatestbed/testbed/system/eda"
)

func dlqCmd(e env, args []string) int {
	fs := flags(e, "dlq", `
Usage: testbed dlq <run-dir> [--redrive]

Lists the EDA's dead letters of a run: messages a consumer could not
decode (poison) or an event its handler kept failing on, each with the
topic it came from, the consumer that gave up, why, and how many attempts
it made. Every run saves them to <run-dir>/eda/dlq.jsonl.

--redrive publishes every dead letter back to the topic it came from, for
its consumers to try again (after the bug that sent it there is fixed).
That needs the run's broker alive: start the run with 'testbed run --hold'
and re-drive from another terminal while it holds.
`)
	redrive := fs.Bool("redrive", false, "publish every dead letter back to its source topic (needs a run held with --hold)")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(e.stderr, "dlq: name one run directory, e.g. reports/<run-id>")
		return 2
	}
	dir := fs.Arg(0)
	letters, err := readDeadLetters(filepath.Join(dir, "eda", "dlq.jsonl"))
	if err != nil {
		fmt.Fprintf(e.stderr, "dlq: %v\n", err)
		return 1
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE TOPIC\tKEY\tCONSUMER\tREASON\tATTEMPTS\tERROR")
	byReason := map[string]int{}
	for _, l := range letters {
		h := l.Headers
		byReason[h[eda.HeaderDLQReason]]++
		errText := h[eda.HeaderDLQError]
		if len(errText) > 80 {
			errText = errText[:77] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", h[eda.HeaderDLQTopic], l.Key, h[eda.HeaderDLQConsumer], h[eda.HeaderDLQReason], h[eda.HeaderDLQAttempts], errText)
	}
	tw.Flush()
	var reasons []string
	for r, n := range byReason {
		reasons = append(reasons, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(reasons)
	fmt.Fprintf(e.stdout, "%d dead letters (%s)\n", len(letters), strings.Join(reasons, ", "))
	if !*redrive || len(letters) == 0 {
		return 0
	}
	brokers, err := runBrokers(dir)
	if err != nil {
		fmt.Fprintf(e.stderr, "dlq: %v\n", err)
		return 1
	}
	byTopic := map[string][]eda.DeadLetter{}
	for _, l := range letters {
		byTopic[l.Headers[eda.HeaderDLQTopic]] = append(byTopic[l.Headers[eda.HeaderDLQTopic]], l)
	}
	for topic, ls := range byTopic {
		keys := make([]string, len(ls))
		values := make([][]byte, len(ls))
		for i, l := range ls {
			keys[i], values[i] = l.Key, []byte(l.Value)
		}
		if err := eda.Publish(context.Background(), brokers, nil, topic, keys, values); err != nil {
			fmt.Fprintf(e.stderr, "dlq: re-drive to %s: %v\nIs the run still held (testbed run --hold)?\n", topic, err)
			return 1
		}
		fmt.Fprintf(e.stdout, "re-drove %d messages to %s\n", len(ls), topic)
	}
	return 0
}

func readDeadLetters(path string) ([]eda.DeadLetter, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w (the run had no EDA, or ended before writing it)", err)
	}
	defer f.Close()
	var out []eda.DeadLetter
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for n := 1; sc.Scan(); n++ {
		var l eda.DeadLetter
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

// runBrokers reads where a run's brokers listen from the config it wrote.
func runBrokers(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "eda", "config", eda.OrderAPI+".json"))
	if err != nil {
		return nil, fmt.Errorf("find the run's brokers: %w", err)
	}
	var c eda.Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("find the run's brokers: %w", err)
	}
	return c.Brokers, nil
}
