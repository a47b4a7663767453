//go:build integration

package logship

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"

	estemplate "github.com/edatestbed/testbed/dashboards/elasticsearch"
	"github.com/edatestbed/testbed/internal/runtime/docker"
)

// pullTimeout bounds the attempt to fetch an absent image. A machine
// without a registry fails at once; one with a registry rarely fetches the
// ~1.3 GB image this fast, and then the skip says to pull it beforehand
// rather than making every test run wait for the download.
const pullTimeout = 20 * time.Second

// TestElasticsearchShip ships the fixtures to the real Elasticsearch image
// the docker runtime pins, with the template from dashboards/elasticsearch,
// and reads back what the httptest fake (fake_test.go) can only assume: the
// count, a search by trace id, the mappings the template promises, and the
// rejection of an "order" object by the keyword mapping. It skips with the
// reason when no Docker engine answers or the image can be neither found
// nor pulled.
func TestElasticsearchShip(t *testing.T) {
	url := startElasticsearch(t, docker.ElasticsearchImage)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// As internal/run does it: the template first, then Ship.
	cfg := Config{URL: url, Index: IndexName(runFields["run_id"]), FlushBytes: 1024, Workers: 2}
	if err := ApplyTemplate(ctx, cfg, estemplate.Template()); err != nil {
		t.Fatalf("ApplyTemplate: %v", err)
	}
	files := map[string]string{
		"order-api": filepath.Join("testdata", "order-api.log"),
		"payment":   filepath.Join("testdata", "payment.log"),
		"inventory": filepath.Join("testdata", "inventory.log"),
	}
	stats, err := Ship(ctx, cfg, files, runFields)
	// inventory.log line 2 carries "order" as an object, which the
	// template's keyword mapping refuses: the one failure Ship must report
	// while it indexes the rest.
	for _, s := range []string{"1 documents failed", "inventory:2", "failed to parse field [order]"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("Ship error = %v, want it to say %q", err, s)
		}
	}
	t.Logf("Ship: %+v; %v", stats, err)
	// order-api.log: 3 records; payment.log: 2 records and 6 raw lines;
	// inventory.log: 3 records, one refused.
	if want := (Stats{Files: 3, Lines: 14, Indexed: 13, Failed: 1, NonJSON: 6}); stats != want {
		t.Fatalf("stats = %+v, want %+v", stats, want)
	}

	es, err := newClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close(context.WithoutCancel(ctx))

	// No refresh here: Ship promises the documents are searchable when it
	// returns, and this is where that promise meets a real index.
	var count struct {
		Count int `json:"count"`
	}
	res, err := es.Count(es.Count.WithIndex(cfg.Index), es.Count.WithContext(ctx))
	decodeES(t, "count", res, err, &count)
	if count.Count != stats.Indexed {
		t.Errorf("index holds %d documents, want the %d Ship indexed", count.Count, stats.Indexed)
	}

	searches := []struct {
		field, value string
		want         []string
	}{
		{"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736", []string{"inventory:1", "order-api:1", "order-api:2", "payment:1"}},
		{"trace_id", "0af7651916cd43dd8448eb211c80319c", []string{"order-api:3", "payment:2"}},
		{"trace_id", "5cf92f3577b34da6a3ce929d0e0e4737", nil}, // only on the refused line
		{"trace_id", "4bf92f3577b34da6", nil},                 // a keyword matches whole values only
		{"raw", "true", []string{"payment:3", "payment:4", "payment:6", "payment:7", "payment:8", "payment:9"}},
	}
	for _, s := range searches {
		got := searchIDs(ctx, t, es, cfg.Index, s.field, s.value)
		if !slices.Equal(got, s.want) {
			t.Errorf("%s:%q finds %q, want %q", s.field, s.value, got, s.want)
		}
	}

	checkMappings(ctx, t, es, cfg.Index)
}

