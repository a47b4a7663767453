package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/edatestbed/testbed/faults"
	"github.com/edatestbed/testbed/internal/broker"
)

// The runtime is what the faults drive.
var (
	_ faults.Processes = (*Runtime)(nil)
	_ faults.Signaller = (*Runtime)(nil)
)

// needDocker skips tests that need a Docker engine when there is none, or
// under -short.
func needDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts containers; not under -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := Available(ctx); err != nil {
		t.Skipf("docker is not reachable: %v", err)
	}
}

// builtByTests is the image the tests built, for TestMain to remove.
var builtByTests atomic.Value

// image is the testbed image the tests run, built once per test binary.
var image = sync.OnceValues(func() (string, error) {
	bin := os.Getenv("TESTBED_STATIC_BINARY") // a prebuilt static testbed, to skip the build
	if bin == "" {
		dir, err := os.MkdirTemp("", "testbed-docker-test-")
		if err != nil {
			return "", err
		}
		bin = filepath.Join(dir, "testbed")
		cmd := exec.Command("go", "build", "-o", bin, "github.com/edatestbed/testbed/cmd/testbed")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("build a static testbed: %v\n%s", err, out)
		}
		defer os.RemoveAll(dir)
	}
	sum, err := fileHash(bin)
	if err != nil {
		return "", err
	}
	p, err := connect()
	if err != nil {
		return "", err
	}
	defer p.Close()
	_, err = p.Client().ImageInspect(context.Background(), imageTag(filepath.Base(bin), sum))
	existed := err == nil
	tag, err := EnsureImage(context.Background(), bin)
	if err == nil && !existed {
		builtByTests.Store(tag)
	}
	return tag, err
})

func testImage(t *testing.T) string {
	t.Helper()
	tag, err := image()
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

func TestEnsureImage(t *testing.T) {
	needDocker(t)
	t.Parallel()
	tag := testImage(t)
	if !strings.HasPrefix(tag, imageRepo+"testbed:") {
		t.Fatalf("tag %s", tag)
	}
	p, err := connect()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	img, err := p.Client().ImageInspect(context.Background(), tag)
	if err != nil {
		t.Fatal(err)
	}
	if img.Config.Labels[LabelImage] != "testbed" || !slices.Equal(img.Config.Entrypoint, []string{"/testbed"}) {
		t.Fatalf("image labels %v, entrypoint %v", img.Config.Labels, img.Config.Entrypoint)
	}
	if _, err := EnsureImage(context.Background(), filepath.Join("testdata", "dynamic.elf")); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Fatalf("EnsureImage of a dynamic binary = %v", err)
	}
}

// newRuntime returns a runtime whose Close, at the end of the test, must
// leave nothing labelled with its run behind.
func newRuntime(t *testing.T, exits func(string, error)) *Runtime {
	t.Helper()
	runID := fmt.Sprintf("test-%d-%s", time.Now().UnixNano(), dockerName(t.Name()))
	rt, err := New(context.Background(), runID, Options{Image: testImage(t), Ready: 30 * time.Second, Grace: time.Second, OnExit: exits})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rt.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
		assertNothingLeft(t, runID)
	})
	return rt
}

func assertNothingLeft(t *testing.T, runID string) {
	t.Helper()
	p, err := connect()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	f := make(client.Filters).Add("label", LabelRun+"="+runID)
	cs, err := p.Client().ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := p.Client().NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs.Items {
		t.Errorf("container %v of run %s left behind", c.Names, runID)
	}
	for _, n := range ns.Items {
		t.Errorf("network %s of run %s left behind", n.Name, runID)
	}
}

