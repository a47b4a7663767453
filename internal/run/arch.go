package run

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/edatestbed/testbed/internal/broker"
	"github.com/edatestbed/testbed/internal/links"
	"github.com/edatestbed/testbed/internal/runtime/local"
	"github.com/edatestbed/testbed/scenarios"
	"github.com/edatestbed/testbed/system/eda"
	"github.com/edatestbed/testbed/system/monolith"
	"github.com/edatestbed/testbed/system/psp"
	"github.com/edatestbed/testbed/system/store"
	"github.com/edatestbed/testbed/system/telemetry"
)

// plan is one architecture laid out for a runtime: its components in
// start order, its deployment (which node holds what), its links, and
// where orders go.
type plan struct {
	arch       string
	components []unit
	// capabilities maps a scenario target to the component holding it.
	capabilities map[string]string
	// nodes maps a node (host) to what runs on it: components and broker
	// nodes ("broker-2").
	nodes map[string][]string
	// links are the connections between components, each through a proxy.
	links *links.Set
	// otlpLink carries spans from units in containers to the host's
	// Jaeger; nil otherwise.
	otlpLink *links.Set
	// brokerNodes maps "broker-2" to its node id in the cluster (eda only).
	brokerNodes map[string]int32
	brokerAdmin *broker.Admin
	// disks lists, per component, the files a lost disk takes with it.
	disks map[string][]string

	orderURL string
	brokers  []string // eda only: the broker nodes as they advertise themselves
	// brokerRoutes maps an advertised broker address to where the testbed
	// reaches it, when that differs (the docker runtime's published ports).
	brokerRoutes map[string]string
	// synchronous architectures answer with the terminal state.
	synchronous bool
	// ledger is the payment provider's ledger database, read into the
	// bundle once every process has stopped.
	ledger string
	// about says in one sentence what the architecture is and what it was
	// given, for the report.
	about string
	// database names the store it keeps its state in, for provenance.
	database string

	// brokerLike are the link ends, besides broker nodes, that a fault's
	// "broker" peer reaches: what carries the traffic between the parts of
	// an architecture without a broker (the shared database of
	// monolith-ha, the other services of sync-services).
	brokerLike []string
	// note is a caveat on every fault this architecture is hit by, for
	// the fault mapping.
	note string
	// settle, when set, runs after the drain, before teardown: it waits
	// (bounded by the scenario's drain, and only until ctx ends) for what
	// the drain does not: the orders a synchronous architecture still has
	// in doubt, the EDA's read model catching up; and saves into the
	// architecture's bundle directory what the checkers need from state
	// that does not outlive the run.
	settle func(ctx context.Context, dir string) error
}

// close stops the plan's proxies.
func (pl plan) close() {
	if pl.links != nil {
		pl.links.Close()
	}
	if pl.otlpLink != nil {
		pl.otlpLink.Close()
	}
}

// brokerNodes and partitions shape the embedded cluster: three nodes as in
// the paper's deployment, partitions enough for the consumers to work in
// parallel. A consumer handles one partition's events in order, so a
// service's throughput is partitions over its time per event: payment,
// waiting 5-10 ms on the PSP, topped out near 500 events/s with 8, and the
// EDA fell behind at 1,000 orders/s (completion p99 10 s); with 32 it keeps
// up (p99 0.8 s).
const (
	brokerNodes = 3
	partitions  = 32
)

// pspTimeout bounds one charge; far above the simulator's latency, so only
// an unreachable provider hits it.
const pspTimeout = 2 * time.Second

// The external payment provider is on no node of either architecture.
const pspComponent = "psp"

// unit is one component of an architecture, described for either
// runtime. Spec is how the local runtime runs it; its Health is reachable
// from the testbed in both runtimes.
type unit struct {
	local.Spec
	arch, name string
	node       string // where the topology puts it, "" for none
	// onHost runs it as a process of the host even in the docker runtime.
	onHost bool
	// What the docker runtime needs besides: the port the component
	// listens on in its container, the host address each published port is
	// bound to (the listen port's is where the testbed and the link proxies
	// reach it), and the bundle directories to mount.
	port    int
	publish map[int]string
	ro, rw  []string
}

