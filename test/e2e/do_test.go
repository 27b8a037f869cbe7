package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEchoHello(t *testing.T) {
	r := do(t, nil, "/bin/echo", "hello")
	if r.stdout != "hello\n" || r.code != 0 {
		t.Fatalf("runsc do /bin/echo hello: stdout %q code %d, want \"hello\\n\" 0 (stderr %q)", r.stdout, r.code, r.stderr)
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"exit 3", []string{"/bin/sh", "-c", "exit 3"}, 3},
		{"exit 0", []string{"/bin/true"}, 0},
		{"false", []string{"/bin/false"}, 1},
		{"SIGSEGV is 128+11", []string{helper("segv")}, 139},
		{"missing program", []string{"/no/such/program"}, 127},
		{"not in PATH", []string{"no-such-command-palisade"}, 127},
		{"not executable", []string{"/etc/passwd"}, 126},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := do(t, nil, tc.args...); r.code != tc.want {
				t.Errorf("runsc do %v: exit %d, want %d (stderr %q)", tc.args, r.code, tc.want, r.stderr)
			}
		})
	}
}

// TestSameAsNative runs real programs from the host natively and in the
// sandbox, with the same environment, and compares their output.
func TestSameAsNative(t *testing.T) {
	env := []string{"PATH=/usr/bin:/bin", "HOME=/root", "LANG=C", "TERM=dumb", "PALISADE_E2E=1"}
	for _, args := range [][]string{
		{"/bin/cat", "/etc/os-release"},
		{"/bin/ls", "/usr/bin"},
		{"/bin/ls", "-l", "/usr/share/common-licenses"},
		{"/usr/bin/env"},
		{"/usr/bin/python3", "-c", "print(sum(range(10**6)))"},
		{"/usr/bin/python3", "-c", "import hashlib; print(hashlib.sha256(open('/usr/share/common-licenses/GPL-3','rb').read()).hexdigest())"},
		{"/usr/bin/sha256sum", "/usr/share/common-licenses/GPL-3", "/bin/sh"},
		{helper("getpid_loop"), "10"},
	} {
		t.Run(filepath.Base(args[0]), func(t *testing.T) {
			native := run(t, env, args[0], args[1:]...)
			sandboxed := run(t, env, runsc, append([]string{"do"}, args...)...)
			if native.code != 0 {
				t.Fatalf("native %v failed: %d %s", args, native.code, native.stderr)
			}
			if args[0] == helper("getpid_loop") {
				// The pid differs by design: compare the shape.
				native.stdout = strings.Fields(native.stdout)[0]
				sandboxed.stdout = strings.Fields(sandboxed.stdout + " x")[0]
			}
			if sandboxed.stdout != native.stdout || sandboxed.code != native.code {
				t.Errorf("%v: sandboxed output differs from native\nnative (%d):\n%s\nsandboxed (%d):\n%s\nstderr: %s",
					args, native.code, clip(native.stdout), sandboxed.code, clip(sandboxed.stdout), sandboxed.stderr)
			}
		})
	}
}

func clip(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "..."
	}
	return s
}

func TestPIDsAndUname(t *testing.T) {
	r := do(t, nil, "/usr/bin/python3", "-c", "import os; print(os.getpid(), os.getppid())")
	if r.stdout != "1 0\n" {
		t.Errorf("getpid/getppid in the sandbox: %q, want \"1 0\\n\" (stderr %q)", r.stdout, r.stderr)
	}
	host, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		t.Fatal(err)
	}
	r = do(t, nil, "uname", "-r")
	got := strings.TrimSpace(r.stdout)
	if got != "6.1.0-palisade" || got == strings.TrimSpace(string(host)) {
		t.Errorf("uname -r in the sandbox: %q, want the sentry's release 6.1.0-palisade (host is %q)", got, strings.TrimSpace(string(host)))
	}
}

func TestProcSelfExe(t *testing.T) {
	r := do(t, nil, "readlink", "/proc/self/exe")
	if r.stdout != "/usr/bin/readlink\n" {
		t.Errorf("readlink /proc/self/exe: %q, want /usr/bin/readlink", r.stdout)
	}
	r = do(t, nil, "/bin/ls", "/proc")
	var pids []string
	self := false
	for _, e := range strings.Fields(r.stdout) {
		if e[0] >= '0' && e[0] <= '9' {
			pids = append(pids, e)
		}
		self = self || e == "self"
	}
	if len(pids) != 1 || pids[0] != "1" || !self {
		t.Errorf("ls /proc shows %q, want one process, 1, and self", r.stdout)
	}
}

// TestCapFlags checks runsc do's --cap-add and --cap-drop.
func TestCapFlags(t *testing.T) {
	r := do(t, nil, "--cap-add=NO_SUCH_CAP", "/bin/true")
	if r.code == 0 || !strings.Contains(r.stderr, `--cap-add: unknown capability "NO_SUCH_CAP"`) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("--cap-add=NO_SUCH_CAP: exit %d stderr %q, want one line naming it", r.code, r.stderr)
	}
	// chown needs CAP_CHOWN, which Docker's set has and ALL drops.
	script := "touch /capfile && chown 1 /capfile && echo chowned"
	if r := do(t, nil, "/bin/sh", "-c", script); r.stdout != "chowned\n" {
		t.Errorf("chown with the default capabilities: %q %q", r.stdout, r.stderr)
	}
	if r := do(t, nil, "--cap-drop=ALL", "/bin/sh", "-c", script); r.code == 0 || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Errorf("chown with --cap-drop=ALL: exit %d stdout %q stderr %q, want EPERM", r.code, r.stdout, r.stderr)
	}
	if r := do(t, nil, "--cap-drop=all", "--cap-add=chown", "/bin/sh", "-c", script); r.stdout != "chowned\n" {
		t.Errorf("chown with --cap-drop=all --cap-add=chown: %q %q", r.stdout, r.stderr)
	}
}

