package psp

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/edatestbed/testbed/system/store"
)

func TestDecisionsDependOnSeedAndOrderOnly(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Seed: 3, DeclineRate: 0.3}
	a := httptest.NewServer(NewServer(cfg).Handler())
	defer a.Close()
	b := httptest.NewServer(NewServer(cfg).Handler())
	defer b.Close()
	ca, cb := NewClient(a.URL, nil), NewClient(b.URL, nil)

	declined := 0
	const n = 400
	for i := range n {
		id := fmt.Sprintf("o-%d", i)
		// Ask the two providers in opposite orders: the answers must agree.
		x, err := ca.Charge(ctx, id, 100)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cb.Charge(ctx, fmt.Sprintf("o-%d", n-1-i), 100); err != nil {
			t.Fatal(err)
		}
		if !x.Approved {
			declined++
		}
	}
	for i := range n {
		id := fmt.Sprintf("o-%d", i)
		x, _ := ca.Charge(ctx, id, 100)
		y, _ := cb.Charge(ctx, id, 100)
		if x.Approved != y.Approved {
			t.Fatalf("order %s: providers with the same seed disagree", id)
		}
	}
	// 0.3 of 400 = 120; a binomial sd is ~9, so 60..180 only fails if the
	// hash is badly broken.
	if declined < 60 || declined > 180 {
		t.Fatalf("declined %d of %d at rate 0.3", declined, n)
	}
}

func TestChargeIsIdempotentAndRefundable(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(NewServer(Config{Seed: 1}).Handler())
	defer srv.Close()
	c := NewClient(srv.URL, nil)
	first, err := c.Charge(ctx, "o-1", 500)
	if err != nil || !first.Approved {
		t.Fatalf("charge = %+v, %v", first, err)
	}
	again, err := c.Charge(ctx, "o-1", 999)
	if err != nil || again.Amount != 500 {
		t.Fatalf("second charge = %+v, %v; want the first answer", again, err)
	}
	r, err := c.Refund(ctx, "o-1")
	if err != nil || !r.Refunded {
		t.Fatalf("refund = %+v, %v", r, err)
	}
	ledger, err := c.Ledger(ctx)
	if err != nil || len(ledger) != 1 || !ledger[0].Refunded || ledger[0].Amount != 500 {
		t.Fatalf("ledger = %+v, %v; want the one refunded charge of 500", ledger, err)
	}
}

// TestRefundBeforeChargeVoids refunds an order the provider has not
// charged yet, as a shop does when it gave up waiting for the charge: the
// charge that arrives after must be declined, not taken.
func TestRefundBeforeChargeVoids(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(NewServer(Config{Seed: 1}).Handler())
	defer srv.Close()
	c := NewClient(srv.URL, nil)
	v, err := c.Refund(ctx, "o-late")
	if err != nil || v.Approved || v.Reason != ReasonVoided {
		t.Fatalf("refund before the charge = %+v, %v; want the order voided", v, err)
	}
	late, err := c.Charge(ctx, "o-late", 500)
	if err != nil || late.Approved {
		t.Fatalf("charge after the void = %+v, %v; want it declined", late, err)
	}
	ledger, err := c.Ledger(ctx)
	if err != nil || len(ledger) != 1 || ledger[0].Approved || ledger[0].Amount != 0 {
		t.Fatalf("ledger = %+v, %v; want one declined entry of 0", ledger, err)
	}
}

func TestUnavailable(t *testing.T) {
	srv := httptest.NewServer(NewServer(Config{}).Handler())
	url := srv.URL
	srv.Close()
	_, err := NewClient(url, nil).Charge(context.Background(), "o-1", 1)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("charge against a closed server = %v, want ErrUnavailable", err)
	}
}

func TestReconcileRefunds(t *testing.T) {
	ctx := context.Background()
	srv := NewServer(Config{Seed: 1})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	c := NewClient(hs.URL, nil)
	if _, err := c.Charge(ctx, "charged", 100); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "r.db"), RefundSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = store.InTx(ctx, db, func(tx *sql.Tx) error {
		return errors.Join(QueueRefund(ctx, tx, "charged"), QueueRefund(ctx, tx, "never-charged"))
	})
	if err != nil {
		t.Fatal(err)
	}
	// An unreachable provider keeps the refunds owed.
	dead := httptest.NewServer(nil)
	dead.Close()
	if n, err := refundPending(ctx, NewClient(dead.URL, nil), db, slog.New(slog.DiscardHandler)); err == nil || n != 0 {
		t.Fatalf("reconciling against an unreachable provider = %d settled, %v; want none and an error", n, err)
	}
	if n, err := refundPending(ctx, c, db, slog.New(slog.DiscardHandler)); err != nil || n != 2 {
		t.Fatalf("reconciling = %d settled, %v; want 2", n, err)
	}
	var left int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pending_refunds`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("pending refunds left = %d, %v; want 0", left, err)
	}
	ledger, _ := c.Ledger(ctx)
	if len(ledger) != 2 || !ledger[0].Refunded || ledger[1].Approved || ledger[1].Reason != ReasonVoided {
		t.Fatalf("ledger = %+v; want the charged order refunded and the other voided", ledger)
	}
}

// More refunds queued than a pass asks for are all settled without
// waiting out the interval between passes: an overload that queues them
// faster than a batch an interval must not leave them owed.
func TestReconcileRefundsDrainsBacklog(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hs := httptest.NewServer(NewServer(Config{Seed: 1}).Handler())
	defer hs.Close()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "r.db"), RefundSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	queued := 2*refundBatch + 50
	err = store.InTx(ctx, db, func(tx *sql.Tx) error {
		for i := range queued {
			if err := QueueRefund(ctx, tx, fmt.Sprintf("o-%d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ReconcileRefunds(ctx, NewClient(hs.URL, nil), db, slog.New(slog.DiscardHandler), time.Hour)
	}()
	// The first pass runs at once and the next one would be an hour
	// later: every refund settled means the passes went on by themselves.
	deadline := time.Now().Add(30 * time.Second)
	left := queued
	for left > 0 && time.Now().Before(deadline) {
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pending_refunds`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // between polls, not in place of one
	}
	cancel()
	<-done
	if left != 0 {
		t.Fatalf("%d of %d refunds still owed; want none before the interval's first tick", left, queued)
	}
}

