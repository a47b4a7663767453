package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Names of the files of a run bundle.
const (
	SummaryFile  = "summary.json"
	SecondsFile  = "seconds.csv"
	MarkdownFile = "report.md"
)

// WriteBundle writes the run bundle of s into dir, creating it if needed:
// summary.json, <arch>/seconds.csv for every architecture and report.md.
// It refuses a summary whose schema_version is not SchemaVersion, because
// ReadSummary could not read the bundle back.
func WriteBundle(dir string, s *Summary) error {
	if s.SchemaVersion != SchemaVersion {
		return fmt.Errorf("write bundle: summary has schema_version %d, want %d", s.SchemaVersion, SchemaVersion)
	}
	if err := checkArchNames(s.Architectures); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}

	js, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode summary: %w", err)
	}
	var md bytes.Buffer
	if err := Markdown(&md, s); err != nil {
		return err
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create bundle dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, SummaryFile), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	for _, a := range s.Architectures {
		if err := writeSeconds(filepath.Join(dir, a.Name), a.Seconds); err != nil {
			return fmt.Errorf("write %s seconds: %w", a.Name, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, MarkdownFile), md.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// checkArchNames rejects names that cannot be a directory of their own in
// the bundle: each architecture's CSV goes to <dir>/<name>/, so a name must
// be one local path element and unique.
func checkArchNames(archs []Arch) error {
	seen := make(map[string]bool, len(archs))
	var errs []error
	for _, a := range archs {
		switch {
		case a.Name == "." || strings.ContainsAny(a.Name, `/\`) || !filepath.IsLocal(a.Name):
			errs = append(errs, fmt.Errorf("architecture name %q is not usable as a directory name", a.Name))
		case seen[a.Name]:
			errs = append(errs, fmt.Errorf("architecture %q appears twice", a.Name))
		}
		seen[a.Name] = true
	}
	return errors.Join(errs...)
}

// writeSeconds writes dir/seconds.csv, one row per window. fault_active is
// 1 or 0 so that plotting tools can use the column as a number.
func writeSeconds(dir string, seconds []Second) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	header := []string{"t", "offered", "accepted", "failed", "completed", "completed_in_deadline", "fault_active"}
	if err := w.Write(header); err != nil {
		return err
	}
	for _, s := range seconds {
		fault := "0"
		if s.FaultActive {
			fault = "1"
		}
		rec := []string{
			strconv.Itoa(s.T),
			strconv.FormatInt(s.Offered, 10),
			strconv.FormatInt(s.Accepted, 10),
			strconv.FormatInt(s.Failed, 10),
			strconv.FormatInt(s.Completed, 10),
			strconv.FormatInt(s.CompletedInDeadline, 10),
			fault,
		}
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, SecondsFile), buf.Bytes(), 0o644)
}

// ReadSummary reads a summary.json. It refuses a schema_version other than
// SchemaVersion rather than guess what the fields of another version mean.
func ReadSummary(path string) (*Summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read summary: %w", err)
	}
	// The version is checked before the full decode so that a file of
	// another version fails on its version, not on some field whose type
	// changed.
	var v struct {
		SchemaVersion *int `json:"schema_version"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("read summary %s: %w", path, err)
	}
	if v.SchemaVersion == nil {
		return nil, fmt.Errorf("read summary %s: no schema_version; this testbed reads schema_version %d", path, SchemaVersion)
	}
	if *v.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("read summary %s: schema_version %d is not supported; this testbed reads schema_version %d", path, *v.SchemaVersion, SchemaVersion)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("read summary %s: %w", path, err)
	}
	return &s, nil
}
