package logship

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestFileDocs(t *testing.T) {
	fallback := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	extra := map[string]json.RawMessage{"run_id": quote("r1"), "arch": quote("monolith")}

	// One file's lines in order: the builder carries the last timestamp.
	lines := []struct {
		line       string
		wantJSON   bool
		wantFields map[string]any
	}{
		{
			line:     `panic: early`,
			wantJSON: false,
			wantFields: map[string]any{
				"@timestamp": "2025-03-14T09:00:00Z", "msg": "panic: early", "level": "ERROR", "raw": true,
				"component": "monolith", "run_id": "r1", "arch": "monolith", "log_line": float64(1),
			},
		},
		{
			line:     `{"time":"2025-03-14T11:00:00.5+02:00","level":"INFO","msg":"placed","component":"monolith-http","order":"o-9"}`,
			wantJSON: true,
			wantFields: map[string]any{
				"@timestamp": "2025-03-14T09:00:00.5Z", "level": "INFO", "msg": "placed", "component": "monolith-http",
				"order": "o-9", "run_id": "r1", "arch": "monolith", "log_line": float64(2),
			},
		},
		{
			line:     `42`, // JSON, but not a record
			wantJSON: false,
			wantFields: map[string]any{
				"@timestamp": "2025-03-14T09:00:00.5Z", "msg": "42", "level": "ERROR", "raw": true,
				"component": "monolith", "run_id": "r1", "arch": "monolith", "log_line": float64(3),
			},
		},
		{
			line:     `{"level":"INFO","msg":"no time","arch":"eda","time":"yesterday"}`,
			wantJSON: true,
			wantFields: map[string]any{
				"@timestamp": "2025-03-14T09:00:00.5Z", "time": "yesterday", "level": "INFO", "msg": "no time",
				"component": "monolith", "run_id": "r1", "arch": "eda", "log_line": float64(4),
			},
		},
	}

	docs := newFileDocs("monolith", extra, fallback)
	for i, tt := range lines {
		doc, isJSON, err := docs.doc(i+1, []byte(tt.line))
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if isJSON != tt.wantJSON {
			t.Errorf("line %d: isJSON = %v, want %v", i+1, isJSON, tt.wantJSON)
		}
		var got map[string]any
		if err := json.Unmarshal(doc, &got); err != nil {
			t.Fatalf("line %d: doc %s: %v", i+1, doc, err)
		}
		if !reflect.DeepEqual(got, tt.wantFields) {
			t.Errorf("line %d: doc = %v\nwant %v", i+1, got, tt.wantFields)
		}
	}
}

func TestTrimLine(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"{}\n", "{}", true},
		{"{}\r\n", "{}", true},
		{"last", "last", true},
		{"\n", "", false},
		{" \t\n", " \t", false},
	}
	for _, tt := range tests {
		got, ok := trimLine([]byte(tt.in))
		if string(got) != tt.want || ok != tt.ok {
			t.Errorf("trimLine(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
