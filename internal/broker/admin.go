package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Admin talks to a broker process's admin API.
type Admin struct {
	base string
	http *http.Client
}

// NewAdmin returns a client for the broker whose admin API listens on addr.
func NewAdmin(addr string) *Admin {
	return &Admin{base: "http://" + addr, http: &http.Client{Transport: &http.Transport{Proxy: nil}}}
}

// Nodes lists the broker nodes with the partitions each leads.
func (a *Admin) Nodes(ctx context.Context) ([]Node, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/nodes", nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("list broker nodes: %w", err)
	}
	defer resp.Body.Close()
	var out []Node
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("list broker nodes: %w", err)
	}
	return out, nil
}

// Remove takes a node out of the cluster; its partitions get new leaders.
func (a *Admin) Remove(ctx context.Context, id int32) error { return a.post(ctx, id, "remove") }

// Restore brings a removed node back on its port.
func (a *Admin) Restore(ctx context.Context, id int32) error { return a.post(ctx, id, "restore") }

func (a *Admin) post(ctx context.Context, id int32, what string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("%s/nodes/%d/%s", a.base, id, what), nil)
	if err != nil {
		return err
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s broker node %d: %w", what, id, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s broker node %d: %s: %s", what, id, resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}
