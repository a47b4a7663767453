package psp

import (
	"context"

	"github.com/edatestbed/testbed/system/component"
	"github.com/edatestbed/testbed/system/telemetry"
)

// Run serves the simulator until ctx ends; its spans join the callers'
// traces, as a provider's would appear in a trace through its API gateway.
func Run(ctx context.Context, tel *telemetry.Telemetry, cfg ServeConfig) error {
	return component.Serve(ctx, tel.Log, cfg.Listen, tel.Handler("psp", NewServer(cfg.Config).Handler()))
}
