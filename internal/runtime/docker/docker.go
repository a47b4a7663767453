// Package docker is the runtime that runs every component in a container,
// through testcontainers-go: the testbed's own components from an image
// built FROM scratch around the static testbed binary, one Docker network
// per architecture, each component a container with its name as network
// alias. Faults are Docker operations: kill, pause, network disconnect.
// Everything it creates carries the run's labels, so Close, or Cleanup
// after the testbed itself died, finds and removes all of it.
//
// Addressing: inside an architecture's network components reach each other
// by alias at fixed container ports (http://psp:8080). The host, where the
// testbed checks readiness, drives load and watches Kafka, reaches a
// container through ports published on 127.0.0.1 only. Those host ports are
// chosen when the container is created and bound explicitly, so they stay
// the same across a restart and come back after a reconnect. Readiness is
// checked that way too, from the host through the published health port:
// an image FROM scratch has no shell or HTTP client to exec a check with,
// and the ports have to be published for the load generator anyway.
//
// Kafka is the one protocol where that is not enough: a broker tells its
// clients where to connect, and the embedded broker advertises its network
// alias (broker.Config.Advertise), broker:19091, which resolves inside the
// network only. A Kafka client on the host dials through HostRoutes, which
// maps each advertised address to its published twin.
//
// Configs and data are bind mounts of the run directory, so the Docker
// engine must see this machine's file system: a local engine.
package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/log"

	"github.com/edatestbed/testbed/internal/runtime/ready"
)

// Name of this runtime in reports.
const Name = "docker (testcontainers-go, one network per architecture)"

// opTimeout bounds one Docker operation that has no context of its own
// (Kill and Signal, whose signatures are the faults' interfaces).
const opTimeout = 30 * time.Second

// Spec says how to run one component in a container.
type Spec struct {
	Arch      string // architecture: its network, label testbed.arch
	Component string // name in the architecture: network alias, label testbed.component
	Node      string // topology node (label testbed.node); containers of a node die together
	Image     string // image to run; empty means the runtime's (Options.Image)
	// Args follow the image's entrypoint: serve <component> --config <file>
	// for the testbed image, as in the local runtime.
	Args []string
	// ReadOnly and ReadWrite are host directories mounted at the same path
	// in the container, so the configs the planner writes name the same
	// files inside as outside: configs read-only, data read-write (the run
	// bundle keeps what the component wrote).
	ReadOnly  []string
	ReadWrite []string
	// Health is the URL inside the network answering 2xx once the
	// component is ready, http://<component>:<port>/healthz. Its port is
	// published on the host loopback, and the host checks it there.
	Health string
	// Publish lists other container ports the host must reach (broker
	// nodes); the health port always is.
	Publish []int
	// Bind fixes the host address (127.0.0.1:port) of a published port,
	// for a planner that must name it before the container exists (a link
	// proxy's upstream, a scrape target). Ports not in it get a free one.
	Bind map[int]string
	Log  string // host file the container's stdout and stderr are appended to
}

// Name is the component's name in the runtime, "<arch>/<component>", as in
// the local runtime.
func (s Spec) Name() string { return s.Arch + "/" + s.Component }

// Options shape a runtime.
type Options struct {
	// Image runs specs that name none: EnsureImage's tag.
	Image string
	// Ready bounds each start, up to a passing health check; 0 means 60 s.
	Ready time.Duration
	// Grace is how long Close lets components stop on SIGTERM before
	// SIGKILL; 0 means 5 s.
	Grace time.Duration
	// OnExit, when not nil, hears from its own goroutine of a component
	// that exited without being told to.
	OnExit func(name string, err error)
}

// Runtime owns the containers and networks of one run.
type Runtime struct {
	runID string
	owner string // host:pid, label testbed.owner
	opt   Options
	prov  *testcontainers.DockerProvider
	cli   client.APIClient
	// bg outlives the callers' contexts: it carries the goroutines that
	// wait for each container's exit and copy its logs, until Close.
	bg     context.Context
	stopBg context.CancelFunc
	follow sync.WaitGroup

	mu       sync.Mutex
	networks map[string]string // arch -> network name
	ctrs     map[string]*ctr
	closing  bool
}

