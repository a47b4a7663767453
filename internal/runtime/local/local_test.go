package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the component: with TESTBED_CHILD set it
// serves /healthz on the given address instead of running tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("TESTBED_CHILD"); mode != "" {
		child(mode, os.Args[len(os.Args)-1])
		return
	}
	os.Exit(m.Run())
}

func child(mode, addr string) {
	switch mode {
	case "fail":
		fmt.Println("boom: cannot open database")
		os.Exit(3)
	case "grandchild":
		// A process the component spawned; it must die with its parent's group.
		cmd := exec.Command("sleep", "300")
		if err := cmd.Start(); err != nil {
			os.Exit(4)
		}
		fmt.Println("grandchild", cmd.Process.Pid)
	case "stopwatch":
		// Says when it was told to stop, and stops.
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		go func() {
			<-term
			fmt.Println("stopped", time.Now().UnixNano())
			os.Exit(0)
		}()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/exit", func(http.ResponseWriter, *http.Request) { os.Exit(7) })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		os.Exit(5)
	}
	_ = http.Serve(ln, mux)
}

func spec(t *testing.T, name, mode string) Spec {
	t.Helper()
	addr, err := FreeAddr("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TESTBED_CHILD", mode)
	return Spec{
		Name:   name,
		Args:   []string{"-test.run=^$", addr},
		Health: "http://" + addr + "/healthz",
		Log:    filepath.Join(t.TempDir(), name+".log"),
	}
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestKillAndRestart(t *testing.T) {
	exits := make(chan string, 1)
	r := New(os.Args[0], 10*time.Second, func(name string, _ error) { exits <- name })
	defer r.Close(time.Second)
	ctx := context.Background()
	s := spec(t, "svc", "serve")
	if err := r.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, s); err == nil {
		t.Fatal("starting a running component twice succeeded")
	}
	pid, err := r.Kill("svc")
	if err != nil {
		t.Fatal(err)
	}
	if alive(pid) || r.PID("svc") != 0 {
		t.Fatalf("pid %d alive after Kill", pid)
	}
	if err := r.Restart(ctx, "svc"); err != nil {
		t.Fatal(err)
	}
	if r.PID("svc") == 0 || r.PID("svc") == pid {
		t.Fatalf("restart gave pid %d, want a new live process", r.PID("svc"))
	}
	select {
	case name := <-exits:
		t.Fatalf("a planned kill was reported as an unplanned exit of %s", name)
	default:
	}
}

func TestStartFailureCarriesTheLog(t *testing.T) {
	r := New(os.Args[0], 10*time.Second, nil)
	defer r.Close(time.Second)
	err := r.Start(context.Background(), spec(t, "db", "fail"))
	if err == nil || !strings.Contains(err.Error(), "boom: cannot open database") || !strings.Contains(err.Error(), "exited before it was ready") {
		t.Fatalf("Start = %v; want the exit and the log's last lines", err)
	}
}

func TestUnplannedExitIsReported(t *testing.T) {
	exits := make(chan error, 1)
	r := New(os.Args[0], 10*time.Second, func(_ string, err error) { exits <- err })
	defer r.Close(time.Second)
	s := spec(t, "svc", "serve")
	if err := r.Start(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(strings.TrimSuffix(s.Health, "/healthz") + "/exit")
	if err == nil {
		resp.Body.Close()
	}
	err = <-exits
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 7 {
		t.Fatalf("reported exit = %v, want exit status 7", err)
	}
}

func TestCloseStopsTheWholeProcessGroup(t *testing.T) {
	r := New(os.Args[0], 10*time.Second, nil)
	s := spec(t, "parent", "grandchild")
	if err := r.Start(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(s.Log)
	if err != nil {
		t.Fatal(err)
	}
	var grandchild int
	if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "grandchild %d", &grandchild); err != nil {
		t.Fatalf("child log %q: %v", b, err)
	}
	parent := r.PID("parent")
	if err := r.Close(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	if alive(parent) {
		t.Fatalf("component %d alive after Close", parent)
	}
	// The grandchild is not our child: once killed it may linger as a
	// zombie until init reaps it, so look at its state, not its existence.
	deadline := time.Now().Add(5 * time.Second)
	for running(grandchild) {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d still running 5 s after Close", grandchild)
		}
		time.Sleep(10 * time.Millisecond) // polling the kernel's process table
	}
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(stat), ") Z ")
}

// TestCloseStopsTheLastStartedFirst starts two components and checks that
// Close stopped the second before it told the first: what a component
// needs (the broker) is started before it and must outlive its shutdown.
func TestCloseStopsTheLastStartedFirst(t *testing.T) {
	r := New(os.Args[0], 10*time.Second, nil)
	first, second := spec(t, "first", "stopwatch"), spec(t, "second", "stopwatch")
	for _, s := range []Spec{first, second} {
		if err := r.Start(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	stopped := func(s Spec) int64 {
		b, err := os.ReadFile(s.Log)
		if err != nil {
			t.Fatal(err)
		}
		var at int64
		if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "stopped %d", &at); err != nil {
			t.Fatalf("%s's log %q: %v", s.Name, b, err)
		}
		return at
	}
	if a, b := stopped(first), stopped(second); a <= b {
		t.Errorf("first told to stop at %d, second at %d: want the second (started last) first", a, b)
	}
}
