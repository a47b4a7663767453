package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Names of the files of a run bundle. The per-architecture files lie in a
// directory named after the architecture, the charts in ChartsDir.
const (
	SummaryFile     = "summary.json"
	MarkdownFile    = "report.md"
	HTMLFile        = "index.html"
	Table1File      = "table1.csv"
	Table2File      = "table2.csv"
	SecondsFile     = "seconds.csv"
	BacklogFile     = "backlog.csv"
	PercentilesFile = "latency-percentiles.csv"
	ChartsDir       = "charts"
)

// WriteBundle writes the run bundle of s into dir, creating it if needed:
// summary.json, report.md, index.html, table1.csv and table2.csv, the
// charts under charts/, and for every architecture <arch>/seconds.csv,
// <arch>/backlog.csv and <arch>/latency-percentiles.csv. It refuses a
// summary whose schema_version is not SchemaVersion, because ReadSummary
// could not read the bundle back.
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
	// Everything is rendered before anything is written, so that a
	// summary that cannot be rendered leaves no half-written bundle.
	files, err := derivedFiles(s)
	if err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	files = append([]bundleFile{{SummaryFile, append(js, '\n')}}, files...)
	if err := writeFiles(dir, files); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	return nil
}

// Regenerate rewrites every file of the bundle in dir that is derived from
// its summary.json (the report, the tables, the series and the charts)
// without touching summary.json itself. A bundle written by WriteBundle
// comes out byte for byte the same, which is what lets `testbed report`
// redo a report without redoing the run.
func Regenerate(dir string) error {
	s, err := ReadSummary(filepath.Join(dir, SummaryFile))
	if err != nil {
		return err
	}
	if err := checkArchNames(s.Architectures); err != nil {
		return fmt.Errorf("regenerate %s: %w", dir, err)
	}
	files, err := derivedFiles(s)
	if err != nil {
		return fmt.Errorf("regenerate %s: %w", dir, err)
	}
	if err := writeFiles(dir, files); err != nil {
		return fmt.Errorf("regenerate %s: %w", dir, err)
	}
	return nil
}

// bundleFile is one file of a bundle, by its slash-separated path in the
// bundle.
type bundleFile struct {
	path string
	data []byte
}

// derivedFiles renders every file of the bundle of s but summary.json.
func derivedFiles(s *Summary) ([]bundleFile, error) {
	charts, err := drawCharts(s)
	if err != nil {
		return nil, err
	}
	doc := build(s)
	page, err := doc.html(s, charts)
	if err != nil {
		return nil, err
	}
	t1, err := table1CSV(s)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", Table1File, err)
	}
	t2, err := table2CSV(s)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", Table2File, err)
	}
	files := []bundleFile{
		{MarkdownFile, doc.markdown()},
		{HTMLFile, page},
		{Table1File, t1},
		{Table2File, t2},
	}
	for _, c := range charts {
		files = append(files, bundleFile{c.path(), c.svg})
	}
	for _, a := range s.Architectures {
		for _, f := range []struct {
			name   string
			render func(Arch) ([]byte, error)
		}{
			{SecondsFile, secondsCSV},
			{BacklogFile, backlogCSV},
			{PercentilesFile, percentilesCSV},
		} {
			b, err := f.render(a)
			if err != nil {
				return nil, fmt.Errorf("render %s/%s: %w", a.Name, f.name, err)
			}
			files = append(files, bundleFile{path.Join(a.Name, f.name), b})
		}
	}
	return files, nil
}

func writeFiles(dir string, files []bundleFile) error {
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(p), err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	return nil
}

// checkArchNames rejects names that cannot be a directory of their own in
// the bundle: each architecture's CSV files go to <dir>/<name>/, so a name
// must be one local path element, unique, and not the name of another file
// of the bundle.
func checkArchNames(archs []Arch) error {
	seen := make(map[string]bool, len(archs))
	var errs []error
	for _, a := range archs {
		switch {
		case a.Name == "." || strings.ContainsAny(a.Name, `/\`) || !filepath.IsLocal(a.Name):
			errs = append(errs, fmt.Errorf("architecture name %q is not usable as a directory name", a.Name))
		case reserved(a.Name):
			errs = append(errs, fmt.Errorf("architecture name %q is the name of a file of the bundle", a.Name))
		case seen[a.Name]:
			errs = append(errs, fmt.Errorf("architecture %q appears twice", a.Name))
		}
		seen[a.Name] = true
	}
	return errors.Join(errs...)
}

// reserved reports whether name is taken at the top of a bundle.
func reserved(name string) bool {
	switch name {
	case SummaryFile, MarkdownFile, HTMLFile, Table1File, Table2File, ChartsDir:
		return true
	}
	return false
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