type ctr struct {
	spec      Spec
	c         testcontainers.Container
	network   string
	published map[int]string // container port -> 127.0.0.1:<host port>
	killed    atomic.Bool    // the runtime stopped it on purpose
	cur       *start         // the current or last start; guarded by Runtime.mu
}

// start is one life of a container, from a start to its exit.
type start struct {
	pid    int           // of its main process, on the Docker host
	exited chan struct{} // closed when it stopped running
	err    error         // why, valid after exited is closed
	logged chan struct{} // closed when its logs are all copied
}

func (s *start) done() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// New connects to the Docker engine for the run runID. Networks are made
// on demand, one per architecture.
func New(ctx context.Context, runID string, opt Options) (*Runtime, error) {
	if runID == "" {
		return nil, errors.New("docker runtime: empty run id")
	}
	if opt.Ready <= 0 {
		opt.Ready = 60 * time.Second
	}
	if opt.Grace <= 0 {
		opt.Grace = 5 * time.Second
	}
	p, err := connect()
	if err != nil {
		return nil, err
	}
	if _, err := p.Client().Ping(ctx, client.PingOptions{}); err != nil {
		p.Close()
		return nil, fmt.Errorf("ping docker: %w", err)
	}
	host, _ := os.Hostname()
	bg, stop := context.WithCancel(context.Background())
	return &Runtime{
		runID: runID, owner: host + ":" + strconv.Itoa(os.Getpid()), opt: opt,
		prov: p, cli: p.Client(), bg: bg, stopBg: stop,
		networks: map[string]string{}, ctrs: map[string]*ctr{},
	}, nil
}

// Network returns the name of the architecture's network, creating it the
// first time.
func (r *Runtime) Network(ctx context.Context, arch string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return "", fmt.Errorf("network %s: the runtime is shutting down", arch)
	}
	if n, ok := r.networks[arch]; ok {
		return n, nil
	}
	name := networkName(r.runID, arch)
	_, err := r.cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{
		Driver: "bridge",
		Labels: map[string]string{LabelRun: r.runID, LabelOwner: r.owner, LabelArch: arch},
	})
	if err != nil {
		return "", fmt.Errorf("create network %s: %w", name, err)
	}
	r.networks[arch] = name
	return name, nil
}

// Gateway returns the address of the host on the architecture's network,
// creating the network the first time: what a container dials to reach a
// listener of the testbed's own (a link proxy), which the host binds there
// so that only its own containers can reach it.
func (r *Runtime) Gateway(ctx context.Context, arch string) (string, error) {
	name, err := r.Network(ctx, arch)
	if err != nil {
		return "", err
	}
	res, err := r.cli.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("inspect network %s: %w", name, err)
	}
	for _, c := range res.Network.IPAM.Config {
		if c.Gateway.Is4() {
			return c.Gateway.String(), nil
		}
	}
	return "", fmt.Errorf("network %s has no IPv4 gateway", name)
}

