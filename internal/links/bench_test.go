package links

import (
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRoundTrip is what a healthy link costs the exchanges that cross
// it in a run (a Kafka request, a call to the PSP): a 512-byte request and
// its echo, 32 clients at once on kept-alive loopback connections, through
// a link and, for the yardstick, straight to the server. cpu-µs/op is the
// process's CPU per exchange, clients and server included, so the link's
// cost is the difference between the two.
func BenchmarkRoundTrip(b *testing.B) {
	target := echo(b)
	for _, via := range []string{"link", "direct"} {
		b.Run("via="+via, func(b *testing.B) {
			addr := target
			if via == "link" {
				s := NewSet()
				b.Cleanup(s.Close)
				l, err := s.Add("client", "server", "127.0.0.1", target)
				if err != nil {
					b.Fatal(err)
				}
				addr = l.Listen
			}
			b.SetParallelism(16) // × GOMAXPROCS
			cpu0 := cpuTime(b)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				req, resp := make([]byte, 512), make([]byte, 512)
				for pb.Next() {
					if _, err := c.Write(req); err != nil {
						b.Error(err)
						return
					}
					if _, err := io.ReadFull(c, resp); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// cpuTime is the CPU this process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
