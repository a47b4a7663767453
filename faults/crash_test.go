package faults

import (
	"context"
	"errors"
	"testing"
)

type fakeProcs struct {
	running  map[string]bool
	restarts int
}

func (f *fakeProcs) Kill(name string) (int, error) {
	if !f.running[name] {
		return 0, errors.New("not running")
	}
	f.running[name] = false
	return 42, nil
}

func (f *fakeProcs) Restart(_ context.Context, name string) error {
	f.running[name] = true
	f.restarts++
	return nil
}

func TestServiceCrash(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		restart     string
		wantRunning bool
	}{
		{RestartAfterDuration, true},
		{RestartNever, false},
	}
	for _, tt := range tests {
		t.Run(tt.restart, func(t *testing.T) {
			p := &fakeProcs{running: map[string]bool{"inventory": true}}
			var f Fault = NewServiceCrash(p, "inventory", tt.restart, nil)
			if err := f.Inject(ctx); err != nil {
				t.Fatal(err)
			}
			if p.running["inventory"] {
				t.Fatal("inventory still running after the crash")
			}
			if err := f.Heal(ctx); err != nil {
				t.Fatal(err)
			}
			// Healing twice (end of fault, then teardown) restarts once.
			if err := f.Heal(ctx); err != nil {
				t.Fatal(err)
			}
			if p.running["inventory"] != tt.wantRunning {
				t.Fatalf("running after heal = %v, want %v", p.running["inventory"], tt.wantRunning)
			}
			if tt.wantRunning && p.restarts != 1 {
				t.Fatalf("restarted %d times, want 1", p.restarts)
			}
			if got := f.(*ServiceCrash).PID(); got != 42 {
				t.Fatalf("PID() = %d, want the killed pid 42", got)
			}
		})
	}
}

func TestServiceCrashOfStoppedComponentFails(t *testing.T) {
	p := &fakeProcs{running: map[string]bool{}}
	if err := NewServiceCrash(p, "payment", RestartNever, nil).Inject(context.Background()); err == nil {
		t.Fatal("crashing a component that is not running succeeded")
	}
}
