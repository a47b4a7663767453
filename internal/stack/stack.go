// Package stack runs the observability stack of a local run: Jaeger v2
// (built from its Go module by `make tools`) and Prometheus (the Debian
// package), each a child process of the runtime with its own config in the
// run bundle. Either is optional: when a binary is missing the run goes on
// without it and says so in one line.
package stack

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edatestbed/testbed/internal/runtime/local"
)

// Starter is what the stack needs of a runtime.
type Starter interface {
	Start(ctx context.Context, spec local.Spec) error
}

// Target is one Prometheus scrape target.
type Target struct {
	Addr   string            // host:port serving /metrics
	Labels map[string]string // arch, component
}

// Options shape the stack.
type Options struct {
	Dir     string   // the run bundle; configs, data and logs go to Dir/observability
	Jaeger  string   // binary, "" to skip
	Prom    string   // binary, "" to skip
	Targets []Target // what Prometheus scrapes
	Rules   []string // rule files Prometheus loads
}

// Stack is what started.
type Stack struct {
	JaegerUI      string // http://host:port, "" when not running
	OTLP          string // host:port of Jaeger's OTLP/HTTP receiver, "" when not running
	PrometheusURL string // http://host:port, "" when not running
}

// Find locates a tool: bin/<name> under the working directory, next to
// the testbed binary, then $PATH. It returns "" and why when none is found;
// the why names absolute paths, since "bin/jaeger" says nothing of the
// directory it was looked for in.
func Find(name, hint string) (string, string) {
	var tried []string
	cands := []string{filepath.Join("bin", name)}
	if exe, err := os.Executable(); err == nil {
		cands = append(cands, filepath.Join(filepath.Dir(exe), name))
	}
	for _, c := range cands {
		if abs, err := filepath.Abs(c); err == nil {
			c = abs
		}
		if st, err := os.Stat(c); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return c, ""
		}
		tried = append(tried, c)
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, ""
	}
	return "", fmt.Sprintf("%s not found (looked in %s and $PATH); %s", name, strings.Join(tried, ", "), hint)
}

// Start starts what Options name and waits until each is ready.
func Start(ctx context.Context, rt Starter, o Options) (*Stack, error) {
	dir := filepath.Join(o.Dir, "observability")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("observability dir: %w", err)
	}
	st := &Stack{}
	var errs []error
	if o.Jaeger != "" {
		if err := st.startJaeger(ctx, rt, dir, o.Jaeger); err != nil {
			errs = append(errs, err)
		}
	}
	if o.Prom != "" {
		if err := st.startPrometheus(ctx, rt, dir, o); err != nil {
			errs = append(errs, err)
		}
	}
	return st, errors.Join(errs...)
}

// port returns preferred when it is free on 127.0.0.1, so users find the
// UIs where they expect them, and a free port otherwise.
func port(preferred int) (string, error) {
	if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", preferred)); err == nil {
		ln.Close()
		return ln.Addr().String(), nil
	}
	return local.FreeAddr("127.0.0.1")
}

func (st *Stack) startJaeger(ctx context.Context, rt Starter, dir, bin string) error {
	ui, err := port(16686)
	if err != nil {
		return err
	}
	otlp, err := local.FreeAddr("127.0.0.1")
	if err != nil {
		return err
	}
	grpcQuery, err := local.FreeAddr("127.0.0.1")
	if err != nil {
		return err
	}
	cfg := fmt.Sprintf(jaegerConfig, grpcQuery, ui, otlp)
	path := filepath.Join(dir, "jaeger.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("write jaeger config: %w", err)
	}
	spec := local.Spec{Name: "observability/jaeger", Bin: bin, Args: []string{"--config", path}, Health: "http://" + ui + "/", Log: filepath.Join(dir, "jaeger.log")}
	if err := rt.Start(ctx, spec); err != nil {
		return fmt.Errorf("start jaeger: %w", err)
	}
	st.JaegerUI, st.OTLP = "http://"+ui, otlp
	return nil
}

// jaegerConfig is Jaeger v2's all-in-one with in-memory storage, only the
// OTLP/HTTP receiver, and no fixed ports other than the ones given.
const jaegerConfig = `# Written by the testbed for this run: Jaeger v2, in-memory storage.
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memory_store:
        memory:
          max_traces: 200000
  jaeger_query:
    storage:
      traces: memory_store
    grpc:
      endpoint: %s
    http:
      endpoint: %s
receivers:
  otlp:
    protocols:
      http:
        endpoint: %s
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: memory_store
`

func (st *Stack) startPrometheus(ctx context.Context, rt Starter, dir string, o Options) error {
	web, err := port(9090)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# Written by the testbed for this run.\nglobal:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n")
	if len(o.Rules) > 0 {
		b.WriteString("rule_files:\n")
		for _, r := range o.Rules {
			fmt.Fprintf(&b, "  - %q\n", r)
		}
	}
	b.WriteString("scrape_configs:\n  - job_name: testbed\n    static_configs:\n")
	for _, t := range o.Targets {
		fmt.Fprintf(&b, "      - targets: [%q]\n        labels:\n", t.Addr)
		for _, k := range slices.Sorted(maps.Keys(t.Labels)) {
			fmt.Fprintf(&b, "          %s: %q\n", k, t.Labels[k])
		}
	}
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write prometheus config: %w", err)
	}
	spec := local.Spec{
		Name: "observability/prometheus", Bin: o.Prom,
		Args: []string{
			"--config.file=" + path, "--storage.tsdb.path=" + filepath.Join(dir, "prometheus-data"),
			"--web.listen-address=" + web, "--storage.tsdb.retention.time=30d", "--web.enable-admin-api",
		},
		Health: "http://" + web + "/-/ready", Log: filepath.Join(dir, "prometheus.log"),
	}
	if err := rt.Start(ctx, spec); err != nil {
		return fmt.Errorf("start prometheus: %w", err)
	}
	st.PrometheusURL = "http://" + web
	return nil
}
