package logship

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
)

// TemplateName is the name ApplyTemplate stores the index template under.
const TemplateName = "testbed-logs"

// ApplyTemplate installs templateJSON (dashboards/elasticsearch/
// index-template.json) as the composable index template TemplateName,
// replacing an older version. Run it before the first Ship of a run: the
// template only applies to indices created after it. When cfg.Index is set,
// the template's index_patterns must match it, so a renamed index cannot
// silently fall back to dynamic mappings.
func ApplyTemplate(ctx context.Context, cfg Config, templateJSON []byte) error {
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("apply index template: %w", err)
	}
	var tmpl struct {
		IndexPatterns []string `json:"index_patterns"`
	}
	if err := json.Unmarshal(templateJSON, &tmpl); err != nil {
		return fmt.Errorf("apply index template: parse: %w", err)
	}
	if len(tmpl.IndexPatterns) == 0 {
		return errors.New("apply index template: index_patterns is empty")
	}
	if cfg.Index != "" && !matchesAny(tmpl.IndexPatterns, cfg.Index) {
		return fmt.Errorf("apply index template: index_patterns %q do not match index %q", tmpl.IndexPatterns, cfg.Index)
	}

	es, err := newClient(cfg)
	if err != nil {
		return fmt.Errorf("apply index template: %w", err)
	}
	defer es.Close(context.WithoutCancel(ctx))
	res, err := es.Indices.PutIndexTemplate(TemplateName, bytes.NewReader(templateJSON),
		es.Indices.PutIndexTemplate.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("apply index template %s: %w", TemplateName, err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return fmt.Errorf("apply index template %s: %s", TemplateName, res.String())
	}
	return nil
}

// matchesAny reports whether index matches one of Elasticsearch's index
// patterns, whose only wildcard is "*" (and index names hold no "/").
func matchesAny(patterns []string, index string) bool {
	for _, p := range patterns {
		if ok, err := path.Match(p, index); err == nil && ok {
			return true
		}
	}
	return false
}
