package faults

import (
	"context"
	"fmt"
	"sync"
	"syscall"
)

// Signaller is what a pause needs of a runtime.
type Signaller interface {
	Signal(name string, sig syscall.Signal) (pid int, err error)
}

// Pause freezes a component with SIGSTOP and thaws it with SIGCONT: a gray
// failure. Its sockets stay open, so peers see neither refusal nor reset,
// only silence until their timeouts.
type Pause struct {
	procs     Signaller
	component string

	mu     sync.Mutex
	paused bool
	pid    int
}

// NewPause returns a pause of component.
func NewPause(p Signaller, component string) *Pause {
	return &Pause{procs: p, component: component}
}

// Inject stops the component's process group.
func (p *Pause) Inject(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	pid, err := p.procs.Signal(p.component, syscall.SIGSTOP)
	if err != nil {
		return fmt.Errorf("pause %s: %w", p.component, err)
	}
	p.paused, p.pid = true, pid
	return nil
}

// Heal lets it run again.
func (p *Pause) Heal(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused {
		return nil
	}
	if _, err := p.procs.Signal(p.component, syscall.SIGCONT); err != nil {
		return fmt.Errorf("resume %s: %w", p.component, err)
	}
	p.paused = false
	return nil
}

// PID is the paused process.
func (p *Pause) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid
}

// Describe names what is paused.
func (p *Pause) Describe() string { return "SIGSTOP " + p.component + " (SIGCONT at heal)" }
