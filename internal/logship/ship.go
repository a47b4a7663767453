package logship

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esutil"
)

// IndexPrefix starts the name of every run's log index; the index template
// in dashboards/elasticsearch matches it.
const IndexPrefix = "testbed-logs-"

// maxReasons bounds how many distinct item failures Ship spells out in its
// error; the rest are only counted.
const maxReasons = 5

// Config says where and how to ship.
type Config struct {
	URL        string // Elasticsearch base URL, e.g. http://127.0.0.1:9200
	Index      string // e.g. IndexName(runID): "testbed-logs-<run-id>"
	Username   string // basic auth; empty for none
	Password   string
	FlushBytes int // bulk request size threshold; 0 means the client's 5 MB
	Workers    int // concurrent bulk requests; 0 means one per CPU
}

// Stats counts what one Ship call did.
type Stats struct {
	Files   int // log files read to the end
	Lines   int // documents handed to the bulk indexer, NonJSON included
	Indexed int // documents Elasticsearch accepted
	Failed  int // documents rejected or lost to a failed request
	NonJSON int // lines that were not a JSON object, shipped as raw messages
}

// IndexName returns the index for a run's logs. Elasticsearch index names
// must be lowercase and free of a few separators, so those are replaced.
func IndexName(runID string) string {
	return IndexPrefix + strings.Map(func(r rune) rune {
		if strings.ContainsRune(`\/*?"<>| ,#:`, r) {
			return '-'
		}
		return r
	}, strings.ToLower(runID))
}

// Ship sends the JSON log files, one per component (label -> path), to
// cfg.Index with the bulk API, adds the extra fields (run_id, arch,
// scenario, ...) to every document that lacks them, and refreshes the index
// so the documents are searchable when it returns. A missing or unreadable
// file is reported in the error but does not stop the others. Documents get
// the id "<label>:<line>", so shipping the same run again overwrites rather
// than duplicates.
func Ship(ctx context.Context, cfg Config, files map[string]string, extra map[string]string) (Stats, error) {
	if err := cfg.validate(); err != nil {
		return Stats{}, fmt.Errorf("ship logs: %w", err)
	}
	if err := validIndexName(cfg.Index); err != nil {
		return Stats{}, fmt.Errorf("ship logs: %w", err)
	}
	es, err := newClient(cfg)
	if err != nil {
		return Stats{}, fmt.Errorf("ship logs: %w", err)
	}
	defer es.Close(context.WithoutCancel(ctx))

	extraJSON := make(map[string]json.RawMessage, len(extra))
	for k, v := range extra {
		extraJSON[k] = quote(v)
	}

	var out outcomes
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{
		Client:     es,
		Index:      cfg.Index,
		NumWorkers: cfg.Workers,
		FlushBytes: cfg.FlushBytes,
		// The client labels _bulk bodies application/json; say what they are.
		Header: http.Header{"Content-Type": {"application/x-ndjson"}},
		// Workers flush with a background context of their own; hand them
		// ours so cancelling Ship aborts requests in flight.
		OnFlushStart: func(context.Context) context.Context { return ctx },
	})
	if err != nil {
		return Stats{}, fmt.Errorf("ship logs: create bulk indexer: %w", err)
	}

	var (
		stats Stats
		errs  []error
	)
	labels := make([]string, 0, len(files))
	for label := range files {
		labels = append(labels, label)
	}
	sort.Strings(labels)
	for _, label := range labels {
		err := shipFile(ctx, bi, &out, label, files[label], extraJSON, &stats)
		if ctx.Err() != nil {
			break // reported once below
		}
		if err != nil {
			errs = append(errs, err)
		}
	}

	// Close waits for the workers; after a cancellation their requests fail
	// at once, so this does not hang on a slow server.
	if err := bi.Close(context.WithoutCancel(ctx)); err != nil {
		errs = append(errs, fmt.Errorf("close bulk indexer: %w", err))
	}
	stats.Indexed, stats.Failed = out.counts()
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	} else if stats.Indexed > 0 {
		if err := refresh(ctx, es, cfg.Index); err != nil {
			errs = append(errs, err)
		}
	}
	if err := out.err(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return stats, fmt.Errorf("ship logs to %s: %w", cfg.Index, errors.Join(errs...))
	}
	return stats, nil
}

