package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// With --overlay=none the root is the gofer's tree, served read-write:
// what the sandbox changes, the host sees. These tests run shell commands
// in a scratch root (a static busybox, under /var/tmp) and compare the
// host tree afterwards with what the same commands do natively.

// busybox is the static busybox the scratch roots use.
const busybox = "/bin/busybox"

// scratchRoot makes a root directory with a static busybox (as /bin/sh and
// the other commands the tests use), the mount points runsc do mounts on,
// and /data holding:
//
//	keep.txt   "keep\n"
//	old.txt    "old contents\n"
//	trunc.txt  "0123456789"
//	rmme.txt   "bye\n"
//	rmdir/     empty directory
//	sub/x      "x\n"
func scratchRoot(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(busybox); err != nil {
		t.Fatalf("%s missing: these tests need Debian's busybox-static (apt-get install busybox-static)", busybox)
	}
	root, err := os.MkdirTemp("/var/tmp", "gofer-write-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"bin", "proc", "dev", "sys", "tmp", "data/rmdir", "data/sub"} {
		must(os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	b, err := os.ReadFile(busybox)
	must(err)
	must(os.WriteFile(filepath.Join(root, "bin", "busybox"), b, 0o755))
	for _, c := range []string{"sh", "cat", "echo", "printf", "mkdir", "mv", "ln", "chmod", "rm", "rmdir", "touch", "truncate", "stat", "ls", "dd"} {
		must(os.Symlink("busybox", filepath.Join(root, "bin", c)))
	}
	for name, content := range map[string]string{
		"keep.txt": "keep\n", "old.txt": "old contents\n", "trunc.txt": "0123456789",
		"rmme.txt": "bye\n", "sub/x": "x\n",
	} {
		must(os.WriteFile(filepath.Join(root, "data", name), []byte(content), 0o644))
	}
	return root
}

// copyTree copies the directory src to dst (regular files, directories and
// symlinks).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(to, info.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(to, b, info.Mode().Perm())
		}
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

// treeState describes every entry under dir, by path relative to it: type
// and permissions, owner, link count, and a regular file's content or a
// symlink's target. Times are left out: the sandbox's and a native run's
// differ.
func treeState(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, p)
		if err != nil {
			m[rel] = "error " + err.Error()
			return nil
		}
		info, err := d.Info()
		if err != nil {
			m[rel] = "error " + err.Error()
			return nil
		}
		st := info.Sys().(*syscall.Stat_t)
		s := fmt.Sprintf("%v %d:%d nlink=%d", info.Mode(), st.Uid, st.Gid, st.Nlink)
		if info.IsDir() {
			// A directory's link count is its subdirectories; its size
			// is the filesystem's business.
		} else if info.Mode()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			s += " -> " + target
		} else if info.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			s += fmt.Sprintf(" size=%d %q", len(b), b)
		}
		m[rel] = s
		return nil
	})
	return m
}

// diffStates lists the entries where two tree states differ.
func diffStates(got, want map[string]string) []string {
	var out []string
	for k, v := range want {
		if got[k] != v {
			out = append(out, fmt.Sprintf("%s: got %q, want %q", k, got[k], v))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("%s: got %q, want nothing", k, v))
		}
	}
	sort.Strings(out)
	return out
}

// writeScript changes the tree of its first argument: create, write,
// append, truncate (O_TRUNC and truncate(1)), mkdir, rename, symlink, hard
// link, chmod, rm and rmdir, then reads some of it back.
const writeScript = `set -e
cd "$1"
echo created > new.txt
echo appended >> keep.txt
printf 'abc' > old.txt
truncate -s 4 trunc.txt
mkdir -p a/b
mv new.txt a/b/moved.txt
mv sub sub2
ln -s a/b/moved.txt sym
ln keep.txt hard
chmod 0600 old.txt
chmod 0750 a
rm rmme.txt
rmdir rmdir
dd if=/dev/zero of=zeros bs=1000 count=3 2>/dev/null
echo more >> hard
cat sym keep.txt
stat -c '%h %s %a' keep.txt old.txt
ls
`

// runNative runs writeScript with the host's busybox in dir.
func runNative(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command(busybox, "sh", "-c", writeScript, "sh", dir)
	cmd.Env = []string{"PATH=/bin:/usr/bin"}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("native run: %v: %s", err, errb.String())
	}
	return out.String()
}

func TestGoferWriteOverlayNone(t *testing.T) {
	root := scratchRoot(t)
	// The same script natively, on a copy of the same tree.
	native := t.TempDir()
	copyTree(t, filepath.Join(root, "data"), filepath.Join(native, "data"))
	wantOut := runNative(t, filepath.Join(native, "data"))
	want := treeState(t, filepath.Join(native, "data"))

	r := do(t, []string{"--overlay=none"}, "--root-dir", root, "/bin/sh", "-c", writeScript, "sh", "/data")
	if r.code != 0 || r.stdout != wantOut {
		t.Fatalf("sandbox: exit %d, stdout %q, stderr %q; want 0, %q", r.code, r.stdout, r.stderr, wantOut)
	}
	got := treeState(t, filepath.Join(root, "data"))
	if d := diffStates(got, want); len(d) != 0 {
		t.Errorf("host tree after the sandbox's changes differs from a native run's:\n%s", strings.Join(d, "\n"))
	}
	// A later sandbox sees the changes, through the links made.
	r = do(t, []string{"--overlay=none"}, "--root-dir", root, "/bin/sh", "-c", "cat /data/hard /data/a/b/moved.txt; ls /data/sub2")
	if want := "keep\nappended\nmore\ncreated\nx\n"; r.code != 0 || r.stdout != want {
		t.Errorf("second sandbox: exit %d stdout %q stderr %q; want %q", r.code, r.stdout, r.stderr, want)
	}
}

