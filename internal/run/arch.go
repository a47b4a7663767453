package run

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edatestbed/testbed/internal/broker"
	"github.com/edatestbed/testbed/internal/runtime/local"
	"github.com/edatestbed/testbed/scenarios"
	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/eda"
	"github.com/edatestbed/testbed/system/monolith"
	"github.com/edatestbed/testbed/system/psp"
)

// plan is one architecture laid out for the local runtime: its processes
// in start order, where each capability lives, and where orders go.
type plan struct {
	arch       string
	components []local.Spec
	// capabilities maps a scenario target to the component holding it.
	capabilities map[string]string
	orderURL     string
	brokers      []string // eda only: where the testbed watches terminal events
	// synchronous architectures answer with the terminal state.
	synchronous bool
}

// brokerNodes and partitions shape the embedded cluster: three nodes as in
// the paper's deployment, partitions enough for the consumers to work in
// parallel.
const (
	brokerNodes = 3
	partitions  = 8
)

// planner writes each component's config file under the run directory and
// picks free loopback ports.
type planner struct {
	dir  string
	host string
	sc   *scenarios.Scenario
}

func (p planner) catalog() domain.CatalogConfig {
	c := p.sc.Catalog
	return domain.CatalogConfig{Seed: p.sc.Seed, SKUs: c.SKUs, StockMin: c.StockMin, StockMax: c.StockMax, ItemsMax: c.ItemsMax, QuantityMax: c.QuantityMax}
}

// pspTimeout bounds one charge; far above the simulator's latency, so only
// an unreachable provider hits it.
const pspTimeout = 2 * time.Second

func (p planner) component(arch, name string, cfg func(listen string) any) (local.Spec, string, error) {
	addr, err := local.FreeAddr(p.host)
	if err != nil {
		return local.Spec{}, "", err
	}
	confDir := filepath.Join(p.dir, arch, "config")
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		return local.Spec{}, "", fmt.Errorf("create %s: %w", confDir, err)
	}
	if err := os.MkdirAll(filepath.Join(p.dir, arch, "logs"), 0o755); err != nil {
		return local.Spec{}, "", fmt.Errorf("create log dir: %w", err)
	}
	b, err := json.MarshalIndent(cfg(addr), "", "  ")
	if err != nil {
		return local.Spec{}, "", fmt.Errorf("encode config of %s/%s: %w", arch, name, err)
	}
	path := filepath.Join(confDir, name+".json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return local.Spec{}, "", fmt.Errorf("write config of %s/%s: %w", arch, name, err)
	}
	return local.Spec{
		Name:   arch + "/" + name,
		Args:   []string{"serve", name, "--config", path},
		Health: "http://" + addr + "/healthz",
		Log:    filepath.Join(p.dir, arch, "logs", name+".log"),
	}, addr, nil
}

func (p planner) psp(arch string) (local.Spec, string, error) {
	return p.component(arch, "psp", func(listen string) any {
		return psp.ServeConfig{Listen: listen, Config: psp.Config{
			Seed: p.sc.Seed, Latency: p.sc.PSP.Latency.D(), Jitter: p.sc.PSP.Jitter.D(), DeclineRate: p.sc.PSP.DeclineRate,
		}}
	})
}

func (p planner) data(arch, name string) (string, error) {
	d := filepath.Join(p.dir, arch, "data", name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", fmt.Errorf("create data dir: %w", err)
	}
	return d, nil
}

func (p planner) monolith() (plan, error) {
	const arch = scenarios.ArchitectureMonolith
	pspSpec, pspAddr, err := p.psp(arch)
	if err != nil {
		return plan{}, err
	}
	data, err := p.data(arch, "monolith")
	if err != nil {
		return plan{}, err
	}
	m, addr, err := p.component(arch, "monolith", func(listen string) any {
		return monolith.Config{Listen: listen, DataDir: data, Catalog: p.catalog(), PSPURL: "http://" + pspAddr, PSPTimeout: pspTimeout}
	})
	if err != nil {
		return plan{}, err
	}
	caps := map[string]string{}
	for _, t := range scenarios.Targets() {
		caps[t] = "monolith"
	}
	return plan{
		arch: arch, components: []local.Spec{pspSpec, m}, capabilities: caps,
		orderURL: "http://" + addr + "/orders", synchronous: true,
	}, nil
}

func (p planner) eda() (plan, error) {
	const arch = scenarios.ArchitectureEDA
	ports := make([]int, brokerNodes)
	brokers := make([]string, brokerNodes)
	for i := range ports {
		a, err := local.FreeAddr(p.host)
		if err != nil {
			return plan{}, err
		}
		brokers[i] = a
		if _, err := fmt.Sscanf(a[strings.LastIndexByte(a, ':')+1:], "%d", &ports[i]); err != nil {
			return plan{}, fmt.Errorf("parse port of %s: %w", a, err)
		}
	}
	brokerData, err := p.data(arch, "broker")
	if err != nil {
		return plan{}, err
	}
	b, _, err := p.component(arch, "broker", func(listen string) any {
		return broker.Config{Host: p.host, Ports: ports, Listen: listen, DataDir: brokerData, Topics: eda.Topics(), Partitions: partitions}
	})
	if err != nil {
		return plan{}, err
	}
	pspSpec, pspAddr, err := p.psp(arch)
	if err != nil {
		return plan{}, err
	}
	data, err := p.data(arch, "services")
	if err != nil {
		return plan{}, err
	}
	specs := []local.Spec{b, pspSpec}
	var orderURL string
	for _, name := range eda.Components() {
		s, addr, err := p.component(arch, name, func(listen string) any {
			return eda.Config{Component: name, Listen: listen, DataDir: data, Brokers: brokers, Catalog: p.catalog(), PSPURL: "http://" + pspAddr, PSPTimeout: pspTimeout}
		})
		if err != nil {
			return plan{}, err
		}
		if name == eda.OrderAPI {
			orderURL = "http://" + addr + "/orders"
		}
		specs = append(specs, s)
	}
	return plan{
		arch: arch, components: specs, orderURL: orderURL, brokers: brokers,
		capabilities: map[string]string{
			"order": eda.OrderAPI, "inventory": eda.Inventory, "payment": eda.Payment,
			"shipping": eda.Shipping, "order-view": eda.OrderView,
		},
	}, nil
}
