package pgserver

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/edatestbed/testbed/internal/runtime/local"
	"github.com/edatestbed/testbed/system/store"
)

// start runs a server in a fresh cluster under the test's directory, which
// is root's and 0700 when the tests run as root.
func start(t *testing.T) (*Server, Config) {
	t.Helper()
	bin, err := Find()
	if err != nil {
		t.Skip(err)
	}
	addr, err := local.FreeAddr("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	cfg := Config{Host: "127.0.0.1", Port: port, DataDir: filepath.Join(t.TempDir(), "pg"), BinDir: bin}
	log, err := os.Create(filepath.Join(t.TempDir(), "postgres.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	srv, err := Start(context.Background(), cfg, log)
	if err != nil {
		b, _ := os.ReadFile(log.Name())
		t.Fatalf("%v\n%s", err, b)
	}
	return srv, cfg
}

func TestStartQueryStop(t *testing.T) {
	srv, cfg := start(t)
	ctx := context.Background()
	db, err := store.OpenPostgres(ctx, srv.DSN, 2, `CREATE TABLE t (id TEXT PRIMARY KEY, at BIGINT NOT NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `INSERT INTO t (id, at) VALUES ($1, $2) ON CONFLICT DO NOTHING`, "a", int64(1)<<62); err != nil {
		t.Fatal(err)
	}
	var at int64
	if err := db.QueryRowContext(ctx, `SELECT at FROM t WHERE id = $1`, "a").Scan(&at); err != nil || at != 1<<62 {
		t.Fatalf("read back %d, %v", at, err)
	}
	db.Close()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.Exited():
	default:
		t.Fatal("Stop returned with the server still running")
	}
	// The cluster is kept: a second start reuses it instead of running
	// initdb into a non-empty directory.
	log, err := os.Create(filepath.Join(t.TempDir(), "again.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	again, err := Start(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Stop()
	db, err = store.OpenPostgres(ctx, again.DSN, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, `SELECT at FROM t WHERE id = $1`, "a").Scan(&at); err != nil {
		t.Fatalf("row lost across a restart: %v", err)
	}
}

func TestFindNamesThePackage(t *testing.T) {
	if _, err := Find(); err != nil && !strings.Contains(err.Error(), "apt-get install -y "+Package) {
		t.Fatalf("Find error %q does not say what to install", err)
	}
	if Implementation("/nonexistent") != "PostgreSQL" {
		t.Fatal("Implementation of a missing binary should fall back to the bare name")
	}
}
