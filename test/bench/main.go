// Command bench measures per-operation costs natively and under runsc and
// prints each as a ratio (runsc / native). Usage: go run ./test/bench
// [-runsc bin/runsc] [-runs 5].
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

type benchmark struct {
	name string
	args []string
}

var benchmarks = []benchmark{
	{"getpid", []string{"getpid", "200000"}},
	{"page fault (256 MiB, 1 write per page)", []string{"pagefault", "256"}},
	{"fork + exit + wait", []string{"fork", "300"}},
	{"thread create + join", []string{"thread", "1000"}},
	// Files: a host file reached through the gofer (the root), and a
	// tmpfs file (/dev/shm in both).
	{"open + close (host file)", []string{"open", "20000", "/usr/share/common-licenses/GPL-3"}},
	{"stat (host file)", []string{"stat", "50000", "/usr/share/common-licenses/GPL-3"}},
	{"4 KiB pread (host file)", []string{"pread", "50000", "/usr/share/common-licenses/GPL-3"}},
	{"sequential write, ns per MiB (tmpfs)", []string{"write", "256", "/dev/shm/palisade-bench"}},
}

func main() {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	runsc := flag.String("runsc", filepath.Join(root, "bin", "runsc"), "runsc binary")
	runs := flag.Int("runs", 5, "runs of each benchmark; the median is reported")
	flag.Parse()

	// Not under the host's /tmp: the sandbox has its own tmpfs there.
	dir := filepath.Join(root, "test", "bench", "build")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail(err)
	}
	bin := filepath.Join(dir, "bench")
	if out, err := exec.Command("gcc", "-O2", "-static", "-o", bin, filepath.Join(root, "test", "bench", "testdata", "bench.c")).CombinedOutput(); err != nil {
		fail(fmt.Errorf("build bench.c: %v\n%s", err, out))
	}
	fmt.Printf("%-42s %14s %14s %10s\n", "benchmark", "native ns/op", "runsc ns/op", "ratio")
	for _, b := range benchmarks {
		native := median(*runs, func() float64 { return measure(bin, b.args...) })
		sandboxed := median(*runs, func() float64 { return measure(*runsc, append([]string{"do", bin}, b.args...)...) })
		fmt.Printf("%-42s %14.1f %14.1f %9.1fx\n", b.name, native, sandboxed, sandboxed/native)
	}
}

func measure(name string, args ...string) float64 {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		fail(fmt.Errorf("%s %v: %v", name, args, err))
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		fail(fmt.Errorf("%s %v: bad output %q", name, args, out))
	}
	return v
}

func median(n int, f func() float64) float64 {
	vs := make([]float64, n)
	for i := range vs {
		vs[i] = f()
	}
	sort.Float64s(vs)
	return vs[n/2]
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
