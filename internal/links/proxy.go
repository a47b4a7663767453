package links

import (
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// proxy is one link's forwarder: it accepts on its listen address, dials the
// target for each connection and copies both ways, passing every chunk
// through the link's current fault. A healthy link costs a read and a write
// per chunk in one goroutine per direction, no copy and no hand-off: every
// Kafka request and every call to the PSP crosses a link, on CPUs the
// systems under test share. (toxiproxy, which the links were before, hands
// each chunk through three goroutines and two channels per direction, with a
// fresh copy of it, faulted or not.) A connection that meets latency or a
// bandwidth cap gets a delay line, a queue and a writer, for the rest of its
// life, so that its bytes stay in order when the fault heals.
type proxy struct {
	target string
	fault  atomic.Pointer[fault] // nil: a clean pass-through

	mu     sync.Mutex
	listen string       // host:port; the port is fixed at the first start
	ln     net.Listener // nil while stopped (a reject cut)
	conns  map[*pipe]struct{}
	done   sync.WaitGroup // accept loops, copiers and delay lines
}

// fault is what a link does to the chunks it copies; a link carries one
// fault at a time, so it is replaced whole.
type fault struct {
	hole            [2]bool // swallow every byte of a direction (blackhole)
	latency, jitter time.Duration
	kiBps           int64   // bandwidth cap per direction; 0: none
	loss            float64 // share of connections whose upstream goes silent
}

// delays reports whether the fault holds chunks back.
func (f *fault) delays() bool { return f.latency > 0 || f.jitter > 0 || f.kiBps > 0 }

// delay is one chunk's: the latency and up to jitter more, drawn per chunk
// (what the scenarios document).
func (f *fault) delay() time.Duration {
	d := f.latency
	if f.jitter > 0 {
		d += rand.N(f.jitter)
	}
	return d
}

// Directions a chunk travels.
const (
	up   = 0 // client to server
	down = 1 // server to client
)

// chunkSize is each direction's read buffer: a fetch answer of a few
// hundred KiB crosses in a few reads, and an idle connection holds 64 KiB.
const chunkSize = 32 << 10

func newProxy(listen, target string) *proxy {
	return &proxy{listen: listen, target: target, conns: map[*pipe]struct{}{}}
}

// start listens (again, on the same address after a stop) and serves.
func (p *proxy) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", p.listen)
	if err != nil {
		return err
	}
	p.listen, p.ln = ln.Addr().String(), ln
	p.done.Add(1)
	go p.accept(ln)
	return nil
}

// addr is where clients connect.
func (p *proxy) addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.listen
}

// stop closes the listener, so that dialling is refused, and resets every
// open connection.
func (p *proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.reset()
	}
}

// close stops the proxy and waits until all its goroutines have ended.
func (p *proxy) close() {
	p.stop()
	p.done.Wait()
}

// setFault gives the link a fault, in place of none.
func (p *proxy) setFault(f *fault) { p.fault.Store(f) }

// heal takes the link's fault away. A stream with a hole in it cannot be
// resumed: healing a blackhole resets every connection open across it (its
// peers may be waiting on bytes it swallowed, or on a close), healing loss
// the connections it silenced.
func (p *proxy) heal() {
	f := p.fault.Swap(nil)
	if f == nil {
		return
	}
	every := f.hole[up] || f.hole[down]
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		if every || c.holed.Load() {
			c.reset()
		}
	}
}

func (p *proxy) accept(ln net.Listener) {
	defer p.done.Done()
	for {
		client, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of descriptors, say: net/http's answer, a pause and on.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		p.done.Add(1)
		go p.serve(ln, client)
	}
}

