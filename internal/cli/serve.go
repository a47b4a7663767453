package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/edatestbed/testbed/internal/broker"
	"github.com/edatestbed/testbed/system/eda"
	"github.com/edatestbed/testbed/system/monolith"
	"github.com/edatestbed/testbed/system/psp"
)

func serveComponents() []string {
	return append([]string{"broker", "psp", "monolith"}, eda.Components()...)
}

func serveCmd(e env, args []string) int {
	fs := flags(e, "serve", fmt.Sprintf(`
Usage: testbed serve <component> --config <file.json>

Runs one component of an architecture in the foreground until SIGTERM or
SIGINT. The runtimes start every component this way, as a child process of
the same binary, after writing its config file into the run bundle
(reports/<run-id>/<arch>/config/<component>.json); run it by hand only to
debug one component with the config a run wrote.

Components: %v
  broker      embedded Kafka-protocol cluster (kfake), several nodes
  psp         payment-provider simulator both architectures call
  monolith    the synchronous baseline: one process, one database
  order-api, inventory, payment, shipping, order-view
              the event-driven services, talking only through Kafka

Health and metrics: every component answers GET /healthz (204 when its
database and broker are usable) and GET /metrics (Prometheus) on its listen
address.
`, serveComponents()))
	config := fs.String("config", "", "component config `file` (JSON, unknown fields are errors)")
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		if code, stop := parse(fs, args); stop {
			return code
		}
		fmt.Fprintln(e.stderr, "serve: name the component to run; allowed:", serveComponents())
		return 2
	}
	name := args[0]
	if code, stop := parse(fs, args[1:]); stop {
		return code
	}
	if !slices.Contains(serveComponents(), name) {
		fmt.Fprintf(e.stderr, "serve: unknown component %q; allowed: %v\n", name, serveComponents())
		return 2
	}
	if *config == "" {
		fmt.Fprintln(e.stderr, "serve: --config is required")
		return 2
	}
	raw, err := os.ReadFile(*config)
	if err != nil {
		fmt.Fprintf(e.stderr, "serve %s: %v\n", name, err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil)).With("component", name)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := serve(ctx, log, name, raw); err != nil {
		log.Error("exit", "err", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, log *slog.Logger, name string, raw []byte) error {
	switch name {
	case "broker":
		var c broker.Config
		if err := decodeConfig(raw, &c); err != nil {
			return err
		}
		return broker.Run(ctx, log, c)
	case "psp":
		var c psp.ServeConfig
		if err := decodeConfig(raw, &c); err != nil {
			return err
		}
		return psp.Run(ctx, log, c)
	case "monolith":
		var c monolith.Config
		if err := decodeConfig(raw, &c); err != nil {
			return err
		}
		return monolith.Run(ctx, log, c)
	default:
		var c eda.Config
		if err := decodeConfig(raw, &c); err != nil {
			return err
		}
		if c.Component != name {
			return fmt.Errorf("config is for component %q, not %q", c.Component, name)
		}
		return eda.Run(ctx, log, c)
	}
}

func decodeConfig(raw []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("decode config: %w", err)
	}
	return nil
}