// containerPort is where every component listens in its own container.
const containerPort = 8080

// The broker's nodes listen in its container on these ports, one each.
const containerBrokerPort = 19091

// planner writes each component's config file under the run directory and
// picks free loopback ports.
type planner struct {
	dir string
	// host is where link proxies listen: the architecture's loopback
	// address, or in containers the host's address on the architecture's
	// network.
	host string
	// containers lays the architecture out for the docker runtime: each
	// component in its own container, listening on containerPort there,
	// published on a free port of 127.0.0.1.
	containers bool
	sc         *scenarios.Scenario
	// otlp is where components send spans (host:port); empty: not exported.
	otlp string
	// breaks are guarantees EDA components give up, for checker tests.
	breaks map[string]string
	// profile has every component serve Go's profiles (Options.Profile).
	profile bool
	// ports picks the components' addresses, one run's picks apart.
	ports *local.Ports
	// bare runs without proxies on the links and without tracing, to
	// measure what they cost; no link fault can be injected then.
	bare bool
	// acceptOnly starts, of the EDA, only what its accept path needs: the
	// broker and order-api, whose relay still publishes every event. The
	// saga's services are planned (their links exist) but not started, so
	// bench systems can tell order-api's own ceiling from the one it has
	// with the saga competing for the same CPUs.
	acceptOnly bool
}

func (p planner) telemetry(arch string) telemetry.Config {
	return telemetry.Config{Arch: arch, OTLPEndpoint: p.otlp, Off: p.bare, Pprof: p.profile}
}

func (p planner) newLinks() *links.Set {
	if p.bare {
		return links.NewDirectSet()
	}
	return links.NewSet()
}

// hostAddr picks the address the testbed reaches a component's port at.
func (p planner) hostAddr() (string, error) {
	if p.containers {
		return p.ports.Addr("127.0.0.1")
	}
	return p.ports.Addr(p.host)
}

// component writes the config cfg makes for the address the component
// listens on, and returns the component and the address the testbed and
// the link proxies reach it at.
func (p planner) component(arch, name string, cfg func(listen string) any) (unit, string, error) {
	addr, err := p.hostAddr()
	if err != nil {
		return unit{}, "", err
	}
	listen := addr
	if p.containers {
		listen = net.JoinHostPort("0.0.0.0", strconv.Itoa(containerPort))
	}
	confDir := filepath.Join(p.dir, arch, "config")
	dataDir := filepath.Join(p.dir, arch, "data")
	for _, d := range []string{confDir, dataDir, filepath.Join(p.dir, arch, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return unit{}, "", fmt.Errorf("create %s: %w", d, err)
		}
	}
	b, err := json.MarshalIndent(cfg(listen), "", "  ")
	if err != nil {
		return unit{}, "", fmt.Errorf("encode config of %s/%s: %w", arch, name, err)
	}
	path := filepath.Join(confDir, name+".json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return unit{}, "", fmt.Errorf("write config of %s/%s: %w", arch, name, err)
	}
	return unit{
		Spec: local.Spec{
			Name:   arch + "/" + name,
			Args:   []string{"serve", name, "--config", path},
			Health: "http://" + addr + "/healthz",
			Log:    filepath.Join(p.dir, arch, "logs", name+".log"),
		},
		arch: arch, name: name,
		port: containerPort, publish: map[int]string{containerPort: addr},
		ro: []string{confDir}, rw: []string{dataDir},
	}, addr, nil
}

// onHost is component for a unit that runs on the host whatever the
// runtime, listening on 127.0.0.1 when the others are in containers.
func (p planner) onHost(arch, name string, cfg func(listen string) any) (unit, string, error) {
	q := p
	if p.containers {
		q.containers, q.host = false, "127.0.0.1"
	}
	u, addr, err := q.component(arch, name, cfg)
	u.onHost = p.containers
	return u, addr, err
}

