package e2e

import (
	"crypto/sha256"
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

// The root of `runsc do` is an overlay: the host's root (read-only,
// through the gofer) under a tmpfs in the sandbox's memory. These tests
// write all over it and check that the sandbox sees its writes and the
// host never does.

var overlayEnv = []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/root", "LANG=C", "LC_ALL=C"}

// sandboxSh runs a shell script in a fresh sandbox with the default
// --overlay=memory.
func sandboxSh(t *testing.T, script string) result {
	t.Helper()
	return run(t, overlayEnv, runsc, "do", "/bin/sh", "-c", script)
}

// nativeSh runs a shell script on the host.
func nativeSh(t *testing.T, dir, script string) result {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = overlayEnv
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("native sh: %v", err)
	}
	return result{stdout: string(out), code: code}
}

// manifest describes host paths: for each, recursively (without crossing
// into other filesystems), every entry's type, mode, owner, size, mtime,
// and regular files' checksums.
func manifest(t *testing.T, roots ...string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, root := range roots {
		var rootDev uint64
		if st, err := os.Lstat(root); err == nil {
			rootDev = st.Sys().(*syscall.Stat_t).Dev
		}
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				m[p] = "error " + err.Error()
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				m[p] = "error " + err.Error()
				return nil
			}
			st := fi.Sys().(*syscall.Stat_t)
			desc := fmt.Sprintf("%o %d:%d size=%d mtime=%d.%d nlink=%d", st.Mode, st.Uid, st.Gid, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Nlink)
			switch {
			case fi.Mode().IsRegular() && fi.Size() < 64<<20:
				b, err := os.ReadFile(p)
				if err != nil {
					desc += " unreadable"
				} else {
					desc += fmt.Sprintf(" sha256=%x", sha256.Sum256(b))
				}
			case fi.Mode()&fs.ModeSymlink != 0:
				tgt, _ := os.Readlink(p)
				desc += " -> " + tgt
			case d.IsDir() && p != root && st.Dev != rootDev:
				m[p] = desc
				return filepath.SkipDir
			}
			m[p] = desc
			return nil
		})
	}
	return m
}

func diffManifests(before, after map[string]string) []string {
	var d []string
	for p, b := range before {
		if a, ok := after[p]; !ok {
			d = append(d, "removed: "+p)
		} else if a != b {
			d = append(d, fmt.Sprintf("changed: %s: %s -> %s", p, b, a))
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			d = append(d, "added: "+p)
		}
	}
	sort.Strings(d)
	return d
}

// docPackages returns n directories of /usr/share/doc that hold regular
// files (and nothing that changes, such as a symlink to elsewhere).
func docPackages(t *testing.T, n int) []string {
	t.Helper()
	ents, err := os.ReadDir("/usr/share/doc")
	if err != nil {
		t.Skipf("no /usr/share/doc: %v", err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		files, _ := os.ReadDir(filepath.Join("/usr/share/doc", e.Name()))
		regular := 0
		for _, f := range files {
			if f.Type().IsRegular() {
				regular++
			}
		}
		if regular >= 2 && strings.Trim(e.Name(), "abcdefghijklmnopqrstuvwxyz0123456789.+-") == "" {
			out = append(out, e.Name())
		}
		if len(out) == n {
			return out
		}
	}
	t.Skipf("fewer than %d suitable directories in /usr/share/doc", n)
	return nil
}

// TestOverlayRootWritable writes to /, /etc and /usr, removes and moves
// host files and directories, and checks what the sandbox sees, then that
// the host's files are exactly as they were.
func TestOverlayRootWritable(t *testing.T) {
	pkgs := docPackages(t, 2)
	mv, rm := pkgs[0], pkgs[1]
	if _, err := os.Stat("/x"); err == nil {
		t.Skip("/x exists on the host")
	}
	watched := []string{"/etc", "/usr/share/doc", "/usr/share/common-licenses"}
	before := manifest(t, watched...)
	topBefore, _ := os.ReadDir("/")
	usrBefore, _ := os.ReadDir("/usr")
	hostname, _ := os.ReadFile("/etc/hostname")
	mvList := nativeSh(t, "/", "ls -A /usr/share/doc/"+mv).stdout

	script := `set -e
echo root-file > /palisade-e2e-root
mkdir /etc/palisade-test
echo new > /etc/palisade-test/f
cp /etc/hostname /etc/palisade-test/hostname.copy
echo appended >> /etc/palisade-test/hostname.copy
echo appended >> /etc/hostname
echo usr > /usr/palisade-e2e-usr
chmod 600 /usr/share/common-licenses/GPL-3
touch -d @0 /usr/share/common-licenses/GPL-2
rm /etc/debian_version
mv /usr/share/doc/` + mv + ` /x
rm -rf /usr/share/doc/` + rm + `
echo "== root"; cat /palisade-e2e-root
echo "== etc"; cat /etc/palisade-test/f /etc/palisade-test/hostname.copy /etc/hostname
echo "== usr"; cat /usr/palisade-e2e-usr
echo "== modes"; stat -c '%a %Y' /usr/share/common-licenses/GPL-3 /usr/share/common-licenses/GPL-2 | sed 's/ [1-9][0-9]*$/ recent/'
echo "== debian_version"; test -e /etc/debian_version && echo present || echo gone
echo "== moved"; ls -A /x
echo "== old"; ls /usr/share/doc/` + mv + ` 2>/dev/null || echo gone
echo "== removed"; ls /usr/share/doc/` + rm + ` 2>/dev/null || echo gone
`
	r := sandboxSh(t, script)
	want := "== root\nroot-file\n== etc\nnew\n" + string(hostname) + "appended\n" + string(hostname) + "appended\n" +
		"== usr\nusr\n== modes\n600 recent\n" + modeOf(t, "/usr/share/common-licenses/GPL-2") + " 0\n" +
		"== debian_version\ngone\n== moved\n" + mvList + "== old\ngone\n== removed\ngone\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("sandbox: exit %d\n%s\nwant:\n%s\nstderr: %s", r.code, r.stdout, want, r.stderr)
	}

	// The host saw none of it.
	if d := diffManifests(before, manifest(t, watched...)); len(d) > 0 {
		t.Errorf("the host's files changed:\n%s", strings.Join(d, "\n"))
	}
	for _, p := range []string{"/palisade-e2e-root", "/x", "/usr/palisade-e2e-usr"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s appeared on the host", p)
		}
	}
	if topAfter, _ := os.ReadDir("/"); names(topAfter) != names(topBefore) {
		t.Errorf("host / changed: %s -> %s", names(topBefore), names(topAfter))
	}
	if usrAfter, _ := os.ReadDir("/usr"); names(usrAfter) != names(usrBefore) {
		t.Errorf("host /usr changed: %s -> %s", names(usrBefore), names(usrAfter))
	}
}

