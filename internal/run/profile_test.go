package run

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edatestbed/testbed/internal/runtime/local"
)

// The profiler saves what a unit serves under /debug/pprof/, skips a unit
// that serves none, and reports one that fails.
func TestProfiler(t *testing.T) {
	serving := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/debug/pprof/profile" && r.URL.Query().Get("seconds") == "2":
			w.Write([]byte("cpu"))
		case r.URL.Path == "/debug/pprof/heap":
			w.Write([]byte("heap"))
		default:
			http.Error(w, "unexpected "+r.URL.String(), http.StatusBadRequest)
		}
	}))
	defer serving.Close()
	silent := httptest.NewServer(http.NotFoundHandler())
	defer silent.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer broken.Close()

	u := func(name, base string) unit {
		return unit{Spec: local.Spec{Name: "eda/" + name, Health: base + "/healthz"}, arch: "eda", name: name}
	}
	dir := t.TempDir()
	p := newProfiler(dir, []*archRun{{plan: plan{arch: "eda", components: []unit{
		u("order-api", serving.URL), u("broker", silent.URL), u("payment", broken.URL),
	}}}})
	p.cpu(context.Background(), time.Now(), 2*time.Second)
	p.heap(context.Background())
	err := p.wait()
	if err == nil || !strings.Contains(err.Error(), "eda/payment") || strings.Contains(err.Error(), "broker") {
		t.Errorf("wait = %v; want the payment unit's failure only", err)
	}
	got, _ := filepath.Glob(filepath.Join(dir, "eda", ProfilesDir, "*"))
	for i := range got {
		got[i] = filepath.Base(got[i])
	}
	if strings.Join(got, " ") != "order-api.cpu.pprof order-api.heap.pprof" {
		t.Errorf("saved %v, want order-api's cpu and heap profiles only", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "eda", ProfilesDir, "order-api.cpu.pprof")); string(b) != "cpu" {
		t.Errorf("cpu profile holds %q", b)
	}
	// The testbed's own profiles are real ones: gzipped protobuf.
	for _, name := range []string{"testbed.cpu.pprof", "testbed.heap.pprof"} {
		if b, err := os.ReadFile(filepath.Join(dir, ProfilesDir, name)); err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Errorf("testbed's own %s: %d bytes, err %v; want a gzipped profile", name, len(b), err)
		}
	}
}
