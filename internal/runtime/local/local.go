// Package local is the zero-setup runtime: every component is a child
// process of the testbed binary (`testbed serve <component>`) on a loopback
// address, in its own process group so that it, and anything it spawned,
// can be killed at once and nothing outlives the run.
package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/edatestbed/testbed/internal/runtime/ready"
)

// Name of this runtime in reports.
const Name = "local (child processes on loopback)"

// Spec says how to run one component.
type Spec struct {
	Name   string   // unique in the runtime, e.g. "eda/inventory"
	Bin    string   // program to run; empty means the testbed binary
	Args   []string // arguments to the program
	Health string   // URL answering 2xx once the component is ready
	Log    string   // file its stdout and stderr are appended to
}

// Runtime owns the child processes of a run.
type Runtime struct {
	bin   string
	ready time.Duration
	// onExit hears of a component that died without being told to: a bug
	// or resource exhaustion, which a report must not hide.
	onExit func(name string, err error)

	mu    sync.Mutex
	procs map[string]*proc
	// order names the components by first start; Close stops them in
	// reverse (a restart keeps a component's place).
	order   []string
	closing bool
}

type proc struct {
	spec   Spec
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has been reaped
	err    error         // exit status, valid after exited is closed
	killed atomic.Bool   // the runtime stopped it on purpose
}

// New returns a runtime that starts components from the binary bin and
// gives each up to ready to become healthy. onExit, when not nil, is called
// from its own goroutine for every component that exits on its own.
func New(bin string, ready time.Duration, onExit func(name string, err error)) *Runtime {
	return &Runtime{bin: bin, ready: ready, onExit: onExit, procs: make(map[string]*proc)}
}

// Start runs spec and returns once its health check passes, or with an error
// that carries the end of its log when it dies or stays unhealthy.
func (r *Runtime) Start(ctx context.Context, spec Spec) error {
	r.mu.Lock()
	if r.closing {
		r.mu.Unlock()
		return fmt.Errorf("start %s: the runtime is shutting down", spec.Name)
	}
	if p, ok := r.procs[spec.Name]; ok && !p.done() {
		r.mu.Unlock()
		return fmt.Errorf("start %s: already running as pid %d", spec.Name, p.cmd.Process.Pid)
	}
	r.mu.Unlock()

	logf, err := os.OpenFile(spec.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start %s: open log: %w", spec.Name, err)
	}
	bin := spec.Bin
	if bin == "" {
		bin = r.bin
	}
	cmd := exec.Command(bin, spec.Args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", spec.Name, err)
	}
	p := &proc{spec: spec, cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		// onExit is heard before exited closes, so whoever waits for the
		// exit (a failed start, Close) returns after the report of it,
		// never while it is being written.
		r.mu.Lock()
		closing := r.closing
		r.mu.Unlock()
		if !p.killed.Load() && !closing && r.onExit != nil {
			r.onExit(spec.Name, p.err)
		}
		close(p.exited)
	}()
	r.mu.Lock()
	if _, seen := r.procs[spec.Name]; !seen {
		r.order = append(r.order, spec.Name)
	}
	r.procs[spec.Name] = p
	r.mu.Unlock()

	if err := r.awaitHealthy(ctx, p); err != nil {
		p.killed.Store(true)
		killGroup(p)
		<-p.exited
		return fmt.Errorf("start %s: %w%s", spec.Name, err, ready.LogTail(spec.Log))
	}
	return nil
}

func (r *Runtime) awaitHealthy(ctx context.Context, p *proc) error {
	return ready.Await(ctx, p.spec.Health, r.ready, p.exited, func() error { return p.err })
}

// Kill sends SIGKILL to the component's process group, as a crash would,
// and returns the pid it killed once the process is gone.
func (r *Runtime) Kill(name string) (int, error) {
	r.mu.Lock()
	p, ok := r.procs[name]
	r.mu.Unlock()
	if !ok {
		return 0, fmt.Errorf("kill %s: no such component", name)
	}
	if p.done() {
		return 0, fmt.Errorf("kill %s: not running (%v)", name, p.err)
	}
	p.killed.Store(true)
	killGroup(p)
	<-p.exited
	return p.cmd.Process.Pid, nil
}

// Signal sends sig to the component's process group (SIGSTOP and SIGCONT
// for a pause) and returns the pid it signalled.
func (r *Runtime) Signal(name string, sig syscall.Signal) (int, error) {
	r.mu.Lock()
	p, ok := r.procs[name]
	r.mu.Unlock()
	if !ok {
		return 0, fmt.Errorf("signal %s: no such component", name)
	}
	if p.done() {
		return 0, fmt.Errorf("signal %s: not running (%v)", name, p.err)
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil {
		return 0, fmt.Errorf("signal %s with %v: %w", name, sig, err)
	}
	return p.cmd.Process.Pid, nil
}

// Restart starts a stopped component again with its original spec.
func (r *Runtime) Restart(ctx context.Context, name string) error {
	r.mu.Lock()
	p, ok := r.procs[name]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("restart %s: no such component", name)
	}
	return r.Start(ctx, p.spec)
}

// PID of a running component, 0 when it is not running.
func (r *Runtime) PID(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.procs[name]; ok && !p.done() {
		return p.cmd.Process.Pid
	}
	return 0
}

// Close stops every component, the last started first: SIGTERM to its
// process group, SIGKILL once it has had grace to exit, then the one
// started before it. A component is started after what it needs, so each
// shuts down while what it needs is still there: with every process told
// at once, the broker was gone before the EDA's services had closed their
// producers and consumer groups, and under a backlog five of them spent
// the whole grace retrying it and were killed.
func (r *Runtime) Close(grace time.Duration) error {
	r.mu.Lock()
	r.closing = true
	procs := make([]*proc, 0, len(r.order))
	for _, name := range slices.Backward(r.order) {
		procs = append(procs, r.procs[name])
	}
	r.mu.Unlock()
	var errs []error
	for _, p := range procs {
		if err := stop(p, grace); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// stop ends p: SIGTERM, and SIGKILL after grace.
func stop(p *proc, grace time.Duration) error {
	if p.done() {
		return nil
	}
	// A paused process keeps SIGTERM pending until SIGCONT lets it run.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGCONT)
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	select {
	case <-p.exited:
		return nil
	case <-deadline.C:
		killGroup(p)
		<-p.exited
		return fmt.Errorf("%s ignored SIGTERM for %v and was killed", p.spec.Name, grace)
	}
}

func (p *proc) done() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

func killGroup(p *proc) {
	// The negative pid addresses the process group the child leads.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

// FreeAddr returns host:port with a port that was free a moment ago.
func FreeAddr(host string) (string, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("find a free port on %s: %w", host, err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// LoopbackHost returns 127.0.0.<n> when this machine can listen there,
// giving each architecture an address of its own, and 127.0.0.1 otherwise
// (macOS only configures that one).
func LoopbackHost(n int) string {
	host := fmt.Sprintf("127.0.0.%d", n)
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "127.0.0.1"
	}
	ln.Close()
	return host
}
