package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Bind mounts (runsc do --volume HOST:CTR[:ro]): the gofer serves HOST,
// the sentry mounts it at CTR. Writes reach the host unless the mount is
// read-only; the host directories live under /var/tmp, since the
// sandbox's /tmp is its own.

// bindSource makes a directory under /var/tmp holding what scratchRoot's
// /data holds (see there), removed at the end of the test.
func bindSource(t *testing.T) string {
	t.Helper()
	root := scratchRoot(t)
	return filepath.Join(root, "data")
}

// sandboxEnv is the environment runsc (and so the sandbox) runs with for
// the scripts that a native busybox also runs.
var sandboxEnv = []string{"PATH=/bin:/usr/bin"}

// TestBindReadWrite runs writeScript (create, append, truncate, mkdir,
// rename, symlink, hard link, chmod, unlink, rmdir) on a read-write bind
// mount and compares the host directory afterwards with what the same
// script does natively on a copy.
func TestBindReadWrite(t *testing.T) {
	src := bindSource(t)
	native := t.TempDir()
	copyTree(t, src, filepath.Join(native, "data"))
	wantOut := runNative(t, filepath.Join(native, "data"))
	want := treeState(t, filepath.Join(native, "data"))

	// The mount point doesn't exist in the root: it is made (in the
	// memory overlay, not on the host).
	const ctr = "/palisade-bind-rw"
	if _, err := os.Lstat(ctr); err == nil {
		t.Fatalf("%s exists on the host; the test wants it missing", ctr)
	}
	r := run(t, sandboxEnv, runsc, "do", "--volume", src+":"+ctr, busybox, "sh", "-c", writeScript, "sh", ctr)
	if r.code != 0 || r.stdout != wantOut {
		t.Fatalf("sandbox: exit %d, stdout %q, stderr %q; want 0, %q", r.code, r.stdout, r.stderr, wantOut)
	}
	if d := diffStates(treeState(t, src), want); len(d) != 0 {
		t.Errorf("host directory after the sandbox's changes differs from a native run's:\n%s", strings.Join(d, "\n"))
	}
	if _, err := os.Lstat(ctr); err == nil {
		t.Errorf("the mount point %s was made on the host, not in the sandbox's overlay", ctr)
	}

	// Host files are readable inside, including what the host changes
	// while no sandbox runs; a new file written inside has the same
	// content on the host.
	if err := os.WriteFile(filepath.Join(src, "from-host"), []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = do(t, nil, "-v", src+":/mnt/bind", "/bin/sh", "-c", "cat /mnt/bind/from-host /mnt/bind/a/b/moved.txt && head -c 100000 /dev/urandom > /mnt/bind/random && sha256sum /mnt/bind/random")
	if !strings.HasPrefix(r.stdout, "host\ncreated\n") || r.code != 0 {
		t.Fatalf("reading host files: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	sum := run(t, nil, "sha256sum", filepath.Join(src, "random"))
	inside := strings.Fields(strings.TrimPrefix(r.stdout, "host\ncreated\n"))
	if len(inside) == 0 || !strings.HasPrefix(sum.stdout, inside[0]+" ") {
		t.Errorf("file written inside: sandbox's sha256 %q, host's %q", inside, sum.stdout)
	}
}

// TestBindReadOnly checks that every change to a read-only bind mount
// fails with EROFS and the host directory stays as it was.
func TestBindReadOnly(t *testing.T) {
	src := bindSource(t)
	before := treeState(t, src)
	script := `cd /ro
cat keep.txt
for cmd in "echo x > new.txt" "echo x >> keep.txt" "truncate -s 0 trunc.txt" "touch keep.txt" "chmod 600 keep.txt" \
	"mkdir d" "rmdir rmdir" "rm rmme.txt" "mv old.txt moved.txt" "ln -s x sym" "ln keep.txt hard" "mkfifo f"; do
	if (eval "$cmd") 2>/tmp/err; then echo "$cmd: succeeded"; else echo "$cmd: $(grep -c 'Read-only file system' /tmp/err)"; fi
done
`
	r := run(t, sandboxEnv, runsc, "do", "--volume", src+":/ro:ro", busybox, "sh", "-c", script)
	if r.code != 0 {
		t.Fatalf("sandbox: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) == 0 || lines[0] != "keep" {
		t.Errorf("reading a read-only mount: got %q, want keep", r.stdout)
	}
	for _, l := range lines[1:] {
		if !strings.HasSuffix(l, ": 1") {
			t.Errorf("%s (want 1 error saying Read-only file system)", l)
		}
	}
	if d := diffStates(treeState(t, src), before); len(d) != 0 {
		t.Errorf("host directory changed under a read-only bind mount:\n%s", strings.Join(d, "\n"))
	}
}

// TestBindFile bind-mounts single files, read-only and read-write, at
// paths that don't exist in the root, and checks /proc/self/mountinfo.
func TestBindFile(t *testing.T) {
	dir, err := os.MkdirTemp("/var/tmp", "bind-file-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	conf := filepath.Join(dir, "palisade.conf")
	rw := filepath.Join(dir, "log.txt")
	if err := os.WriteFile(conf, []byte("setting = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rw, []byte("first\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const ctrConf = "/etc/palisade-test.conf"
	if _, err := os.Lstat(ctrConf); err == nil {
		t.Fatalf("%s exists on the host; the test wants it missing", ctrConf)
	}
	script := `cat /etc/palisade-test.conf
echo second >> /var/log/palisade/log.txt
cat /var/log/palisade/log.txt
if echo x > /etc/palisade-test.conf; then echo "write succeeded"; fi
test -f /etc/palisade-test.conf && echo "regular file"
grep -E ' /etc/palisade-test.conf | /var/log/palisade/log.txt ' /proc/self/mountinfo
`
	r := do(t, nil, "-v", conf+":"+ctrConf+":ro", "-v", rw+":/var/log/palisade/log.txt", "/bin/sh", "-c", script)
	if r.code != 0 {
		t.Fatalf("sandbox: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	want := "setting = 1\nfirst\nsecond\nregular file\n"
	if !strings.HasPrefix(r.stdout, want) {
		t.Errorf("stdout %q, want it to start with %q", r.stdout, want)
	}
	if !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf("writing a read-only file mount: stderr %q, want Read-only file system", r.stderr)
	}
	// mountinfo: ID PARENT MAJ:MIN ROOT POINT OPTIONS - TYPE SOURCE SUPER.
	info := strings.Split(strings.TrimSpace(strings.TrimPrefix(r.stdout, want)), "\n")
	wantInfo := map[string][2]string{ctrConf: {"ro", conf}, "/var/log/palisade/log.txt": {"rw", rw}}
	if len(info) != len(wantInfo) {
		t.Errorf("mountinfo lines %q, want one for each of %v", info, wantInfo)
	}
	for _, l := range info {
		f := strings.Fields(l)
		if len(f) < 10 || f[6] != "-" {
			t.Errorf("mountinfo line %q: malformed", l)
			continue
		}
		w, ok := wantInfo[f[4]]
		if !ok || f[5] != w[0] || f[8] != w[1] {
			t.Errorf("mountinfo line %q: want mount point %s, options %s, source %s", l, f[4], w[0], w[1])
		}
	}
	if b, _ := os.ReadFile(conf); string(b) != "setting = 1\n" {
		t.Errorf("read-only file on the host: %q", b)
	}
	if b, _ := os.ReadFile(rw); string(b) != "first\nsecond\n" {
		t.Errorf("read-write file on the host: %q, want %q", b, "first\nsecond\n")
	}
	if _, err := os.Lstat(ctrConf); err == nil {
		t.Errorf("the mount point %s was made on the host", ctrConf)
	}
}

// TestBindSymlinksStayInside checks that symlinks in a bind mount's
// source that point outside it resolve in the sandbox's tree, not the
// host's: an absolute target names the file of that path in the
// sandbox's root, and ".." climbs out of the mount point, not out of the
// source. Writes through them never reach the host's files.
func TestBindSymlinksStayInside(t *testing.T) {
	root := scratchRoot(t)
	src := filepath.Join(root, "data")
	outside, err := os.MkdirTemp("/var/tmp", "bind-outside-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(outside) })
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The same path in the sandbox's root holds another file.
	inRoot := filepath.Join(root, victim)
	if err := os.MkdirAll(filepath.Dir(inRoot), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inRoot, []byte("sandbox's own\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"abs": victim, "absdir": outside, "up": "../../../../../../.."} {
		if err := os.Symlink(target, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	// A file only the sandbox's root has.
	if err := os.WriteFile(filepath.Join(root, "sandbox-root-marker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	before := treeState(t, outside)
	script := `cat /mnt/abs /mnt/absdir/victim /mnt/up` + victim + `
echo pwned > /mnt/abs; echo pwned >> /mnt/absdir/victim; echo pwned > /mnt/up` + victim + `
mkdir /mnt/absdir/new; rm -f /mnt/absdir/victim; chmod 777 /mnt/abs
test -e /mnt/up/sandbox-root-marker && echo "up is the sandbox's root"
`
	for _, overlay := range []string{"memory", "none"} {
		r := do(t, []string{"--overlay=" + overlay}, "--root-dir", root, "-v", src+":/mnt", "/bin/sh", "-c", script)
		t.Logf("--overlay=%s: exit %d stdout %q stderr %q", overlay, r.code, r.stdout, r.stderr)
		want := strings.Repeat("sandbox's own\n", 3)
		if !strings.HasPrefix(r.stdout, want) {
			t.Errorf("--overlay=%s: reading through the links: stdout %q, want it to start with %q", overlay, r.stdout, want)
		}
		// ".." from the mount's root leads to the sandbox's root, whose
		// entries are the scratch root's.
		if !strings.HasSuffix(r.stdout, "up is the sandbox's root\n") {
			t.Errorf("--overlay=%s: /mnt/up is not the sandbox's root: stdout %q", overlay, r.stdout)
		}
		if d := diffStates(treeState(t, outside), before); len(d) != 0 {
			t.Errorf("--overlay=%s: files outside the bind source changed:\n%s", overlay, strings.Join(d, "\n"))
		}
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "precious\n" {
		t.Errorf("victim: %q, %v", b, err)
	}
}

// TestBindMountPointOverlayNone checks that with --overlay=none, where
// the root is the host's tree served read-write, a missing mount point is
// made in the host's root directory, as runc makes it.
func TestBindMountPointOverlayNone(t *testing.T) {
	root := scratchRoot(t)
	src := bindSource(t)
	r := do(t, []string{"--overlay=none"}, "--root-dir", root, "-v", src+":/new/mount/point:ro", "/bin/cat", "/new/mount/point/keep.txt")
	if r.code != 0 || r.stdout != "keep\n" {
		t.Fatalf("exit %d stdout %q stderr %q; want keep", r.code, r.stdout, r.stderr)
	}
	if st, err := os.Stat(filepath.Join(root, "new", "mount", "point")); err != nil || !st.IsDir() {
		t.Errorf("mount point in the host root: %v, %v; want a directory", st, err)
	}
}

// TestBindBadVolumes checks that bad --volume values are one line naming
// the flag and the value, fail, and leave no state behind.
func TestBindBadVolumes(t *testing.T) {
	state := t.TempDir()
	src := bindSource(t)
	for _, tc := range []struct {
		flag, value, want string
		before            []string
	}{
		{"--volume", "nocolon", "want HOST:CTR", nil},
		{"-v", src + ":relative", `container path "relative" must be absolute`, nil},
		{"--volume", "/no/such/dir:/x", "no such file or directory", nil},
		{"--volume", src + ":/x:rx", `unknown option "rx"`, nil},
		{"--volume", src + ":/x:ro:extra", "want HOST:CTR", nil},
		{"--volume", src + ":/", "cannot mount over the root", nil},
		{"--volume", ":/x", "want HOST:CTR", nil},
		{"-v", src + ":/x/", `duplicate mount point "/x"`, []string{"-v", src + ":/x:ro"}},
	} {
		args := append(append([]string{"--root=" + state, "do"}, tc.before...), tc.flag, tc.value, "/bin/true")
		r := run(t, nil, runsc, args...)
		if r.code == 0 {
			t.Errorf("runsc %v succeeded, want failure", args)
		}
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		name := strings.TrimLeft(tc.flag, "-")
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "runsc: ") || !strings.Contains(lines[0], tc.want) ||
			!strings.Contains(lines[0], fmt.Sprintf("%q", tc.value)) || !strings.Contains(lines[0], "-"+name) {
			t.Errorf("runsc %v: stderr %q, want one line starting with \"runsc: \" naming -%s and %q, containing %q", args, r.stderr, name, tc.value, tc.want)
		}
	}
	left, _ := os.ReadDir(state)
	if len(left) != 0 {
		t.Errorf("state left behind in %s: %v", state, left)
	}
}

// TestBindMountErrors checks that a bind mount the sandbox can't make is
// one line saying which and why, fails, and leaves no state behind: a
// missing mount point on a read-only mount (as runc fails to make one on
// a read-only root), a directory onto a file and a file onto a directory.
func TestBindMountErrors(t *testing.T) {
	state := t.TempDir()
	src := bindSource(t)
	file := filepath.Join(src, "keep.txt")
	for _, tc := range []struct {
		vols []string
		want string
	}{
		{[]string{src + ":/ro:ro", src + ":/ro/missing/inner"}, "mount /ro/missing/inner: mount point: make /ro/missing: read-only file system"},
		{[]string{src + ":/bin/sh"}, "mount /bin/sh: destination is not a directory"},
		{[]string{file + ":/usr"}, "mount /usr: source " + file + " is not a directory, destination is"},
	} {
		args := []string{"--root=" + state, "do"}
		for _, v := range tc.vols {
			args = append(args, "-v", v)
		}
		args = append(args, "/bin/true")
		r := run(t, nil, runsc, args...)
		if r.code == 0 {
			t.Errorf("runsc %v succeeded, want failure", args)
		}
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "runsc: ") || !strings.Contains(lines[0], tc.want) {
			t.Errorf("runsc %v: stderr %q, want one line starting with \"runsc: \" containing %q", args, r.stderr, tc.want)
		}
	}
	left, _ := os.ReadDir(state)
	if len(left) != 0 {
		t.Errorf("state left behind in %s: %v", state, left)
	}
	if _, err := os.Lstat(filepath.Join(src, "missing")); err == nil {
		t.Errorf("a mount point was made in a read-only bind mount's source")
	}
}

// TestBindSharedHostChanges checks that a bind mount shows what the host
// changes while the sandbox runs (--file-access-mounts=shared, the
// default): a process inside waits, in a loop, for a file the host
// rewrites by renaming a new one over it (in a directory mount, and as a
// single-file mount), for a file the host removes to go, for a file the
// host adds to a directory already listed to appear, and for a size the
// host changes in place to show in stat. A file opened before the rewrite
// still reads the old contents, as on Linux.
func TestBindSharedHostChanges(t *testing.T) {
	dir, err := os.MkdirTemp("/var/tmp", "bind-shared-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	single := filepath.Join(dir, "single.txt")
	write := func(path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	replace := func(path, content string) {
		t.Helper()
		write(path+".new", content)
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(data, "f"), "v1")
	write(filepath.Join(data, "gone"), "x")
	write(filepath.Join(data, "grow"), "12345")
	write(single, "s1")

	script := `wait_for() {
	what=$1; shift
	i=0
	until eval "$@"; do
		i=$((i+1))
		if [ $i -gt 400 ]; then echo "timed out waiting: $what"; exit 1; fi
		sleep 0.05
	done
}
exec 3</data/f
echo "f: $(cat /data/f) single: $(cat /single.txt) size: $(stat -c %s /data/grow)"
ls /data >/dev/null && test -e /data/gone && echo ready
wait_for "f rewritten" '[ "$(cat /data/f)" = v2 ]'
echo "f: $(cat /data/f) opened before: $(cat <&3)"
wait_for "single file rewritten" '[ "$(cat /single.txt)" = s2 ]'
echo "single: $(cat /single.txt)"
wait_for "gone removed" '! test -e /data/gone'
echo "gone: removed"
wait_for "newfile listed" 'ls /data | grep -qx newfile'
echo "newfile: $(cat /data/newfile)"
wait_for "grow grown" '[ "$(stat -c %s /data/grow)" = 10 ]'
echo "size: $(stat -c %s /data/grow)"
`
	cmd := exec.Command(runsc, "do", "-v", data+":/data", "-v", single+":/single.txt:ro", "/bin/sh", "-c", script)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var out []string
	next := func() (string, bool) {
		select {
		case l, ok := <-lines:
			if ok {
				out = append(out, l)
			}
			return l, ok
		case <-time.After(60 * time.Second):
			return "", false
		}
	}
	fail := func(format string, args ...any) {
		t.Helper()
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf(format+"; output so far %q, stderr %q", append(args, out, stderr.String())...)
	}
	for {
		l, ok := next()
		if !ok {
			fail("the sandbox never said ready")
		}
		if l == "ready" {
			break
		}
	}
	// Let the loops inside start on what they cached.
	time.Sleep(200 * time.Millisecond)
	replace(filepath.Join(data, "f"), "v2")
	replace(single, "s2")
	if err := os.Remove(filepath.Join(data, "gone")); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(data, "newfile"), "new")
	g, err := os.OpenFile(filepath.Join(data, "grow"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	g.WriteString("67890")
	g.Close()
	for {
		if _, ok := next(); !ok {
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sandbox: %v; output %q, stderr %q", err, out, stderr.String())
	}
	want := []string{
		"f: v1 single: s1 size: 5",
		"ready",
		"f: v2 opened before: v1",
		"single: s2",
		"gone: removed",
		"newfile: new",
		"size: 10",
	}
	if strings.Join(out, "\n") != strings.Join(want, "\n") {
		t.Errorf("sandbox output:\n%s\nwant:\n%s\nstderr %q", strings.Join(out, "\n"), strings.Join(want, "\n"), stderr.String())
	}
}
