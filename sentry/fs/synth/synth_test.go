package synth

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/vfs"
)

func open(t *testing.T, fs *FS, d vfs.Dentry, flags uint32) (*vfs.FileDescription, error) {
	t.Helper()
	m := &vfs.Mount{FS: fs, Root: fs.Root()}
	return d.Open(context.Background(), vfs.VirtualDentry{Mount: m, Dentry: d}, flags)
}

func readAll(t *testing.T, f *vfs.FileDescription) string {
	t.Helper()
	var out []byte
	buf := make([]byte, 3)
	for {
		n, err := f.Read(context.Background(), buf)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if n == 0 {
			return string(out)
		}
		out = append(out, buf[:n]...)
	}
}

// TestDataFile checks that contents are made at each open, read in pieces
// and seeked, and that a read-only file refuses writes as Linux's /proc
// does (EINVAL at write).
func TestDataFile(t *testing.T) {
	fs := NewFS("proc", 0x9fa0, 0o555)
	root := fs.RootDir()
	gen := 0
	f := fs.NewDataFile(root, "f", 0o444, func(context.Context) ([]byte, error) {
		gen++
		return []byte("generated " + string(rune('0'+gen))), nil
	})
	root.Add("f", f)
	d, err := open(t, fs, f, unix.O_RDONLY)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if got := readAll(t, d); got != "generated 1" {
		t.Errorf("contents: got %q, want %q", got, "generated 1")
	}
	if off, err := d.Seek(context.Background(), 2, unix.SEEK_SET); err != nil || off != 2 {
		t.Errorf("seek: got %d, %v", off, err)
	}
	if got := readAll(t, d); got != "nerated 1" {
		t.Errorf("after seek: got %q", got)
	}
	d2, _ := open(t, fs, f, unix.O_RDONLY)
	if got := readAll(t, d2); got != "generated 2" {
		t.Errorf("second open: got %q, want fresh contents", got)
	}
	st, _ := d2.Stat(context.Background())
	if st.Size != 0 || st.Mode != vfs.S_IFREG|0o444 {
		t.Errorf("stat: size %d mode %o; want 0 and a regular 0444 file", st.Size, st.Mode)
	}
	w, err := open(t, fs, f, unix.O_WRONLY)
	if err != nil {
		t.Fatalf("open for writing: %v (the mode decides, not the file)", err)
	}
	if _, err := w.Write(context.Background(), []byte("x")); err != unix.EINVAL {
		t.Errorf("write: got %v, want EINVAL", err)
	}
	if gen != 2 {
		t.Errorf("contents made %d times, want 2 (not for a write-only open)", gen)
	}
}

// TestRWFile checks that each write reaches the write function whole.
func TestRWFile(t *testing.T) {
	fs := NewFS("proc", 0x9fa0, 0o555)
	root := fs.RootDir()
	value := "0"
	var writes []string
	f := fs.NewRWFile(root, "v", 0o644, func(context.Context) ([]byte, error) { return []byte(value + "\n"), nil },
		func(_ context.Context, b []byte) (int, error) {
			if string(b) == "bad" {
				return 0, unix.EINVAL
			}
			writes = append(writes, string(b))
			value = string(b)
			return len(b), nil
		})
	w, err := open(t, fs, f, unix.O_WRONLY)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	ctx := context.Background()
	if n, err := w.Write(ctx, []byte("12")); n != 2 || err != nil {
		t.Errorf("write: %d, %v", n, err)
	}
	if _, err := w.Write(ctx, []byte("bad")); err != unix.EINVAL {
		t.Errorf("bad write: got %v, want EINVAL", err)
	}
	if n, err := w.PWrite(ctx, []byte("34"), 100); n != 2 || err != nil {
		t.Errorf("pwrite: %d, %v", n, err)
	}
	if len(writes) != 2 || writes[0] != "12" || writes[1] != "34" {
		t.Errorf("writes: got %q", writes)
	}
	r, _ := open(t, fs, f, unix.O_RDONLY)
	if got := readAll(t, r); got != "34\n" {
		t.Errorf("read back: got %q", got)
	}
}

