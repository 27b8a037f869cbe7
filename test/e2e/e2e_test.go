// Package e2e drives the built bin/runsc with real programs from the host
// and checks what users see: output, exit codes, and the processes on the
// host. Run it through `make test` (it needs root and bin/runsc).
package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var (
	repoRoot string
	runsc    string
	binDir   string // static helper programs built from testdata
)

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	// E2E_RUNSC tests another build of runsc than bin/runsc.
	runsc = os.Getenv("E2E_RUNSC")
	if runsc == "" {
		runsc = filepath.Join(repoRoot, "bin", "runsc")
	}
	if _, err := os.Stat(runsc); err != nil {
		os.Stderr.WriteString("e2e: " + runsc + " missing: run `make build` (or `make test`)\n")
		os.Exit(1)
	}
	// Not under the host's /tmp: the sandbox has its own tmpfs there. One
	// directory per run, so that runs can overlap.
	if err := os.MkdirAll(filepath.Join(repoRoot, "test", "e2e", "build"), 0o755); err != nil {
		panic(err)
	}
	var err error
	binDir, err = os.MkdirTemp(filepath.Join(repoRoot, "test", "e2e", "build"), "run-")
	if err != nil {
		panic(err)
	}
	srcs, _ := filepath.Glob(filepath.Join(repoRoot, "test", "e2e", "testdata", "*.c"))
	for _, src := range srcs {
		out := filepath.Join(binDir, strings.TrimSuffix(filepath.Base(src), ".c"))
		if b, err := exec.Command("gcc", "-static", "-O1", "-o", out, src).CombinedOutput(); err != nil {
			os.Stderr.WriteString("e2e: build " + src + ": " + string(b))
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// result is what a command did.
type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if env != nil {
		cmd.Env = env
	}
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return result{out.String(), errb.String(), code}
}

// do runs args in a fresh sandbox with the given global flags.
func do(t *testing.T, flags []string, args ...string) result {
	t.Helper()
	return run(t, nil, runsc, append(append(flags, "do"), args...)...)
}

// helper returns the path of a static test program.
func helper(name string) string { return filepath.Join(binDir, name) }