// serve joins a client to a fresh connection to the target; a target that
// cannot be reached closes the client's, as the target's refusal would.
func (p *proxy) serve(ln net.Listener, client net.Conn) {
	defer p.done.Done()
	server, err := net.DialTimeout("tcp", p.target, dialTimeout)
	if err != nil {
		client.Close()
		return
	}
	c := &pipe{client: client, server: server, closed: make(chan struct{})}
	p.mu.Lock()
	if p.ln != ln { // stopped since the accept
		p.mu.Unlock()
		c.reset()
		return
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		p.copy(c, down, server, client)
	}()
	p.copy(c, up, client, server)
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// dialTimeout bounds connecting to a target: on loopback a live one answers
// at once and a dead one refuses, so only a stopped process takes long.
const dialTimeout = 5 * time.Second

// pipe is one proxied connection: the client's and the target's.
type pipe struct {
	client, server net.Conn
	closed         chan struct{}
	once           sync.Once
	holed          atomic.Bool // a fault swallowed some of its bytes

	// Each touched only by its direction's copier.
	lines [2]delayLine
	// The fault this connection drew its loss for, and the draw; the
	// upstream copier's alone.
	drewFor *fault
	lost    bool
}

// reset closes both ends at once, with a reset rather than an orderly
// close, as a connection cut by the network looks to its peers.
func (c *pipe) reset() {
	c.once.Do(func() {
		close(c.closed)
		for _, conn := range []net.Conn{c.client, c.server} {
			if t, ok := conn.(*net.TCPConn); ok {
				_ = t.SetLinger(0)
			}
			conn.Close()
		}
	})
}

// shut ends the connection when one side has: both ends close, the other
// direction's copier with them.
func (c *pipe) shut() {
	c.once.Do(func() {
		close(c.closed)
		c.client.Close()
		c.server.Close()
	})
}

// copy moves chunks from src to dst until either end closes.
func (p *proxy) copy(c *pipe, dir int, src, dst net.Conn) {
	defer c.shut()
	buf := make([]byte, chunkSize)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.forward(c, dir, dst, buf[:n]) {
			return
		}
		if err != nil {
			// A blackhole swallows the end of a stream too: across a
			// partition no FIN arrives, and the peer finds out by
			// its own timeouts or when the heal resets the connection.
			if f := p.fault.Load(); f != nil && c.swallows(f, dir) && p.hole(c, f) {
				<-c.closed
			}
			return
		}
	}
}

// forward passes one chunk on as the link's fault says: written, swallowed
// or queued on the connection's delay line. It reports whether the
// connection is still open.
func (p *proxy) forward(c *pipe, dir int, dst net.Conn, b []byte) bool {
	f := p.fault.Load()
	if f != nil {
		if c.swallows(f, dir) {
			return p.hole(c, f)
		}
		if f.delays() && c.lines[dir] == nil {
			c.lines[dir] = p.newDelayLine(c, dst)
		}
	}
	if l := c.lines[dir]; l != nil {
		due := time.Now()
		if f != nil {
			due = due.Add(f.delay())
		}
		select {
		case l <- chunk{b: append([]byte(nil), b...), due: due}:
			return true
		case <-c.closed:
			return false
		}
	}
	_, err := dst.Write(b)
	return err == nil
}

// swallows reports whether f drops what travels dir on this connection.
func (c *pipe) swallows(f *fault, dir int) bool {
	return f.hole[dir] || (dir == up && c.silenced(f))
}

// hole marks the connection as having lost bytes to fault f, and reports
// whether it is still open: had f healed meanwhile, its heal may have
// missed the mark, so the connection is reset here instead.
func (p *proxy) hole(c *pipe, f *fault) bool {
	c.holed.Store(true)
	if p.fault.Load() != f {
		c.reset()
		return false
	}
	return true
}

// silenced draws, once per connection and fault, whether the fault's loss
// takes this connection.
func (c *pipe) silenced(f *fault) bool {
	if f.loss <= 0 {
		return false
	}
	if c.drewFor != f {
		c.drewFor, c.lost = f, rand.Float64() < f.loss
	}
	return c.lost
}

// chunk is a delayed piece of a stream and when it is due.
type chunk struct {
	b   []byte
	due time.Time
}

// delayLine is a queue of chunks and the goroutine writing them to dst when
// each is due, at the bandwidth the link's fault allows when it is written.
type delayLine = chan chunk

// delayLineLen is how many chunks a delayed direction holds: at 100 ms of
// latency, some 10 MiB/s of 1 KiB chunks before the reader waits.
const delayLineLen = 1024

func (p *proxy) newDelayLine(c *pipe, dst net.Conn) delayLine {
	l := make(delayLine, delayLineLen)
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		defer c.shut()
		t := time.NewTimer(0)
		defer t.Stop()
		wait := func(d time.Duration) bool {
			if d <= 0 {
				return true
			}
			t.Reset(d)
			select {
			case <-t.C:
				return true
			case <-c.closed:
				return false
			}
		}
		for {
			var ch chunk
			select {
			case ch = <-l:
			case <-c.closed:
				return
			}
			if !wait(time.Until(ch.due)) {
				return
			}
			for b := ch.b; len(b) > 0; {
				n := len(b)
				var rate int64
				if f := p.fault.Load(); f != nil {
					rate = f.kiBps << 10
				}
				if rate > 0 {
					// A tenth of a second's worth at a time, so a
					// large chunk trickles out rather than waiting
					// whole and arriving at once.
					n = int(min(int64(n), max(rate/10, 1)))
				}
				if _, err := dst.Write(b[:n]); err != nil {
					return
				}
				b = b[n:]
				if rate > 0 && !wait(time.Duration(int64(n)*int64(time.Second)/rate)) {
					return
				}
			}
		}
	}()
	return l
}