func modeOf(t *testing.T, p string) string {
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%o", st.Mode().Perm())
}

func names(ents []os.DirEntry) string {
	var s []string
	for _, e := range ents {
		s = append(s, e.Name())
	}
	return strings.Join(s, " ")
}

// TestOverlayWritesVisibleToLaterCommands checks that files written in the
// sandbox are there for the commands that follow (other processes, other
// programs), and that a new sandbox starts from the host's files again.
func TestOverlayWritesVisibleToLaterCommands(t *testing.T) {
	r := sandboxSh(t, `set -e
mkdir -p /opt/palisade-e2e/bin
printf '#!/bin/sh\necho script says $1\n' > /opt/palisade-e2e/bin/hello
chmod +x /opt/palisade-e2e/bin/hello
/opt/palisade-e2e/bin/hello one
python3 -c 'open("/etc/palisade-e2e.conf", "w").write("written by python\n")'
cat /etc/palisade-e2e.conf
sh -c 'echo child >> /etc/palisade-e2e.conf'
python3 -c 'import os; print(sorted(os.listdir("/opt/palisade-e2e/bin")), open("/etc/palisade-e2e.conf").read().split())'
ln -s /opt/palisade-e2e/bin/hello /usr/local/bin/palisade-hello
palisade-hello two
`)
	want := "script says one\nwritten by python\n['hello'] ['written', 'by', 'python', 'child']\nscript says two\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("sandbox: exit %d\n%q\nwant %q\nstderr: %s", r.code, r.stdout, want, r.stderr)
	}
	// Nothing carries over to the next sandbox.
	r = sandboxSh(t, `ls /opt/palisade-e2e /etc/palisade-e2e.conf /usr/local/bin/palisade-hello 2>&1 | wc -l; test -e /etc/palisade-e2e.conf && echo present || echo absent`)
	if r.stdout != "3\nabsent\n" {
		t.Errorf("a new sandbox sees the last one's files: %q (stderr %q)", r.stdout, r.stderr)
	}
}

// TestOverlayTarRoundTrip archives /usr/share/doc, unpacks it into the
// overlay and compares every file, link and directory with the host's.
func TestOverlayTarRoundTrip(t *testing.T) {
	list := `find . | sort; find . -type f -print0 | sort -z | xargs -0 md5sum; find . -type l -print0 | sort -z | xargs -0 -r readlink`
	native := nativeSh(t, "/usr/share/doc", list)
	if native.code != 0 {
		t.Fatalf("native listing failed: %d", native.code)
	}
	r := sandboxSh(t, `set -e
tar czf /t.tgz -C /usr/share doc
mkdir /x
tar xzf /t.tgz -C /x
cd /usr/share/doc && (`+list+`) > /a.txt
cd /x/doc && (`+list+`) > /b.txt
cmp /a.txt /b.txt && echo same
cat /b.txt`)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "same\n") {
		t.Fatalf("sandbox: exit %d, %s\nstderr: %s", r.code, clip(r.stdout), r.stderr)
	}
	if got := strings.TrimPrefix(r.stdout, "same\n"); got != native.stdout {
		t.Errorf("unpacked tree differs from the host's /usr/share/doc:\n%s\nwant:\n%s", clip(got), clip(native.stdout))
	}
}

