package local

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Ports hands out TCP addresses for components to listen on, each free a
// moment ago and never the same one twice. A component binds its address
// only when its process starts, so the port is unheld in between; ports
// the kernel hands out for port 0 (the link proxies', every client's) come
// from its ephemeral range, and a port just released there can be handed
// out again before the component binds it ("address already in use").
// Ports picks below that range, where the kernel never allocates.
type Ports struct {
	mu    sync.Mutex
	given map[string]bool
	low   int // first port of the kernel's ephemeral range; 0: unknown
}

// lowest port Ports uses: above the well-known and most registered ones.
const firstPort = 10000

// NewPorts reads the kernel's ephemeral range where it can (Linux).
func NewPorts() *Ports {
	p := &Ports{given: map[string]bool{}}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			p.low, _ = strconv.Atoi(f[0])
		}
	}
	return p
}

// Addr returns host:port, free now and not given before. Without room
// below the ephemeral range it falls back to FreeAddr.
func (p *Ports) Addr(host string) (string, error) {
	if p.low < firstPort+1000 {
		return FreeAddr(host)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for range 100 {
		addr := net.JoinHostPort(host, strconv.Itoa(firstPort+rand.IntN(p.low-firstPort)))
		if p.given[addr] {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue // taken by someone else
		}
		ln.Close()
		p.given[addr] = true
		return addr, nil
	}
	return "", fmt.Errorf("find a free port on %s below %d: 100 tries failed", host, p.low)
}