// Start creates the component's container and returns once its health
// check passes, or with an error carrying the end of its log when it dies
// or stays unhealthy.
func (r *Runtime) Start(ctx context.Context, spec Spec) error {
	name := spec.Name()
	if spec.Arch == "" || spec.Component == "" {
		return fmt.Errorf("start %q: a spec needs an architecture and a component", name)
	}
	hp, err := healthPort(spec.Health)
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	r.mu.Lock()
	_, exists := r.ctrs[name]
	r.mu.Unlock()
	if exists {
		return fmt.Errorf("start %s: already created; Restart starts it again", name)
	}
	image := spec.Image
	if image == "" {
		image = r.opt.Image
	}
	if image == "" {
		return fmt.Errorf("start %s: no image", name)
	}
	// testcontainers pulls what is missing; this runtime never does, so a
	// run offline fails here with the reason instead of in a pull.
	if _, err := r.cli.ImageInspect(ctx, image); err != nil {
		return fmt.Errorf("start %s: image %s is not on this Docker engine (the runtime never pulls; EnsureImage builds the testbed's): %w", name, image, err)
	}
	netName, err := r.Network(ctx, spec.Arch)
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	published := map[int]string{}
	bindings := network.PortMap{}
	var exposed []string
	for _, p := range append([]int{hp}, spec.Publish...) {
		if _, dup := published[p]; dup {
			continue
		}
		addr, hostPort, err := bindAddr(spec.Bind[p])
		if err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
		published[p] = addr
		port := strconv.Itoa(p) + "/tcp"
		exposed = append(exposed, port)
		bindings[network.MustParsePort(port)] = []network.PortBinding{{HostIP: netip.AddrFrom4([4]byte{127, 0, 0, 1}), HostPort: hostPort}}
	}
	var mounts []mount.Mount
	for _, d := range spec.ReadOnly {
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: d, Target: d, ReadOnly: true})
	}
	for _, d := range spec.ReadWrite {
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: d, Target: d})
	}
	req := testcontainers.ContainerRequest{
		Image:          image,
		Name:           containerName(r.runID, spec.Arch, spec.Component),
		Cmd:            spec.Args,
		Labels:         labels(r.runID, r.owner, spec),
		Networks:       []string{netName},
		NetworkAliases: map[string][]string{netName: {spec.Component}},
		ExposedPorts:   exposed,
		// An image FROM scratch has no /tmp; SQLite and Go look for one.
		Tmpfs: map[string]string{"/tmp": "rw,mode=1777"},
		ConfigModifier: func(c *container.Config) {
			// Files the component writes into the bundle belong to the
			// user who ran the testbed, not to root.
			c.User = strconv.Itoa(os.Getuid()) + ":" + strconv.Itoa(os.Getgid())
		},
		HostConfigModifier: func(h *container.HostConfig) {
			h.NetworkMode = container.NetworkMode(netName)
			h.Mounts = mounts
			h.PortBindings = bindings
		},
	}
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: req, Logger: log.NewNoopLogger(),
	})
	if err != nil {
		if c != nil {
			_ = c.Terminate(context.WithoutCancel(ctx))
		}
		return fmt.Errorf("start %s: %w", name, err)
	}
	cc := &ctr{spec: spec, c: c, network: netName, published: published}
	r.mu.Lock()
	r.ctrs[name] = cc
	r.mu.Unlock()
	return r.run(ctx, cc)
}

// bindAddr checks a chosen host address, or picks a free one when none is.
func bindAddr(chosen string) (string, string, error) {
	if chosen == "" {
		return freeLoopbackPort()
	}
	host, port, err := net.SplitHostPort(chosen)
	if err != nil {
		return "", "", fmt.Errorf("host address %q: %w", chosen, err)
	}
	if host != "127.0.0.1" {
		return "", "", fmt.Errorf("host address %q: published ports are bound to 127.0.0.1 only", chosen)
	}
	return chosen, port, nil
}

// freeLoopbackPort returns 127.0.0.1:<port> and the port, free a moment
// ago. Published ports are bound to loopback only, never to an outside
// interface; binding a chosen port, rather than letting Docker pick one,
// keeps the host address of a container the same after it restarts.
func freeLoopbackPort() (string, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", fmt.Errorf("find a free port on 127.0.0.1: %w", err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return ln.Addr().String(), port, nil
}

// run starts the created or stopped container and waits for its health.
func (r *Runtime) run(ctx context.Context, cc *ctr) error {
	name := cc.spec.Name()
	logf, err := os.OpenFile(cc.spec.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start %s: open log: %w", name, err)
	}
	cc.killed.Store(false)
	if err := cc.c.Start(ctx); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	info, err := r.cli.ContainerInspect(ctx, cc.c.GetContainerID(), client.ContainerInspectOptions{})
	if err != nil {
		logf.Close()
		return fmt.Errorf("start %s: inspect: %w", name, err)
	}
	st := &start{pid: info.Container.State.Pid, exited: make(chan struct{}), logged: make(chan struct{})}
	r.mu.Lock()
	if r.closing {
		// Close is removing every container of the run, this one too.
		r.mu.Unlock()
		logf.Close()
		return fmt.Errorf("start %s: the runtime is shutting down", name)
	}
	cc.cur = st
	r.follow.Add(2) // under mu, so Close's Wait never races an Add
	r.mu.Unlock()
	go r.waitExit(cc, st)
	go r.copyLogs(cc, st, since(info.Container.State.StartedAt), logf)

	if err := r.awaitHealthy(ctx, cc, st); err != nil {
		cc.killed.Store(true)
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
		defer cancel()
		_, _ = r.cli.ContainerKill(kctx, cc.c.GetContainerID(), client.ContainerKillOptions{Signal: "SIGKILL"})
		// The log's last lines say why; wait for them to be copied.
		select {
		case <-st.logged:
		case <-kctx.Done():
		}
		return fmt.Errorf("start %s: %w%s", name, err, ready.LogTail(cc.spec.Log))
	}
	return nil
}