// checkMappings holds the run's index to the types the template declares,
// so a field that fell back to dynamic mapping (trace_id as text, say)
// shows up here rather than as a Kibana search that never matches.
func checkMappings(ctx context.Context, t *testing.T, es *elasticsearch.Client, index string) {
	t.Helper()
	var tmpl templateMappings
	if err := json.Unmarshal(estemplate.Template(), &tmpl); err != nil {
		t.Fatalf("parse index template: %v", err)
	}
	var got map[string]struct {
		Mappings struct {
			Properties map[string]struct {
				Type   string `json:"type"`
				Fields map[string]struct {
					Type string `json:"type"`
				} `json:"fields"`
			} `json:"properties"`
		} `json:"mappings"`
	}
	res, err := es.Indices.GetMapping(es.Indices.GetMapping.WithIndex(index), es.Indices.GetMapping.WithContext(ctx))
	decodeES(t, "get mapping", res, err, &got)
	props := got[index].Mappings.Properties
	if props == nil {
		t.Fatalf("no mapping for %s in %v", index, got)
	}
	if props["trace_id"].Type != "keyword" {
		t.Errorf("trace_id mapped as %q, want keyword", props["trace_id"].Type)
	}
	for field, want := range tmpl.Template.Mappings.Properties {
		have := props[field]
		if have.Type != want.Type {
			t.Errorf("%s mapped as %q, the template says %q", field, have.Type, want.Type)
		}
		for sub, w := range want.Fields {
			if h := have.Fields[sub].Type; h != w.Type {
				t.Errorf("%s.%s mapped as %q, the template says %q", field, sub, h, w.Type)
			}
		}
	}
}

// searchIDs returns the sorted ids of the documents whose field holds
// exactly value.
func searchIDs(ctx context.Context, t *testing.T, es *elasticsearch.Client, index, field, value string) []string {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"query": map[string]any{"term": map[string]any{field: value}},
		"size":  100,
	})
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Hits struct {
			Hits []struct {
				ID string `json:"_id"`
			} `json:"hits"`
		} `json:"hits"`
	}
	res, err := es.Search(es.Search.WithIndex(index), es.Search.WithBody(bytes.NewReader(body)), es.Search.WithContext(ctx))
	decodeES(t, fmt.Sprintf("search %s:%q", field, value), res, err, &out)
	var ids []string
	for _, h := range out.Hits.Hits {
		ids = append(ids, h.ID)
	}
	slices.Sort(ids)
	return ids
}

func decodeES(t *testing.T, what string, res *esapi.Response, err error, v any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	defer res.Body.Close()
	if res.IsError() {
		t.Fatalf("%s: %s", what, res.String())
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("%s: decode answer: %v", what, err)
	}
}

