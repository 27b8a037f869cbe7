package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// numericLines returns the lines of s that are numbers, sorted.
func numericLines(s string) []int {
	var out []int
	for _, l := range strings.Split(s, "\n") {
		if n, err := strconv.Atoi(l); err == nil {
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out
}

// TestProcListsSandboxPIDs checks that /proc lists exactly the sandbox's
// processes: the shell (which then becomes ls) and its background sleep.
func TestProcListsSandboxPIDs(t *testing.T) {
	r := do(t, nil, "/bin/sh", "-c", `sleep 5 & echo "$$ $!"; exec ls /proc`)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	first, rest, _ := strings.Cut(r.stdout, "\n")
	var want []int
	for _, f := range strings.Fields(first) {
		n, _ := strconv.Atoi(f)
		want = append(want, n)
	}
	sort.Ints(want)
	got := numericLines(rest)
	if len(got) != len(want) || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("numeric entries of /proc: %v, want the sandbox's pids %v\n%s", got, want, r.stdout)
	}
	for _, name := range []string{"self", "thread-self", "cpuinfo", "meminfo", "stat", "uptime", "loadavg", "sys", "mounts"} {
		if !strings.Contains(rest, "\n"+name+"\n") && !strings.HasPrefix(rest, name+"\n") {
			t.Errorf("/proc has no %s:\n%s", name, rest)
		}
	}
}

// needProcps fails the test if procps (ps, free, top, pgrep) is missing.
func needProcps(t *testing.T) {
	t.Helper()
	for _, p := range []string{"ps", "free", "top", "pgrep"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s missing: these tests need Debian's procps (apt-get install procps)", p)
		}
	}
}

// TestPsAux checks that ps shows the sandbox's processes, with their
// commands, states and parents, and nothing of the host.
func TestPsAux(t *testing.T) {
	needProcps(t)
	script := `sleep 5 & echo "$$ $!"; ps aux; ps -o pid=,ppid=,stat=,comm= -p $!; kill $!`
	r := do(t, nil, "/bin/sh", "-c", script)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 6 {
		t.Fatalf("want the pids, a header, 3 processes and the sleep's line; got\n%s", r.stdout)
	}
	pids := strings.Fields(lines[0])
	if !strings.HasPrefix(lines[1], "USER") {
		t.Errorf("ps header: %q", lines[1])
	}
	commands := map[string]string{}
	for _, l := range lines[2:5] {
		f := strings.Fields(l)
		if len(f) < 11 {
			t.Fatalf("ps aux line %q", l)
		}
		commands[f[1]] = strings.Join(f[10:], " ")
		if f[0] != "root" {
			t.Errorf("user of %q: want root", l)
		}
	}
	if c := commands[pids[0]]; c != "/bin/sh -c "+script {
		t.Errorf("command of the shell (pid %s): %q", pids[0], c)
	}
	if c := commands[pids[1]]; c != "sleep 5" {
		t.Errorf("command of the sleep (pid %s): %q", pids[1], c)
	}
	found := false
	for _, c := range commands {
		found = found || c == "ps aux"
	}
	if !found {
		t.Errorf("ps aux does not show itself: %v", commands)
	}
	f := strings.Fields(lines[5])
	if len(f) != 4 || f[0] != pids[1] || f[1] != pids[0] || f[2] != "S" || f[3] != "sleep" {
		t.Errorf("ps -o pid,ppid,stat,comm of the sleep: %q, want %s %s S sleep", lines[5], pids[1], pids[0])
	}
}

// hostMemTotalKB reads MemTotal from the host's /proc/meminfo.
func hostMemTotalKB(t *testing.T) string {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fs := strings.Fields(s.Text()); len(fs) >= 2 && fs[0] == "MemTotal:" {
			return fs[1]
		}
	}
	t.Fatal("no MemTotal in the host's /proc/meminfo")
	return ""
}

