package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSyscallConformance runs the C conformance suite: every program
// natively, then under runsc.
func TestSyscallConformance(t *testing.T) {
	cmd := exec.Command(filepath.Join(repoRoot, "test", "syscalls", "run.sh"), runsc)
	out, err := cmd.CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	t.Log("\n" + string(out))
	if err != nil || !strings.HasSuffix(last, " 0 failed") {
		t.Fatalf("conformance suite: %s (%v)", last, err)
	}
}
