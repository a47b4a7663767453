package faults

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Restart policies of a crashed component.
const (
	RestartAfterDuration = "after-duration" // started again when the fault heals
	RestartNever         = "never"          // stays down for the rest of the run
	RestartSupervisor    = "supervisor"     // started again at once, with backoff on failure
)

// Supervisor backoff: first restart after supervisorFirst, doubling up to
// supervisorMax, as systemd's and Kubernetes' restart loops do.
const (
	supervisorFirst = time.Second
	supervisorMax   = 16 * time.Second
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
	// wipe, when set, empties the component's disk before it comes back.
	wipe func() error

	mu         sync.Mutex
	down       bool
	killed     int
	supervisor chan struct{} // closed when the supervisor's restart loop ends
	stop       context.CancelFunc
	superErr   error
}

// NewServiceCrash returns a crash of component under restart policy; wipe,
// when not nil, loses its disk before it restarts.
func NewServiceCrash(p Processes, component, restart string, wipe func() error) *ServiceCrash {
	return &ServiceCrash{procs: p, component: component, restart: restart, wipe: wipe}
}

// Inject kills the component; under the supervisor policy a restart loop
// starts at once.
func (c *ServiceCrash) Inject(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	pid, err := c.procs.Kill(c.component)
	if err != nil {
		return fmt.Errorf("crash %s: %w", c.component, err)
	}
	c.down, c.killed = true, pid
	if c.restart == RestartSupervisor {
		sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		c.stop, c.supervisor = stop, make(chan struct{})
		go c.supervise(sctx)
	}
	return nil
}

// supervise restarts the component with exponential backoff until it runs.
func (c *ServiceCrash) supervise(ctx context.Context) {
	defer close(c.supervisor)
	backoff := supervisorFirst
	for {
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		err := c.start(ctx)
		c.mu.Lock()
		c.superErr = err
		if err == nil {
			c.down = false
		}
		c.mu.Unlock()
		if err == nil {
			return
		}
		backoff = min(2*backoff, supervisorMax)
	}
}

func (c *ServiceCrash) start(ctx context.Context) error {
	if c.wipe != nil {
		if err := c.wipe(); err != nil {
			return fmt.Errorf("wipe disk of %s: %w", c.component, err)
		}
	}
	if err := c.procs.Restart(ctx, c.component); err != nil {
		return fmt.Errorf("restart %s after crash: %w", c.component, err)
	}
	return nil
}

// Heal restarts the component unless the policy keeps it down. Under the
// supervisor policy it ends the restart loop and reports whether the
// component came back.
func (c *ServiceCrash) Heal(ctx context.Context) error {
	c.mu.Lock()
	sup, stop := c.supervisor, c.stop
	c.mu.Unlock()
	if sup != nil {
		stop()
		<-sup
		c.mu.Lock()
		defer c.mu.Unlock()
		c.supervisor = nil
		if c.down {
			return fmt.Errorf("supervisor could not restart %s: %v", c.component, c.superErr)
		}
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.down || c.restart == RestartNever {
		return nil
	}
	if err := c.start(ctx); err != nil {
		return err
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
