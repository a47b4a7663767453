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
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/edatestbed/testbed/system/component"
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
			return net.Listen(network, net.JoinHostPort(cfg.Host, port))
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
	mux.HandleFunc("GET /brokers", func(w http.ResponseWriter, _ *http.Request) { component.WriteJSON(w, http.StatusOK, addrs) })
	return component.Serve(ctx, log, cfg.Listen, mux)
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
