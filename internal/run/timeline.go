package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/edatestbed/testbed/faults"
	"github.com/edatestbed/testbed/internal/report"
	"github.com/edatestbed/testbed/scenarios"
)

// timeline is the scenario's faults, each resolved to what it hits in every
// architecture.
type timeline struct {
	entries []*entry
}

type entry struct {
	fault scenarios.Fault
	hits  []*hit
}

// hit is one fault applied to one architecture.
type hit struct {
	arch      string
	component string // "" when the architecture has no such capability
	fault     faults.Fault
	pid       func() int

	mu        sync.Mutex
	injected  time.Time
	healed    time.Time
	scheduled [2]time.Time // inject, heal
	notes     []string
}

func (h *hit) note(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.notes = append(h.notes, fmt.Sprintf(format, args...))
}

func newTimeline(sc *scenarios.Scenario, archs []*archRun, rt procs) *timeline {
	t := &timeline{}
	for _, f := range sc.Faults {
		e := &entry{fault: f}
		for _, a := range archs {
			r := resolve(f, a.plan, rt)
			h := &hit{arch: a.plan.arch, component: r.what, fault: r.fault, pid: r.pid}
			if h.pid == nil {
				h.pid = func() int { return 0 }
			}
			if r.note != "" {
				h.note("%s", r.note)
			}
			e.hits = append(e.hits, h)
		}
		t.entries = append(t.entries, e)
	}
	return t
}

// play injects and heals every fault on schedule, counted from the start of
// the measured period, into all architectures at the same instant.
func (t *timeline) play(ctx context.Context, measuredStart time.Time, progress io.Writer) error {
	var wg sync.WaitGroup
	errs := make([]error, len(t.entries))
	for i, e := range t.entries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.play(ctx, measuredStart, progress)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (e *entry) play(ctx context.Context, measuredStart time.Time, progress io.Writer) error {
	inject := measuredStart.Add(e.fault.At.D())
	heal := inject.Add(e.fault.Duration.D())
	for _, h := range e.hits {
		h.mu.Lock()
		h.scheduled = [2]time.Time{inject, heal}
		if e.fault.Restart == faults.RestartNever {
			h.scheduled[1] = time.Time{}
		}
		h.mu.Unlock()
	}
	if !waitUntil(ctx, inject) {
		return ctx.Err()
	}
	err := e.each(func(h *hit) error {
		if err := h.fault.Inject(ctx); err != nil {
			h.note("inject failed: %v", err)
			return fmt.Errorf("%s on %s: %w", e.fault.Type, h.arch, err)
		}
		h.mu.Lock()
		h.injected = time.Now()
		h.mu.Unlock()
		fmt.Fprintf(progress, "fault %s: %s: %s (pid %d)\n", e.fault.Type, h.arch, h.fault.Describe(), h.pid())
		return nil
	})
	if e.fault.Restart == faults.RestartNever {
		return err
	}
	if !waitUntil(ctx, heal) {
		return errors.Join(err, ctx.Err())
	}
	return errors.Join(err, e.heal(ctx, progress))
}

func (e *entry) heal(ctx context.Context, progress io.Writer) error {
	return e.each(func(h *hit) error {
		h.mu.Lock()
		pending := !h.injected.IsZero() && h.healed.IsZero()
		h.mu.Unlock()
		if !pending {
			return nil
		}
		if err := h.fault.Heal(ctx); err != nil {
			h.note("heal failed: %v", err)
			return fmt.Errorf("heal %s on %s: %w", e.fault.Type, h.arch, err)
		}
		h.mu.Lock()
		h.healed = time.Now()
		down := h.healed.Sub(h.injected)
		h.mu.Unlock()
		if progress != nil {
			fmt.Fprintf(progress, "healed %s: %s: %s back after %v\n", e.fault.Type, h.arch, h.component, down.Round(time.Millisecond))
		}
		return nil
	})
}

// each runs fn for every hit that has a fault, concurrently, so that
// architectures are hit at the same instant.
func (e *entry) each(fn func(*hit) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(e.hits))
	for i, h := range e.hits {
		if h.fault == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(h)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// healAll heals whatever is still injected; run at teardown, whether the
// run ended, failed or was interrupted. Faults with restart never are left
// down: teardown stops everything anyway.
func (t *timeline) healAll(ctx context.Context) error {
	var errs []error
	for _, e := range t.entries {
		if e.fault.Restart == faults.RestartNever {
			continue
		}
		errs = append(errs, e.heal(ctx, nil))
	}
	return errors.Join(errs...)
}

// active names the faults injected and not healed at the moment.
func (t *timeline) active() string {
	var on []string
	for _, e := range t.entries {
		for _, h := range e.hits {
			h.mu.Lock()
			if !h.injected.IsZero() && h.healed.IsZero() {
				on = append(on, fmt.Sprintf("%s %s/%s", e.fault.Type, h.arch, h.component))
			}
			h.mu.Unlock()
		}
	}
	return strings.Join(on, ", ")
}

// windowActive reports whether a fault hit arch at any time in [from, to).
func (t *timeline) windowActive(arch string, from, to time.Time) bool {
	for _, e := range t.entries {
		for _, h := range e.hits {
			if h.arch != arch {
				continue
			}
			h.mu.Lock()
			in, out := h.injected, h.healed
			h.mu.Unlock()
			if in.IsZero() {
				continue
			}
			if in.Before(to) && (out.IsZero() || out.After(from)) {
				return true
			}
		}
	}
	return false
}

func (t *timeline) report() []report.Fault {
	var out []report.Fault
	for _, e := range t.entries {
		f := report.Fault{Type: e.fault.Type, Target: e.fault.Target, At: e.fault.At.D(), Duration: e.fault.Duration.D(), Restart: e.fault.Restart}
		for _, h := range e.hits {
			h.mu.Lock()
			f.Mapping = append(f.Mapping, report.Hit{
				Arch: h.arch, Component: h.component, PID: h.pid(), Injected: h.injected, Healed: h.healed,
				Note:            strings.Join(h.notes, "; "),
				ScheduledInject: h.scheduled[0], ScheduledHeal: h.scheduled[1],
			})
			h.mu.Unlock()
		}
		out = append(out, f)
	}
	return out
}

// waitUntil sleeps until t and reports whether ctx is still live.
func waitUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
