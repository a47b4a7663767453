package psp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// Client calls the provider.
type Client struct {
	base string
	http *http.Client
}

// NewClient returns a client for the provider at base (http://host:port).
// The caller's context bounds every call.
func NewClient(base string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 256}}
	}
	return &Client{base: base, http: hc}
}

// Charge pays an order. A decline is a Charge with Approved false and a nil
// error; an error wraps ErrUnavailable when the outcome is unknown.
func (c *Client) Charge(ctx context.Context, orderID string, amount int64) (Charge, error) {
	return c.post(ctx, "/charges", ChargeRequest{OrderID: orderID, Amount: amount})
}

// Refund gives back the money of a charged order.
func (c *Client) Refund(ctx context.Context, orderID string) (Charge, error) {
	return c.post(ctx, "/refunds", ChargeRequest{OrderID: orderID})
}

func (c *Client) post(ctx context.Context, path string, body ChargeRequest) (Charge, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return Charge{}, fmt.Errorf("encode %s: %w", path, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(b))
	if err != nil {
		return Charge{}, fmt.Errorf("build %s request: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return Charge{}, fmt.Errorf("%w: %s: %w", ErrUnavailable, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Charge{}, fmt.Errorf("%w: read %s answer: %w", ErrUnavailable, path, err)
	}
	if resp.StatusCode >= 500 {
		return Charge{}, fmt.Errorf("%w: %s answered %s", ErrUnavailable, path, resp.Status)
	}
	if resp.StatusCode == http.StatusNotFound {
		return Charge{}, fmt.Errorf("%w: %s", ErrNoCharge, bytes.TrimSpace(data))
	}
	if resp.StatusCode != http.StatusOK {
		return Charge{}, fmt.Errorf("%s answered %s: %s", path, resp.Status, bytes.TrimSpace(data))
	}
	var ch Charge
	if err := json.Unmarshal(data, &ch); err != nil {
		return Charge{}, fmt.Errorf("decode %s answer: %w", path, err)
	}
	return ch, nil
}

// Ledger returns every charge the provider decided.
func (c *Client) Ledger(ctx context.Context) ([]Charge, error) {
	var out []Charge
	err := c.ledger(ctx, io.Discard, func(ch Charge) { out = append(out, ch) })
	return out, err
}

// SaveLedger copies the provider's ledger into w as it arrives, holding
// one charge at a time, checks that it came whole, and returns how many
// charges it holds.
func (c *Client) SaveLedger(ctx context.Context, w io.Writer) (int, error) {
	n := 0
	err := c.ledger(ctx, w, func(Charge) { n++ })
	return n, err
}

// ledger reads GET /ledger, a JSON array of charges, copying it into w and
// handing each charge to fn.
func (c *Client) ledger(ctx context.Context, w io.Writer, fn func(Charge)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/ledger", nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("read ledger: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("read ledger: %s: %s", resp.Status, bytes.TrimSpace(data))
	}
	body := io.TeeReader(resp.Body, w)
	dec := json.NewDecoder(body)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return fmt.Errorf("decode ledger: want a JSON array, got %v (%v)", tok, err)
	}
	for dec.More() {
		var ch Charge
		if err := dec.Decode(&ch); err != nil {
			return fmt.Errorf("decode ledger: %w", err)
		}
		fn(ch)
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("decode ledger: %w", err)
	}
	// What follows the array (its newline) goes into w too.
	if _, err := io.Copy(io.Discard, body); err != nil {
		return fmt.Errorf("read ledger: %w", err)
	}
	return nil
}