// TestUnimplementedSyscall checks that an unimplemented call returns ENOSYS
// and is logged, with its name, exactly once.
func TestUnimplementedSyscall(t *testing.T) {
	logDir := t.TempDir()
	r := do(t, []string{"--debug-log=" + logDir + "/"}, helper("unimplemented"))
	if r.code != 0 || r.stdout != "ENOSYS twice\n" {
		t.Fatalf("unimplemented: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	logs, _ := filepath.Glob(filepath.Join(logDir, "*boot*"))
	if len(logs) != 1 {
		t.Fatalf("want one sentry log in %s, found %v", logDir, logs)
	}
	b, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "syscall=kexec_load"); n != 1 {
		t.Errorf("sentry log mentions kexec_load %d times, want exactly 1:\n%s", n, b)
	}
	// Without a debug log the warning is on stderr.
	r = do(t, nil, helper("unimplemented"))
	if strings.Count(r.stderr, "kexec_load") != 1 {
		t.Errorf("stderr without --debug-log: %q, want one line naming kexec_load", r.stderr)
	}
}

func TestStrace(t *testing.T) {
	logDir := t.TempDir()
	r := do(t, []string{"--strace", "--debug-log=" + logDir + "/"}, "/bin/echo", "traced")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	logs, _ := filepath.Glob(filepath.Join(logDir, "*boot*"))
	if len(logs) != 1 {
		t.Fatalf("want one sentry log, found %v", logs)
	}
	b, _ := os.ReadFile(logs[0])
	for _, want := range []string{`write(1, \"traced\\n\", 7) = 7`, "exit_group(0x0)", "openat(AT_FDCWD"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("strace log lacks %q", want)
		}
	}
}

func TestRootDir(t *testing.T) {
	root := t.TempDir()
	data, err := os.ReadFile(helper("getpid_loop"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "prog"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	r := do(t, nil, "--root-dir", root, "/prog", "5")
	if r.stdout != "5 calls, pid 1\n" || r.code != 0 {
		t.Errorf("--root-dir: stdout %q code %d stderr %q", r.stdout, r.code, r.stderr)
	}
	// The host's files are not visible under another root.
	if r := do(t, nil, "--root-dir", root, "/bin/sh", "-c", "true"); r.code != 127 {
		t.Errorf("/bin/sh under --root-dir without one: exit %d, want 127", r.code)
	}
}

// TestBadInputsLeaveNothing checks errors are one line, non-zero, and
// leave no container state behind.
func TestBadInputsLeaveNothing(t *testing.T) {
	state := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--root=" + state, "do", "/no/such"}, `exec "/no/such": no such file or directory`},
		{[]string{"--root=" + state, "do"}, "missing command"},
		{[]string{"--root=" + state, "do", "--root-dir=/no/such/dir", "/bin/true"}, "no such file or directory"},
		{[]string{"--root=" + state, "--platform=kvm", "do", "/bin/true"}, `invalid --platform "kvm"`},
		{[]string{"--root=" + state, "do", "--cwd=relative", "/bin/true"}, "must be an absolute path"},
		{[]string{"--root=" + state, "do", "--no-such-flag", "/bin/true"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"--root=" + state, "--no-such-flag", "do", "/bin/true"}, "flag provided but not defined: -no-such-flag"},
	} {
		r := run(t, nil, runsc, tc.args...)
		if r.code == 0 {
			t.Errorf("runsc %v succeeded, want failure", tc.args)
		}
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], tc.want) || !strings.HasPrefix(lines[0], "runsc: ") {
			t.Errorf("runsc %v: stderr %q, want one line starting with \"runsc: \" containing %q", tc.args, r.stderr, tc.want)
		}
	}
	left, _ := os.ReadDir(state)
	if len(left) != 0 {
		t.Errorf("state left behind in %s: %v", state, left)
	}
}

// TestStdin checks the application reads runsc's stdin.
func TestStdin(t *testing.T) {
	cmd := []string{runsc, "do", "/usr/bin/sha256sum"}
	in, err := os.Open("/usr/share/common-licenses/GPL-3")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	c := execCommand(cmd[0], cmd[1:]...)
	c.Stdin = in
	out, err := c.Output()
	if err != nil {
		t.Fatal(err)
	}
	want := run(t, nil, "/usr/bin/sha256sum", "/usr/share/common-licenses/GPL-3").stdout
	if strings.Fields(string(out))[0] != strings.Fields(want)[0] {
		t.Errorf("sha256sum of stdin in the sandbox %q, want %q", out, want)
	}
}

// TestBrokenPipe checks a writer whose reader went away dies of SIGPIPE
// (status 141), silently, as it does natively.
func TestBrokenPipe(t *testing.T) {
	script := `"$1" do /bin/cat /usr/bin/python3.11 | head -c 10 >/dev/null; exit ${PIPESTATUS[0]}`
	r := run(t, nil, "/bin/bash", "-c", script, "bash", runsc)
	if r.code != 141 || r.stderr != "" {
		t.Errorf("cat into a closed pipe: exit %d stderr %q, want 141 and nothing", r.code, r.stderr)
	}
}
