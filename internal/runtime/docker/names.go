package docker

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Labels on every container and network a run creates. The run label is
// what Close, Cleanup and CleanupAll remove by, so nothing depends on the
// testbed staying alive to remember what it started.
const (
	LabelRun       = "testbed.run"
	LabelArch      = "testbed.arch"
	LabelComponent = "testbed.component"
	LabelNode      = "testbed.node"
	// LabelOwner is host:pid of the testbed that started the run, so a
	// later run can tell a dead run's leftovers from a live one's.
	LabelOwner = "testbed.owner"
	// LabelImage marks images EnsureImage built, with the binary's name.
	LabelImage = "testbed.image"
)

// imageRepo is the repository of images built from local binaries. It has
// no registry host, and the runtime never pulls it: EnsureImage builds it.
const imageRepo = "edatestbed-local/"

// containerName is the Docker name of a component's container. Names are
// unique per engine, so the run id is part of it.
func containerName(runID, arch, component string) string {
	return dockerName("testbed-" + runID + "-" + arch + "-" + component)
}

// networkName is the Docker name of an architecture's network in a run.
func networkName(runID, arch string) string {
	return dockerName("testbed-" + runID + "-" + arch)
}

// dockerName maps s onto what Docker accepts as a container or network
// name, [a-zA-Z0-9][a-zA-Z0-9_.-]*, replacing anything else with '-'.
func dockerName(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			i > 0 && (c == '_' || c == '.' || c == '-')
		if !ok {
			b[i] = '-'
		}
	}
	return string(b)
}

// labels of a component's container.
func labels(runID, owner string, s Spec) map[string]string {
	l := map[string]string{
		LabelRun: runID, LabelOwner: owner, LabelArch: s.Arch, LabelComponent: s.Component,
	}
	if s.Node != "" {
		l[LabelNode] = s.Node
	}
	return l
}

// imageTag is the tag of the image holding the binary named base whose
// content hashes to sum (hex): the same binary always gives the same tag,
// so an image is built once and reused by every run.
func imageTag(base, sum string) string {
	return imageRepo + strings.ToLower(dockerName(base)) + ":" + sum[:16]
}

// healthPort is the port of an in-network health URL, which the host
// reaches through its published twin.
func healthPort(health string) (int, error) {
	u, err := url.Parse(health)
	if err != nil {
		return 0, fmt.Errorf("health url %q: %w", health, err)
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil || u.Hostname() == "" {
		return 0, fmt.Errorf("health url %q: want http://<alias>:<port>/<path>", health)
	}
	return p, nil
}

// hostURL rewrites an in-network URL (http://psp:8080/healthz) to the host
// address its port is published on (http://127.0.0.1:49153/healthz).
func hostURL(inNetwork string, published map[int]string) (string, error) {
	port, err := healthPort(inNetwork)
	if err != nil {
		return "", err
	}
	addr, ok := published[port]
	if !ok {
		return "", fmt.Errorf("url %q: port %d is not published", inNetwork, port)
	}
	u, _ := url.Parse(inNetwork)
	u.Host = addr
	return u.String(), nil
}

// routes maps each published port as the network names it (alias:port) to
// the host address that reaches it.
func routes(alias string, published map[int]string) map[string]string {
	r := make(map[string]string, len(published))
	for port, addr := range published {
		r[net.JoinHostPort(alias, strconv.Itoa(port))] = addr
	}
	return r
}
