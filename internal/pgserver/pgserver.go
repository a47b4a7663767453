// Package pgserver runs the PostgreSQL server of the local runtime: the
// Debian package's own binaries, a cluster made by initdb in the run's
// directory, one server process listening on a loopback port. The testbed
// runs it as a component (`testbed serve postgres`) that starts the server
// as its child and answers health checks for it, so the runtime starts,
// waits for and stops it like any other component, and a SIGKILL of the
// component's process group takes the whole server with it.
package pgserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edatestbed/testbed/system/component"
	"github.com/edatestbed/testbed/system/store"
)

// Package is the Debian package that provides the server.
const Package = "postgresql"

// User and Database are what the systems connect as and to.
const (
	User     = "testbed"
	Database = "postgres"
)

// Config is what the runtime hands the postgres component.
type Config struct {
	Listen  string `json:"listen"` // health and metrics of the component
	Host    string `json:"host"`   // loopback address the server listens on
	Port    int    `json:"port"`
	DataDir string `json:"data_dir"` // the cluster; initdb runs when it is empty
	BinDir  string `json:"bin_dir"`  // where initdb and postgres are
}

// Find returns the directory holding the server's binaries: the newest
// /usr/lib/postgresql/<version>/bin, or the one of postgres on $PATH. The
// error names the package to install.
func Find() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	if p, err := exec.LookPath("postgres"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if executable(filepath.Join(d, "postgres")) && executable(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL server not found (looked for postgres and initdb in /usr/lib/postgresql/*/bin and $PATH); install the Debian package %s: apt-get install -y %s", Package, Package)
}

// version is the major version in /usr/lib/postgresql/<version>/bin.
func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func executable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Implementation names the server in reports: "PostgreSQL 15.18".
func Implementation(binDir string) string {
	out, err := exec.Command(filepath.Join(binDir, "postgres"), "--version").Output()
	if err != nil {
		return "PostgreSQL"
	}
	// "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
	f := strings.Fields(string(out))
	if len(f) >= 3 {
		return "PostgreSQL " + f[2]
	}
	return "PostgreSQL"
}

// DSN is the connection string of the server at host:port. connect_timeout
// bounds a dial through a link that swallows bytes.
func DSN(addr string) string {
	return fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable&connect_timeout=2", User, addr, Database)
}

// Server is a running PostgreSQL server.
type Server struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
	// DSN connects to it directly.
	DSN string
}

// Start makes the cluster when DataDir holds none, starts the server and
// returns once it accepts connections. Its output goes to w.
func Start(ctx context.Context, cfg Config, w *os.File) (*Server, error) {
	attr, err := unprivileged()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := initdb(ctx, cfg, attr, w); err != nil {
			return nil, err
		}
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	cmd := exec.Command(filepath.Join(cfg.BinDir, "postgres"), "-D", cfg.DataDir, "-h", cfg.Host, "-p", strconv.Itoa(cfg.Port),
		// TCP only: no socket in /var/run/postgresql, which belongs to the
		// system's own cluster.
		"-c", "unix_socket_directories=",
		// Dynamic shared memory in the data directory, not /dev/shm, so a
		// killed server leaves nothing outside the run's directory.
		"-c", "dynamic_shared_memory_type=mmap",
		// The durability of the other architectures' SQLite (WAL,
		// synchronous=NORMAL): a commit survives a process crash, not a
		// power cut.
		"-c", "fsync=off",
		"-c", "max_connections=200",
		"-c", "log_min_messages=warning",
	)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s := &Server{cmd: cmd, exited: make(chan struct{}), DSN: DSN(addr)}
	go func() {
		s.err = cmd.Wait()
		close(s.exited)
	}()
	if err := s.await(ctx, 30*time.Second); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

func initdb(ctx context.Context, cfg Config, attr *syscall.SysProcAttr, w *os.File) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create postgres data dir: %w", err)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(cfg.BinDir, "initdb"), "-D", cfg.DataDir, "-U", User,
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = attr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("initdb %s: %w", cfg.DataDir, err)
	}
	return nil
}

// await polls the server until a connection succeeds.
func (s *Server) await(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	db, err := store.OpenPostgres(ctx, s.DSN, 1)
	if err != nil {
		return err
	}
	defer db.Close()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		err := db.PingContext(pctx)
		pcancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("postgres exited before accepting connections (%v)", s.err)
		case <-ctx.Done():
			return fmt.Errorf("postgres not accepting connections within %v: %w", limit, err)
		case <-tick.C:
		}
	}
}

// Exited is closed when the server process has ended.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// Stop shuts the server down fast (SIGINT: roll back open transactions,
// checkpoint, exit) and kills it when that takes more than 10 s.
func (s *Server) Stop() error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-s.exited:
		return nil
	case <-t.C:
		_ = s.cmd.Process.Kill()
		<-s.exited
		return errors.New("postgres ignored SIGINT for 10 s and was killed")
	}
}

// Run starts the server and serves the component's health until ctx ends,
// then stops the server. Health is a query through a connection of its
// own, so it says whether clients can work, not just whether the port is
// open.
func Run(ctx context.Context, log *slog.Logger, cfg Config) error {
	srv, err := Start(ctx, cfg, os.Stderr)
	if err != nil {
		return err
	}
	log.Info("postgres accepting connections", "addr", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)), "data_dir", cfg.DataDir)
	db, err := store.OpenPostgres(ctx, srv.DSN, 2)
	if err != nil {
		return errors.Join(err, srv.Stop())
	}
	defer db.Close()
	var one int
	mux := component.Mux(prometheus.NewRegistry(), map[string]component.Check{"postgres": func(ctx context.Context) error {
		return db.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
	}})
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	died := make(chan struct{})
	go func() {
		// A server that dies on its own takes the component down with it,
		// so the runtime reports the exit instead of a healthy shell.
		select {
		case <-srv.Exited():
			close(died)
			cancel()
		case <-sctx.Done():
		}
	}()
	err = component.Serve(sctx, log, cfg.Listen, mux)
	db.Close()
	select {
	case <-died:
		return errors.Join(err, fmt.Errorf("postgres exited on its own: %v", srv.err))
	default:
	}
	return errors.Join(err, srv.Stop())
}