func (p planner) psp(arch string) (unit, string, error) {
	data, err := p.data(arch, pspComponent)
	if err != nil {
		return unit{}, "", err
	}
	return p.component(arch, pspComponent, func(listen string) any {
		return psp.ServeConfig{Listen: listen, DataDir: data, Telemetry: p.telemetry(arch), Config: psp.Config{
			Seed: p.sc.Seed, Latency: p.sc.PSP.Latency.D(), Jitter: p.sc.PSP.Jitter.D(), DeclineRate: p.sc.PSP.DeclineRate,
		}}
	})
}

// ledgerPath is where the architecture's payment provider (p.psp) keeps
// its ledger.
func (p planner) ledgerPath(arch string) string {
	return filepath.Join(p.dir, arch, "data", pspComponent, psp.LedgerDB)
}

func (p planner) data(arch, name string) (string, error) {
	d := filepath.Join(p.dir, arch, "data", name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", fmt.Errorf("create data dir: %w", err)
	}
	return d, nil
}

// sqliteFiles are the files of an SQLite database in WAL mode.
func sqliteFiles(path string) []string { return []string{path, path + "-wal", path + "-shm"} }

func (p planner) monolith() (pl plan, err error) {
	const arch = scenarios.ArchitectureMonolith
	ls := p.newLinks()
	defer func() {
		if err != nil {
			ls.Close()
		}
	}()
	pspSpec, pspAddr, err := p.psp(arch)
	if err != nil {
		return plan{}, err
	}
	toPSP, err := ls.Add("monolith", pspComponent, p.host, pspAddr)
	if err != nil {
		return plan{}, err
	}
	data, err := p.data(arch, "monolith")
	if err != nil {
		return plan{}, err
	}
	m, addr, err := p.component(arch, "monolith", func(listen string) any {
		return monolith.Config{Listen: listen, DataDir: data, Catalog: p.sc.CatalogConfig(), PSPURL: "http://" + toPSP.Listen, PSPTimeout: pspTimeout, Telemetry: p.telemetry(arch)}
	})
	if err != nil {
		return plan{}, err
	}
	caps := map[string]string{}
	for _, t := range scenarios.Targets() {
		if t != scenarios.TargetBroker {
			caps[t] = "monolith"
		}
	}
	return plan{
		arch: arch, components: []unit{pspSpec, m}, capabilities: caps,
		nodes: map[string][]string{"node-1": {"monolith"}}, links: ls,
		disks:    map[string][]string{"monolith": sqliteFiles(filepath.Join(data, "monolith.db"))},
		orderURL: "http://" + addr + "/orders", synchronous: true, ledger: p.ledgerPath(arch),
		about:    "one process and one SQLite database; POST /orders reserves, charges (through a circuit breaker) and ships synchronously, one transaction per step, and answers with the outcome; unfinished orders are settled when it restarts",
		database: store.Driver,
		settle: func(ctx context.Context, _ string) error {
			return awaitRefunds(ctx, p.sc.Load.Drain.D(), filepath.Join(data, "monolith.db"))
		},
	}, nil
}

// edaNodes places the services on three hosts, one broker node each, so
// that losing a host costs a broker node and the services beside it.
var edaNodes = map[string][]string{
	"node-1": {"broker-1", eda.OrderAPI, eda.OrderView},
	"node-2": {"broker-2", eda.Inventory, eda.Payment},
	"node-3": {"broker-3", eda.Shipping},
}

