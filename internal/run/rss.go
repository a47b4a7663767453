package run

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// rss is the resident memory of a process and of every process descended
// from it (the components the local runtime started, and theirs), as the
// kernel reports it in /proc/<pid>/smaps_rollup.
type rss struct {
	Self     Resident
	Children []ProcessMemory // in the order of a walk from the process down
}

// Resident is a process's resident memory two ways, in bytes. RSS counts
// every page the process maps, shared or not; PSS divides each shared page
// among the processes that map it. The testbed and every component of the
// local runtime are one binary, whose code (some 35 MiB resident in each)
// is in memory once however many processes run it: summed over ten
// processes, RSS counts it ten times, PSS once.
type Resident struct {
	RSS int64
	PSS int64
}

// plus is r and o together, both ways.
func (r Resident) plus(o Resident) Resident {
	return Resident{RSS: r.RSS + o.RSS, PSS: r.PSS + o.PSS}
}

// sumResident is the resident memory of procs together, both ways.
func sumResident(procs []ProcessMemory) Resident {
	var n Resident
	for _, p := range procs {
		n = n.plus(p.Resident)
	}
	return n
}

// sampleRSS reads the resident memory of process self and its descendants
// from a /proc file system rooted at proc. Processes that exit between the
// listing and the reading are left out; self itself must be readable.
func sampleRSS(proc string, self int) (rss, error) {
	var out rss
	own, err := resident(filepath.Join(proc, strconv.Itoa(self), "smaps_rollup"))
	if err != nil {
		return out, fmt.Errorf("sample rss of %d: %w", self, err)
	}
	out.Self = own
	entries, err := os.ReadDir(proc)
	if err != nil {
		return out, fmt.Errorf("sample rss: %w", err)
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		ppid, err := parentPID(filepath.Join(proc, e.Name(), "stat"))
		if err != nil {
			continue // exited since the listing, or not a process
		}
		children[ppid] = append(children[ppid], pid)
	}
	for queue := children[self]; len(queue) > 0; queue = queue[1:] {
		pid := queue[0]
		queue = append(queue, children[pid]...)
		dir := filepath.Join(proc, strconv.Itoa(pid))
		r, err := resident(filepath.Join(dir, "smaps_rollup"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("sample rss of %d: %w", pid, err)
		}
		cmd, _ := os.ReadFile(filepath.Join(dir, "cmdline")) // empty for a zombie
		out.Children = append(out.Children, ProcessMemory{PID: pid, Name: processName(cmd), Resident: r})
	}
	return out, nil
}

// processName names a process by its command line (NUL-separated, as in
// /proc/<pid>/cmdline): a component of a run by its unit, as eda/order-api
// (the architecture from the config path arch.go lays out), anything else
// by its program and first two arguments; a zombie, which has none, as
// (exited).
func processName(cmdline []byte) string {
	if len(cmdline) == 0 {
		return "(exited)"
	}
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	if len(args) >= 5 && args[1] == "serve" && args[3] == "--config" {
		return filepath.Base(filepath.Dir(filepath.Dir(args[4]))) + "/" + args[2]
	}
	args[0] = filepath.Base(args[0])
	return strings.Join(args[:min(len(args), 3)], " ")
}

// parentPID reads the parent's pid from a /proc/<pid>/stat file. The
// command name in parentheses may hold spaces and parentheses itself, so
// the fields are counted from the last ')'.
func parentPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: no command name", path)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, fmt.Errorf("%s: no parent pid", path)
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, fmt.Errorf("%s: parent pid: %w", path, err)
	}
	return ppid, nil
}

// resident reads Rss and Pss from a /proc/<pid>/smaps_rollup file (Linux
// 4.14 and later), in bytes. A process without them (a zombie, whose file
// is empty) has no resident memory.
func resident(path string) (Resident, error) {
	f, err := os.Open(path)
	if err != nil {
		return Resident{}, err
	}
	defer f.Close()
	var r Resident
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, v, ok := strings.Cut(sc.Text(), ":")
		var into *int64
		switch key {
		case "Rss":
			into = &r.RSS
		case "Pss":
			into = &r.PSS
		}
		if !ok || into == nil {
			continue
		}
		num, unit, _ := strings.Cut(strings.TrimSpace(v), " ")
		kb, err := strconv.ParseInt(num, 10, 64)
		if err != nil || unit != "kB" {
			return Resident{}, fmt.Errorf("%s: %s %q: want <n> kB", path, key, strings.TrimSpace(v))
		}
		*into = kb << 10
	}
	return r, sc.Err()
}
