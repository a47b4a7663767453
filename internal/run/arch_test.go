package run

import (
	"slices"
	"testing"

	"github.com/edatestbed/testbed/internal/runtime/local"
	"github.com/edatestbed/testbed/scenarios"
	"github.com/edatestbed/testbed/system/eda"
)

// The accept-only EDA of bench systems starts what order-api's accept path
// needs and nothing of the saga; the whole EDA starts every service.
func TestEDALayouts(t *testing.T) {
	sc, err := scenarios.Parse("bench", []byte(benchScenario))
	if err != nil {
		t.Fatal(err)
	}
	whole := append([]string{"broker", pspComponent}, eda.Components()...)
	for _, tt := range []struct {
		name       string
		acceptOnly bool
		want       []string
	}{
		{"whole", false, whole},
		{"accept only", true, []string{"broker", eda.OrderAPI}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := planner{dir: t.TempDir(), sc: sc, host: "127.0.0.1", ports: local.NewPorts(), acceptOnly: tt.acceptOnly}
			pl, err := p.eda()
			if err != nil {
				t.Fatal(err)
			}
			defer pl.close()
			var got []string
			for _, u := range pl.components {
				got = append(got, u.name)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("components = %v, want %v", got, tt.want)
			}
			if pl.orderURL == "" {
				t.Error("no order URL: the load has nowhere to go")
			}
		})
	}
}