func (p planner) eda() (pl plan, err error) {
	const arch = scenarios.ArchitectureEDA
	ls := p.newLinks()
	defer func() {
		if err != nil {
			ls.Close()
		}
	}()
	ports := make([]int, brokerNodes)
	brokers := make([]string, brokerNodes) // as the nodes advertise themselves
	hostBrokers := make([]string, brokerNodes)
	routes := map[string]string{} // advertised -> host, in containers
	nodeIDs := map[string]int32{}
	for i := range ports {
		a, err := p.hostAddr()
		if err != nil {
			return plan{}, err
		}
		hostBrokers[i], brokers[i] = a, a
		_, port, _ := net.SplitHostPort(a)
		if ports[i], err = strconv.Atoi(port); err != nil {
			return plan{}, fmt.Errorf("parse port of %s: %w", a, err)
		}
		if p.containers {
			ports[i] = containerBrokerPort + i
			brokers[i] = net.JoinHostPort("broker", strconv.Itoa(ports[i]))
			routes[brokers[i]] = a
		}
		nodeIDs[brokerEnd(i)] = broker.NodeID(i)
	}
	brokerData, err := p.data(arch, "broker")
	if err != nil {
		return plan{}, err
	}
	b, adminAddr, err := p.component(arch, "broker", func(listen string) any {
		c := broker.Config{Host: p.host, Ports: ports, Listen: listen, DataDir: brokerData, Topics: append(eda.Topics(), eda.DLQTopics()...), Partitions: partitions, Pprof: p.profile}
		if p.containers {
			// The nodes listen on every address of the container and tell
			// clients to dial its network alias.
			c.Host, c.Advertise = "0.0.0.0", "broker"
		}
		return c
	})
	if err != nil {
		return plan{}, err
	}
	if p.containers {
		for i, port := range ports {
			b.publish[port] = hostBrokers[i]
		}
	}
	pspSpec, pspAddr, err := p.psp(arch)
	if err != nil {
		return plan{}, err
	}
	data, err := p.data(arch, "services")
	if err != nil {
		return plan{}, err
	}
	specs := []unit{b}
	if !p.acceptOnly {
		specs = append(specs, pspSpec)
	}
	disks := map[string][]string{}
	var orderURL string
	for _, name := range eda.Components() {
		// Every service reaches every broker node through its own link.
		routes := map[string]string{}
		for i, addr := range brokers {
			l, err := ls.Add(name, brokerEnd(i), p.host, hostBrokers[i])
			if err != nil {
				return plan{}, err
			}
			routes[addr] = l.Listen
		}
		pspURL := ""
		if name == eda.Payment {
			l, err := ls.Add(name, pspComponent, p.host, pspAddr)
			if err != nil {
				return plan{}, err
			}
			pspURL = "http://" + l.Listen
		}
		s, addr, err := p.component(arch, name, func(listen string) any {
			return eda.Config{
				Component: name, Listen: listen, DataDir: data, Brokers: brokers, BrokerRoutes: routes,
				Catalog: p.sc.CatalogConfig(), PSPURL: pspURL, PSPTimeout: pspTimeout, Telemetry: p.telemetry(arch),
				Break: p.breaks[name],
			}
		})
		if err != nil {
			return plan{}, err
		}
		if name == eda.OrderAPI {
			orderURL = "http://" + addr + "/orders"
		}
		disks[name] = sqliteFiles(filepath.Join(data, name+".db"))
		if !p.acceptOnly || name == eda.OrderAPI {
			specs = append(specs, s)
		}
	}
	return plan{
		arch: arch, components: specs, orderURL: orderURL, brokers: brokers, brokerRoutes: routes, ledger: p.ledgerPath(arch),
		about:    fmt.Sprintf("order-api, inventory, payment, shipping and order-view as separate processes over Kafka (%d broker nodes, %d partitions per topic), each with its own SQLite database, an outbox, idempotent consumers, retries and dead-letter topics; payment calls the PSP through a circuit breaker; POST /orders answers 202 once the order is in order-api's outbox", brokerNodes, partitions),
		database: store.Driver,
		nodes:    edaNodes, links: ls, brokerNodes: nodeIDs, brokerAdmin: broker.NewAdmin(adminAddr), disks: disks,
		capabilities: edaCapabilities(),
		settle: func(ctx context.Context, _ string) error {
			return awaitView(ctx, p.sc.Load.Drain.D(), filepath.Join(data, eda.OrderAPI+".db"), filepath.Join(data, eda.OrderView+".db"))
		},
	}, nil
}

func edaCapabilities() map[string]string {
	caps := map[string]string{}
	for _, t := range scenarios.Targets() {
		if c := eda.Holder(t); c != "" {
			caps[t] = c
		}
	}
	return caps
}

// brokerEnd names broker node i as a link end and a member of a node.
func brokerEnd(i int) string { return "broker-" + strconv.Itoa(i+1) }
