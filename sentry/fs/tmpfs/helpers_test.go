package tmpfs

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/kernel/auth"
	"palisade.dev/sentry/memfile"
	"palisade.dev/sentry/vfs"
)

var ctx = context.Background()

var (
	mfOnce sync.Once
	testMF *memfile.MemoryFile
)

// memFile returns one memory file shared by the tests (each reserves a
// terabyte of address space).
func memFile(t *testing.T) *memfile.MemoryFile {
	t.Helper()
	mfOnce.Do(func() {
		mf, err := memfile.New("tmpfs-test")
		if err != nil {
			panic(err)
		}
		testMF = mf
	})
	return testMF
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a filesystem under test, mounted in a namespace of its own.
type env struct {
	t     *testing.T
	fs    *Filesystem
	mnt   *vfs.Mount
	clock *fakeClock
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	fs := New(memFile(t), opts)
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	fs.clock = clock.now
	r := fs.root.inode
	r.atime, r.mtime, r.ctime, r.btime = fs.now(), fs.now(), fs.now(), fs.now()
	ns := vfs.NewMountNamespace(fs, "tmpfs", false)
	return &env{t: t, fs: fs, mnt: ns.Root().Mount, clock: clock}
}

func (e *env) root() *Dentry { return e.fs.root }

// rootCreds are credentials with every capability.
var rootCreds = auth.NewRoot(auth.AllCaps)

func opts(mode uint32) vfs.CreateOptions {
	return vfs.CreateOptions{Mode: mode, Creds: rootCreds}
}

// credCtx is a context whose task has creds, as *kernel.Task is.
type credCtx struct {
	context.Context
	c *auth.Credentials
}

func (c credCtx) Credentials() *auth.Credentials { return c.c }

func withCreds(c *auth.Credentials) context.Context { return credCtx{ctx, c} }

// lookup walks a slash-separated path from the root.
func (e *env) lookup(path string) *Dentry {
	e.t.Helper()
	d, err := e.walk(path)
	if err != nil {
		e.t.Fatalf("lookup %q: %v", path, err)
	}
	return d
}

func (e *env) walk(path string) (*Dentry, error) {
	d := e.root()
	for _, n := range splitPath(path) {
		c, err := d.Lookup(ctx, n)
		if err != nil {
			return nil, err
		}
		d = c.(*Dentry)
	}
	return d, nil
}

func splitPath(p string) []string {
	var out []string
	for _, s := range bytes.Split([]byte(p), []byte("/")) {
		if len(s) > 0 {
			out = append(out, string(s))
		}
	}
	return out
}

// parentAndName splits path into its directory's dentry and last name.
func (e *env) parentAndName(path string) (*Dentry, string) {
	e.t.Helper()
	parts := splitPath(path)
	dir := e.root()
	for _, n := range parts[:len(parts)-1] {
		c, err := dir.Lookup(ctx, n)
		if err != nil {
			e.t.Fatalf("lookup %q in %q: %v", n, path, err)
		}
		dir = c.(*Dentry)
	}
	return dir, parts[len(parts)-1]
}

func (e *env) mkdir(path string, mode uint32) *Dentry {
	e.t.Helper()
	dir, name := e.parentAndName(path)
	if err := dir.Mkdir(ctx, name, opts(vfs.S_IFDIR|mode)); err != nil {
		e.t.Fatalf("mkdir %q: %v", path, err)
	}
	return e.lookup(path)
}

func (e *env) create(path string) *Dentry {
	e.t.Helper()
	dir, name := e.parentAndName(path)
	c, err := dir.Create(ctx, name, opts(vfs.S_IFREG|0o644))
	if err != nil {
		e.t.Fatalf("create %q: %v", path, err)
	}
	return c.(*Dentry)
}

func (e *env) open(d *Dentry, flags uint32) *vfs.FileDescription {
	e.t.Helper()
	fd, err := d.Open(ctx, vfs.VirtualDentry{Mount: e.mnt, Dentry: d}, flags)
	if err != nil {
		e.t.Fatalf("open %q: %v", d.Name(), err)
	}
	return fd
}

// writeFile creates path with contents data.
func (e *env) writeFile(path string, data []byte) *Dentry {
	e.t.Helper()
	d := e.create(path)
	fd := e.open(d, unix.O_WRONLY)
	defer fd.DecRef()
	if n, err := fd.Write(ctx, data); n != len(data) || err != nil {
		e.t.Fatalf("write %q: %d, %v", path, n, err)
	}
	return d
}

// readAll reads a file through a new description.
func (e *env) readAll(d *Dentry) []byte {
	e.t.Helper()
	fd := e.open(d, unix.O_RDONLY)
	defer fd.DecRef()
	return readFD(e.t, fd)
}

func readFD(t *testing.T, fd *vfs.FileDescription) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, 1000)
	for {
		n, err := fd.Read(ctx, buf)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if n == 0 {
			return out
		}
		out = append(out, buf[:n]...)
	}
}

func stat(t *testing.T, d vfs.Dentry) vfs.Statx {
	t.Helper()
	st, err := d.Stat(ctx)
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	return st
}

// names lists a directory through a new description.
func (e *env) names(d *Dentry) []string {
	e.t.Helper()
	fd := e.open(d, unix.O_RDONLY)
	defer fd.DecRef()
	var out []string
	if err := fd.IterDirents(ctx, func(de vfs.Dirent) bool {
		if de.Name != "." && de.Name != ".." {
			out = append(out, de.Name)
		}
		return true
	}); err != nil {
		e.t.Fatalf("getdents: %v", err)
	}
	return out
}

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got error %v, want %v", what, got, want)
	}
}

func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + seed)
	}
	return b
}