func TestGoferWriteDefaultOverlayLeavesHost(t *testing.T) {
	root := scratchRoot(t)
	before := treeState(t, root)
	// Whether the commands succeed (in memory) or not, the host's tree
	// must not change.
	r := do(t, nil, "--root-dir", root, "/bin/sh", "-c", writeScript, "sh", "/data")
	t.Logf("default overlay: exit %d, stderr %q", r.code, r.stderr)
	r = do(t, nil, "--root-dir", root, "/bin/sh", "-c", "echo x > /data/keep.txt; rm -f /data/old.txt; chmod 0 /data/sub; mkdir /data/newdir")
	t.Logf("default overlay: exit %d, stderr %q", r.code, r.stderr)
	if d := diffStates(treeState(t, root), before); len(d) != 0 {
		t.Errorf("host tree changed under the default overlay:\n%s", strings.Join(d, "\n"))
	}
}

func TestGoferWriteSymlinksStayInside(t *testing.T) {
	root := scratchRoot(t)
	outside, err := os.MkdirTemp("/var/tmp", "gofer-outside-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(outside)
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"abs": victim, "absdir": outside, "up": "../../../../../.."} {
		if err := os.Symlink(target, filepath.Join(root, "data", name)); err != nil {
			t.Fatal(err)
		}
	}
	before := treeState(t, outside)
	// Every write through the links: they resolve inside the sandbox's
	// root, where the outside paths don't exist, so they fail or act on
	// the links themselves.
	script := `cd /data
echo pwned > abs; echo pwned >> abs; truncate -s 0 abs; chmod 777 abs; touch abs
echo pwned > absdir/victim; mkdir absdir/new; ln -s x absdir/sl; rm -f absdir/victim
echo pwned > up` + outside + `/victim; chmod 777 up` + outside + `/victim; rm -f up` + outside + `/victim
ln abs hard; mv abs moved; rm moved hard
ls /data
`
	r := do(t, []string{"--overlay=none"}, "--root-dir", root, "/bin/sh", "-c", script)
	t.Logf("sandbox: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	if d := diffStates(treeState(t, outside), before); len(d) != 0 {
		t.Errorf("files outside the root changed:\n%s", strings.Join(d, "\n"))
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "precious\n" {
		t.Errorf("victim: %q, %v", b, err)
	}
	// The links themselves were moved and removed inside the root.
	if _, err := os.Lstat(filepath.Join(root, "data", "abs")); !os.IsNotExist(err) {
		t.Errorf("data/abs: %v, want it removed by the sandbox", err)
	}
}

func TestGoferWriteSharedMapping(t *testing.T) {
	root := scratchRoot(t)
	b, err := os.ReadFile(helper("gofer_mmap"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "gofer_mmap"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	native := filepath.Join(t.TempDir(), "mm.bin")
	if r := run(t, nil, helper("gofer_mmap"), native); r.code != 0 || r.stdout != "ok\n" {
		t.Fatalf("native gofer_mmap: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	want, _ := os.ReadFile(native)
	r := do(t, []string{"--overlay=none"}, "--root-dir", root, "/bin/gofer_mmap", "/data/mm.bin")
	if r.code != 0 || r.stdout != "ok\n" {
		t.Fatalf("gofer_mmap in the sandbox: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	got, err := os.ReadFile(filepath.Join(root, "data", "mm.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		for _, off := range []int{100, 4106, 5000, 6000} {
			end := min(off+8, len(got))
			if off < len(got) {
				t.Logf("at %d: got %q, want %q", off, got[off:end], want[off:min(off+8, len(want))])
			}
		}
		t.Errorf("host file after the sandbox's mappings: %d bytes, differs from the native run's %d bytes", len(got), len(want))
	}
}

// TestGoferMsync checks that msync(MS_SYNC) of a shared mapping of a host
// file writes the change back while the mapping is still in place.
func TestGoferMsync(t *testing.T) {
	root := scratchRoot(t)
	b, err := os.ReadFile(helper("msync_hold"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "msync_hold"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	host := filepath.Join(root, "data", "ms.bin")
	if err := os.WriteFile(host, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(runsc, "--overlay=none", "do", "--root-dir", root, "/bin/msync_hold", "/data/ms.bin")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "synced\n" {
		t.Fatalf("msync_hold said %q (%v)", line, err)
	}
	got, err := os.ReadFile(host)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(got, []byte("msynced")) {
		t.Errorf("host file after msync, mapping still in place: starts %q, want \"msynced\"", got[:7])
	}
}
