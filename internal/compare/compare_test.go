package compare

import (
	"context"
	"testing"
	"time"
)

func TestBothGeneratorsAreMeasured(t *testing.T) {
	if testing.Short() {
		t.Skip("searches two load generators' ceilings; skipped with -short")
	}
	r, err := Run(context.Background(), 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if r.Ours <= 0 || r.Vegeta <= 0 || r.Rate <= 0 || r.OursP99 <= 0 || r.VegetaP99 <= 0 {
		t.Fatalf("incomplete measurement: %+v", r)
	}
	if r.Rate > r.Ours || r.Rate > r.Vegeta {
		t.Fatalf("common rate %.0f above a generator's ceiling: %+v", r.Rate, r)
	}
}
