package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/edatestbed/testbed/internal/broker"
	"github.com/edatestbed/testbed/system/eda"
	"github.com/edatestbed/testbed/system/store"
)

func replayCmd(e env, args []string) int {
	fs := flags(e, "replay", `
Usage: testbed replay <run-dir>

Event sourcing's promise, checked: the EDA's order history is the
append-only log in Kafka, so its read model must be rebuildable from the
log alone. replay opens a copy of the run's broker data
(<run-dir>/eda/data/broker), folds every event from the beginning into a
fresh read model with the projection order-view uses (each event id once),
and compares the result with the read model the run left
(<run-dir>/eda/data/services/order-view.db).

It prints the number of events replayed and every order whose rebuilt
view differs (state, reason, customer or amount), and exits 1 when any
does. The run's files are not modified.
`)
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(e.stderr, "replay: name one run directory, e.g. reports/<run-id>")
		return 2
	}
	dir := fs.Arg(0)
	ctx := context.Background()
	addrs, closeBroker, err := broker.OpenCopy(filepath.Join(dir, "eda", "data", "broker"), 3)
	if err != nil {
		fmt.Fprintf(e.stderr, "replay: %v (was eda part of this run?)\n", err)
		return 1
	}
	defer closeBroker()
	livePath := filepath.Join(dir, "eda", "data", "services", eda.OrderView+".db")
	live, err := store.OpenReadOnly(livePath)
	if err != nil {
		fmt.Fprintf(e.stderr, "replay: %v\n", err)
		return 1
	}
	defer live.Close()
	tmp, err := os.MkdirTemp("", "testbed-replay-")
	if err != nil {
		fmt.Fprintf(e.stderr, "replay: %v\n", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	rebuilt, err := store.Open(ctx, filepath.Join(tmp, "view.db"), eda.ViewSchema)
	if err != nil {
		fmt.Fprintf(e.stderr, "replay: %v\n", err)
		return 1
	}
	defer rebuilt.Close()
	n, err := eda.Replay(ctx, addrs, rebuilt)
	if err != nil {
		fmt.Fprintf(e.stderr, "replay: %v\n", err)
		return 1
	}
	want, err := eda.ReadViews(ctx, live)
	if err != nil {
		fmt.Fprintf(e.stderr, "replay: live read model: %v\n", err)
		return 1
	}
	got, err := eda.ReadViews(ctx, rebuilt)
	if err != nil {
		fmt.Fprintf(e.stderr, "replay: %v\n", err)
		return 1
	}
	var diff []string
	for id, w := range want {
		if g, ok := got[id]; !ok {
			diff = append(diff, fmt.Sprintf("%s: live %s/%s, missing from the log", id, w.State, w.Reason))
		} else if g != w {
			diff = append(diff, fmt.Sprintf("%s: live %s/%s, rebuilt %s/%s", id, w.State, w.Reason, g.State, g.Reason))
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			diff = append(diff, fmt.Sprintf("%s: rebuilt %s/%s, missing from the live read model", id, g.State, g.Reason))
		}
	}
	slices.Sort(diff)
	fmt.Fprintf(e.stdout, "replayed %d events into %d orders; live read model has %d; %d differ\n", n, len(got), len(want), len(diff))
	for _, d := range diff {
		fmt.Fprintln(e.stdout, "  "+d)
	}
	if len(diff) > 0 {
		return 1
	}
	return 0
}
