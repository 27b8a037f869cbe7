package overlay

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/tmpfs"
	"palisade.dev/sentry/kernel/auth"
	"palisade.dev/sentry/memfile"
	"palisade.dev/sentry/vfs"
)

var ctx = context.Background()

var (
	mfOnce sync.Once
	testMF *memfile.MemoryFile
)

// memFile returns one memory file shared by the tests.
func memFile() *memfile.MemoryFile {
	mfOnce.Do(func() {
		mf, err := memfile.New("overlay-test")
		if err != nil {
			panic(err)
		}
		testMF = mf
	})
	return testMF
}

// rootCreds are credentials with every capability.
var rootCreds = auth.NewRoot(auth.AllCaps)

// credCtx is a context whose task has creds, as *kernel.Task is.
type credCtx struct {
	context.Context
	c *auth.Credentials
}

func (c credCtx) Credentials() *auth.Credentials { return c.c }

// userCtx is an unprivileged task's context.
var userCtx = credCtx{ctx, auth.New(1000, 1000, nil, 0)}

// tree builds and reads a filesystem through the vfs interfaces.
type tree struct {
	t    *testing.T
	root vfs.Dentry
	mnt  *vfs.Mount
}

func split(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// walk looks path up component by component (no symlinks followed).
func (tr *tree) walk(path string) (vfs.Dentry, error) {
	d := tr.root
	for _, n := range split(path) {
		c, err := d.Lookup(ctx, n)
		if err != nil {
			return nil, err
		}
		d = c
	}
	return d, nil
}

func (tr *tree) get(path string) vfs.Dentry {
	tr.t.Helper()
	d, err := tr.walk(path)
	if err != nil {
		tr.t.Fatalf("lookup %q: %v", path, err)
	}
	return d
}

// parent returns the directory holding path and the last name.
func (tr *tree) parent(path string) (vfs.DirWriter, string) {
	tr.t.Helper()
	parts := split(path)
	dir := tr.get(strings.Join(parts[:len(parts)-1], "/"))
	dw, ok := dir.(vfs.DirWriter)
	if !ok {
		tr.t.Fatalf("%q: not a DirWriter", path)
	}
	return dw, parts[len(parts)-1]
}

func createOpts(mode uint32) vfs.CreateOptions {
	return vfs.CreateOptions{Mode: mode, Creds: rootCreds}
}

func (tr *tree) mkdir(path string, mode uint32) {
	tr.t.Helper()
	dw, name := tr.parent(path)
	if err := dw.Mkdir(ctx, name, createOpts(vfs.S_IFDIR|mode)); err != nil {
		tr.t.Fatalf("mkdir %q: %v", path, err)
	}
}

func (tr *tree) open(d vfs.Dentry, flags uint32) *vfs.FileDescription {
	tr.t.Helper()
	fd, err := d.Open(ctx, vfs.VirtualDentry{Mount: tr.mnt, Dentry: d}, flags)
	if err != nil {
		tr.t.Fatalf("open %q: %v", d.Name(), err)
	}
	return fd
}

// writeFile creates path (or truncates it) with contents data.
func (tr *tree) writeFile(path string, data string, mode uint32) {
	tr.t.Helper()
	d, err := tr.walk(path)
	if err == unix.ENOENT {
		dw, name := tr.parent(path)
		d, err = dw.Create(ctx, name, createOpts(vfs.S_IFREG|mode))
	}
	if err != nil {
		tr.t.Fatalf("create %q: %v", path, err)
	}
	fd := tr.open(d, unix.O_WRONLY|unix.O_TRUNC)
	defer fd.DecRef()
	if n, err := fd.Write(ctx, []byte(data)); n != len(data) || err != nil {
		tr.t.Fatalf("write %q: %d, %v", path, n, err)
	}
}

// appendFile appends data to path.
func (tr *tree) appendFile(path string, data string) {
	tr.t.Helper()
	fd := tr.open(tr.get(path), unix.O_WRONLY|unix.O_APPEND)
	defer fd.DecRef()
	if n, err := fd.Write(ctx, []byte(data)); n != len(data) || err != nil {
		tr.t.Fatalf("append %q: %d, %v", path, n, err)
	}
}

func readFD(t *testing.T, fd *vfs.FileDescription) string {
	t.Helper()
	var out []byte
	buf := make([]byte, 1000)
	for {
		n, err := fd.Read(ctx, buf)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if n == 0 {
			return string(out)
		}
		out = append(out, buf[:n]...)
	}
}

func (tr *tree) read(path string) string {
	tr.t.Helper()
	fd := tr.open(tr.get(path), unix.O_RDONLY)
	defer fd.DecRef()
	return readFD(tr.t, fd)
}

func (tr *tree) symlink(path, target string) {
	tr.t.Helper()
	dw, name := tr.parent(path)
	if err := dw.Symlink(ctx, name, target, createOpts(vfs.S_IFLNK|0o777)); err != nil {
		tr.t.Fatalf("symlink %q: %v", path, err)
	}
}

func (tr *tree) mknod(path string, mode uint32, dev uint64) {
	tr.t.Helper()
	dw, name := tr.parent(path)
	if err := dw.Mknod(ctx, name, vfs.CreateOptions{Mode: mode, Dev: dev, Creds: rootCreds}); err != nil {
		tr.t.Fatalf("mknod %q: %v", path, err)
	}
}

func (tr *tree) link(path, target string) {
	tr.t.Helper()
	dw, name := tr.parent(path)
	if err := dw.Link(ctx, name, tr.get(target)); err != nil {
		tr.t.Fatalf("link %q: %v", path, err)
	}
}

func (tr *tree) setStat(path string, o vfs.SetStatOptions) {
	tr.t.Helper()
	if err := tr.get(path).(vfs.Setter).SetStat(ctx, o); err != nil {
		tr.t.Fatalf("setstat %q: %v", path, err)
	}
}

func (tr *tree) chmod(path string, mode uint32) {
	tr.t.Helper()
	tr.setStat(path, vfs.SetStatOptions{Mask: vfs.STATX_MODE, Stat: vfs.Statx{Mode: mode}})
}

func (tr *tree) setXattr(path, name, value string) {
	tr.t.Helper()
	if err := tr.get(path).(vfs.Xattrs).SetXattr(ctx, name, value, 0); err != nil {
		tr.t.Fatalf("setxattr %q %q: %v", path, name, err)
	}
}

func (tr *tree) stat(path string) vfs.Statx {
	tr.t.Helper()
	st, err := tr.get(path).Stat(ctx)
	if err != nil {
		tr.t.Fatalf("stat %q: %v", path, err)
	}
	return st
}

func (tr *tree) unlink(path string) error {
	dw, name := tr.parent(path)
	return dw.Unlink(ctx, name)
}

func (tr *tree) rmdir(path string) error {
	dw, name := tr.parent(path)
	return dw.Rmdir(ctx, name)
}

func (tr *tree) rename(from, to string, flags uint32) error {
	dw, oldName := tr.parent(from)
	nd, newName := tr.parent(to)
	return dw.Rename(ctx, oldName, nd.(vfs.Dentry), newName, flags)
}

// dirents lists a directory through a new description, without "." and
// "..".
func (tr *tree) dirents(path string) []vfs.Dirent {
	tr.t.Helper()
	fd := tr.open(tr.get(path), unix.O_RDONLY|unix.O_DIRECTORY)
	defer fd.DecRef()
	var out []vfs.Dirent
	if err := fd.IterDirents(ctx, func(de vfs.Dirent) bool {
		if de.Name != "." && de.Name != ".." {
			out = append(out, de)
		}
		return true
	}); err != nil {
		tr.t.Fatalf("getdents %q: %v", path, err)
	}
	return out
}

// names lists a directory's names, sorted.
func (tr *tree) names(path string) []string {
	tr.t.Helper()
	var out []string
	for _, e := range tr.dirents(path) {
		out = append(out, e.Name)
	}
	sort.Strings(out)
	return out
}

// dump describes everything under path, one line per node, sorted: type,
// mode, owner, size, data checksum or target, device, extended
// attributes. Inode numbers are left out; link counts are not.
func (tr *tree) dump(path string) []string {
	tr.t.Helper()
	var out []string
	var visit func(p string)
	visit = func(p string) {
		d := tr.get(p)
		st := tr.stat(p)
		line := fmt.Sprintf("%s %o %d:%d", p, st.Mode, st.UID, st.GID)
		switch st.Mode & vfs.S_IFMT {
		case vfs.S_IFREG:
			line += fmt.Sprintf(" n%d size=%d %x", st.Nlink, st.Size, sha256.Sum256([]byte(tr.read(p))))
		case vfs.S_IFLNK:
			tgt, _ := d.Readlink(ctx)
			line += " -> " + tgt
		case vfs.S_IFCHR, vfs.S_IFBLK:
			line += fmt.Sprintf(" dev=%d:%d", st.RdevMajor, st.RdevMinor)
		}
		line += fmt.Sprintf(" m%d.%d", st.Mtime.Sec, st.Mtime.Nsec)
		if x, ok := d.(vfs.Xattrs); ok {
			names, _ := x.ListXattr(ctx, 0)
			for _, n := range names {
				v, _ := x.GetXattr(ctx, n, 0)
				line += " " + n + "=" + v
			}
		}
		out = append(out, line)
		if st.Mode&vfs.S_IFMT == vfs.S_IFDIR {
			for _, n := range tr.names(p) {
				visit(strings.TrimSuffix(p, "/") + "/" + n)
			}
		}
	}
	visit(path)
	return out
}

// env is an overlay over a lower tmpfs that the test filled.
type env struct {
	t        *testing.T
	lowerFS  *tmpfs.Filesystem
	upperFS  *tmpfs.Filesystem
	fs       *Filesystem
	lower    *tree // the lower layer, directly
	upper    *tree // the upper layer, directly
	ov       *tree // the overlay
	snapshot []string
}

// newEnv makes a lower tmpfs, lets fill populate it, and mounts an
// overlay over it. At the end of the test, the lower layer must be as
// fill left it.
func newEnv(t *testing.T, fill func(lower *tree)) *env {
	t.Helper()
	e := &env{t: t}
	e.lowerFS = tmpfs.New(memFile(), tmpfs.Options{Mode: 0o755, ModeSet: true})
	lns := vfs.NewMountNamespace(e.lowerFS, "lower", false)
	e.lower = &tree{t: t, root: e.lowerFS.Root(), mnt: lns.Root().Mount}
	if fill != nil {
		fill(e.lower)
	}
	e.snapshot = e.lower.dump("/")
	e.upperFS = tmpfs.New(memFile(), tmpfs.Options{})
	fs, err := New(e.lowerFS, e.upperFS)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.fs = fs
	e.upper = &tree{t: t, root: e.upperFS.Root()}
	ns := vfs.NewMountNamespace(fs, "overlay", false)
	e.ov = &tree{t: t, root: fs.Root(), mnt: ns.Root().Mount}
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		if got := e.lower.dump("/"); strings.Join(got, "\n") != strings.Join(e.snapshot, "\n") {
			t.Errorf("the lower layer changed:\nbefore:\n%s\nafter:\n%s", strings.Join(e.snapshot, "\n"), strings.Join(got, "\n"))
		}
	})
	return e
}

// isUpperWhiteout reports whether the upper layer has a whiteout at path.
func (e *env) isUpperWhiteout(path string) bool {
	d, err := e.upper.walk(path)
	return err == nil && isWhiteout(d.(*tmpfs.Dentry))
}

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got error %v, want %v", what, got, want)
	}
}

func wantNames(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}
