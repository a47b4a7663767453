package domain

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// CatalogConfig shapes the generated catalogue and orders. It comes from the
// scenario, so every component of every architecture derives the same
// catalogue from the same seed without talking to each other.
type CatalogConfig struct {
	Seed        int64 `json:"seed"`
	SKUs        int   `json:"skus"`
	StockMin    int   `json:"stock_min"`
	StockMax    int   `json:"stock_max"`
	ItemsMax    int   `json:"items_max"`
	QuantityMax int   `json:"quantity_max"`
}

// Product is one entry of the catalogue with its initial stock.
type Product struct {
	SKU   string
	Price int64 // cents
	Stock int
}

// Catalog is the deterministic product list of a run.
type Catalog struct {
	cfg      CatalogConfig
	products []Product
	index    map[string]int
}

// NewCatalog derives the catalogue from cfg. Equal configs give equal
// catalogues.
func NewCatalog(cfg CatalogConfig) (*Catalog, error) {
	if cfg.SKUs < 1 || cfg.StockMin < 0 || cfg.StockMax < cfg.StockMin || cfg.ItemsMax < 1 || cfg.QuantityMax < 1 {
		return nil, fmt.Errorf("catalogue config %+v: need skus >= 1, 0 <= stock_min <= stock_max, items_max >= 1, quantity_max >= 1", cfg)
	}
	r := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x636174616c6f67)) // "catalog"
	c := &Catalog{cfg: cfg, products: make([]Product, cfg.SKUs), index: make(map[string]int, cfg.SKUs)}
	for i := range c.products {
		p := Product{
			SKU:   fmt.Sprintf("SKU-%05d", i+1),
			Price: 100 + r.Int64N(99_900),
			Stock: cfg.StockMin + r.IntN(cfg.StockMax-cfg.StockMin+1),
		}
		c.products[i] = p
		c.index[p.SKU] = i
	}
	return c, nil
}

// Products lists the catalogue in SKU order; callers must not modify it.
func (c *Catalog) Products() []Product { return c.products }

// Price of a SKU in cents.
func (c *Catalog) Price(sku string) (int64, bool) {
	i, ok := c.index[sku]
	if !ok {
		return 0, false
	}
	return c.products[i].Price, true
}

// TotalStock is the sum of the initial stock, the quantity a conservation
// check holds the end state to.
func (c *Catalog) TotalStock() int {
	n := 0
	for _, p := range c.products {
		n += p.Stock
	}
	return n
}

// Order returns the seq-th order of the run's load. It depends only on the
// config and seq, so both architectures receive identical orders and the
// generator needs no lock.
func (c *Catalog) Order(prefix string, seq uint64) PlaceOrder {
	r := rand.New(rand.NewPCG(uint64(c.cfg.Seed), seq))
	n := 1 + r.IntN(min(c.cfg.ItemsMax, len(c.products)))
	o := PlaceOrder{
		ID:       fmt.Sprintf("%s%08d", prefix, seq),
		Customer: fmt.Sprintf("cust-%05d", r.IntN(10_000)),
		Items:    make([]Item, 0, n),
	}
	// Rejection sampling: n is tiny next to the catalogue, so this beats a
	// permutation of every product per order.
	for len(o.Items) < n {
		sku := c.products[r.IntN(len(c.products))].SKU
		if !slices.ContainsFunc(o.Items, func(it Item) bool { return it.SKU == sku }) {
			o.Items = append(o.Items, Item{SKU: sku, Quantity: 1 + r.IntN(c.cfg.QuantityMax)})
		}
	}
	return o
}
