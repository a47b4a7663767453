package run

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/edatestbed/testbed/internal/pgserver"
	"github.com/edatestbed/testbed/scenarios"
	"github.com/edatestbed/testbed/system/balancer"
	"github.com/edatestbed/testbed/system/chain"
	"github.com/edatestbed/testbed/system/domain"
	"github.com/edatestbed/testbed/system/monolith"
	"github.com/edatestbed/testbed/system/store"
)

// What monolith-ha is given: two replicas behind a balancer that checks
// them four times a second, and a replica's unfinished orders taken over by
// the others once they have not moved for longer than any step can take
// (a step's transaction, or a charge, plus margin).
const (
	haReplicas       = 2
	haHealthInterval = 250 * time.Millisecond
	haHealthTimeout  = time.Second
	haOrphanAfter    = 10 * time.Second
)

// haSnapshot is where monolith-ha's tables are copied before the server
// stops, relative to the architecture's bundle directory.
const haSnapshot = "data/postgres-snapshot.db"

// monolithHA lays out monolith-ha: the PostgreSQL server on a node of its
// own, each replica on its own node reaching the server and the PSP
// through links, and the balancer on its own node reaching each replica
// through a link. Every capability is a module of every replica; a fault
// aimed at one hits replica-1, and the other replicas carry on.
func (p planner) monolithHA() (pl plan, err error) {
	const arch = scenarios.ArchitectureMonolithHA
	bin, err := pgserver.Find()
	if err != nil {
		return plan{}, err
	}
	ls := p.newLinks()
	defer func() {
		if err != nil {
			ls.Close()
		}
	}()
	// Debian's server is no static binary, and no postgres image can be
	// pulled offline: in the docker runtime it runs on the host, and the
	// replicas reach it through their links as they would another node.
	pgHost := p.host
	if p.containers {
		pgHost = "127.0.0.1"
	}
	pgAddr, err := p.ports.Addr(pgHost)
	if err != nil {
		return plan{}, err
	}
	_, port, _ := net.SplitHostPort(pgAddr)
	pgPort, err := strconv.Atoi(port)
	if err != nil {
		return plan{}, fmt.Errorf("parse port of %s: %w", pgAddr, err)
	}
	pgData, err := p.data(arch, "postgres")
	if err != nil {
		return plan{}, err
	}
	pg, _, err := p.onHost(arch, "postgres", func(listen string) any {
		return pgserver.Config{Listen: listen, Host: pgHost, Port: pgPort, DataDir: pgData, BinDir: bin}
	})
	if err != nil {
		return plan{}, err
	}
	pspSpec, pspAddr, err := p.psp(arch)
	if err != nil {
		return plan{}, err
	}
	specs := []unit{pg, pspSpec}
	nodes := map[string][]string{"node-db": {"postgres"}, "node-lb": {"lb"}}
	var backends []balancer.Backend
	for i := range haReplicas {
		name := "replica-" + strconv.Itoa(i+1)
		toDB, err := ls.Add(name, "postgres", p.host, pgAddr)
		if err != nil {
			return plan{}, err
		}
		toPSP, err := ls.Add(name, pspComponent, p.host, pspAddr)
		if err != nil {
			return plan{}, err
		}
		r, addr, err := p.component(arch, name, func(listen string) any {
			return monolith.Config{
				Listen: listen, Catalog: p.sc.CatalogConfig(), PSPURL: "http://" + toPSP.Listen, PSPTimeout: pspTimeout, Telemetry: p.telemetry(arch),
				Database: pgserver.DSN(toDB.Listen), Replica: name, OrphanAfter: haOrphanAfter,
			}
		})
		if err != nil {
			return plan{}, err
		}
		r.Args[1] = "monolith"
		toReplica, err := ls.Add("lb", name, p.host, addr)
		if err != nil {
			return plan{}, err
		}
		backends = append(backends, balancer.Backend{Name: name, Addr: toReplica.Listen})
		specs = append(specs, r)
		nodes["node-"+strconv.Itoa(i+1)] = []string{name}
	}
	lb, lbAddr, err := p.component(arch, "lb", func(listen string) any {
		return balancer.Config{
			Listen: listen, Backends: backends, HealthInterval: haHealthInterval, HealthTimeout: haHealthTimeout,
			// Half the client's patience: a replica that hangs costs one
			// try, and the other still has time to answer.
			TryTimeout: p.sc.Load.Timeout.D() / 2, Telemetry: p.telemetry(arch),
		}
	})
	if err != nil {
		return plan{}, err
	}
	lb.Args[1] = "monolith-lb"
	caps := map[string]string{}
	for _, t := range scenarios.Targets() {
		if t != scenarios.TargetBroker {
			caps[t] = "replica-1"
		}
	}
	dsn := pgserver.DSN(pgAddr)
	var rest []string
	for _, b := range backends[1:] {
		rest = append(rest, b.Name)
	}
	others := strings.Join(rest, ", ") + " goes on"
	if len(rest) > 1 {
		others = strings.Join(rest, ", ") + " go on"
	}
	return plan{
		arch: arch, components: append(specs, lb), capabilities: caps, nodes: nodes, links: ls,
		disks:    map[string][]string{},
		orderURL: "http://" + lbAddr + "/orders", synchronous: true, ledger: p.ledgerPath(arch),
		brokerLike: []string{"postgres"},
		about:      fmt.Sprintf("%d replicas of the monolith's code behind a load balancer that health-checks them every %v and retries a failed POST /orders on another replica, all on one PostgreSQL server; a replica's stuck orders are adopted by another after %v", haReplicas, haHealthInterval, haOrphanAfter),
		database:   store.PostgresDriver,
		note:       "every replica holds every capability: the fault hits replica-1 only, " + others + " serving through the load balancer",
		settle: func(ctx context.Context, dir string) error {
			db, err := store.OpenPostgres(ctx, dsn, 2)
			if err != nil {
				return err
			}
			defer db.Close()
			// Orders a replica left behind are adopted by another, and an
			// adopted order that was charged is cancelled with its refund
			// owed, which the replicas' reconcilers pay within a second.
			awaitSettled(ctx, p.sc.Load.Drain.D(), func(ctx context.Context) (int, error) {
				var n int
				err := db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM orders WHERE state NOT IN ($1, $2)) + (SELECT COUNT(*) FROM pending_refunds)`, domain.Shipped, domain.Cancelled).Scan(&n)
				return n, err
			})
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			return monolith.Snapshot(ctx, db, filepath.Join(dir, haSnapshot))
		},
	}, nil
}

// syncNodes places the chain's services as the EDA's: losing a host costs
// the services beside each other there.
var syncNodes = map[string][]string{
	"node-1": {chain.Order},
	"node-2": {chain.Inventory, chain.Payment},
	"node-3": {chain.Shipping},
}

// The timeouts of sync-services' calls. Payment gives the PSP what the
// other architectures give it; each caller waits longer than everything
// its callee may wait for, so an answer, even "cancelled", comes back up
// the chain instead of a timeout. Like the monolith, the chain finishes an
// order the client stopped waiting for.
const (
	syncShipTimeout      = time.Second
	syncPaymentTimeout   = pspTimeout + syncShipTimeout + 500*time.Millisecond
	syncInventoryTimeout = syncPaymentTimeout + 500*time.Millisecond
)

// syncServices lays out sync-services: the four services on the EDA's
// nodes, every call from one to the next, and payment's to the PSP,
// through a link.
func (p planner) syncServices() (pl plan, err error) {
	const arch = scenarios.ArchitectureSyncServices
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
	data, err := p.data(arch, "services")
	if err != nil {
		return plan{}, err
	}
	callTimeout := map[string]time.Duration{chain.Order: syncInventoryTimeout, chain.Inventory: syncPaymentTimeout, chain.Payment: syncShipTimeout}
	next := map[string]string{chain.Order: chain.Inventory, chain.Inventory: chain.Payment, chain.Payment: chain.Shipping}
	specs := []unit{pspSpec}
	addrs := map[string]string{}
	disks := map[string][]string{}
	var orderURL string
	for _, name := range chain.Components() {
		cfg := chain.Config{
			Component: name, DataDir: data, Catalog: p.sc.CatalogConfig(), CallTimeout: callTimeout[name], Telemetry: p.telemetry(arch),
		}
		if n := next[name]; n != "" {
			l, err := ls.Add(name, n, p.host, addrs[n])
			if err != nil {
				return plan{}, err
			}
			cfg.Next = "http://" + l.Listen
		}
		switch name {
		case chain.Payment:
			l, err := ls.Add(name, pspComponent, p.host, pspAddr)
			if err != nil {
				return plan{}, err
			}
			cfg.PSPURL, cfg.PSPTimeout = "http://"+l.Listen, pspTimeout
		case chain.Order:
			// Past its call's timeout, a pending order's call is over.
			cfg.ResolveAfter = syncInventoryTimeout + time.Second
		}
		s, addr, err := p.component(arch, name, func(listen string) any {
			cfg.Listen = listen
			return cfg
		})
		if err != nil {
			return plan{}, err
		}
		s.Args[1] = chain.ServePrefix + name
		addrs[name] = addr
		if name == chain.Order {
			orderURL = "http://" + addr + "/orders"
		}
		disks[name] = sqliteFiles(filepath.Join(data, name+".db"))
		specs = append(specs, s)
	}
	caps := map[string]string{
		"order": chain.Order, "inventory": chain.Inventory, "payment": chain.Payment, "shipping": chain.Shipping,
		"order-view": chain.Order, // the order service answers reads
	}
	return plan{
		arch: arch, components: specs, capabilities: caps, nodes: syncNodes, links: ls, disks: disks,
		orderURL: orderURL, synchronous: true, ledger: p.ledgerPath(arch),
		brokerLike: chain.Components(),
		about:      "order, inventory, payment and shipping as separate processes calling each other synchronously over HTTP, each with its own SQLite database, timeouts below the caller's, bounded retries with backoff, a circuit breaker on every call, and compensation (release, refund) when a later step says no",
		database:   store.Driver,
		settle: func(ctx context.Context, _ string) error {
			// The order service resolves the orders it has in doubt; the
			// checkers read the databases after teardown.
			awaitSettled(ctx, p.sc.Load.Drain.D(), func(ctx context.Context) (int, error) {
				var pending chain.Pending
				err := fetchJSON(ctx, strings.TrimSuffix(orderURL, "/orders")+"/orders/pending", &pending)
				return pending.Orders, err
			})
			return awaitRefunds(ctx, p.sc.Load.Drain.D(), filepath.Join(data, chain.Payment+".db"))
		},
	}, nil
}

// awaitSettled polls unsettled until it counts nothing, for at most limit
// and while ctx lasts. What is still unsettled then is the checkers' to
// report.
func awaitSettled(ctx context.Context, limit time.Duration, unsettled func(context.Context) (int, error)) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if n, err := unsettled(ctx); err == nil && n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// awaitRefunds waits, at most limit, until the SQLite database at path owes
// no refund: a charge whose order was cancelled after it (undeliverable,
// or its outcome lost) is refunded by the service's reconciler within a
// second, and the last orders of a run must get that second before the
// ledger is read. The database is read beside the running service (WAL).
func awaitRefunds(ctx context.Context, limit time.Duration, path string) error {
	db, err := store.OpenReadOnly(path)
	if err != nil {
		return fmt.Errorf("refunds owed: %w", err)
	}
	defer db.Close()
	awaitSettled(ctx, limit, func(ctx context.Context) (int, error) {
		var n int
		err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pending_refunds`).Scan(&n)
		return n, err
	})
	return nil
}

func fetchJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
