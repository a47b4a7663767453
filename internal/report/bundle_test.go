package report

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestBundleRoundTrip(t *testing.T) {
	want := fixture(t)
	dir := t.TempDir()
	if err := WriteBundle(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSummary(filepath.Join(dir, SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("summary changed on the way through WriteBundle and ReadSummary:\ngot  %+v\nwant %+v", got, want)
	}
	// The fixture was written the way WriteBundle writes, so the bytes
	// match too: field order is the struct's and stays put.
	written, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(filepath.Join("testdata", SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(written, orig) {
		t.Errorf("summary.json is not byte-identical to the fixture it was read from:\n%s", written)
	}
}

func TestReadSummarySchemaVersion(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		wantErr []string
	}{
		{"newer", `{"schema_version": 2, "architectures": "a shape this version does not know"}`, []string{"schema_version 2", "reads schema_version 1"}},
		{"older", `{"schema_version": 0}`, []string{"schema_version 0", "reads schema_version 1"}},
		{"missing", `{"run_id": "x"}`, []string{"no schema_version", "reads schema_version 1"}},
		{"not json", `schema_version: 1`, []string{"read summary"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), SummaryFile)
			if err := os.WriteFile(path, []byte(tt.json), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := ReadSummary(path)
			if err == nil {
				t.Fatalf("ReadSummary accepted %s: %+v", tt.json, s)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

func TestReadSummaryMissingFile(t *testing.T) {
	if _, err := ReadSummary(filepath.Join(t.TempDir(), "absent.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadSummary of a missing file = %v, want a not-exist error", err)
	}
}

func TestWriteBundleRefuses(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Summary)
		wantErr string
	}{
		{"unknown schema version", func(s *Summary) { s.SchemaVersion = 7 }, "schema_version 7, want 1"},
		{"empty name", func(s *Summary) { s.Architectures[0].Name = "" }, `name "" is not usable`},
		{"parent dir", func(s *Summary) { s.Architectures[0].Name = ".." }, `name ".." is not usable`},
		{"current dir", func(s *Summary) { s.Architectures[0].Name = "." }, `name "." is not usable`},
		{"path", func(s *Summary) { s.Architectures[0].Name = "a/b" }, `name "a/b" is not usable`},
		{"duplicate", func(s *Summary) { s.Architectures[1].Name = s.Architectures[0].Name }, `"eda" appears twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fixture(t)
			tt.edit(s)
			dir := filepath.Join(t.TempDir(), "bundle")
			err := WriteBundle(dir, s)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("WriteBundle = %v, want an error saying %q", err, tt.wantErr)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("a refused bundle left %s behind", dir)
			}
		})
	}
}