// TestOverlayFindCount checks that walking a big lower tree sees what the
// host sees.
func TestOverlayFindCount(t *testing.T) {
	native := nativeSh(t, "/", "find /usr -xdev | wc -l")
	r := sandboxSh(t, "find /usr -xdev | wc -l")
	if r.code != 0 || r.stdout != native.stdout {
		t.Errorf("find /usr -xdev | wc -l: sandbox %q (exit %d, %s), native %q", r.stdout, r.code, clip(r.stderr), native.stdout)
	}
}

// TestOverlayRemoveAndRecreateTree removes a host directory tree and makes
// a new one at its place: none of the old entries may come back.
func TestOverlayRemoveAndRecreateTree(t *testing.T) {
	pkg := docPackages(t, 1)[0]
	count := nativeSh(t, "/", "ls /usr/share/doc | wc -l").stdout
	d := "/usr/share/doc/" + pkg
	r := sandboxSh(t, `set -e
rm -rf `+d+`
test ! -e `+d+` && echo removed
ls /usr/share/doc | wc -l
mkdir -p `+d+`/sub
echo x > `+d+`/sub/f
ls -A `+d+`
ls -A `+d+`/sub
ls /usr/share/doc | wc -l
rm -rf `+d+`
mkdir `+d+`
ls -A `+d+` | wc -l`)
	var n int
	fmt.Sscan(count, &n)
	want := fmt.Sprintf("removed\n%d\nsub\nf\n%d\n0\n", n-1, n)
	if r.code != 0 || r.stdout != want {
		t.Errorf("sandbox: exit %d\n%q\nwant %q\nstderr: %s", r.code, r.stdout, want, r.stderr)
	}
	if _, err := os.Stat(d); err != nil {
		t.Errorf("host %s: %v", d, err)
	}
}

// overlayScript exercises directory operations in the current directory
// and prints what they left. Directory sizes are filesystem-specific, so
// only other files' sizes are printed.
const overlayScript = `set -e
umask 022
chmod 755 .
mkdir -p a/b/c
echo hello > a/f
ln a/f a/hard
ln -s f a/sym
ln -s ../missing a/b/dangling
chmod 640 a/f
chmod 751 a/b
mkfifo a/fifo
mv a/b/c a/c2
mv a/hard a/b/hard2
touch a/b/e
rm a/b/e
printf 12345 > a/five
truncate -s 3 a/five
mkdir a/d1 a/d2
touch a/d1/x
mv -T a/d2 a/d1 2>/dev/null || echo "mv over non-empty dir failed"
rmdir a/d1 2>/dev/null || echo "rmdir non-empty failed"
cp -a a copy
mv copy/sym copy/sym2
rm -r copy/c2
mv copy/b copy/b2
ln -sf five copy/sym2
ls -R .
find . | sort | while read -r p; do
	if [ -d "$p" ]; then stat -c '%n %F %a %h' "$p"; else stat -c '%n %F %a %h %s' "$p"; fi
done
`

// TestOverlayScratchDirLikeNative runs a script of mkdir, ln, ln -s, chmod,
// mv, rm and stat in a fresh directory of the sandbox's root and in a fresh
// host directory, and compares what they print.
func TestOverlayScratchDirLikeNative(t *testing.T) {
	dir, err := os.MkdirTemp("/var/tmp", "palisade-overlay-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	native := nativeSh(t, dir, overlayScript)
	if native.code != 0 {
		t.Fatalf("native script failed: %d %s", native.code, native.stdout)
	}
	r := sandboxSh(t, "mkdir /palisade-scratch && cd /palisade-scratch && "+overlayScript)
	if r.code != 0 || r.stdout != native.stdout {
		t.Errorf("sandbox (exit %d):\n%s\nnative:\n%s\nstderr: %s", r.code, r.stdout, native.stdout, r.stderr)
	}
}

// TestOverlayStat checks what stat(2) and statfs(2) say about the overlay.
func TestOverlayStat(t *testing.T) {
	r := sandboxSh(t, `python3 -c '
import os
f = open("/etc/passwd")
a, b = os.fstat(f.fileno()), os.stat("/etc/passwd")
print("fstat==stat", (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino))
print("same dev", os.stat("/").st_dev == os.stat("/usr/bin").st_dev == b.st_dev)
ino = b.st_ino
os.chmod("/etc/passwd", 0o600)
print("ino kept over copy-up", os.stat("/etc/passwd").st_ino == ino)
print("old fd still reads", len(f.read()) > 0)
open("/new1", "w").close(); open("/new2", "w").close()
inos = [os.stat(p).st_ino for p in ["/new1", "/new2", "/etc/passwd", "/etc/group", "/", "/etc"]]
print("distinct", len(set(inos)) == len(inos))
print("dirent inos", all(e.inode() == os.stat(e.path, follow_symlinks=False).st_ino for e in os.scandir("/etc")))
'
stat -f -c '%t' /`)
	want := "fstat==stat True\nsame dev True\nino kept over copy-up True\nold fd still reads True\ndistinct True\ndirent inos True\n794c7630\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("sandbox: exit %d\n%s\nwant:\n%s\nstderr: %s", r.code, r.stdout, want, r.stderr)
	}
}
