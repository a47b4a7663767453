package stack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFind looks for a tool under bin/ of the working directory and says
// where it looked, as absolute paths, when it is not there.
func TestFind(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("PATH", dir) // nothing of the machine's
	const name = "testbed-no-such-tool"
	path, why := Find(name, "make tools builds it")
	want := filepath.Join(dir, "bin", name)
	if path != "" || !strings.Contains(why, want) || !strings.Contains(why, "make tools builds it") {
		t.Errorf("Find without the tool = %q, %q; want no path and a reason naming %s and the hint", path, why, want)
	}

	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(want, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if path, why := Find(name, ""); path != want || why != "" {
		t.Errorf("Find with bin/%s = %q, %q; want %s", name, path, why, want)
	}
}
