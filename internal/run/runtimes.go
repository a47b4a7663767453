package run

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/edatestbed/testbed/internal/runtime/docker"
	"github.com/edatestbed/testbed/internal/runtime/local"
)

// The runtimes a run can use.
const (
	RuntimeLocal  = "local"
	RuntimeDocker = "docker"
)

// Runtimes lists the runtimes a run can use, the default first.
func Runtimes() []string { return []string{RuntimeLocal, RuntimeDocker} }

// procs is what a run needs from its runtime: start the architectures'
// units, hurt them for the faults, and tear everything down.
type procs interface {
	Start(ctx context.Context, u unit) error
	Kill(name string) (int, error)
	Restart(ctx context.Context, name string) error
	Signal(name string, sig syscall.Signal) (int, error)
	// linkHost is where the link proxies of the i-th architecture listen,
	// reachable by its units and nothing else that is not the host.
	linkHost(ctx context.Context, arch string, i int) (string, error)
	// containers says whether units run in containers (planner.containers).
	containers() bool
	// Close stops every unit; the data they wrote stays in the bundle.
	Close(ctx context.Context) error
	// describe names the runtime for the report.
	describe() string
}

// localProcs runs units as child processes on loopback, each
// architecture on an address of its own.
type localProcs struct{ rt *local.Runtime }

func (l localProcs) Start(ctx context.Context, u unit) error { return l.rt.Start(ctx, u.Spec) }
func (l localProcs) Kill(name string) (int, error)           { return l.rt.Kill(name) }
func (l localProcs) Restart(ctx context.Context, name string) error {
	return l.rt.Restart(ctx, name)
}
func (l localProcs) Signal(name string, sig syscall.Signal) (int, error) {
	return l.rt.Signal(name, sig)
}
func (l localProcs) linkHost(_ context.Context, _ string, i int) (string, error) {
	return local.LoopbackHost(2 + i), nil
}
func (l localProcs) containers() bool            { return false }
func (l localProcs) Close(context.Context) error { return l.rt.Close(5 * time.Second) }
func (l localProcs) describe() string            { return local.Name }

// dockerProcs runs units in containers, one network per architecture, and
// the few that cannot be containerised (unit.onHost) as processes of the
// host.
type dockerProcs struct {
	rt   *docker.Runtime
	host *local.Runtime

	mu     sync.Mutex
	onHost map[string]bool
}

func (d *dockerProcs) hosted(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.onHost[name]
}

func (d *dockerProcs) Start(ctx context.Context, u unit) error {
	if u.onHost {
		d.mu.Lock()
		d.onHost[u.Name] = true
		d.mu.Unlock()
		return d.host.Start(ctx, u.Spec)
	}
	ports := slices.Sorted(maps.Keys(u.publish))
	return d.rt.Start(ctx, docker.Spec{
		Arch: u.arch, Component: u.name, Node: u.node,
		Args: u.Args, ReadOnly: u.ro, ReadWrite: u.rw,
		Health:  "http://" + u.name + ":" + strconv.Itoa(u.port) + "/healthz",
		Publish: ports, Bind: u.publish, Log: u.Log,
	})
}
func (d *dockerProcs) Kill(name string) (int, error) {
	if d.hosted(name) {
		return d.host.Kill(name)
	}
	return d.rt.Kill(name)
}
func (d *dockerProcs) Restart(ctx context.Context, name string) error {
	if d.hosted(name) {
		return d.host.Restart(ctx, name)
	}
	return d.rt.Restart(ctx, name)
}
func (d *dockerProcs) Signal(name string, sig syscall.Signal) (int, error) {
	if d.hosted(name) {
		return d.host.Signal(name, sig)
	}
	return d.rt.Signal(name, sig)
}
func (d *dockerProcs) linkHost(ctx context.Context, arch string, _ int) (string, error) {
	gw, err := d.rt.Gateway(ctx, arch)
	if err != nil {
		return "", fmt.Errorf("network of %s: %w", arch, err)
	}
	return gw, nil
}
func (d *dockerProcs) containers() bool { return true }

// Close removes the containers. The units on the host stop with the host
// runtime, which the run closes next (SIGTERM first: PostgreSQL shuts down
// cleanly).
func (d *dockerProcs) Close(ctx context.Context) error { return d.rt.Close(ctx) }
func (d *dockerProcs) describe() string                { return docker.Name }

// runtimeName names a runtime for the report.
func runtimeName(rt string) string {
	if rt == RuntimeDocker {
		return docker.Name
	}
	return local.Name
}

// openRuntime prepares the runtime opt names for the run id. The local
// runtime is host itself; the docker runtime first removes what runs whose
// testbed died left behind and builds the testbed's image if this binary
// has none yet.
func openRuntime(ctx context.Context, opt Options, id string, host *local.Runtime, onExit func(string, error), progress io.Writer) (procs, error) {
	switch opt.Runtime {
	case "", RuntimeLocal:
		return localProcs{host}, nil
	case RuntimeDocker:
	default:
		return nil, fmt.Errorf("runtime %q: allowed: %s", opt.Runtime, strings.Join(Runtimes(), ", "))
	}
	if err := docker.Available(ctx); err != nil {
		return nil, fmt.Errorf("docker runtime: %w; `testbed doctor` says more, and --runtime local needs no Docker", err)
	}
	stale, err := docker.CleanupStale(ctx)
	if err != nil {
		fmt.Fprintf(progress, "docker: clean up after dead runs: %v\n", err)
	}
	for _, s := range stale {
		fmt.Fprintf(progress, "docker: removed what dead run %s left behind\n", s)
	}
	t0 := time.Now()
	img, err := docker.EnsureImage(ctx, opt.Binary)
	if err != nil {
		return nil, fmt.Errorf("docker runtime: %w", err)
	}
	fmt.Fprintf(progress, "docker: image %s ready in %v\n", img, time.Since(t0).Round(time.Millisecond))
	for _, c := range []string{"grafana", "elasticsearch", "kibana"} {
		fmt.Fprintf(progress, "docker: %s skipped: this runtime runs no infrastructure image yet (`testbed doctor` lists them)\n", c)
	}
	d, err := docker.New(ctx, id, docker.Options{Image: img, Ready: opt.ReadyTimeout, OnExit: onExit})
	if err != nil {
		return nil, fmt.Errorf("docker runtime: %w", err)
	}
	return &dockerProcs{rt: d, host: host, onHost: map[string]bool{}}, nil
}
