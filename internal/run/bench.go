package run

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/edatestbed/testbed/internal/loadgen"
	"github.com/edatestbed/testbed/internal/runtime/local"
	"github.com/edatestbed/testbed/scenarios"
	"github.com/edatestbed/testbed/system/domain"
)

// benchScenario shapes the systems for capacity probes: stock that never
// runs out, so every order takes the full path and none is cheaply
// cancelled.
const benchScenario = `
name: bench
architectures: [eda, monolith]
load: {rate: 1, duration: 1s, timeout: 2s}
catalog: {skus: 1000, stock_min: 1000000000, stock_max: 1000000000}
slo: {success_ratio: 0.99, completion_deadline: 5s}
`

// Capacity is the highest rate an architecture's order endpoint sustained.
type Capacity struct {
	Arch string
	Path string // what an answer means on this architecture
	Rate float64
}

// BenchSystems starts each architecture in turn on the local runtime and
// searches for the highest order rate its POST /orders sustains: for the
// EDA the accept path (order and outbox row written, 202), for the
// monolith the whole synchronous order.
func BenchSystems(ctx context.Context, bin string, step time.Duration, progress io.Writer) ([]Capacity, error) {
	return benchSystems(ctx, bin, step, false, progress)
}

// BenchOverhead measures each architecture's accept path twice, with link
// proxies and tracing (as every run has them) and without, so the
// harness's cost is a figure: the first result of each pair is full, the
// second bare.
func BenchOverhead(ctx context.Context, bin string, step time.Duration, progress io.Writer) ([][2]Capacity, error) {
	full, err := benchSystems(ctx, bin, step, false, progress)
	if err != nil {
		return nil, err
	}
	bare, err := benchSystems(ctx, bin, step, true, progress)
	if err != nil {
		return nil, err
	}
	out := make([][2]Capacity, len(full))
	for i := range full {
		out[i] = [2]Capacity{full[i], bare[i]}
	}
	return out, nil
}

func benchSystems(ctx context.Context, bin string, step time.Duration, bare bool, progress io.Writer) ([]Capacity, error) {
	sc, err := scenarios.Parse("bench", []byte(benchScenario))
	if err != nil {
		return nil, fmt.Errorf("bench scenario: %w", err)
	}
	dir, err := os.MkdirTemp("", "testbed-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench dir: %w", err)
	}
	defer os.RemoveAll(dir)
	cat, err := domain.NewCatalog(planner{sc: sc}.catalog())
	if err != nil {
		return nil, err
	}
	var out []Capacity
	for _, name := range sc.Architectures {
		one := *sc
		one.Architectures = []string{name}
		c, err := benchOne(ctx, bin, &one, dir, cat, step, bare, progress)
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
	return out, nil
}

func benchOne(ctx context.Context, bin string, sc *scenarios.Scenario, dir string, cat *domain.Catalog, step time.Duration, bare bool, progress io.Writer) (Capacity, error) {
	rt := localProcs{local.New(bin, 30*time.Second, nil)}
	defer rt.Close(ctx)
	begin := start
	if bare {
		begin = func(ctx context.Context, rt procs, sc *scenarios.Scenario, dir, _ string, progress io.Writer) ([]*archRun, error) {
			return startBare(ctx, rt, sc, dir, progress)
		}
	}
	archs, err := begin(ctx, rt, sc, dir, "", progress)
	defer func() {
		for _, a := range archs {
			a.plan.close()
		}
	}()
	if err != nil {
		return Capacity{}, err
	}
	a := archs[0]
	next := orders(cat)
	c := Capacity{Arch: a.plan.arch, Path: "202 Accepted: order and its event durable in order-api's outbox"}
	if a.plan.synchronous {
		c.Path = "200 with the terminal state: reserved, charged and shipped synchronously"
	}
	c.Rate, err = loadgen.MaxRate(ctx, loadgen.Target{URL: a.plan.orderURL, Next: next, Classify: classify(a.plan.synchronous)}, 100, step)
	if err != nil {
		return c, fmt.Errorf("bench %s: %w", a.plan.arch, err)
	}
	return c, nil
}
