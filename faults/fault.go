// Package faults holds the faults a scenario can inject. Each fault is
// injected into one architecture through a small interface of what it
// needs from the runtime, and healed at its end, or at teardown when the
// run fails or is interrupted.
package faults

import "context"

// Fault is one fault applied to one architecture.
type Fault interface {
	// Inject starts the fault.
	Inject(ctx context.Context) error
	// Heal ends it; healing a fault that is not active does nothing.
	Heal(ctx context.Context) error
	// Describe says in a few words what the fault does to what, for logs
	// and the report's fault mapping.
	Describe() string
}
