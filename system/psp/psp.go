// Package psp simulates the external payment-service provider both
// architectures call over HTTP. Its latency and its decisions are derived
// from the run's seed and the order id, not from a shared random stream, so
// the same order is declined in every architecture whatever the arrival
// order.
package psp

import (
	"encoding/json"
	"errors"
	"hash/fnv"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/edatestbed/testbed/system/telemetry"
)

// Config shapes the provider's behaviour.
type Config struct {
	Seed        int64         `json:"seed"`
	Latency     time.Duration `json:"latency"`
	Jitter      time.Duration `json:"jitter"`
	DeclineRate float64       `json:"decline_rate"`
}

// ChargeRequest asks for an order to be paid.
type ChargeRequest struct {
	OrderID string `json:"order_id"`
	Amount  int64  `json:"amount"`
}

// Charge is the provider's answer. Charging an order twice returns the first
// answer again: the order id is the idempotency key.
type Charge struct {
	OrderID  string `json:"order_id"`
	Amount   int64  `json:"amount"`
	Approved bool   `json:"approved"`
	Reason   string `json:"reason,omitempty"`
	Refunded bool   `json:"refunded"`
}

// Server is the simulator's HTTP handler.
type Server struct {
	cfg Config

	mu      sync.Mutex
	charges map[string]*Charge
}

// NewServer returns a provider with an empty ledger.
func NewServer(cfg Config) *Server {
	return &Server{cfg: cfg, charges: make(map[string]*Charge)}
}

// Handler serves POST /charges, POST /refunds, GET /ledger and GET /healthz.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /charges", s.charge)
	mux.HandleFunc("POST /refunds", s.refund)
	mux.HandleFunc("GET /ledger", s.ledger)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return mux
}

func (s *Server) charge(w http.ResponseWriter, r *http.Request) {
	var req ChargeRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.OrderID == "" || req.Amount <= 0 {
		http.Error(w, "want JSON {order_id, amount > 0}", http.StatusBadRequest)
		return
	}
	u := unit(s.cfg.Seed, req.OrderID, 1)
	delay := s.cfg.Latency + time.Duration(unit(s.cfg.Seed, req.OrderID, 2)*float64(s.cfg.Jitter))
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	s.mu.Lock()
	c, ok := s.charges[req.OrderID]
	if !ok {
		c = &Charge{OrderID: req.OrderID, Amount: req.Amount, Approved: u >= s.cfg.DeclineRate}
		if !c.Approved {
			c.Reason = "card_declined"
		}
		s.charges[req.OrderID] = c
	}
	out := *c
	s.mu.Unlock()
	writeJSON(w, out)
}

func (s *Server) refund(w http.ResponseWriter, r *http.Request) {
	var req ChargeRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.OrderID == "" {
		http.Error(w, "want JSON {order_id}", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	c, ok := s.charges[req.OrderID]
	if ok && c.Approved {
		c.Refunded = true
	}
	var out Charge
	if ok {
		out = *c
	}
	s.mu.Unlock()
	if !ok {
		http.Error(w, "no charge for order "+req.OrderID, http.StatusNotFound)
		return
	}
	writeJSON(w, out)
}

// ledger answers every charge the provider decided, sorted by order id:
// what the money checker holds the systems to.
func (s *Server) ledger(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := make([]Charge, 0, len(s.charges))
	for _, c := range s.charges {
		out = append(out, *c)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Charge) int { return strings.Compare(a.OrderID, b.OrderID) })
	writeJSON(w, out)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// unit maps (seed, order id, stream) to [0, 1).
func unit(seed int64, orderID string, stream byte) float64 {
	h := fnv.New64a()
	var b [9]byte
	for i := range 8 {
		b[i] = byte(seed >> (8 * i))
	}
	b[8] = stream
	h.Write(b[:])
	h.Write([]byte(orderID))
	x := h.Sum64()
	// splitmix64 finaliser: FNV alone leaves the high bits poorly mixed for
	// ids that differ only in their last characters.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// ErrNoCharge is wrapped when the provider has no charge for the order.
var ErrNoCharge = errors.New("no such charge")

// ErrUnavailable is wrapped when the provider could not be reached or
// answered with a server error: the caller may retry, the charge is unknown.
var ErrUnavailable = errors.New("payment provider unavailable")

// ServeConfig is what the runtime hands the PSP process.
type ServeConfig struct {
	Listen string `json:"listen"`
	Config
	Telemetry telemetry.Config `json:"telemetry"`
}
