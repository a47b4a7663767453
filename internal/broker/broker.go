// Package broker runs the embedded Kafka-protocol cluster of the local
// runtime: kfake from franz-go, several broker nodes in one process, state
// persisted under the run's directory so a restarted broker process keeps
// its log.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/edatestbed/testbed/system/component"
	"github.com/edatestbed/testbed/system/telemetry"
)

// Implementation names the broker in reports, with the fidelity caveat.
const Implementation = "kfake (franz-go embedded Kafka protocol, one copy of each partition)"

// Config is what the runtime hands the broker process.
type Config struct {
	Host       string   `json:"host"`  // loopback address the nodes listen on
	Ports      []int    `json:"ports"` // one per node
	Listen     string   `json:"listen"`
	DataDir    string   `json:"data_dir"`
	Topics     []string `json:"topics"`
	Partitions int32    `json:"partitions"`
	// Advertise, when set, is the host clients are told to dial instead of
	// Host: in a container the nodes listen on 0.0.0.0, which no client can
	// dial, and are reached by the container's network alias.
	Advertise string `json:"advertise,omitempty"`
	// Pprof serves Go's profiles under /debug/pprof/ beside health and the
	// admin API: the broker is one of the processes a run profiles.
	Pprof bool `json:"pprof,omitempty"`
}

// Run starts the cluster, creates the topics and serves health until ctx
// ends.
func Run(ctx context.Context, log *slog.Logger, cfg Config) error {
	if len(cfg.Ports) == 0 {
		return errors.New("broker config: no ports")
	}
	c, err := kfake.NewCluster(
		kfake.Ports(cfg.Ports...),
		kfake.ListenFn(func(network, addr string) (net.Listener, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			ln, err := net.Listen(network, net.JoinHostPort(cfg.Host, port))
			if err != nil || cfg.Advertise == "" {
				return ln, err
			}
			// kfake advertises its listener's address in metadata.
			return advertised{Listener: ln, addr: net.JoinHostPort(cfg.Advertise, port)}, nil
		}),
		kfake.DataDir(cfg.DataDir),
		kfake.ClusterID("testbed"),
		kfake.DefaultNumPartitions(int(cfg.Partitions)),
	)
	if err != nil {
		return fmt.Errorf("start kfake cluster on %s:%v: %w", cfg.Host, cfg.Ports, err)
	}
	defer c.Close()
	addrs := c.ListenAddrs()
	log.Info("broker nodes listening", "addrs", addrs)
	if err := createTopics(addrs, cfg.Topics, cfg.Partitions, int16(len(addrs))); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	mux := component.Mux(reg, map[string]component.Check{"nodes": func(ctx context.Context) error {
		d := net.Dialer{Timeout: time.Second}
		for _, a := range addrs {
			conn, err := d.DialContext(ctx, "tcp", a)
			if err != nil {
				return fmt.Errorf("node %s: %w", a, err)
			}
			conn.Close()
		}
		return nil
	}})
	n := &nodes{c: c, cfg: cfg, topics: cfg.Topics, removed: map[int32]int{}}
	mux.HandleFunc("GET /nodes", n.list)
	mux.HandleFunc("POST /nodes/{id}/remove", n.remove)
	mux.HandleFunc("POST /nodes/{id}/restore", n.restore)
	if cfg.Pprof {
		telemetry.HandlePprof(mux)
	}
	return component.Serve(ctx, log, cfg.Listen, mux)
}

// advertised is a listener that names itself by the address clients dial.
type advertised struct {
	net.Listener
	addr string
}

func (l advertised) Addr() net.Addr { return advertisedAddr(l.addr) }

type advertisedAddr string

func (a advertisedAddr) Network() string { return "tcp" }
func (a advertisedAddr) String() string  { return string(a) }

// advertiseHost is the host clients dial.
func (c Config) advertiseHost() string {
	if c.Advertise != "" {
		return c.Advertise
	}
	return c.Host
}

// createTopics makes every topic up front, replicated over all nodes, so
// producers never race auto-creation. A restarted broker that reloaded its
// data already has them.
func createTopics(addrs, topics []string, partitions int32, replicas int16) error {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	admin, err := sarama.NewClusterAdmin(addrs, cfg)
	if err != nil {
		return fmt.Errorf("connect admin to %v: %w", addrs, err)
	}
	defer admin.Close()
	for _, t := range topics {
		err := admin.CreateTopic(t, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: replicas}, false)
		if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	return nil
}

// Node is one broker node as the admin API shows it.
type Node struct {
	ID      int32  `json:"id"`
	Addr    string `json:"addr"`
	Leaders int    `json:"leaders"` // partitions it leads
	Removed bool   `json:"removed"`
}

// nodes is the admin API that removes and restores broker nodes, as
// hardware loss and repair would.
type nodes struct {
	c      *kfake.Cluster
	cfg    Config
	topics []string

	mu      sync.Mutex
	removed map[int32]int // node id -> port to come back on
}

// NodeID is the id kfake gives the node listening on cfg.Ports[i].
func NodeID(i int) int32 { return int32(i) }

func (n *nodes) list(w http.ResponseWriter, _ *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	leaders := map[int32]int{}
	for _, t := range n.topics {
		for p := range n.cfg.Partitions {
			leaders[n.c.LeaderFor(t, p)]++
		}
	}
	var out []Node
	for i, port := range n.cfg.Ports {
		id := NodeID(i)
		_, gone := n.removed[id]
		out = append(out, Node{ID: id, Addr: net.JoinHostPort(n.cfg.advertiseHost(), strconv.Itoa(port)), Leaders: leaders[id], Removed: gone})
	}
	component.WriteJSON(w, http.StatusOK, out)
}

func (n *nodes) node(w http.ResponseWriter, r *http.Request) (int32, int, bool) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 0 || id >= len(n.cfg.Ports) {
		http.Error(w, fmt.Sprintf("node %q: want an id in [0, %d)", r.PathValue("id"), len(n.cfg.Ports)), http.StatusBadRequest)
		return 0, 0, false
	}
	return int32(id), n.cfg.Ports[id], true
}

func (n *nodes) remove(w http.ResponseWriter, r *http.Request) {
	id, port, ok := n.node(w, r)
	if !ok {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, gone := n.removed[id]; gone {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err := n.c.RemoveNode(id); err != nil {
		http.Error(w, fmt.Sprintf("remove node %d: %v", id, err), http.StatusConflict)
		return
	}
	n.removed[id] = port
	w.WriteHeader(http.StatusNoContent)
}

func (n *nodes) restore(w http.ResponseWriter, r *http.Request) {
	id, port, ok := n.node(w, r)
	if !ok {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, gone := n.removed[id]; !gone {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if _, _, err := n.c.AddNode(id, port); err != nil {
		http.Error(w, fmt.Sprintf("restore node %d on port %d: %v", id, port, err), http.StatusConflict)
		return
	}
	delete(n.removed, id)
	w.WriteHeader(http.StatusNoContent)
}
