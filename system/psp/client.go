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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/ledger", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read ledger: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("read ledger: %s: %s", resp.Status, bytes.TrimSpace(data))
	}
	var out []Charge
	err = DecodeLedger(resp.Body, func(ch Charge) { out = append(out, ch) })
	return out, err
}
