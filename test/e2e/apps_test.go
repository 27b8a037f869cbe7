package e2e

import (
	"path/filepath"
	"testing"
)

// TestGCCHello compiles and runs a C program inside the sandbox: gcc, cc1,
// as and ld read the host's toolchain and write to the overlay root.
func TestGCCHello(t *testing.T) {
	for _, dir := range []string{"/tmp/gcc-test", "/gcc-test"} {
		script := "mkdir -p " + dir + " && cd " + dir + ` && printf '#include <stdio.h>\nint main(void) { puts("hello from gcc"); return 0; }\n' > h.c && gcc -O2 -o h h.c && ./h`
		r := do(t, nil, "/bin/sh", "-c", script)
		if r.code != 0 || r.stdout != "hello from gcc\n" {
			t.Errorf("gcc hello in %s: exit %d stdout %q stderr %s", dir, r.code, r.stdout, r.stderr)
		}
	}
}

// TestGit runs git init, add, commit and log in the overlay root.
func TestGit(t *testing.T) {
	script := `set -e
mkdir /repo && cd /repo
git init -q
git config user.email palisade@example.com
git config user.name Palisade
echo one > a.txt
git add a.txt
git commit -qm first
echo two >> a.txt
mkdir sub && echo three > sub/b.txt
git add -A
git commit -qm second
git log --format=%s
git show --stat --format= HEAD | tail -1
git status --porcelain | wc -l`
	r := do(t, nil, "/bin/sh", "-c", script)
	want := "second\nfirst\n 2 files changed, 2 insertions(+)\n0\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("git: exit %d stdout %q, want %q; stderr %s", r.code, r.stdout, want, r.stderr)
	}
}

// TestSQLiteWAL runs Python's sqlite3 in WAL mode, which needs a shared
// writable mapping of the -shm file and fcntl locks, in the overlay root
// and in /tmp.
func TestSQLiteWAL(t *testing.T) {
	script := filepath.Join(repoRoot, "test", "e2e", "testdata", "sqlite_wal.py")
	want := "wal\n(1000, 499500)\n111\n500\n"
	for _, db := range []string{"/t.db", "/tmp/t.db", "/dev/shm/t.db"} {
		r := do(t, nil, "/usr/bin/python3", script, db)
		if r.code != 0 || r.stdout != want {
			t.Errorf("sqlite WAL in %s: exit %d stdout %q, want %q; stderr %s", db, r.code, r.stdout, want, r.stderr)
		}
	}
}
