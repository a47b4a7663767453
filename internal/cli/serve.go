package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/edatestbed/testbed/internal/broker"
	"github.com/edatestbed/testbed/internal/pgserver"
	"github.com/edatestbed/testbed/system/balancer"
	"github.com/edatestbed/testbed/system/chain"
	"github.com/edatestbed/testbed/system/eda"
	"github.com/edatestbed/testbed/system/monolith"
	"github.com/edatestbed/testbed/system/psp"
	"github.com/edatestbed/testbed/system/telemetry"
)

func serveComponents() []string {
	out := append([]string{"broker", "psp", "monolith", "monolith-lb", "postgres"}, eda.Components()...)
	for _, c := range chain.Components() {
		out = append(out, chain.ServePrefix+c)
	}
	return out
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
  monolith    the synchronous baseline: one process, one database; also
              each replica of monolith-ha, on the shared PostgreSQL
  monolith-lb the load balancer in front of monolith-ha's replicas
  postgres    the PostgreSQL server of monolith-ha (initdb, then postgres)
  order-api, inventory, payment, shipping, order-view
              the event-driven services, talking only through Kafka
  sync-order, sync-inventory, sync-payment, sync-shipping
              the same services calling each other over HTTP (sync-services)

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
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := serve(ctx, e, name, raw); err != nil {
		fmt.Fprintf(e.stderr, "serve %s: %v\n", name, err)
		return 1
	}
	return 0
}

// serve decodes the component's config, builds its telemetry (JSON logs on
// stderr, which the runtime writes to the component's log file) and runs it.
func serve(ctx context.Context, e env, name string, raw []byte) error {
	run := func(tc telemetry.Config, fn func(*telemetry.Telemetry) error) error {
		tel, err := telemetry.New(ctx, tc, name, e.stderr)
		if err != nil {
			return err
		}
		err = fn(tel)
		flush, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if ferr := tel.Shutdown(flush); ferr != nil {
			tel.Log.Warn("flush spans", "err", ferr)
		}
		if err != nil {
			tel.Log.Error("exit", "err", err)
		}
		return err
	}
	switch name {
	case "broker":
		var c broker.Config
		if err := decodeConfig(raw, &c); err != nil {
			return err
		}
		return run(telemetry.Config{Arch: "eda"}, func(t *telemetry.Telemetry) error { return broker.Run(ctx, t.Log, c) })
	case "psp":
		var c psp.ServeConfig
		if err := decodeConfig(raw, &c); err != nil {
			return err
		}
		return run(c.Telemetry, func(t *telemetry.Telemetry) error { return psp.Run(ctx, t, c) })
	case "monolith":
		var c monolith.Config
		if err := decodeConfig(raw, &c); err != nil {
			return err
		}
		return run(c.Telemetry, func(t *telemetry.Telemetry) error { return monolith.Run(ctx, t, c) })
	case "monolith-lb":
		var c balancer.Config
		if err := decodeConfig(raw, &c); err != nil {
			return err
		}
		return run(c.Telemetry, func(t *telemetry.Telemetry) error { return balancer.Run(ctx, t, c) })
	case "postgres":
		var c pgserver.Config
		if err := decodeConfig(raw, &c); err != nil {
			return err
		}
		return run(telemetry.Config{Arch: "monolith-ha"}, func(t *telemetry.Telemetry) error { return pgserver.Run(ctx, t.Log, c) })
	}
	if c, ok := strings.CutPrefix(name, chain.ServePrefix); ok {
		var cfg chain.Config
		if err := decodeConfig(raw, &cfg); err != nil {
			return err
		}
		if cfg.Component != c {
			return fmt.Errorf("config is for component %q, not %q", cfg.Component, c)
		}
		return run(cfg.Telemetry, func(t *telemetry.Telemetry) error { return chain.Run(ctx, t, cfg) })
	}
	var c eda.Config
	if err := decodeConfig(raw, &c); err != nil {
		return err
	}
	if c.Component != name {
		return fmt.Errorf("config is for component %q, not %q", c.Component, name)
	}
	return run(c.Telemetry, func(t *telemetry.Telemetry) error { return eda.Run(ctx, t, c) })
}

func decodeConfig(raw []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("decode config: %w", err)
	}
	return nil
}