// pspSpec writes a PSP config under dir and returns its spec.
func pspSpec(t *testing.T, dir string) Spec {
	t.Helper()
	conf := filepath.Join(dir, "eda", "config")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(conf, "psp.json")
	if err := os.WriteFile(cfg, []byte(`{"listen": "0.0.0.0:8080", "telemetry": {"arch": "eda"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return Spec{
		Arch: "eda", Component: "psp", Node: "node-1",
		Args:     []string{"serve", "psp", "--config", cfg},
		ReadOnly: []string{conf},
		Health:   "http://psp:8080/healthz",
		Log:      filepath.Join(dir, "psp.log"),
	}
}

// probe is one health check from the host: nil when it answers 2xx.
func probe(addr string) error {
	hc := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{Proxy: nil}}
	resp, err := hc.Get("http://" + addr + "/healthz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return errors.New(resp.Status)
	}
	return nil
}

func (r *Runtime) inspect(t *testing.T, name string) container.InspectResponse {
	t.Helper()
	cc, _, err := r.lookup("inspect", name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := r.cli.ContainerInspect(context.Background(), cc.c.GetContainerID(), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return info.Container
}

func TestLifecycle(t *testing.T) {
	needDocker(t)
	t.Parallel()
	exits := make(chan string, 8)
	rt := newRuntime(t, func(name string, _ error) { exits <- name })
	ctx := context.Background()
	dir := t.TempDir()
	spec := pspSpec(t, dir)
	const name = "eda/psp"

	if err := rt.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	addr, err := rt.HostAddr(name, 8080)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("published on %s, want loopback only", addr)
	}
	if err := probe(addr); err != nil {
		t.Fatalf("healthy after Start: %v", err)
	}
	if err := rt.Start(ctx, spec); err == nil {
		t.Fatal("starting a component twice succeeded")
	}

	t.Run("kill and restart", func(t *testing.T) {
		pid, err := rt.Kill(name)
		if err != nil {
			t.Fatal(err)
		}
		if pid <= 0 || rt.PID(name) != 0 {
			t.Fatalf("Kill = %d, PID after = %d", pid, rt.PID(name))
		}
		if st := rt.inspect(t, name).State; st.Running || st.ExitCode != 137 {
			t.Fatalf("state after Kill: running %v, exit code %d; want stopped by SIGKILL", st.Running, st.ExitCode)
		}
		if probe(addr) == nil {
			t.Fatal("health answers with the container killed")
		}
		if err := rt.Restart(ctx, name); err != nil {
			t.Fatal(err)
		}
		if again, _ := rt.HostAddr(name, 8080); again != addr {
			t.Fatalf("host address moved from %s to %s across a restart", addr, again)
		}
		if err := probe(addr); err != nil {
			t.Fatalf("healthy after Restart: %v", err)
		}
		if rt.PID(name) == 0 || rt.PID(name) == pid {
			t.Fatalf("restart gave pid %d, want a new live process", rt.PID(name))
		}
		// Each life logs "serving" once; the restart's log must add its own
		// line without copying the first life's again. The engine streams
		// the new life's log on its own schedule, which on a loaded machine
		// once took longer than 10 s.
		deadline := time.Now().Add(time.Minute)
		var n int
		for n < 2 && time.Now().Before(deadline) {
			b, _ := os.ReadFile(spec.Log)
			n = strings.Count(string(b), `"msg":"serving"`)
			time.Sleep(20 * time.Millisecond) // polling the log file the copier appends to
		}
		if n != 2 {
			b, _ := os.ReadFile(spec.Log)
			t.Fatalf("log has %d serving lines over two lives, want 2:\n%s", n, b)
		}
	})

	t.Run("docker pause", func(t *testing.T) {
		if _, err := rt.Signal(name, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		if !rt.inspect(t, name).State.Paused {
			t.Fatal("not paused after SIGSTOP")
		}
		if probe(addr) == nil {
			t.Fatal("health answers while paused")
		}
		if _, err := rt.Signal(name, syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		if err := probe(addr); err != nil {
			t.Fatalf("healthy after unpause: %v", err)
		}
	})

	t.Run("process signal", func(t *testing.T) {
		if _, err := rt.SignalProcess(name, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		if st := rt.inspect(t, name).State; st.Paused || !st.Running {
			t.Fatalf("SIGSTOP to the process: paused %v, running %v; want a running container", st.Paused, st.Running)
		}
		if probe(addr) == nil {
			t.Fatal("health answers with its process stopped")
		}
		if _, err := rt.SignalProcess(name, syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		if err := probe(addr); err != nil {
			t.Fatalf("healthy after SIGCONT: %v", err)
		}
	})

	t.Run("disconnect and reconnect", func(t *testing.T) {
		netName, _ := rt.Network(ctx, "eda")
		if err := rt.Disconnect(ctx, name); err != nil {
			t.Fatal(err)
		}
		if _, on := rt.inspect(t, name).NetworkSettings.Networks[netName]; on {
			t.Fatalf("still on %s after Disconnect", netName)
		}
		if probe(addr) == nil {
			t.Fatal("health answers while disconnected")
		}
		if err := rt.Disconnect(ctx, name); err != nil {
			t.Fatalf("disconnecting twice: %v", err)
		}
		if err := rt.Reconnect(ctx, name); err != nil {
			t.Fatal(err)
		}
		ep, on := rt.inspect(t, name).NetworkSettings.Networks[netName]
		if !on || !strings.Contains(strings.Join(ep.Aliases, " "), "psp") {
			t.Fatalf("after Reconnect: on %s %v with aliases %v; want alias psp", netName, on, ep)
		}
		if err := probe(addr); err != nil {
			t.Fatalf("healthy after Reconnect: %v", err)
		}
	})

	t.Run("node loss", func(t *testing.T) {
		killed, err := rt.KillNode(ctx, "eda", "node-1")
		if err != nil {
			t.Fatal(err)
		}
		if len(killed) != 1 || killed[0] != name {
			t.Fatalf("KillNode killed %v, want [%s]", killed, name)
		}
		if _, err := rt.KillNode(ctx, "eda", "node-1"); err == nil {
			t.Fatal("killing a node with nothing running succeeded")
		}
	})

	select {
	case n := <-exits:
		t.Fatalf("a planned kill was reported as an unplanned exit of %s", n)
	default:
	}
}

func TestStartFailureCarriesTheLog(t *testing.T) {
	needDocker(t)
	t.Parallel()
	rt := newRuntime(t, nil)
	spec := pspSpec(t, t.TempDir())
	spec.Args = []string{"serve", "psp", "--config", "/no/such/config.json"}
	err := rt.Start(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "/no/such/config.json") {
		t.Fatalf("Start = %v; want the exit and the log's last lines", err)
	}
}

func TestUnplannedExitIsReported(t *testing.T) {
	needDocker(t)
	t.Parallel()
	exits := make(chan string, 1)
	rt := newRuntime(t, func(name string, _ error) { exits <- name })
	if err := rt.Start(context.Background(), pspSpec(t, t.TempDir())); err != nil {
		t.Fatal(err)
	}
	// SIGTERM is no fault: the component stops on its own accord.
	if _, err := rt.SignalProcess("eda/psp", syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-exits:
		if n != "eda/psp" {
			t.Fatalf("exit reported for %s", n)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the exit was not reported")
	}
}

func TestCleanupAfterACrashedTestbed(t *testing.T) {
	needDocker(t)
	t.Parallel()
	runID := fmt.Sprintf("test-%d-crashed", time.Now().UnixNano())
	rt, err := New(context.Background(), runID, Options{Image: testImage(t), Ready: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(context.Background(), pspSpec(t, t.TempDir())); err != nil {
		t.Fatal(err)
	}
	// The testbed dies here: no Close. A later process cleans by label.
	before, err := Resources(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	removed, err := Cleanup(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	if len(before) != 2 || !slices.Equal(removed, before) {
		t.Errorf("cleanup removed %v; the run had %v (want its container and its network)", removed, before)
	}
	assertNothingLeft(t, runID)
	if err := rt.Close(context.Background()); err != nil {
		t.Fatalf("close after cleanup: %v", err)
	}
}

func TestCleanupStale(t *testing.T) {
	needDocker(t)
	t.Parallel()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Skipf("no `true` to make a dead process: %v", err)
	}
	host, _ := os.Hostname()
	p, err := connect()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	stamp := time.Now().UnixNano()
	deadRun, liveRun := fmt.Sprintf("test-%d-dead", stamp), fmt.Sprintf("test-%d-live", stamp)
	for run, pid := range map[string]int{deadRun: gone.Process.Pid, liveRun: os.Getpid()} {
		_, err := p.Client().NetworkCreate(ctx, networkName(run, "eda"), client.NetworkCreateOptions{
			Driver: "bridge", Labels: map[string]string{LabelRun: run, LabelOwner: fmt.Sprintf("%s:%d", host, pid)},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if _, err := Cleanup(context.Background(), liveRun); err != nil {
			t.Error(err)
		}
		assertNothingLeft(t, liveRun)
	})
	removed, err := CleanupStale(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(removed, deadRun) || slices.Contains(removed, liveRun) {
		t.Fatalf("CleanupStale removed %v; want %s and not %s", removed, deadRun, liveRun)
	}
	assertNothingLeft(t, deadRun)
	ns, err := p.Client().NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("label", LabelRun+"="+liveRun)})
	if err != nil || len(ns.Items) != 1 {
		t.Fatalf("the live run's network: %v, %d found", err, len(ns.Items))
	}
}

func TestDoctorNeverPulls(t *testing.T) {
	needDocker(t)
	rep := Doctor(context.Background(), DoctorOptions{})
	if !rep.Ready || len(rep.Checks) != 6 {
		t.Fatalf("report:\n%s", rep)
	}
	for _, c := range rep.Checks {
		if c.Found != Present && c.Found != Absent {
			t.Errorf("%s: %s without asking the registry", c.Component, c.Found)
		}
		if c.Found == Absent && c.Component == "kafka" && !strings.Contains(c.Use, "kfake") {
			t.Errorf("kafka absent falls back to %q, want the embedded broker", c.Use)
		}
		if c.Found == Absent && (c.Component == "grafana" || c.Component == "kibana") && c.Use != "skipped" {
			t.Errorf("%s absent: %q, want skipped", c.Component, c.Use)
		}
	}
	t.Logf("\n%s", rep)
}

// TestBrokerAdvertisesItsAlias runs the embedded broker in a container and
// talks Kafka to it from the host: the broker advertises broker:<port>,
// which only resolves inside the network, and a host client reaches it
// through the routes to the published ports.
func TestBrokerAdvertisesItsAlias(t *testing.T) {
	needDocker(t)
	t.Parallel()
	rt := newRuntime(t, nil)
	dir := t.TempDir()
	conf, data := filepath.Join(dir, "eda", "config"), filepath.Join(dir, "eda", "data", "broker")
	for _, d := range []string{conf, data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ports := []int{19091, 19092, 19093}
	b, err := json.Marshal(broker.Config{
		Host: "0.0.0.0", Ports: ports, Advertise: "broker", Listen: "0.0.0.0:8080",
		DataDir: data, Topics: []string{"orders"}, Partitions: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(conf, "broker.json")
	if err := os.WriteFile(cfg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	err = rt.Start(context.Background(), Spec{
		Arch: "eda", Component: "broker", Node: "node-1",
		Args:     []string{"serve", "broker", "--config", cfg},
		ReadOnly: []string{conf}, ReadWrite: []string{data},
		Health: "http://broker:8080/healthz", Publish: ports,
		Log: filepath.Join(dir, "broker.log"),
	})
	if err != nil {
		t.Fatal(err)
	}
	routes, err := rt.HostRoutes("eda/broker")
	if err != nil {
		t.Fatal(err)
	}
	sc := sarama.NewConfig()
	sc.Version = sarama.V3_6_0_0
	sc.Net.Proxy.Enable = true
	sc.Net.Proxy.Dialer = routeDialer{routes: routes}
	sc.Producer.Return.Successes = true
	kc, err := sarama.NewClient([]string{"broker:19091"}, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	for _, br := range kc.Brokers() {
		if !strings.HasPrefix(br.Addr(), "broker:") {
			t.Errorf("broker advertises %s, want broker:<port>", br.Addr())
		}
	}
	prod, err := sarama.NewSyncProducerFromClient(kc)
	if err != nil {
		t.Fatal(err)
	}
	part, off, err := prod.SendMessage(&sarama.ProducerMessage{Topic: "orders", Value: sarama.StringEncoder("hello")})
	if err != nil {
		t.Fatal(err)
	}
	cons, err := sarama.NewConsumerFromClient(kc)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := cons.ConsumePartition("orders", part, off)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	select {
	case m := <-pc.Messages():
		if string(m.Value) != "hello" {
			t.Fatalf("read %q back, want hello", m.Value)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the message did not come back")
	}
	// The broker's data went through the read-write mount into the bundle.
	if entries, err := os.ReadDir(data); err != nil || len(entries) == 0 {
		t.Fatalf("broker data dir on the host: %v, %d entries", err, len(entries))
	}
}

// routeDialer sends a Kafka client's connections to what the broker
// advertises to the host's published ports instead.
type routeDialer struct{ routes map[string]string }

func (d routeDialer) Dial(network, addr string) (net.Conn, error) {
	if to, ok := d.routes[addr]; ok {
		addr = to
	}
	return net.DialTimeout(network, addr, 3*time.Second)
}

func TestMain(m *testing.M) {
	code := m.Run()
	// Leave the engine as the tests found it: the image built for them
	// goes, unless another container still uses it.
	if tag, ok := builtByTests.Load().(string); ok {
		if p, err := connect(); err == nil {
			_, err := p.Client().ImageRemove(context.Background(), tag, client.ImageRemoveOptions{PruneChildren: true})
			if err != nil && !errdefs.IsConflict(err) {
				fmt.Fprintf(os.Stderr, "remove test image %s: %v\n", tag, err)
			}
			p.Close()
		}
	}
	os.Exit(code)
}
