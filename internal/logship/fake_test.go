package logship

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeES answers the requests the go-elasticsearch v8 client makes for
// Ship and ApplyTemplate the way an Elasticsearch 8 node does, and fails
// the test when a request would not be accepted by one.
//
// The v8 client's product check (elasticsearch.go, genuineCheckHeader)
// reads the X-Elastic-Product header on the first 2xx response; unlike 7.14
// to 7.17 it makes no GET / first. The fake sends that header on every
// answer, as Elasticsearch does, unless noProduct is set, and still answers
// GET / in case a client version asks.
type fakeES struct {
	t         *testing.T
	srv       *httptest.Server
	noProduct bool   // leave out X-Elastic-Product, as a non-Elasticsearch server would
	auth      string // required "user:password", empty for none; others get a 401
	// blockBulk holds every _bulk request until the client gives up on it;
	// bulkStarted is closed when the first one arrives.
	blockBulk   bool
	bulkStarted chan struct{}

	mu           sync.Mutex
	docs         map[string]map[string]any // _index/_id -> source
	bulkHeaders  []http.Header
	bulkIndices  []string // index in each _bulk path
	templates    map[string][]byte
	refreshed    []string
	startedBulks int
}

func newFakeES(t *testing.T, configure func(*fakeES)) *fakeES {
	t.Helper()
	f := &fakeES{
		t:           t,
		docs:        map[string]map[string]any{},
		templates:   map[string][]byte{},
		bulkStarted: make(chan struct{}),
	}
	if configure != nil {
		configure(f)
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeES) serve(w http.ResponseWriter, r *http.Request) {
	if !f.noProduct {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
	}
	if f.auth != "" {
		user, pass, ok := r.BasicAuth()
		if !ok || user+":"+pass != f.auth {
			w.Header().Set("WWW-Authenticate", `Basic realm="security" charset="UTF-8"`)
			f.esError(w, http.StatusUnauthorized, "security_exception", "missing authentication credentials for REST request")
			return
		}
	}
	if ua := r.UserAgent(); !strings.HasPrefix(ua, "go-elasticsearch/8.") {
		f.t.Errorf("%s %s: User-Agent %q, want go-elasticsearch/8.*", r.Method, r.URL.Path, ua)
	}

	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/":
		f.json(w, http.StatusOK, map[string]any{
			"name":         "es01",
			"cluster_name": "docker-cluster",
			"cluster_uuid": "s1ZWHuB-RQOQ4OQ6TSVfNg",
			"version": map[string]any{
				"number":                              "8.19.0",
				"build_flavor":                        "default",
				"build_type":                          "docker",
				"lucene_version":                      "9.12.1",
				"minimum_wire_compatibility_version":  "7.17.0",
				"minimum_index_compatibility_version": "7.0.0",
			},
			"tagline": "You Know, for Search",
		})
	case r.Method == http.MethodPost && parts[len(parts)-1] == "_bulk" && len(parts) <= 2:
		index := ""
		if len(parts) == 2 {
			index = parts[0]
		}
		f.bulk(w, r, index)
	case r.Method == http.MethodPut && len(parts) == 2 && parts[0] == "_index_template":
		f.putTemplate(w, r, parts[1])
	case r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "_refresh":
		f.mu.Lock()
		f.refreshed = append(f.refreshed, parts[0])
		f.mu.Unlock()
		f.json(w, http.StatusOK, map[string]any{"_shards": map[string]int{"total": 2, "successful": 1, "failed": 0}})
	default:
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL)
		f.esError(w, http.StatusMethodNotAllowed, "illegal_argument_exception", "unexpected request "+r.Method+" "+r.URL.Path)
	}
}

