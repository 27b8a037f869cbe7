package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestOverlayXattrCopyUp checks that the overlay root shows the user.*
// attributes of host files, keeps them when a change copies the file or
// directory up (chmod, a write, a new child, a rename), and never changes
// the host's.
func TestOverlayXattrCopyUp(t *testing.T) {
	dir, err := os.MkdirTemp("/var/tmp", "palisade-xattr-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	tool := helper("xattrtool")
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "d", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{{"f", "user.lower", "one"}, {"f", "user.other", "two"}, {"d", "user.dir", "three"}, {"d/sub", "user.sub", "four"}} {
		if out, err := exec.Command(tool, "set", filepath.Join(dir, c[0]), c[1], c[2]).CombinedOutput(); err != nil {
			t.Skipf("the host filesystem keeps no user.* attributes: %s", out)
		}
	}

	script := `set -e; cd ` + dir + `; T=` + tool + `
echo "lower: $($T list f | tr '\n' ' ')"
chmod 600 f
echo "chmod: $($T list f | tr '\n' ' ')$($T get f user.lower)"
echo more >> f
$T rm f user.other
$T set f user.new n
echo "changed: $($T list f | tr '\n' ' ')"
touch d/child
echo "dir: $($T get d user.dir)"
mv d d2
echo "renamed: $($T get d2 user.dir) $($T get d2/sub user.sub)"
`
	r := sandboxSh(t, script)
	want := "lower: user.lower user.other \n" +
		"chmod: user.lower user.other one\n" +
		"changed: user.lower user.new \n" +
		"dir: three\n" +
		"renamed: three four\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("sandbox: exit %d\nstdout:\n%s\nwant:\n%s\nstderr: %s", r.code, r.stdout, want, r.stderr)
	}

	// The host's files are as they were.
	out, err := exec.Command(tool, "list", filepath.Join(dir, "f")).Output()
	if err != nil || strings.Join(strings.Fields(string(out)), " ") != "user.lower user.other" {
		t.Errorf("host f attributes: %q, %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "d", "child")); !os.IsNotExist(err) {
		t.Errorf("host d/child: %v, want it missing", err)
	}
}

// syscallTest builds the conformance program test/syscalls/NAME.c and
// returns its path.
func syscallTest(t *testing.T, name string) string {
	t.Helper()
	out := filepath.Join(binDir, "syscalls-"+name)
	src := filepath.Join(repoRoot, "test", "syscalls", name+".c")
	if b, err := exec.Command("gcc", "-static", "-O1", "-o", out, src).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", src, err, b)
	}
	return out
}

// TestOverlayLowerDirChanges runs dirmod.c and rename.c (their checks
// of entries that exist before they start) on host directories below the
// overlay: reading a merged directory while entries come and go, seeking
// back to a saved offset, exchanging a host file with a new one, and
// moving a host directory with children away and back. The host's
// directories stay as they were.
func TestOverlayLowerDirChanges(t *testing.T) {
	dir, err := os.MkdirTemp("/var/tmp", "palisade-lowerdir-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	big := filepath.Join(dir, "big")
	if err := os.Mkdir(big, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		if err := os.WriteFile(filepath.Join(big, fmt.Sprintf("host%03d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(filepath.Join(tree, "dir", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"file": "lower\n", "dir/a": "a", "dir/sub/b": "b"} {
		if err := os.WriteFile(filepath.Join(tree, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := manifest(t, dir)

	for _, c := range []struct{ prog, dir string }{{"dirmod", big}, {"rename", tree}} {
		prog := syscallTest(t, c.prog)
		for _, flags := range [][]string{nil, {"--overlay=none"}} {
			r := do(t, flags, prog, c.dir)
			if r.code != 0 || !strings.Contains(r.stdout, " 0 failed") {
				t.Errorf("%s %s with flags %v: exit %d\n%s%s", c.prog, c.dir, flags, r.code, r.stdout, r.stderr)
			}
		}
	}

	after := manifest(t, dir)
	for p, d := range before {
		if after[p] != d && !strings.HasSuffix(p, "big") && !strings.HasSuffix(p, "tree") && !strings.HasSuffix(p, "dir") {
			t.Errorf("host %s changed: %q -> %q", p, d, after[p])
		}
	}
	if len(after) != len(before) {
		t.Errorf("host tree has %d entries after, %d before", len(after), len(before))
	}
}
