package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestShell runs shell constructs that need fork, exec, pipes, wait and
// signals, comparing with what they print natively.
func TestShell(t *testing.T) {
	for _, tc := range []struct {
		name, script, want string
		code               int
	}{
		{"pipeline", "echo abc | tr a-c x-z", "xyz\n", 0},
		{"background job", "(sleep 0.2; echo bg) & echo fg; wait", "fg\nbg\n", 0},
		{"200 fork+exec", "i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done; echo done $i", "done 200\n", 0},
		{"kill -TERM $$", "kill -TERM $$", "", 143},
		{"stop and continue", "sleep 0.3 & p=$!; kill -STOP $p; sleep 0.1; kill -CONT $p; wait $p; echo status=$?", "status=0\n", 0},
		{"killed child", "sleep 5 & p=$!; kill -KILL $p; wait $p; echo status=$?", "status=137\n", 0},
		{"subshell exit", "(exit 7); echo $?", "7\n", 0},
		{"command substitution", "x=$(echo a; echo b | tr b c); echo $x", "a c\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, nil, "/bin/sh", "-c", tc.script)
			if r.stdout != tc.want || r.code != tc.code {
				t.Errorf("sh -c %q: stdout %q exit %d, want %q exit %d (stderr %q)", tc.script, r.stdout, r.code, tc.want, tc.code, r.stderr)
			}
		})
	}
}

// TestPythonTasks runs Python with threads, a signal handler, setitimer
// with pause, and a 10000-round condition variable ping-pong.
func TestPythonTasks(t *testing.T) {
	script := filepath.Join(repoRoot, "test", "e2e", "testdata", "py_tasks.py")
	native := run(t, nil, "/usr/bin/python3", script)
	r := do(t, nil, "/usr/bin/python3", script)
	if r.code != 0 || r.stdout != native.stdout {
		t.Fatalf("python tasks: exit %d\n%s\nwant\n%s\nstderr: %s", r.code, r.stdout, native.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "pause after itimer True") {
		t.Errorf("setitimer + pause did not wait: %s", r.stdout)
	}
}

// TestMultiprocessingPool runs a multiprocessing.Pool(4).map, which needs
// fork, pipes, POSIX semaphores in /dev/shm and wait.
func TestMultiprocessingPool(t *testing.T) {
	script := filepath.Join(repoRoot, "test", "e2e", "testdata", "mp_pool.py")
	r := do(t, nil, "/usr/bin/python3", script)
	want := "sum 20540\nworkers>1 True\nparent not worker True\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("multiprocessing pool: exit %d stdout %q want %q\nstderr: %s", r.code, r.stdout, want, r.stderr)
	}
}

// TestMakeJ2 copies a three-file C project into the sandbox's /tmp, builds
// it with make -j2 (make, gcc, cc1, as and ld running in parallel) and runs
// the result.
func TestMakeJ2(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make not installed: %v", err)
	}
	src := filepath.Join(repoRoot, "test", "e2e", "testdata", "cproj")
	script := "cp -r " + src + " /tmp/p && make -s -C /tmp/p -j2 && /tmp/p/prog"
	r := do(t, nil, "/bin/sh", "-c", script)
	if r.code != 0 || r.stdout != "result 42\n" {
		t.Fatalf("make -j2: exit %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}
}