// shipFile adds every non-empty line of one file to the indexer.
func shipFile(ctx context.Context, bi esutil.BulkIndexer, out *outcomes, label, path string, extra map[string]json.RawMessage, stats *Stats) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open log %s: %w", label, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat log %s: %w", label, err)
	}

	docs := newFileDocs(label, extra, info.ModTime())
	r := bufio.NewReaderSize(f, 64<<10)
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, readErr := r.ReadBytes('\n')
		if readErr != nil && readErr != io.EOF {
			return fmt.Errorf("read log %s: %w", label, readErr)
		}
		if line, ok := trimLine(line); ok {
			doc, isJSON, err := docs.doc(n, line)
			if err != nil {
				return fmt.Errorf("log %s: %w", label, err)
			}
			err = bi.Add(ctx, esutil.BulkIndexerItem{
				Action:     "index",
				DocumentID: fmt.Sprintf("%s:%d", label, n),
				Body:       bytes.NewReader(doc),
				OnSuccess:  out.success,
				OnFailure:  out.failure,
			})
			if err != nil {
				return fmt.Errorf("queue log %s line %d: %w", label, n, err)
			}
			stats.Lines++
			if !isJSON {
				stats.NonJSON++
			}
		}
		if readErr == io.EOF {
			stats.Files++
			return nil
		}
	}
}

// outcomes collects the per-document results the indexer's workers report.
type outcomes struct {
	mu      sync.Mutex
	indexed int
	failed  int
	reasons []string
}

func (o *outcomes) success(context.Context, esutil.BulkIndexerItem, esutil.BulkIndexerResponseItem) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.indexed++
}

func (o *outcomes) failure(_ context.Context, item esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem, err error) {
	reason := failureReason(res, err)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failed++
	if len(o.reasons) >= maxReasons {
		return
	}
	for _, r := range o.reasons {
		if strings.HasSuffix(r, ": "+reason) {
			return
		}
	}
	o.reasons = append(o.reasons, item.DocumentID+": "+reason)
}

func (o *outcomes) counts() (indexed, failed int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.indexed, o.failed
}

func (o *outcomes) err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failed == 0 {
		return nil
	}
	return fmt.Errorf("%d documents failed, first distinct reasons: %s", o.failed, strings.Join(o.reasons, "; "))
}

func failureReason(res esutil.BulkIndexerResponseItem, err error) string {
	if err != nil {
		return err.Error()
	}
	reason := fmt.Sprintf("status %d %s: %s", res.Status, res.Error.Type, res.Error.Reason)
	if res.Error.Cause.Type != "" {
		reason += fmt.Sprintf(" (caused by %s: %s)", res.Error.Cause.Type, res.Error.Cause.Reason)
	}
	return reason
}

func refresh(ctx context.Context, es *elasticsearch.Client, index string) error {
	res, err := es.Indices.Refresh(es.Indices.Refresh.WithIndex(index), es.Indices.Refresh.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("refresh %s: %w", index, err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return fmt.Errorf("refresh %s: %s", index, res.String())
	}
	return nil
}

func newClient(cfg Config) (*elasticsearch.Client, error) {
	es, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses:     []string{cfg.URL},
		Username:      cfg.Username,
		Password:      cfg.Password,
		RetryOnStatus: []int{429, 502, 503, 504},
		// The default retries every transport error, a cancelled context
		// included; a cancelled Ship must not try three more times.
		RetryOnError: func(req *http.Request, _ error) bool { return req.Context().Err() == nil },
		RetryBackoff: func(attempt int) time.Duration { return time.Duration(attempt) * 250 * time.Millisecond },
	})
	if err != nil {
		return nil, fmt.Errorf("create elasticsearch client: %w", err)
	}
	return es, nil
}

func (cfg Config) validate() error {
	if cfg.URL == "" {
		return errors.New("config: URL is empty")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("config: URL %q: want http(s)://host:port", cfg.URL)
	}
	return nil
}

// validIndexName applies Elasticsearch's index name rules so a bad run id
// fails before any request rather than as an invalid_index_name_exception
// on every bulk item.
func validIndexName(name string) error {
	switch {
	case name == "":
		return errors.New("config: Index is empty")
	case name != strings.ToLower(name):
		return fmt.Errorf("config: Index %q: must be lowercase", name)
	case strings.ContainsAny(name, `\/*?"<>| ,#:`):
		return fmt.Errorf("config: Index %q: must not contain a space or any of %s", name, `\/*?"<>|,#:`)
	case strings.IndexAny(name[:1], "-_+") == 0:
		return fmt.Errorf("config: Index %q: must not start with -, _ or +", name)
	case name == "." || name == "..":
		return fmt.Errorf("config: Index %q: not allowed", name)
	case len(name) > 255:
		return fmt.Errorf("config: Index %q: longer than 255 bytes", name)
	}
	return nil
}
