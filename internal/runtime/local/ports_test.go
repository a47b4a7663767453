package local

import (
	"net"
	"strconv"
	"testing"
)

// Ports never gives an address twice, and keeps out of the kernel's
// ephemeral range, where the link proxies' ports come from.
func TestPortsAreUniqueAndBelowTheEphemeralRange(t *testing.T) {
	p := NewPorts()
	if p.low < firstPort+1000 {
		t.Skipf("no room below the ephemeral range (it starts at %d)", p.low)
	}
	seen := map[string]bool{}
	for range 500 {
		addr, err := p.Addr("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if seen[addr] {
			t.Fatalf("%s given twice", addr)
		}
		seen[addr] = true
		_, port, _ := net.SplitHostPort(addr)
		if n, _ := strconv.Atoi(port); n < firstPort || n >= p.low {
			t.Fatalf("%s outside [%d, %d)", addr, firstPort, p.low)
		}
	}
}