// since turns a container's StartedAt into the logs API's "since", so that
// the logs of a restart are appended without those of the lives before.
func since(startedAt string) string {
	t, err := time.Parse(time.RFC3339Nano, startedAt)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

func (r *Runtime) waitExit(cc *ctr, st *start) {
	defer r.follow.Done()
	w := r.cli.ContainerWait(r.bg, cc.c.GetContainerID(), client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case res := <-w.Result:
		st.err = fmt.Errorf("exit status %d", res.StatusCode)
		if res.Error != nil && res.Error.Message != "" {
			st.err = fmt.Errorf("exit status %d: %s", res.StatusCode, res.Error.Message)
		}
	case err := <-w.Error:
		st.err = fmt.Errorf("wait for exit: %w", err)
	}
	// OnExit is heard before exited closes, so whoever waits for the exit
	// returns after the report of it, never while it is being written.
	r.mu.Lock()
	closing := r.closing
	r.mu.Unlock()
	if !cc.killed.Load() && !closing && r.opt.OnExit != nil {
		r.opt.OnExit(cc.spec.Name(), st.err)
	}
	close(st.exited)
}

// copyLogs appends one life's stdout and stderr to the component's log
// file; the stream ends when the container stops.
func (r *Runtime) copyLogs(cc *ctr, st *start, since string, f *os.File) {
	defer r.follow.Done()
	defer close(st.logged)
	defer f.Close()
	rc, err := r.cli.ContainerLogs(r.bg, cc.c.GetContainerID(), client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Follow: true, Since: since,
	})
	if err != nil {
		fmt.Fprintf(f, "docker runtime: follow the logs of %s: %v\n", cc.spec.Name(), err)
		return
	}
	defer rc.Close()
	_, _ = stdcopy.StdCopy(f, f, rc)
}

func (r *Runtime) awaitHealthy(ctx context.Context, cc *ctr, st *start) error {
	url, err := hostURL(cc.spec.Health, cc.published)
	if err != nil {
		return err
	}
	if err := ready.Await(ctx, url, r.opt.Ready, st.exited, func() error { return st.err }); err != nil {
		return fmt.Errorf("%s (%s on the host): %w", cc.spec.Health, url, err)
	}
	return nil
}

// lookup returns a component and its current life.
func (r *Runtime) lookup(op, name string) (*ctr, *start, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cc, ok := r.ctrs[name]
	if !ok {
		return nil, nil, fmt.Errorf("%s %s: no such component", op, name)
	}
	return cc, cc.cur, nil
}

// running returns a component that is running.
func (r *Runtime) running(op, name string) (*ctr, *start, error) {
	cc, st, err := r.lookup(op, name)
	if err != nil {
		return nil, nil, err
	}
	if st == nil || st.done() {
		why := "never started"
		if st != nil {
			why = st.err.Error()
		}
		return nil, nil, fmt.Errorf("%s %s: not running (%s)", op, name, why)
	}
	return cc, st, nil
}

// Kill sends SIGKILL to the container, as a crash would, and returns the
// host pid of its main process once the container has stopped. Its disk,
// its network endpoint and its aliases stay for Restart.
func (r *Runtime) Kill(name string) (int, error) {
	cc, st, err := r.running("kill", name)
	if err != nil {
		return 0, err
	}
	cc.killed.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := r.cli.ContainerKill(ctx, cc.c.GetContainerID(), client.ContainerKillOptions{Signal: "SIGKILL"}); err != nil {
		cc.killed.Store(false)
		return 0, fmt.Errorf("kill %s: %w", name, err)
	}
	select {
	case <-st.exited:
		return st.pid, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("kill %s: still running %v after SIGKILL", name, opTimeout)
	}
}

