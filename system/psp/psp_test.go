package psp

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

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
	if _, err := c.Refund(ctx, "never-charged"); err == nil {
		t.Fatal("refund of an unknown order succeeded")
	}
	ledger, err := c.Ledger(ctx)
	if err != nil || len(ledger) != 1 || !ledger[0].Refunded || ledger[0].Amount != 500 {
		t.Fatalf("ledger = %+v, %v; want the one refunded charge of 500", ledger, err)
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
	if err := refundPending(ctx, NewClient(dead.URL, nil), db, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("reconciling against an unreachable provider reported success")
	}
	if err := refundPending(ctx, c, db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pending_refunds`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("pending refunds left = %d, %v; want 0", left, err)
	}
	ledger, _ := c.Ledger(ctx)
	if len(ledger) != 1 || !ledger[0].Refunded {
		t.Fatalf("ledger = %+v; want the charged order refunded", ledger)
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
