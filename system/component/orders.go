package component

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/edatestbed/testbed/system/domain"
)

// PlaceOrder is the POST /orders endpoint every architecture exposes: it
// decodes and validates the order, hands it to place and answers code with
// what place returns; 400 for an order that is not valid, 503 when place
// fails, so the load generator classifies every architecture alike.
func PlaceOrder(log *slog.Logger, c *domain.Catalog, code int, place func(context.Context, domain.PlaceOrder) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req domain.PlaceOrder
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
			http.Error(w, "decode order: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := req.Validate(c); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out, err := place(r.Context(), req)
		if err != nil {
			log.Error("place order", "order", req.ID, "err", err)
			http.Error(w, "place order: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		WriteJSON(w, code, out)
	}
}