// Restart starts a stopped component's container again: the same
// container, so its writable layer, mounts, aliases and host ports are
// the ones it had.
func (r *Runtime) Restart(ctx context.Context, name string) error {
	cc, st, err := r.lookup("restart", name)
	if err != nil {
		return err
	}
	if st != nil && !st.done() {
		return fmt.Errorf("restart %s: still running as pid %d", name, st.pid)
	}
	r.mu.Lock()
	closing := r.closing
	r.mu.Unlock()
	if closing {
		return fmt.Errorf("restart %s: the runtime is shutting down", name)
	}
	return r.run(ctx, cc)
}

// Signal is what a pause fault needs: SIGSTOP freezes the container with
// docker pause (the cgroup freezer: every process of it, at once, sockets
// left open) and SIGCONT thaws it with docker unpause. Any other signal is
// delivered as SignalProcess does. It returns the host pid of the main
// process.
func (r *Runtime) Signal(name string, sig syscall.Signal) (int, error) {
	cc, st, err := r.running("signal", name)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	id := cc.c.GetContainerID()
	switch sig {
	case syscall.SIGSTOP:
		_, err = r.cli.ContainerPause(ctx, id, client.ContainerPauseOptions{})
	case syscall.SIGCONT:
		_, err = r.cli.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
	default:
		return r.SignalProcess(name, sig)
	}
	if err != nil {
		return 0, fmt.Errorf("signal %s with %v: %w", name, sig, err)
	}
	return st.pid, nil
}

// SignalProcess delivers sig to the container's main process (docker kill
// --signal), as the local runtime does to a process group: SIGSTOP stops
// the testbed process, which Docker still reports as running.
func (r *Runtime) SignalProcess(name string, sig syscall.Signal) (int, error) {
	cc, st, err := r.running("signal", name)
	if err != nil {
		return 0, err
	}
	sn, err := signalName(sig)
	if err != nil {
		return 0, fmt.Errorf("signal %s: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := r.cli.ContainerKill(ctx, cc.c.GetContainerID(), client.ContainerKillOptions{Signal: sn}); err != nil {
		return 0, fmt.Errorf("signal %s with %s: %w", name, sn, err)
	}
	return st.pid, nil
}

// signalName names a signal as the container's Linux knows it; the
// numbers differ between the host's OS and Linux.
func signalName(sig syscall.Signal) (string, error) {
	switch sig {
	case syscall.SIGSTOP:
		return "SIGSTOP", nil
	case syscall.SIGCONT:
		return "SIGCONT", nil
	case syscall.SIGTERM:
		return "SIGTERM", nil
	case syscall.SIGKILL:
		return "SIGKILL", nil
	case syscall.SIGINT:
		return "SIGINT", nil
	case syscall.SIGHUP:
		return "SIGHUP", nil
	}
	return "", fmt.Errorf("signal %v is not supported", sig)
}

// Disconnect takes the component's container off its network, as a
// partition would: peers' connections to it and its own to them fail, and
// so does its published port. A container already off it stays so.
func (r *Runtime) Disconnect(ctx context.Context, name string) error {
	cc, on, err := r.connected(ctx, "disconnect", name)
	if err != nil || !on {
		return err
	}
	_, err = r.cli.NetworkDisconnect(ctx, cc.network, client.NetworkDisconnectOptions{Container: cc.c.GetContainerID(), Force: true})
	if err != nil {
		return fmt.Errorf("disconnect %s from %s: %w", name, cc.network, err)
	}
	return nil
}

// Reconnect puts the container back on its network under the same alias,
// so peers find it by name again; its published ports come back with it.
// A container already on it stays as it is.
func (r *Runtime) Reconnect(ctx context.Context, name string) error {
	cc, on, err := r.connected(ctx, "reconnect", name)
	if err != nil || on {
		return err
	}
	_, err = r.cli.NetworkConnect(ctx, cc.network, client.NetworkConnectOptions{
		Container:      cc.c.GetContainerID(),
		EndpointConfig: &network.EndpointSettings{Aliases: []string{cc.spec.Component}},
	})
	if err != nil {
		return fmt.Errorf("reconnect %s to %s: %w", name, cc.network, err)
	}
	return nil
}

// connected reports whether the component's container is on its network.
func (r *Runtime) connected(ctx context.Context, op, name string) (*ctr, bool, error) {
	cc, _, err := r.lookup(op, name)
	if err != nil {
		return nil, false, err
	}
	info, err := r.cli.ContainerInspect(ctx, cc.c.GetContainerID(), client.ContainerInspectOptions{})
	if err != nil {
		return nil, false, fmt.Errorf("%s %s: inspect: %w", op, name, err)
	}
	_, on := info.Container.NetworkSettings.Networks[cc.network]
	return cc, on, nil
}

// KillNode kills at once every running container of the architecture
// labelled with the node, as losing the machine would, and returns the
// names of those it killed. Each can be restarted on its own.
func (r *Runtime) KillNode(ctx context.Context, arch, node string) ([]string, error) {
	f := make(client.Filters).Add("label", LabelRun+"="+r.runID, LabelArch+"="+arch, LabelNode+"="+node).
		Add("status", string(container.StateRunning), string(container.StatePaused))
	list, err := r.cli.ContainerList(ctx, client.ContainerListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("kill node %s of %s: %w", node, arch, err)
	}
	var names []string
	for _, c := range list.Items {
		names = append(names, arch+"/"+c.Labels[LabelComponent])
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("kill node %s of %s: no running container on it", node, arch)
	}
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() { _, errs[i] = r.Kill(n) })
	}
	wg.Wait()
	slices.Sort(names)
	return names, errors.Join(errs...)
}