// TestFreeTopPgrep runs free, top and pgrep, which read /proc/meminfo,
// /proc/stat, /proc/loadavg and every process's stat, status and cmdline.
func TestFreeTopPgrep(t *testing.T) {
	needProcps(t)
	r := do(t, nil, "free", "-k")
	if r.code != 0 || !strings.Contains(r.stdout, "Mem:") {
		t.Fatalf("free: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var total, used, free string
	for _, l := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(l); len(f) >= 4 && f[0] == "Mem:" {
			total, used, free = f[1], f[2], f[3]
		}
	}
	if want := hostMemTotalKB(t); total != want {
		t.Errorf("free's total %s kB, want the memory the sandbox may use (the host's %s kB)", total, want)
	}
	if u, _ := strconv.Atoi(used); u <= 0 {
		t.Errorf("free's used %q: the sandbox uses some memory", used)
	}
	if f, _ := strconv.Atoi(free); f <= 0 {
		t.Errorf("free's free %q", free)
	}

	r = do(t, nil, "/bin/sh", "-c", "top -bn1 | head -12")
	if r.code != 0 || !strings.Contains(r.stdout, "Tasks:") || !strings.Contains(r.stdout, "load average:") {
		t.Fatalf("top -bn1: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, " top\n") {
		t.Errorf("top does not list itself:\n%s", r.stdout)
	}

	r = do(t, nil, "/bin/sh", "-c", `sleep 5 & pgrep -x sleep; echo $!; pgrep -f "^sleep 5"; kill $!`)
	ls := strings.Fields(r.stdout)
	if r.code != 0 || len(ls) != 3 || ls[0] != ls[1] || ls[2] != ls[1] {
		t.Errorf("pgrep -x sleep / $! / pgrep -f: %q, want the sleep's pid thrice (stderr %s)", r.stdout, r.stderr)
	}
}

// TestProcSelf checks /proc/self/maps and fd through real programs.
func TestProcSelf(t *testing.T) {
	r := do(t, nil, "cat", "/proc/self/maps")
	if !strings.Contains(r.stdout, "[stack]\n") || !strings.Contains(r.stdout, " /usr/bin/cat\n") || !strings.Contains(r.stdout, "[heap]\n") {
		t.Errorf("cat /proc/self/maps has no [stack], [heap] or /usr/bin/cat:\n%s", r.stdout)
	}
	// The program has stdin, stdout and stderr; listdir adds its own.
	py := `import os; print(sorted(os.listdir("/proc/self/fd"), key=int))`
	r = do(t, nil, "/usr/bin/python3", "-c", py)
	if want := "['0', '1', '2', '3']\n"; r.code != 0 || r.stdout != want {
		t.Errorf("python os.listdir(/proc/self/fd): %q, want %q (stderr %s)", r.stdout, want, r.stderr)
	}
	// /dev/fd leads through /proc/self/fd to a pipe that has no name.
	r = do(t, nil, "/bin/bash", "-c", "cat <(echo through dev fd); echo piped | cat /dev/stdin")
	if r.stdout != "through dev fd\npiped\n" {
		t.Errorf("bash process substitution and /dev/stdin: %q (stderr %s)", r.stdout, r.stderr)
	}
}

// hostCPU returns the value of a field of the host's first processor in
// /proc/cpuinfo.
func hostCPU(t *testing.T, field string) string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.TrimSpace(k) == field {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestCPUInfoAndUptime checks that /proc/cpuinfo describes the host's CPU
// with as many processors as the sandbox may use, and that the sandbox's
// uptime starts at its boot.
func TestCPUInfoAndUptime(t *testing.T) {
	r := do(t, nil, "cat", "/proc/cpuinfo")
	if r.code != 0 {
		t.Fatalf("cat /proc/cpuinfo: exit %d %s", r.code, r.stderr)
	}
	if n := strings.Count(r.stdout, "processor\t: "); n != runtime.NumCPU() {
		t.Errorf("/proc/cpuinfo has %d processors, want %d", n, runtime.NumCPU())
	}
	for _, f := range []string{"vendor_id", "model name", "cpu family", "model", "stepping"} {
		want := f + "\t"
		if f == "model" {
			want += "\t"
		}
		want += ": " + hostCPU(t, f) + "\n"
		if !strings.Contains(r.stdout, want) {
			t.Errorf("/proc/cpuinfo lacks the host's %q", want)
		}
	}
	r = do(t, nil, "/usr/bin/python3", "-c", "import os; print(os.cpu_count())")
	if strings.TrimSpace(r.stdout) != strconv.Itoa(runtime.NumCPU()) {
		t.Errorf("os.cpu_count() in the sandbox: %q, want %d", r.stdout, runtime.NumCPU())
	}

	r = do(t, nil, "cat", "/proc/uptime")
	f := strings.Fields(r.stdout)
	if len(f) != 2 {
		t.Fatalf("/proc/uptime: %q", r.stdout)
	}
	up, err := strconv.ParseFloat(f[0], 64)
	if err != nil || up < 0 || up > 30 {
		t.Errorf("uptime %q: want the few seconds since the sandbox booted", f[0])
	}
}

// TestSysCPUs checks /sys/devices/system/cpu/online, which glibc reads
// for sysconf(_SC_NPROCESSORS_ONLN).
func TestSysCPUs(t *testing.T) {
	r := do(t, nil, "cat", "/sys/devices/system/cpu/online", "/sys/kernel/mm/transparent_hugepage/enabled")
	lines := strings.Split(r.stdout, "\n")
	if r.code != 0 || len(lines) < 2 {
		t.Fatalf("cat: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	var n int
	for _, part := range strings.Split(lines[0], ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, _ := strconv.Atoi(lo)
		b := a
		if isRange {
			b, _ = strconv.Atoi(hi)
		}
		n += b - a + 1
	}
	if n != runtime.NumCPU() {
		t.Errorf("/sys/devices/system/cpu/online %q counts %d CPUs, want %d", lines[0], n, runtime.NumCPU())
	}
	if lines[1] != "always madvise [never]" {
		t.Errorf("transparent_hugepage/enabled: %q", lines[1])
	}
	r = do(t, nil, "getconf", "_NPROCESSORS_ONLN")
	if strings.TrimSpace(r.stdout) != strconv.Itoa(runtime.NumCPU()) {
		t.Errorf("getconf _NPROCESSORS_ONLN: %q, want %d", r.stdout, runtime.NumCPU())
	}
}