// bulk checks the NDJSON body (action line, source line, final newline) and
// answers with one item per action. A source whose "order" is an object
// fails the way the template's keyword mapping makes Elasticsearch fail it.
func (f *fakeES) bulk(w http.ResponseWriter, r *http.Request, pathIndex string) {
	f.mu.Lock()
	f.bulkHeaders = append(f.bulkHeaders, r.Header.Clone())
	f.bulkIndices = append(f.bulkIndices, pathIndex)
	f.startedBulks++
	if f.startedBulks == 1 {
		close(f.bulkStarted)
	}
	f.mu.Unlock()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("read _bulk body: %v", err)
		return
	}
	if f.blockBulk {
		// The server notices a client hanging up only once the body is
		// read, hence the read above.
		<-r.Context().Done()
		return
	}

	// Elasticsearch takes these for _bulk and answers 406 to anything else.
	switch ct := r.Header.Get("Content-Type"); ct {
	case "application/x-ndjson", "application/json",
		"application/vnd.elasticsearch+x-ndjson;compatible-with=8", "application/vnd.elasticsearch+json;compatible-with=8":
	default:
		f.t.Errorf("_bulk Content-Type %q", ct)
		f.esError(w, http.StatusNotAcceptable, "media_type_header_exception", "Content-Type header ["+ct+"] is not supported")
		return
	}
	if !bytes.HasSuffix(body, []byte("\n")) {
		f.t.Errorf("_bulk body does not end with a newline")
		f.esError(w, http.StatusBadRequest, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
		return
	}

	var items []map[string]any
	hasErrors := false
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || len(action) != 1 {
			f.t.Errorf("_bulk action line %q: %v", sc.Text(), err)
			return
		}
		meta, ok := action["index"]
		if !ok {
			f.t.Errorf("_bulk action %q, want index", sc.Text())
			return
		}
		if meta.Index == "" {
			meta.Index = pathIndex
		}
		if meta.Index == "" || meta.ID == "" {
			f.t.Errorf("_bulk action %q: no index or id (path index %q)", sc.Text(), pathIndex)
			return
		}
		if !sc.Scan() {
			f.t.Errorf("_bulk action %q has no source line", meta.ID)
			return
		}
		var src map[string]any
		if err := json.Unmarshal(sc.Bytes(), &src); err != nil {
			f.t.Errorf("_bulk source of %s is not a JSON object: %v", meta.ID, err)
			return
		}
		f.checkDoc(meta.ID, src)

		result := map[string]any{"_index": meta.Index, "_id": meta.ID}
		if order, isObject := src["order"].(map[string]any); isObject {
			hasErrors = true
			preview, _ := json.Marshal(order)
			result["status"] = http.StatusBadRequest
			result["error"] = map[string]any{
				"type":   "mapper_parsing_exception",
				"reason": fmt.Sprintf("failed to parse field [order] of type [keyword] in document with id '%s'. Preview of field's value: '%s'", meta.ID, preview),
				"caused_by": map[string]any{
					"type":   "illegal_state_exception",
					"reason": "Can't get text on a START_OBJECT at 1:120",
				},
			}
		} else {
			f.mu.Lock()
			_, existed := f.docs[meta.Index+"/"+meta.ID]
			f.docs[meta.Index+"/"+meta.ID] = src
			seq := len(f.docs)
			f.mu.Unlock()
			result["_version"] = 1
			result["result"] = "created"
			result["status"] = http.StatusCreated
			if existed {
				result["result"] = "updated"
				result["status"] = http.StatusOK
			}
			result["_shards"] = map[string]int{"total": 2, "successful": 1, "failed": 0}
			result["_seq_no"] = seq - 1
			result["_primary_term"] = 1
		}
		items = append(items, map[string]any{"index": result})
	}
	if err := sc.Err(); err != nil {
		f.t.Errorf("scan _bulk body: %v", err)
	}
	f.json(w, http.StatusOK, map[string]any{"errors": hasErrors, "took": 3, "items": items})
}

// checkDoc holds what every shipped document must carry.
func (f *fakeES) checkDoc(id string, src map[string]any) {
	ts, _ := src["@timestamp"].(string)
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		f.t.Errorf("doc %s: @timestamp %q: %v", id, src["@timestamp"], err)
	}
	for _, k := range []string{"component", "run_id", "level", "msg"} {
		if s, _ := src[k].(string); s == "" {
			f.t.Errorf("doc %s: %s is %v, want a non-empty string", id, k, src[k])
		}
	}
	if _, ok := src["time"]; ok {
		f.t.Errorf("doc %s: kept \"time\" next to @timestamp", id)
	}
}

func (f *fakeES) putTemplate(w http.ResponseWriter, r *http.Request, name string) {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		f.t.Errorf("PUT _index_template Content-Type %q, want application/json", ct)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("read template body: %v", err)
		return
	}
	var tmpl struct {
		IndexPatterns []string       `json:"index_patterns"`
		Template      map[string]any `json:"template"`
	}
	if err := json.Unmarshal(body, &tmpl); err != nil || len(tmpl.IndexPatterns) == 0 {
		f.esError(w, http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: index patterns are missing;")
		return
	}
	f.mu.Lock()
	f.templates[name] = body
	f.mu.Unlock()
	f.json(w, http.StatusOK, map[string]any{"acknowledged": true})
}

func (f *fakeES) json(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		f.t.Errorf("write response: %v", err)
	}
}

func (f *fakeES) esError(w http.ResponseWriter, status int, typ, reason string) {
	cause := map[string]any{"type": typ, "reason": reason}
	f.json(w, status, map[string]any{
		"error":  map[string]any{"root_cause": []any{cause}, "type": typ, "reason": reason},
		"status": status,
	})
}

func (f *fakeES) doc(index, id string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.docs[index+"/"+id]
}
