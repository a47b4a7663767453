package logship

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// fileDocs turns the lines of one component's log file into Elasticsearch
// documents. It carries the last timestamp seen so that lines without one (a
// panic trace written to stderr after the last log record) sort next to the
// record they follow instead of at the epoch.
type fileDocs struct {
	label    string
	extra    map[string]json.RawMessage
	lastTime string
}

func newFileDocs(label string, extra map[string]json.RawMessage, fallback time.Time) *fileDocs {
	return &fileDocs{label: label, extra: extra, lastTime: fallback.UTC().Format(time.RFC3339Nano)}
}

// doc returns the document for line number n and whether the line was a
// JSON object. Fields of the line win over the labels Ship adds, so a line
// that names its own component or architecture keeps it.
func (f *fileDocs) doc(n int, line []byte) ([]byte, bool, error) {
	var fields map[string]json.RawMessage
	isJSON := json.Unmarshal(line, &fields) == nil && fields != nil
	if !isJSON {
		msg, err := json.Marshal(string(line))
		if err != nil {
			return nil, false, fmt.Errorf("encode line %d: %w", n, err)
		}
		fields = map[string]json.RawMessage{
			"msg":   msg,
			"level": json.RawMessage(`"ERROR"`),
			"raw":   json.RawMessage(`true`),
		}
	}

	if ts, ok := parseTime(fields["time"]); ok {
		f.lastTime = ts
		delete(fields, "time")
		fields["@timestamp"] = quote(ts)
	} else if _, ok := fields["@timestamp"]; !ok {
		fields["@timestamp"] = quote(f.lastTime)
	}
	setDefault(fields, "component", quote(f.label))
	for k, v := range f.extra {
		setDefault(fields, k, v)
	}
	fields["log_line"] = json.RawMessage(fmt.Sprint(n))

	doc, err := json.Marshal(fields)
	if err != nil {
		return nil, false, fmt.Errorf("encode line %d: %w", n, err)
	}
	return doc, isJSON, nil
}

// parseTime reads slog's "time" value (RFC 3339 with the writer's offset)
// and returns it in UTC, the form Elasticsearch stores.
func parseTime(raw json.RawMessage) (string, bool) {
	var s string
	if raw == nil || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "", false
	}
	return t.UTC().Format(time.RFC3339Nano), true
}

func setDefault(fields map[string]json.RawMessage, k string, v json.RawMessage) {
	if _, ok := fields[k]; !ok {
		fields[k] = v
	}
}

func quote(s string) json.RawMessage {
	b, _ := json.Marshal(s) // a Go string always encodes
	return b
}

// trimLine drops the line ending and reports whether anything is left.
func trimLine(line []byte) ([]byte, bool) {
	line = bytes.TrimRight(line, "\r\n")
	return line, len(bytes.TrimSpace(line)) > 0
}
