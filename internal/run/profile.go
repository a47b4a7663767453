package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"
)

// ProfilesDir is where, under each architecture's bundle directory, a run
// with Options.Profile saves its components' profiles.
const ProfilesDir = "profiles"

// profiler collects the Go profiles of every unit that serves them: a CPU
// profile over the measured period, a heap profile at the end. Units
// without /debug/pprof (PostgreSQL) are left out.
type profiler struct {
	dir   string
	archs []*archRun
	hc    *http.Client

	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

func newProfiler(dir string, archs []*archRun) *profiler {
	return &profiler{dir: dir, archs: archs, hc: &http.Client{Transport: &http.Transport{Proxy: nil}}}
}

// cpu starts, at from, a CPU profile of d on every unit that serves one
// and on the testbed itself (load generator, link proxies, watchers: the
// harness shares the CPUs with the systems); wait collects them.
func (p *profiler) cpu(ctx context.Context, from time.Time, d time.Duration) {
	p.wg.Go(func() { p.self(ctx, from, d) })
	secs := strconv.Itoa(max(1, int(d.Round(time.Second).Seconds())))
	for _, a := range p.archs {
		for _, u := range a.plan.components {
			p.wg.Go(func() {
				if !waitUntil(ctx, from) {
					return
				}
				// The profile takes d; give the answer time on a loaded machine.
				pctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
				defer cancel()
				p.save(pctx, a.plan.arch, u, "profile?seconds="+secs, u.name+".cpu.pprof")
			})
		}
	}
}

// self profiles this process from from for d into the bundle's
// profiles/testbed.cpu.pprof.
func (p *profiler) self(ctx context.Context, from time.Time, d time.Duration) {
	if !waitUntil(ctx, from) {
		return
	}
	f, err := p.createSelf("testbed.cpu.pprof")
	if err != nil {
		p.fail(err)
		return
	}
	defer f.Close()
	// Only one CPU profile per process: a test binary run with -cpuprofile
	// already holds it.
	if err := pprof.StartCPUProfile(f); err != nil {
		p.fail(fmt.Errorf("profile testbed: %w", err))
		return
	}
	waitUntil(ctx, time.Now().Add(d))
	pprof.StopCPUProfile()
}

// heap saves every unit's heap profile now, and the testbed's own into
// profiles/testbed.heap.pprof.
func (p *profiler) heap(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(p.selfHeap)
	for _, a := range p.archs {
		for _, u := range a.plan.components {
			wg.Go(func() { p.save(ctx, a.plan.arch, u, "heap", u.name+".heap.pprof") })
		}
	}
	wg.Wait()
}

// selfHeap writes this process's heap profile: what the testbed itself
// holds at the end of the measured period (records in flight, the live
// view, proxies, watchers).
func (p *profiler) selfHeap() {
	f, err := p.createSelf("testbed.heap.pprof")
	if err != nil {
		p.fail(err)
		return
	}
	err = pprof.Lookup("heap").WriteTo(f, 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		p.fail(fmt.Errorf("profile testbed heap: %w", err))
	}
}

// createSelf creates the file of one of the testbed's own profiles in the
// bundle's profiles directory.
func (p *profiler) createSelf(name string) (*os.File, error) {
	dir := filepath.Join(p.dir, ProfilesDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("profile testbed: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("profile testbed: %w", err)
	}
	return f, nil
}

// wait returns once every CPU profile is in, with what failed.
func (p *profiler) wait() error {
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return errors.Join(p.errs...)
}

// save fetches one profile of u into the architecture's profiles
// directory. A unit that serves no profiles (404) is skipped quietly.
func (p *profiler) save(ctx context.Context, arch string, u unit, what, file string) {
	h, err := url.Parse(u.Health)
	if err != nil {
		p.fail(fmt.Errorf("profile %s: %w", u.Name, err))
		return
	}
	src := "http://" + h.Host + "/debug/pprof/" + what
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		p.fail(fmt.Errorf("profile %s: %w", u.Name, err))
		return
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			p.fail(fmt.Errorf("profile %s: %w", u.Name, err))
		}
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return
	}
	if resp.StatusCode != http.StatusOK {
		p.fail(fmt.Errorf("profile %s: GET %s: %s", u.Name, src, resp.Status))
		return
	}
	d := filepath.Join(p.dir, arch, ProfilesDir)
	if err := os.MkdirAll(d, 0o755); err != nil {
		p.fail(fmt.Errorf("profile %s: %w", u.Name, err))
		return
	}
	f, err := os.Create(filepath.Join(d, file))
	if err != nil {
		p.fail(fmt.Errorf("profile %s: %w", u.Name, err))
		return
	}
	_, err = io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		p.fail(fmt.Errorf("profile %s: save %s: %w", u.Name, file, err))
	}
}

func (p *profiler) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errs = append(p.errs, err)
}
