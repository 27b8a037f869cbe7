package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var execCommand = exec.Command

type proc struct {
	pid, ppid  int
	comm       string
	cmdline    string
	seccomp    string
	capEff     string
	noNewPrivs string
}

func hostProcs() map[int]proc {
	out := map[int]proc{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		p := proc{pid: pid}
		f, err := os.Open(filepath.Join("/proc", d.Name(), "status"))
		if err != nil {
			continue
		}
		s := bufio.NewScanner(f)
		for s.Scan() {
			k, v, _ := strings.Cut(s.Text(), ":")
			v = strings.TrimSpace(v)
			switch k {
			case "Name":
				p.comm = v
			case "PPid":
				p.ppid, _ = strconv.Atoi(v)
			case "Seccomp":
				p.seccomp = v
			case "CapEff":
				p.capEff = v
			case "NoNewPrivs":
				p.noNewPrivs = v
			}
		}
		f.Close()
		cl, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		p.cmdline = strings.ReplaceAll(string(cl), "\x00", " ")
		out[pid] = p
	}
	return out
}

// descendants returns the processes below root.
func descendants(ps map[int]proc, root int) []proc {
	var out []proc
	for _, p := range ps {
		for a := p.ppid; a > 1; a = ps[a].ppid {
			if a == root {
				out = append(out, p)
				break
			}
			if _, ok := ps[a]; !ok {
				break
			}
		}
	}
	return out
}

// TestHostProcesses checks that while a sandboxed sleep runs, the host
// shows the sentry, a separate gofer and stub processes — and no host
// process running the application itself.
func TestHostProcesses(t *testing.T) {
	c := execCommand(runsc, "do", "sleep", "2")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Wait()
	var sentry, gofer proc
	var stubs []proc
	var tree []proc
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		ps := hostProcs()
		tree = descendants(ps, c.Process.Pid)
		sentry, gofer, stubs = proc{}, proc{}, nil
		for _, p := range tree {
			switch {
			case strings.HasPrefix(p.cmdline, "runsc-sandbox"):
				sentry = p
			case strings.HasPrefix(p.cmdline, "runsc-gofer"):
				gofer = p
			case p.comm == "palisade-stub":
				stubs = append(stubs, p)
			}
		}
		if sentry.pid != 0 && gofer.pid != 0 && len(stubs) >= 2 {
			break
		}
	}
	if sentry.pid == 0 || gofer.pid == 0 || len(stubs) < 2 {
		t.Fatalf("host processes under runsc: %+v; want a sentry, a gofer and stubs", tree)
	}
	if gofer.ppid == sentry.pid || sentry.ppid == gofer.pid {
		t.Errorf("gofer %d and sentry %d should be separate processes, not one the parent of the other", gofer.pid, sentry.pid)
	}
	for _, s := range stubs {
		if s.seccomp != "2" {
			t.Errorf("stub %d runs without its seccomp filter (Seccomp: %q)", s.pid, s.seccomp)
		}
		if s.capEff != "0000000000000000" {
			t.Errorf("stub %d has capabilities %s, want none", s.pid, s.capEff)
		}
	}
	if sentry.capEff != "0000000000000000" || sentry.noNewPrivs != "1" {
		t.Errorf("sentry %d: CapEff %s NoNewPrivs %s, want no capabilities and no_new_privs", sentry.pid, sentry.capEff, sentry.noNewPrivs)
	}
	if root, _ := os.Readlink(fmt.Sprintf("/proc/%d/root", sentry.pid)); root == "/" {
		t.Errorf("sentry %d is not confined: its root is the host's /", sentry.pid)
	}
	for _, p := range tree {
		if p.comm == "sleep" {
			t.Errorf("a host process runs the application itself: %+v", p)
		}
	}
	t.Logf("sentry %d, gofer %d, stubs %d", sentry.pid, gofer.pid, len(stubs))
}

// TestNoHostGetpid runs 100000 getpid calls in the sandbox and counts, with
// the kernel's syscall tracepoint, how many getpid calls the stub
// processes made on the host: there must be none. A native run of the same
// program is counted too, so the check can't pass by not tracing.
func TestNoHostGetpid(t *testing.T) {
	tr := "/sys/kernel/tracing"
	if _, err := os.Stat(tr + "/events"); err != nil {
		if err := syscall.Mount("nodev", tr, "tracefs", 0, ""); err != nil {
			t.Fatalf("mount tracefs: %v", err)
		}
	}
	ev := tr + "/events/syscalls/sys_enter_getpid/enable"
	if _, err := os.Stat(ev); err != nil {
		t.Fatalf("this kernel has no getpid tracepoint: %v", err)
	}
	write := func(p, v string) {
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatalf("write %s: %v", p, err)
		}
	}
	write(tr+"/buffer_size_kb", "65536")
	write(tr+"/trace", "")
	write(ev, "1")
	defer write(ev, "0")

	native := run(t, nil, helper("getpid_loop"), "100000")
	r := do(t, nil, helper("getpid_loop"), "100000")
	write(ev, "0")
	if r.code != 0 || r.stdout != "100000 calls, pid 1\n" {
		t.Fatalf("sandboxed getpid loop: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if native.code != 0 {
		t.Fatalf("native getpid loop failed")
	}
	b, err := os.ReadFile(tr + "/trace")
	if err != nil {
		t.Fatal(err)
	}
	var nativeCalls, stubCalls int
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch {
		case strings.HasPrefix(f[0], "getpid_loop-"):
			nativeCalls++
		case strings.HasPrefix(f[0], "palisade-stub-"):
			stubCalls++
		}
	}
	if nativeCalls < 100000 {
		t.Fatalf("the tracepoint saw %d native getpid calls, want >= 100000: tracing is not working", nativeCalls)
	}
	if stubCalls != 0 {
		t.Errorf("stub processes made %d host getpid calls, want 0", stubCalls)
	}
	t.Logf("host getpid calls: native run %d, sandboxed run (stubs) %d", nativeCalls, stubCalls)
}

// TestKilledRunscTakesSandboxDown kills "runsc do" with SIGKILL: the
// sandbox (sentry, gofer, stubs) must die with it, and the next "runsc do"
// removes the state it left.
func TestKilledRunscTakesSandboxDown(t *testing.T) {
	state := t.TempDir()
	c := execCommand(runsc, "--root="+state, "do", "sleep", "30")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	var tree []proc
	for i := 0; i < 50 && len(tree) < 4; i++ {
		time.Sleep(50 * time.Millisecond)
		tree = descendants(hostProcs(), c.Process.Pid)
	}
	if len(tree) < 4 {
		t.Fatalf("sandbox did not start: %+v", tree)
	}
	c.Process.Kill()
	c.Wait()
	deadline := time.Now().Add(3 * time.Second)
	for {
		var alive []proc
		ps := hostProcs()
		for _, p := range tree {
			if q, ok := ps[p.pid]; ok && q.comm == p.comm {
				alive = append(alive, q)
			}
		}
		if len(alive) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes of the killed runsc's sandbox still running: %+v", alive)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ents, _ := os.ReadDir(state); len(ents) != 1 {
		t.Fatalf("state dir after the kill: %d entries, want the 1 left behind", len(ents))
	}
	if r := run(t, nil, runsc, "--root="+state, "do", "/bin/true"); r.code != 0 {
		t.Fatalf("runsc do after a killed one: exit %d: %s", r.code, r.stderr)
	}
	if ents, _ := os.ReadDir(state); len(ents) != 0 {
		t.Errorf("state of the killed sandbox not collected: %v", ents)
	}
}