// HostAddr is where the host reaches a published container port of the
// component: 127.0.0.1 and its host port.
func (r *Runtime) HostAddr(name string, port int) (string, error) {
	cc, _, err := r.lookup("address of", name)
	if err != nil {
		return "", err
	}
	addr, ok := cc.published[port]
	if !ok {
		return "", fmt.Errorf("address of %s: port %d is not published", name, port)
	}
	return addr, nil
}

// HostRoutes maps every published port of the component as the network
// names it (alias:port) to the host address reaching it. A Kafka client on
// the host needs this: the broker advertises alias:port, which only
// resolves inside the network, and the client dials the route instead.
func (r *Runtime) HostRoutes(name string) (map[string]string, error) {
	cc, _, err := r.lookup("routes of", name)
	if err != nil {
		return nil, err
	}
	return routes(cc.spec.Component, cc.published), nil
}

// PID of a running component's main process on the Docker host, 0 when it
// is not running.
func (r *Runtime) PID(name string) int {
	_, st, err := r.running("pid of", name)
	if err != nil {
		return 0
	}
	return st.pid
}

// Close stops every container (SIGTERM, SIGKILL after the grace period)
// and removes every container and network labelled with the run, those it
// did not start included, even when some step fails. It runs to the end
// when ctx is cancelled, as it is on Ctrl-C, bounded by the grace period
// and a minute.
func (r *Runtime) Close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opt.Grace+time.Minute)
	defer cancel()
	r.mu.Lock()
	r.closing = true
	ctrs := make([]*ctr, 0, len(r.ctrs))
	for _, cc := range r.ctrs {
		ctrs = append(ctrs, cc)
	}
	r.mu.Unlock()
	defer r.prov.Close()

	var wg sync.WaitGroup
	for _, cc := range ctrs {
		cc.killed.Store(true)
		wg.Go(func() {
			id := cc.c.GetContainerID()
			// A frozen container cannot act on SIGTERM.
			_, _ = r.cli.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
			grace := int(r.opt.Grace.Seconds())
			_, _ = r.cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &grace})
		})
	}
	wg.Wait()
	_, err := removeRun(ctx, r.cli, r.runID)
	// With the containers gone their log streams and exit waits end;
	// stopBg frees any that Docker left hanging.
	done := make(chan struct{})
	go func() { r.follow.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	r.stopBg()
	<-done
	return err
}