// startElasticsearch runs image (docker.ElasticsearchImage) as a single
// node without security, published on 127.0.0.1 only, and returns its URL
// once the cluster reports green or yellow. The container is terminated
// when the test ends, whatever its outcome.
func startElasticsearch(t *testing.T, image string) string {
	t.Helper()
	// testcontainers' reaper is an image of its own, which cannot be pulled
	// without a registry; the container is removed in t.Cleanup instead,
	// and carries the runtime's labels so CleanupStale finds it should the
	// test binary die first. The variable is read when the first provider
	// is made, so it is set before docker.Available makes one.
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	// The port is bound on the engine's 127.0.0.1, so that is where it is
	// reached; without this, testcontainers running inside a container
	// (/.dockerenv) would look for it on the bridge gateway. Like the docker
	// runtime, this needs a local engine.
	t.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := docker.Available(ctx); err != nil {
		t.Skipf("no Docker engine answers, so the real Elasticsearch cannot run (the httptest fake covers the protocol): %v", err)
	}
	ensureImage(ctx, t, image)

	host, _ := os.Hostname()
	req := testcontainers.ContainerRequest{
		Image: image,
		Env: map[string]string{
			"discovery.type":         "single-node",
			"xpack.security.enabled": "false",
			"ES_JAVA_OPTS":           "-Xms512m -Xmx512m",
			// A crowded test disk past the flood-stage watermark would turn
			// the index read-only and fail the bulk requests.
			"cluster.routing.allocation.disk.threshold_enabled": "false",
			// Machine learning starts a native process the test never uses.
			"xpack.ml.enabled": "false",
		},
		Labels: map[string]string{
			docker.LabelRun:       fmt.Sprintf("logship-test-%d", os.Getpid()),
			docker.LabelOwner:     fmt.Sprintf("%s:%d", host, os.Getpid()),
			docker.LabelComponent: "elasticsearch",
		},
		ExposedPorts: []string{"9200/tcp"},
		HostConfigModifier: func(h *container.HostConfig) {
			// HostPort stays empty: testcontainers asks for a free one.
			h.PortBindings = network.PortMap{
				network.MustParsePort("9200/tcp"): {{HostIP: netip.AddrFrom4([4]byte{127, 0, 0, 1})}},
			}
		},
		WaitingFor: wait.ForHTTP("/_cluster/health").
			WithPort("9200/tcp").
			WithResponseMatcher(clusterUsable).
			WithPollInterval(time.Second).
			WithStartupTimeout(3 * time.Minute),
	}
	startCtx, cancelStart := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancelStart()
	c, err := testcontainers.GenericContainer(startCtx, testcontainers.GenericContainerRequest{
		ContainerRequest: req, Started: true, Logger: log.TestLogger(t),
	})
	// c may be set even when starting failed: clean up before checking.
	t.Cleanup(func() {
		if c == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if t.Failed() {
			logTail(ctx, t, c)
		}
		if err := testcontainers.TerminateContainer(c, testcontainers.StopContext(ctx)); err != nil {
			t.Errorf("remove the elasticsearch container: %v", err)
		}
	})
	if err != nil {
		t.Fatalf("start %s: %v", image, err)
	}
	url, err := c.PortEndpoint(startCtx, "9200/tcp", "http")
	if err != nil {
		t.Fatalf("address of %s: %v", image, err)
	}
	t.Logf("%s answers at %s", image, url)
	return url
}

// ensureImage skips the test unless image is on the engine or can be
// pulled within pullTimeout. Presence is asked first, so an image loaded
// by hand (docker load) is used without any registry.
func ensureImage(ctx context.Context, t *testing.T, image string) {
	t.Helper()
	p, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(log.TestLogger(t)))
	if err != nil {
		t.Fatalf("connect to docker: %v", err)
	}
	defer p.Close()
	cli := p.Client()
	_, err = cli.ImageInspect(ctx, image)
	if err == nil {
		return
	}
	if !errdefs.IsNotFound(err) {
		t.Fatalf("inspect image %s: %v", image, err)
	}

	pullCtx, cancel := context.WithTimeout(context.Background(), pullTimeout)
	defer cancel()
	start := time.Now()
	pull, err := cli.ImagePull(pullCtx, image, client.ImagePullOptions{})
	if err == nil {
		// Wait reads the progress stream to its end and returns the error
		// a failed pull reports inside it.
		err = pull.Wait(pullCtx)
	}
	if err != nil {
		t.Skipf("image %s is not on this Docker engine and pulling it failed after %v (pull or docker load it beforehand to run this test): %v",
			image, time.Since(start).Round(time.Millisecond), err)
	}
}

// clusterUsable accepts a /_cluster/health answer of green or yellow: the
// node has elected itself and can take the template and the index.
func clusterUsable(body io.Reader) bool {
	var h struct {
		Status string `json:"status"`
	}
	return json.NewDecoder(body).Decode(&h) == nil && (h.Status == "green" || h.Status == "yellow")
}

// logTail puts the end of the node's log into the test output, where a
// failed start or a refused request is explained.
func logTail(ctx context.Context, t *testing.T, c testcontainers.Container) {
	rc, err := c.Logs(ctx)
	if err != nil {
		t.Logf("elasticsearch logs: %v", err)
		return
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Logf("elasticsearch logs: %v", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	t.Logf("last lines of the elasticsearch log:\n%s", strings.Join(lines, "\n"))
}
