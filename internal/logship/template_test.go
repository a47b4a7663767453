package logship

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const (
	templatePath     = "../../dashboards/elasticsearch/index-template.json"
	savedObjectsPath = "../../dashboards/kibana/saved-objects.ndjson"
)

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestApplyTemplate(t *testing.T) {
	tmpl := readFile(t, templatePath)
	es := newFakeES(t, nil)

	err := ApplyTemplate(context.Background(), Config{URL: es.srv.URL, Index: IndexName("20250314-090000-service-crash")}, tmpl)
	if err != nil {
		t.Fatalf("ApplyTemplate: %v", err)
	}
	es.mu.Lock()
	defer es.mu.Unlock()
	got, ok := es.templates[TemplateName]
	if !ok {
		t.Fatalf("no PUT _index_template/%s; templates: %v", TemplateName, es.templates)
	}
	if !bytes.Equal(got, tmpl) {
		t.Errorf("server got a different template body:\n%s", got)
	}
}

func TestApplyTemplateRefuses(t *testing.T) {
	tests := []struct {
		name  string
		index string
		tmpl  string
		want  string
	}{
		{"index outside the patterns", "other-logs-1", `{"index_patterns":["testbed-logs-*"]}`, "do not match index"},
		{"no patterns", "", `{"template":{}}`, "index_patterns is empty"},
		{"not JSON", "", `index_patterns: [x]`, "parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := newFakeES(t, nil)
			err := ApplyTemplate(context.Background(), Config{URL: es.srv.URL, Index: tt.index}, []byte(tt.tmpl))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ApplyTemplate error = %v, want it to say %q", err, tt.want)
			}
			es.mu.Lock()
			defer es.mu.Unlock()
			if len(es.templates) != 0 {
				t.Errorf("template sent despite the error")
			}
		})
	}
}

func TestApplyTemplateReportsServerError(t *testing.T) {
	es := newFakeES(t, func(f *fakeES) { f.auth = "elastic:changeme" })
	err := ApplyTemplate(context.Background(), Config{URL: es.srv.URL}, readFile(t, templatePath))
	for _, s := range []string{"401", "security_exception"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("ApplyTemplate error = %v, want it to carry %q", err, s)
		}
	}
}

// templateMappings is the part of the index template the tests read.
type templateMappings struct {
	IndexPatterns []string `json:"index_patterns"`
	Template      struct {
		Mappings struct {
			Dynamic    any `json:"dynamic"`
			Properties map[string]struct {
				Type   string `json:"type"`
				Fields map[string]struct {
					Type string `json:"type"`
				} `json:"fields"`
			} `json:"properties"`
		} `json:"mappings"`
	} `json:"template"`
}

func TestIndexTemplateFile(t *testing.T) {
	var tmpl templateMappings
	if err := json.Unmarshal(readFile(t, templatePath), &tmpl); err != nil {
		t.Fatalf("parse %s: %v", templatePath, err)
	}
	if !reflect.DeepEqual(tmpl.IndexPatterns, []string{IndexPrefix + "*"}) {
		t.Errorf("index_patterns = %q, want [%s*]", tmpl.IndexPatterns, IndexPrefix)
	}
	m := tmpl.Template.Mappings
	if m.Dynamic != true {
		t.Errorf("dynamic = %v, want true", m.Dynamic)
	}
	want := map[string]string{
		"@timestamp": "date",
		"level":      "keyword", "component": "keyword", "arch": "keyword", "run_id": "keyword",
		"scenario": "keyword", "trace_id": "keyword", "span_id": "keyword", "order": "keyword",
		"msg": "text", "err": "text", "raw": "boolean", "log_line": "long",
	}
	for field, typ := range want {
		if got := m.Properties[field].Type; got != typ {
			t.Errorf("%s mapped as %q, want %q", field, got, typ)
		}
	}
	if got := m.Properties["msg"].Fields["keyword"].Type; got != "keyword" {
		t.Errorf("msg.keyword mapped as %q, want keyword", got)
	}
}

