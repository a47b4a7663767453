package psp

import (
	"context"
	"log/slog"

	"github.com/edatestbed/testbed/system/component"
)

// Run serves the simulator until ctx ends.
func Run(ctx context.Context, log *slog.Logger, cfg ServeConfig) error {
	return component.Serve(ctx, log, cfg.Listen, NewServer(cfg.Config).Handler())
}
