package faults

import (
	"context"
	"fmt"
	"sync"
)

// Restart policies of a crashed component.
const (
	RestartAfterDuration = "after-duration" // started again when the fault heals
	RestartNever         = "never"          // stays down for the rest of the run
)

// Processes is what a crash needs of a runtime.
type Processes interface {
	Kill(name string) (pid int, err error)
	Restart(ctx context.Context, name string) error
}

// ServiceCrash kills the process that holds a capability, as SIGKILL would
// on a real host: no shutdown hooks, no flushing, connections reset.
type ServiceCrash struct {
	procs     Processes
	component string
	restart   string

	mu     sync.Mutex
	down   bool
	killed int
}

// NewServiceCrash returns a crash of component under restart policy.
func NewServiceCrash(p Processes, component, restart string) *ServiceCrash {
	return &ServiceCrash{procs: p, component: component, restart: restart}
}

// Inject kills the component.
func (c *ServiceCrash) Inject(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	pid, err := c.procs.Kill(c.component)
	if err != nil {
		return fmt.Errorf("crash %s: %w", c.component, err)
	}
	c.down, c.killed = true, pid
	return nil
}

// Heal restarts the component unless the policy keeps it down.
func (c *ServiceCrash) Heal(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.down || c.restart == RestartNever {
		return nil
	}
	if err := c.procs.Restart(ctx, c.component); err != nil {
		return fmt.Errorf("restart %s after crash: %w", c.component, err)
	}
	c.down = false
	return nil
}

// PID is the process the crash killed, 0 before Inject.
func (c *ServiceCrash) PID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.killed
}

// Describe names what is crashed.
func (c *ServiceCrash) Describe() string {
	return fmt.Sprintf("SIGKILL %s (restart: %s)", c.component, c.restart)
}