func TestBreakerOpensAndRecovers(t *testing.T) {
	ctx := context.Background()
	dead := httptest.NewServer(nil)
	dead.Close()
	g := NewGuarded(NewClient(dead.URL, nil), "psp")
	for range breakerConsecutive {
		if _, err := g.Charge(ctx, "o", 1); !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrBreakerOpen) {
			t.Fatalf("charge to a dead provider = %v; want unavailable, breaker still closed", err)
		}
	}
	if _, err := g.Charge(ctx, "o", 1); !errors.Is(err, ErrBreakerOpen) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("charge after %d failures = %v; want the breaker open", breakerConsecutive, err)
	}
	if g.State() != "open" {
		t.Fatalf("state = %s, want open", g.State())
	}
	// Declines are answers, not failures: they never trip the breaker.
	declining := httptest.NewServer(NewServer(Config{Seed: 1, DeclineRate: 1}).Handler())
	defer declining.Close()
	h := NewGuarded(NewClient(declining.URL, nil), "psp")
	for i := range 2 * breakerMinCalls {
		if ch, err := h.Charge(ctx, fmt.Sprint("d-", i), 1); err != nil || ch.Approved {
			t.Fatalf("charge %d = %+v, %v; want a decline", i, ch, err)
		}
	}
	if h.State() != "closed" {
		t.Fatalf("declines opened the breaker")
	}
}

// The ledger lives in its database: a provider opened again on the same
// file answers the charges it decided before, first answers kept, and the
// file, once closed, exports whole and sorted by order id.
func TestLedgerOnDisk(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	cfg := Config{Seed: 1}
	first, err := Open(ctx, cfg, path)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(first.Handler())
	c := NewClient(srv.URL, nil)
	for _, id := range []string{"o-3", "o-1", "o-2"} {
		if _, err := c.Charge(ctx, id, 100); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Refund(ctx, "o-2"); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	again, err := Open(ctx, cfg, path)
	if err != nil {
		t.Fatal(err)
	}
	srv = httptest.NewServer(again.Handler())
	c = NewClient(srv.URL, nil)
	if ch, err := c.Charge(ctx, "o-1", 999); err != nil || ch.Amount != 100 {
		t.Fatalf("charge again after reopening = %+v, %v; want the first answer, 100", ch, err)
	}
	srv.Close()
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
	var saved bytes.Buffer
	n, err := ExportLedger(ctx, path, &saved)
	if err != nil || n != 3 {
		t.Fatalf("ExportLedger = %d, %v; want 3 charges", n, err)
	}
	var ledger []Charge
	if err := json.Unmarshal(saved.Bytes(), &ledger); err != nil {
		t.Fatalf("exported ledger is not JSON: %v\n%s", err, saved.Bytes())
	}
	var ids []string
	for _, ch := range ledger {
		ids = append(ids, ch.OrderID)
		if ch.Refunded != (ch.OrderID == "o-2") {
			t.Errorf("%s refunded = %v", ch.OrderID, ch.Refunded)
		}
	}
	if want := []string{"o-1", "o-2", "o-3"}; !slices.Equal(ids, want) {
		t.Errorf("ledger order ids = %v, want %v", ids, want)
	}
}

// A ledger cut short, or an error answer, is an error, never a shorter
// ledger taken for the whole.
func TestLedgerRefusesPartialAnswers(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		body   string
	}{
		{"cut short", http.StatusOK, `[{"order_id":"o-1","amount":1,"approved":true,"refunded":false}` + "\n"},
		{"not an array", http.StatusOK, `{"order_id":"o-1"}`},
		{"server error", http.StatusInternalServerError, "read ledger: disk I/O error"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			if l, err := NewClient(srv.URL, nil).Ledger(context.Background()); err == nil {
				t.Fatalf("Ledger = %d charges, nil error; want an error", len(l))
			}
		})
	}
	empty := httptest.NewServer(NewServer(Config{}).Handler())
	defer empty.Close()
	if l, err := NewClient(empty.URL, nil).Ledger(context.Background()); err != nil || len(l) != 0 {
		t.Fatalf("empty ledger: %d, %v; want 0 charges, no error", len(l), err)
	}
}
