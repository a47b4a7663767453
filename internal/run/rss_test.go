package run

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testdata/proc is a /proc with a testbed (100), its children 101 (whose
// own child is 103), 102 (a command name with ") " in it), 104 (a zombie,
// whose smaps_rollup is empty) and 105 (exited between the listing and the
// reading: no smaps_rollup), and an unrelated 200.
func TestSampleRSS(t *testing.T) {
	const kib = 1 << 10
	mem := func(rss, pss int64) Resident { return Resident{RSS: rss * kib, PSS: pss * kib} }
	tests := []struct {
		proc string
		self int
		want rss
		err  string
	}{
		{"testdata/proc", 100, rss{Self: mem(51200, 40000), Children: []ProcessMemory{
			{101, "eda/broker", mem(20480, 9000)},
			{102, "odd) name -x", mem(1024, 1024)},
			{104, "(exited)", Resident{}},
			{103, "eda/order-api", mem(4096, 2048)},
		}}, ""},
		{"testdata/proc", 101, rss{Self: mem(20480, 9000), Children: []ProcessMemory{{103, "eda/order-api", mem(4096, 2048)}}}, ""},
		{"testdata/proc", 103, rss{Self: mem(4096, 2048)}, ""},
		{"testdata/proc", 999, rss{}, "sample rss of 999"},
		{"testdata/proc-bad", 100, rss{}, `Pss "lots": want <n> kB`},
	}
	for _, tt := range tests {
		got, err := sampleRSS(tt.proc, tt.self)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("sampleRSS(%s, %d) = %v, want an error with %q", tt.proc, tt.self, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("sampleRSS(%s, %d) = %+v, %v; want %+v", tt.proc, tt.self, got, err, tt.want)
		}
	}
	got, _ := sampleRSS("testdata/proc", 100)
	if sum, want := sumResident(got.Children), mem(20480+1024+4096, 9000+1024+2048); sum != want {
		t.Errorf("children of 100: %+v, want %+v", sum, want)
	}
}

func TestFlat(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		start, end int64
		want       bool
	}{
		{100 * mib, 100 * mib, true},
		{100 * mib, 50 * mib, true},  // shrinking is flat
		{100 * mib, 116 * mib, true}, // 16 MiB floor over 10 %
		{100 * mib, 116*mib + 1, false},
		{400 * mib, 440 * mib, true}, // 10 % over the floor
		{400 * mib, 440*mib + mib, false},
		{0, 16 * mib, true}, // no start value: the floor
		{30 * mib, 30*mib + 16*mib + mib, false},
	}
	for _, tt := range tests {
		if got := flat(tt.start, tt.end); got != tt.want {
			t.Errorf("flat(%d MiB, %.2f MiB) = %v, want %v", tt.start/mib, float64(tt.end)/mib, got, tt.want)
		}
	}
}

// The memory bench's samples land in its two CSV files, a line a sample
// and a line a child process a sample.
func TestWriteMemory(t *testing.T) {
	dir := t.TempDir()
	samples := []MemorySample{
		{At: 1500 * time.Millisecond, Testbed: Resident{RSS: 100 << 20, PSS: 80 << 20}, Children: []ProcessMemory{
			{7, "eda/broker", Resident{RSS: 30 << 20, PSS: 20 << 20}},
			{8, "eda/psp", Resident{RSS: 10 << 20, PSS: 5 << 20}},
		}},
		{At: 3 * time.Second, Testbed: Resident{RSS: 101 << 20, PSS: 101 << 20}},
	}
	if err := writeMemory(dir, samples); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		MemoryFile: "at_s,testbed_rss_kib,testbed_pss_kib,children_rss_kib,children_pss_kib,total_rss_kib,total_pss_kib,children\n" +
			"1.5,102400,81920,40960,25600,143360,107520,2\n3.0,103424,103424,0,0,103424,103424,0\n",
		MemoryProcessesFile: "at_s,pid,process,rss_kib,pss_kib\n1.5,7,eda/broker,30720,20480\n1.5,8,eda/psp,10240,5120\n",
	} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != want {
			t.Errorf("%s =\n%s\nwant\n%s", file, b, want)
		}
	}
}