// TestOwnerAndAccess checks computed owners and access refusals of files,
// directories (open, lookup and listing) and symlinks.
func TestOwnerAndAccess(t *testing.T) {
	fs := NewFS("proc", 0x9fa0, 0o555)
	root := fs.RootDir()
	deny := false
	access := func(context.Context) error {
		if deny {
			return unix.EACCES
		}
		return nil
	}
	owner := func(context.Context) (uint32, uint32) { return 1000, 1001 }
	d := root.Subdir("d", 0o500, nil)
	d.Owner, d.Access = owner, access
	f := fs.NewDataFile(d, "f", 0o400, func(context.Context) ([]byte, error) { return []byte("x"), nil })
	f.Owner, f.Access = owner, access
	d.Add("f", f)
	l := fs.NewSymlink(d, "l", StaticTarget("target"))
	l.Access = access
	d.Add("l", l)
	ctx := context.Background()

	st, _ := f.Stat(ctx)
	if st.UID != 1000 || st.GID != 1001 {
		t.Errorf("owner: got %d:%d, want 1000:1001", st.UID, st.GID)
	}
	if _, err := d.Lookup(ctx, "f"); err != nil {
		t.Errorf("lookup allowed: %v", err)
	}
	deny = true
	if _, err := open(t, fs, f, unix.O_RDONLY); err != unix.EACCES {
		t.Errorf("open denied: got %v, want EACCES", err)
	}
	if _, err := d.Lookup(ctx, "f"); err != unix.EACCES {
		t.Errorf("lookup denied: got %v, want EACCES", err)
	}
	if _, err := open(t, fs, d, unix.O_RDONLY); err != unix.EACCES {
		t.Errorf("opendir denied: got %v, want EACCES", err)
	}
	if _, err := l.Readlink(ctx); err != unix.EACCES {
		t.Errorf("readlink denied: got %v, want EACCES", err)
	}
	deny = false
	if got, err := l.Readlink(ctx); got != "target" || err != nil {
		t.Errorf("readlink: got %q, %v", got, err)
	}
}

// dyn is a dynamic directory of numbered entries.
type dyn struct{ names []string }

func (d dyn) Lookup(ctx context.Context, parent *Dir, name string) (vfs.Dentry, error) {
	for _, n := range d.names {
		if n == name {
			return parent.FS().NewSymlink(parent, name, StaticTarget("to-"+name)), nil
		}
	}
	return nil, unix.ENOENT
}

func (d dyn) List(ctx context.Context, parent *Dir) ([]vfs.Dirent, error) {
	var out []vfs.Dirent
	for i, n := range d.names {
		out = append(out, vfs.Dirent{Name: n, Ino: uint64(100 + i), Type: vfs.DirentType(vfs.S_IFLNK)})
	}
	return out, nil
}

// TestDirListing checks that a listing has ".", "..", the static children
// in order, then the dynamic ones.
func TestDirListing(t *testing.T) {
	fs := NewFSDynamic("proc", 0x9fa0, 0o555, dyn{names: []string{"1", "2"}})
	root := fs.RootDir()
	root.Subdir("sys", 0o555, nil)
	root.Add("self", fs.NewSymlink(root, "self", StaticTarget("1")))
	f, err := open(t, fs, root, unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := f.IterDirents(context.Background(), func(d vfs.Dirent) bool {
		names = append(names, d.Name)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{".", "..", "sys", "self", "1", "2"}
	if len(names) != len(want) {
		t.Fatalf("listing: got %q, want %q", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("listing: got %q, want %q", names, want)
		}
	}
	if c, err := root.Lookup(context.Background(), "2"); err != nil || c.Mode()&vfs.S_IFMT != vfs.S_IFLNK {
		t.Errorf("dynamic lookup: %v, %v", c, err)
	}
	if _, err := root.Lookup(context.Background(), "3"); err != unix.ENOENT {
		t.Errorf("missing dynamic entry: got %v, want ENOENT", err)
	}
}

// TestMagicLink checks that a magic link's text and destination are its
// own, that it is a vfs.MagicLink, and that access checks apply to both.
func TestMagicLink(t *testing.T) {
	fs := NewFS("proc", 0x9fa0, 0o555)
	root := fs.RootDir()
	dest := root.Subdir("dest", 0o555, nil)
	m := &vfs.Mount{FS: fs, Root: root}
	l := fs.NewMagicLink(root, "cwd", 0o777, StaticTarget("/somewhere/else"),
		func(context.Context) (vfs.VirtualDentry, error) {
			return vfs.VirtualDentry{Mount: m, Dentry: dest}, nil
		})
	root.Add("cwd", l)
	var ml vfs.MagicLink = l
	ctx := context.Background()
	if s, _ := ml.Readlink(ctx); s != "/somewhere/else" {
		t.Errorf("readlink: got %q", s)
	}
	if vd, err := ml.Follow(ctx); err != nil || vd.Dentry != dest {
		t.Errorf("follow: got %v, %v", vd, err)
	}
	l.Access = func(context.Context) error { return unix.EACCES }
	if _, err := ml.Follow(ctx); !errors.Is(err, unix.EACCES) {
		t.Errorf("follow denied: got %v", err)
	}
	// Through path resolution.
	l.Access = nil
	ns := vfs.NewMountNamespace(fs, "proc", false)
	rvd := ns.Root()
	got, err := ns.Resolve(ctx, "/cwd", vfs.ResolveOpts{Root: rvd, Start: rvd, FollowFinal: true})
	if err != nil || got.Dentry != dest {
		t.Errorf("resolve /cwd: got %v, %v; want dest", got.Dentry, err)
	}
}
