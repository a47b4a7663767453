package broker

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kfake"
)

// OpenCopy starts an embedded cluster on a copy of a finished run's broker
// data (kfake's DataDir), on free loopback ports, so the run's event log can
// be read again without touching the bundle. close stops it and deletes the
// copy.
func OpenCopy(dataDir string, nodes int) (addrs []string, close func(), err error) {
	if _, err := os.Stat(filepath.Join(dataDir, "meta.json")); err != nil {
		return nil, nil, fmt.Errorf("open broker data %s: not a broker data directory: %w", dataDir, err)
	}
	tmp, err := os.MkdirTemp("", "testbed-broker-copy-")
	if err != nil {
		return nil, nil, err
	}
	if err := os.CopyFS(tmp, os.DirFS(dataDir)); err != nil {
		os.RemoveAll(tmp)
		return nil, nil, fmt.Errorf("copy broker data: %w", err)
	}
	// CopyFS keeps modes, and the copy must be writable for kfake to load it.
	_ = filepath.WalkDir(tmp, func(p string, d fs.DirEntry, _ error) error {
		mode := os.FileMode(0o644)
		if d != nil && d.IsDir() {
			mode = 0o755
		}
		return os.Chmod(p, mode)
	})
	c, err := kfake.NewCluster(kfake.NumBrokers(nodes), kfake.DataDir(tmp), kfake.ClusterID("testbed"))
	if err != nil {
		os.RemoveAll(tmp)
		return nil, nil, fmt.Errorf("start a cluster on broker data %s: %w", dataDir, err)
	}
	return c.ListenAddrs(), func() { c.Close(); os.RemoveAll(tmp) }, nil
}
