package docker

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{containerName("20261123-140000-service-crash", "eda", "order-api"), "testbed-20261123-140000-service-crash-eda-order-api"},
		{networkName("20261123-140000-service-crash", "monolith"), "testbed-20261123-140000-service-crash-monolith"},
		{dockerName("run 1/eda:psp"), "run-1-eda-psp"},
		{dockerName("_x.y-z"), "-x.y-z"},
		{dockerName("a_b.c-D9"), "a_b.c-D9"},
	} {
		if tc.got != tc.want {
			t.Errorf("name = %q, want %q", tc.got, tc.want)
		}
	}
}

func TestLabels(t *testing.T) {
	l := labels("r1", "host:42", Spec{Arch: "eda", Component: "payment", Node: "node-2"})
	want := map[string]string{LabelRun: "r1", LabelOwner: "host:42", LabelArch: "eda", LabelComponent: "payment", LabelNode: "node-2"}
	if len(l) != len(want) {
		t.Fatalf("labels = %v, want %v", l, want)
	}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("label %s = %q, want %q", k, l[k], v)
		}
	}
	if _, ok := labels("r1", "h:1", Spec{Arch: "eda", Component: "psp"})[LabelNode]; ok {
		t.Error("a component on no node carries a node label")
	}
}

func TestImageTag(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	if got := imageTag("testbed", sum); got != "edatestbed-local/testbed:abababababababab" {
		t.Errorf("imageTag = %q", got)
	}
	if got := imageTag("My Jaeger", sum); got != "edatestbed-local/my-jaeger:abababababababab" {
		t.Errorf("imageTag of an odd name = %q", got)
	}
}

func TestHostURL(t *testing.T) {
	pub := map[int]string{8080: "127.0.0.1:49153"}
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "http://psp:8080/healthz", want: "http://127.0.0.1:49153/healthz"},
		{in: "http://order-api:8080/orders?x=1", want: "http://127.0.0.1:49153/orders?x=1"},
		{in: "http://psp:9090/healthz", err: "port 9090 is not published"},
		{in: "http://psp/healthz", err: "want http://<alias>:<port>"},
		{in: "://", err: "missing protocol scheme"},
	} {
		got, err := hostURL(tc.in, pub)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("hostURL(%q) = %q, %v; want error %q", tc.in, got, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("hostURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestRoutes(t *testing.T) {
	got := routes("broker", map[int]string{19091: "127.0.0.1:40001", 19092: "127.0.0.1:40002"})
	if len(got) != 2 || got["broker:19091"] != "127.0.0.1:40001" || got["broker:19092"] != "127.0.0.1:40002" {
		t.Errorf("routes = %v", got)
	}
}

func TestSince(t *testing.T) {
	if got := since("2026-11-23T14:20:18.972452039Z"); got != "1795443618.972452039" {
		t.Errorf("since = %q", got)
	}
	if got := since("0001-01-01T00:00:00Z garbage"); got != "" {
		t.Errorf("since of garbage = %q, want empty (all logs)", got)
	}
}

func TestSignalName(t *testing.T) {
	if n, err := signalName(syscall.SIGSTOP); err != nil || n != "SIGSTOP" {
		t.Errorf("signalName(SIGSTOP) = %q, %v", n, err)
	}
	if _, err := signalName(syscall.SIGUSR1); err == nil {
		t.Error("an unsupported signal was accepted")
	}
}

func TestDead(t *testing.T) {
	host, _ := os.Hostname()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("no `true` to make a dead process: %v", err)
	}
	for _, tc := range []struct {
		owner string
		want  bool
	}{
		{host + ":" + strconv.Itoa(os.Getpid()), false},
		{host + ":" + strconv.Itoa(cmd.Process.Pid), true},
		{"another-host:" + strconv.Itoa(cmd.Process.Pid), false},
		{"no-pid", false},
		{host + ":x", false},
	} {
		if got := dead(tc.owner, host); got != tc.want {
			t.Errorf("dead(%q) = %v, want %v", tc.owner, got, tc.want)
		}
	}
}

func TestCheckStatic(t *testing.T) {
	for _, tc := range []struct{ file, err string }{
		{"static.elf", ""},
		{"dynamic.elf", "CGO_ENABLED=0"},
		{"not-elf", "not a Linux executable"},
		{"missing", "not a Linux executable"},
	} {
		err := checkStatic(filepath.Join("testdata", tc.file))
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("checkStatic(%s) = %v, want %q", tc.file, err, tc.err)
		}
	}
}

func TestFallbacks(t *testing.T) {
	if use, _ := jaegerFallback(""); use != "skipped" {
		t.Errorf("jaeger without a binary: %q", use)
	}
	if use, _ := jaegerFallback("/work/bin/jaeger"); !strings.Contains(use, "on the host") {
		t.Errorf("jaeger with a binary: %q", use)
	}
	if use, _ := prometheusFallback("/usr/bin/prometheus"); !strings.Contains(use, "on the host") {
		t.Errorf("prometheus with a binary: %q", use)
	}
	if use, _ := prometheusFallback(""); use != "skipped" {
		t.Errorf("prometheus without a binary: %q", use)
	}
}
