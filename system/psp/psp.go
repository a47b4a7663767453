// Package psp simulates the external payment-service provider both
// architectures call over HTTP. Its latency and its decisions are derived
// from the run's seed and the order id, not from a shared random stream, so
// the same order is declined in every architecture whatever the arrival
// order.
package psp

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"time"

	"github.com/edatestbed/testbed/system/store"
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

// Server is the simulator's HTTP handler. Its ledger is an SQLite table,
// on disk in a run: a provider's ledger grows with every order, and a run
// of hours at thousands of orders a second must not carry it in memory.
type Server struct {
	cfg Config
	db  *sql.DB
	err error // why the ledger could not be opened; every request answers it
}

// ledgerSchema is the provider's record of every charge it decided.
// WITHOUT ROWID keeps it one B-tree keyed by order id, in the order the
// ledger is read.
const ledgerSchema = `CREATE TABLE IF NOT EXISTS charges (
	order_id TEXT PRIMARY KEY,
	amount INTEGER NOT NULL,
	approved INTEGER NOT NULL,
	reason TEXT NOT NULL,
	refunded INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID`

// Open returns a provider whose ledger is the database at path, created
// when missing; a provider restarted on the same file keeps its ledger.
func Open(ctx context.Context, cfg Config, path string) (*Server, error) {
	db, err := store.Open(ctx, path, ledgerSchema)
	if err != nil {
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	return &Server{cfg: cfg, db: db}, nil
}

// NewServer returns a provider with an empty ledger in memory, for tests
// and tools that need a provider for as long as the process lives.
func NewServer(cfg Config) *Server {
	s, err := Open(context.Background(), cfg, ":memory:")
	if err != nil {
		return &Server{cfg: cfg, err: err}
	}
	return s
}

// Close closes the ledger.
func (s *Server) Close() error {
	if s.db == nil {
		return nil
	}
	return s.db.Close()
}

// Handler serves POST /charges, POST /refunds, GET /ledger and GET /healthz.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /charges", s.charge)
	mux.HandleFunc("POST /refunds", s.refund)
	mux.HandleFunc("GET /ledger", s.ledger)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if s.err != nil {
			http.Error(w, s.err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

func (s *Server) charge(w http.ResponseWriter, r *http.Request) {
	var req ChargeRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.OrderID == "" || req.Amount <= 0 {
		http.Error(w, "want JSON {order_id, amount > 0}", http.StatusBadRequest)
		return
	}
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
	c, err := s.decide(r.Context(), req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, c)
}

// decide records the charge of an order it has not seen and returns the
// ledger's charge of the order: the first answer, whatever the amount
// asked again.
func (s *Server) decide(ctx context.Context, req ChargeRequest) (Charge, error) {
	if s.err != nil {
		return Charge{}, s.err
	}
	c := Charge{OrderID: req.OrderID, Amount: req.Amount, Approved: unit(s.cfg.Seed, req.OrderID, 1) >= s.cfg.DeclineRate}
	if !c.Approved {
		c.Reason = "card_declined"
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO charges (order_id, amount, approved, reason) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		c.OrderID, c.Amount, c.Approved, c.Reason)
	if err != nil {
		return Charge{}, fmt.Errorf("record charge: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return c, nil
	}
	return s.entry(ctx, req.OrderID)
}

// entry returns the ledger's entry of an order, which decide or
// refundOrder has just made sure it has.
func (s *Server) entry(ctx context.Context, orderID string) (Charge, error) {
	var c Charge
	err := s.db.QueryRowContext(ctx, `SELECT order_id, amount, approved, reason, refunded FROM charges WHERE order_id = ?`, orderID).
		Scan(&c.OrderID, &c.Amount, &c.Approved, &c.Reason, &c.Refunded)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Charge{}, fmt.Errorf("charge of %s vanished from the ledger", orderID)
	case err != nil:
		return Charge{}, fmt.Errorf("read charge of %s: %w", orderID, err)
	}
	return c, nil
}

func (s *Server) refund(w http.ResponseWriter, r *http.Request) {
	var req ChargeRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.OrderID == "" {
		http.Error(w, "want JSON {order_id}", http.StatusBadRequest)
		return
	}
	c, err := s.refundOrder(r.Context(), req.OrderID)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, c)
}

// ReasonVoided is the reason of the ledger entry a refund leaves for an
// order the provider had not charged.
const ReasonVoided = "voided"

// refundOrder marks an approved charge refunded and returns it; a
// declined one is returned unchanged, nothing having been taken. A refund
// of an order with no charge voids the order: the ledger records it
// declined, so that a charge arriving later is declined too, as an
// idempotency key has it, instead of taking money for an order its shop
// cancelled. That charge is one the shop gave up waiting for and this
// provider had not yet decided (queued, or still in its latency): the
// monolith at 2,800 orders/s on two cores left 601 cancelled orders
// charged when the refund, finding nothing, was taken as settled.
func (s *Server) refundOrder(ctx context.Context, orderID string) (Charge, error) {
	if s.err != nil {
		return Charge{}, s.err
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO charges (order_id, amount, approved, reason) VALUES (?, 0, 0, ?) ON CONFLICT DO NOTHING`, orderID, ReasonVoided); err != nil {
		return Charge{}, fmt.Errorf("void %s: %w", orderID, err)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE charges SET refunded = 1 WHERE order_id = ? AND approved = 1`, orderID); err != nil {
		return Charge{}, fmt.Errorf("refund %s: %w", orderID, err)
	}
	return s.entry(ctx, orderID)
}

// LedgerDB is the ledger's file in the provider's data directory.
const LedgerDB = "ledger.db"

// ledger answers every charge the provider decided, sorted by order id:
// what the money checker holds the systems to.
func (s *Server) ledger(w http.ResponseWriter, r *http.Request) {
	if s.err != nil {
		http.Error(w, s.err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	// An error past the first byte cannot change the status: the answer
	// lacks its closing bracket instead, and the client's decoder fails.
	_, _ = writeLedger(r.Context(), s.db, w)
}

// ExportLedger writes the ledger in the database at path, which no
// provider has open any more, to w as GET /ledger answers it, and returns
// how many charges it holds. The testbed reads it so once every process
// of a run has stopped: the ledger and the systems' tables are then one
// end state, with no charge made between the reading of the one and of
// the other.
func ExportLedger(ctx context.Context, path string, w io.Writer) (int, error) {
	db, err := store.OpenReadOnly(path)
	if err != nil {
		return 0, fmt.Errorf("export ledger: %w", err)
	}
	defer db.Close()
	n, err := writeLedger(ctx, db, w)
	if err != nil {
		return n, fmt.Errorf("export ledger %s: %w", path, err)
	}
	return n, nil
}

// writeLedger streams the charges table into w as a JSON array sorted by
// order id, one charge at a time. On an error the array is left without
// its closing bracket, so that no reader takes part of the ledger for all
// of it.
func writeLedger(ctx context.Context, db *sql.DB, w io.Writer) (int, error) {
	rows, err := db.QueryContext(ctx, `SELECT order_id, amount, approved, reason, refunded FROM charges ORDER BY order_id`)
	if err != nil {
		return 0, fmt.Errorf("read ledger: %w", err)
	}
	defer rows.Close()
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	sep := byte('[')
	n := 0
	for rows.Next() {
		var c Charge
		if err := rows.Scan(&c.OrderID, &c.Amount, &c.Approved, &c.Reason, &c.Refunded); err != nil {
			return n, errors.Join(fmt.Errorf("read ledger: %w", err), bw.Flush())
		}
		_ = bw.WriteByte(sep)
		sep = ','
		if err := enc.Encode(c); err != nil {
			return n, fmt.Errorf("write ledger: %w", err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, errors.Join(fmt.Errorf("read ledger: %w", err), bw.Flush())
	}
	if sep == '[' {
		_ = bw.WriteByte('[')
	}
	_, _ = bw.WriteString("]\n")
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("write ledger: %w", err)
	}
	return n, nil
}

// DecodeLedger reads a ledger as GET /ledger and ExportLedger write it, a
// JSON array of charges, handing each charge to fn as it is decoded, so
// that a long run's ledger is never held whole; an array cut short is an
// error.
func DecodeLedger(r io.Reader, fn func(Charge)) error {
	dec := json.NewDecoder(r)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return fmt.Errorf("decode ledger: want a JSON array, got %v (%v)", tok, err)
	}
	for n := 0; dec.More(); n++ {
		var c Charge
		if err := dec.Decode(&c); err != nil {
			return fmt.Errorf("decode ledger: charge %d: %w", n, err)
		}
		fn(c)
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("decode ledger: %w", err)
	}
	return nil
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

// ErrUnavailable is wrapped when the provider could not be reached or
// answered with a server error: the caller may retry, the charge is unknown.
var ErrUnavailable = errors.New("payment provider unavailable")

// ServeConfig is what the runtime hands the PSP process.
type ServeConfig struct {
	Listen string `json:"listen"`
	// DataDir holds the ledger's database; empty keeps it in memory.
	DataDir string `json:"data_dir,omitempty"`
	Config
	Telemetry telemetry.Config `json:"telemetry"`
}
