package run

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/edatestbed/testbed/dashboards/elasticsearch"
	"github.com/edatestbed/testbed/internal/logship"
)

// shipLogs sends every component's log of the run to Elasticsearch, one
// index per run, after applying the index template.
func shipLogs(ctx context.Context, url, dir, runID, scenario string, archs []*archRun, progress io.Writer) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	cfg := logship.Config{URL: url, Index: logship.IndexName(runID)}
	if err := logship.ApplyTemplate(ctx, cfg, elasticsearch.Template()); err != nil {
		return fmt.Errorf("ship logs to %s: %w", url, err)
	}
	for _, a := range archs {
		files, _ := filepath.Glob(filepath.Join(dir, a.plan.arch, "logs", "*.log"))
		labels := map[string]string{}
		for _, f := range files {
			labels[strings.TrimSuffix(filepath.Base(f), ".log")] = f
		}
		st, err := logship.Ship(ctx, cfg, labels, map[string]string{"run_id": runID, "arch": a.plan.arch, "scenario": scenario})
		fmt.Fprintf(progress, "logs: %s: %d lines from %d files indexed into %s (%d failed)\n", a.plan.arch, st.Indexed, st.Files, cfg.Index, st.Failed)
		if err != nil {
			return fmt.Errorf("ship %s logs: %w", a.plan.arch, err)
		}
	}
	return nil
}