// savedObject is one line of a Kibana 8 saved-objects export.
type savedObject struct {
	Type                 string         `json:"type"`
	ID                   string         `json:"id"`
	Attributes           map[string]any `json:"attributes"`
	References           []reference    `json:"references"`
	CoreMigrationVersion string         `json:"coreMigrationVersion"`
	TypeMigrationVersion string         `json:"typeMigrationVersion"`
	ExportedCount        *int           `json:"exportedCount"`
}

type reference struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

func TestSavedObjectsFile(t *testing.T) {
	var (
		objects []savedObject
		summary *savedObject
	)
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, savedObjectsPath)))
	for n := 1; sc.Scan(); n++ {
		var o savedObject
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("%s:%d: %v", savedObjectsPath, n, err)
		}
		if o.ExportedCount != nil {
			summary = &o
			continue
		}
		if o.Type == "" || o.ID == "" || o.Attributes == nil || o.References == nil {
			t.Errorf("%s:%d: type, id, attributes and references are required: %s", savedObjectsPath, n, sc.Text())
		}
		if o.CoreMigrationVersion != "8.8.0" || !strings.HasPrefix(o.TypeMigrationVersion, "8.") {
			t.Errorf("%s:%d: coreMigrationVersion %q, typeMigrationVersion %q; want 8.8.0 and an 8.x type version",
				savedObjectsPath, n, o.CoreMigrationVersion, o.TypeMigrationVersion)
		}
		objects = append(objects, o)
	}
	if summary == nil || *summary.ExportedCount != len(objects) {
		t.Errorf("export summary %+v, want exportedCount %d", summary, len(objects))
	}
	byID := map[string]savedObject{}
	for _, o := range objects {
		byID[o.Type+"/"+o.ID] = o
	}

	dv, ok := byID["index-pattern/testbed-logs"]
	if !ok {
		t.Fatalf("no data view index-pattern/testbed-logs among %v", keys(byID))
	}
	if dv.Attributes["title"] != IndexPrefix+"*" || dv.Attributes["timeFieldName"] != "@timestamp" {
		t.Errorf("data view title %v, timeFieldName %v; want %s* and @timestamp", dv.Attributes["title"], dv.Attributes["timeFieldName"], IndexPrefix)
	}

	var tmpl templateMappings
	if err := json.Unmarshal(readFile(t, templatePath), &tmpl); err != nil {
		t.Fatal(err)
	}
	searches := []struct {
		id, title string
		query     []string // parts the KQL query must contain
	}{
		{"testbed-logs-errors", "Errors", []string{"level", `"ERROR"`, `"WARN"`}},
		{"testbed-logs-by-trace-id", "By trace id", []string{"trace_id", "PASTE-TRACE-ID"}},
	}
	for _, want := range searches {
		s, ok := byID["search/"+want.id]
		if !ok {
			t.Errorf("no saved search %s among %v", want.id, keys(byID))
			continue
		}
		if s.Attributes["title"] != want.title {
			t.Errorf("search %s title %v, want %q", want.id, s.Attributes["title"], want.title)
		}
		meta, _ := s.Attributes["kibanaSavedObjectMeta"].(map[string]any)
		var source struct {
			Query struct {
				Query    string `json:"query"`
				Language string `json:"language"`
			} `json:"query"`
			IndexRefName string `json:"indexRefName"`
		}
		if err := json.Unmarshal([]byte(meta["searchSourceJSON"].(string)), &source); err != nil {
			t.Errorf("search %s searchSourceJSON: %v", want.id, err)
			continue
		}
		for _, part := range want.query {
			if !strings.Contains(source.Query.Query, part) {
				t.Errorf("search %s query %q lacks %q", want.id, source.Query.Query, part)
			}
		}
		if source.Query.Language != "kuery" {
			t.Errorf("search %s query language %q, want kuery", want.id, source.Query.Language)
		}
		if !slices.Contains(s.References, reference{ID: dv.ID, Name: source.IndexRefName, Type: "index-pattern"}) {
			t.Errorf("search %s: indexRefName %q does not resolve to the data view in %+v", want.id, source.IndexRefName, s.References)
		}
		columns, _ := s.Attributes["columns"].([]any)
		for _, c := range columns {
			if _, ok := tmpl.Template.Mappings.Properties[c.(string)]; !ok {
				t.Errorf("search %s shows column %v, which the index template does not map", want.id, c)
			}
		}
	}
}

func keys(m map[string]savedObject) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
