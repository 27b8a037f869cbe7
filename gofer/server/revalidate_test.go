package server_test

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
	"palisade.dev/gofer/protocol"
	"palisade.dev/gofer/server"
)

// replace renames a new file holding content over path, as editors do.
func replace(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path+".new", []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

func TestRevalidate(t *testing.T) {
	dir := makeTree(t)
	f := start(t, dir)
	root := f.attach(t)
	path := filepath.Join(dir, "file.txt")
	old, attr, err := f.c.Walk(root, "file.txt")
	if err != nil {
		t.Fatal(err)
	}

	// Unchanged: no new FID, the attributes of now.
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	fid, a, err := f.c.Revalidate(root, "file.txt", attr.Dev, attr.Ino)
	if err != nil || fid != 0 || a.Ino != attr.Ino || a.Mode != unix.S_IFREG|0o600 {
		t.Errorf("Revalidate of an unchanged name: FID %d, mode %o, %v; want 0, %o", fid, a.Mode, err, unix.S_IFREG|0o600)
	}

	// Replaced: a new FID for the new file, which opens; the old FID no
	// longer does.
	replace(t, path, "new\n")
	fid, a, err = f.c.Revalidate(root, "file.txt", attr.Dev, attr.Ino)
	if err != nil || fid == 0 || a.Ino != lstat(t, path).Ino {
		t.Fatalf("Revalidate of a replaced name: FID %d, ino %d, %v; want a new FID, ino %d", fid, a.Ino, err, lstat(t, path).Ino)
	}
	fd, err := f.c.Open(fid, unix.O_RDONLY)
	if err != nil {
		t.Fatalf("Open of the new FID: %v", err)
	}
	if got := readFD(t, fd); got != "new\n" {
		t.Errorf("new FID reads %q, want %q", got, "new\n")
	}
	_, err = f.c.Open(old, unix.O_RDONLY)
	checkErrno(t, "Open of the replaced FID", err, unix.ESTALE)
	// The new FID is the name's now.
	if again, _, err := f.c.Revalidate(root, "file.txt", a.Dev, a.Ino); err != nil || again != 0 {
		t.Errorf("Revalidate with the new file's numbers: FID %d, %v; want 0, nil", again, err)
	}

	// Removed.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.c.Revalidate(root, "file.txt", a.Dev, a.Ino)
	checkErrno(t, "Revalidate of a removed name", err, unix.ENOENT)

	// An empty name on a directory only stats it: the root of a tree
	// never follows.
	rootAttr, err := f.c.Stat(root)
	if err != nil {
		t.Fatal(err)
	}
	if fid, a, err := f.c.Revalidate(root, "", 0, 0); err != nil || fid != 0 || a.Ino != rootAttr.Ino {
		t.Errorf("Revalidate of the root itself: FID %d ino %d, %v; want 0, %d", fid, a.Ino, err, rootAttr.Ino)
	}

	// Bad arguments.
	for _, name := range []string{".", "..", "a/b", "x\x00"} {
		_, _, err := f.c.Revalidate(root, name, 0, 0)
		checkErrno(t, "Revalidate "+name, err, unix.EINVAL)
	}
	_, _, err = f.c.Revalidate(fid, "x", 0, 0)
	checkErrno(t, "Revalidate in a file", err, unix.ENOTDIR)
	_, _, err = f.c.Revalidate(12345, "x", 0, 0)
	checkErrno(t, "Revalidate with a bad FID", err, unix.EBADF)
}

// TestServeEntryFollow checks that the root of a served file follows its
// name when revalidated, and only then.
func TestServeEntryFollow(t *testing.T) {
	dir := makeTree(t)
	path := filepath.Join(dir, "file.txt")
	f := startEntry(t, dir, "file.txt", server.Options{Writable: true})
	root, attr, err := f.c.Attach()
	if err != nil {
		t.Fatal(err)
	}
	replace(t, path, "replaced\n")
	_, err = f.c.Open(root, unix.O_RDONLY)
	checkErrno(t, "Open before a revalidation", err, unix.ESTALE)

	fid, a, err := f.c.Revalidate(root, "", attr.Dev, attr.Ino)
	if err != nil || fid != 0 || a.Ino != lstat(t, path).Ino || a.Size != int64(len("replaced\n")) {
		t.Fatalf("Revalidate of the root: FID %d ino %d size %d, %v; want 0, the new file's", fid, a.Ino, a.Size, err)
	}
	fd, err := f.c.Open(root, unix.O_RDONLY)
	if err != nil {
		t.Fatalf("Open after the root followed: %v", err)
	}
	if got := readFD(t, fd); got != "replaced\n" {
		t.Errorf("root reads %q after following, want %q", got, "replaced\n")
	}
	// Every FID of the root follows, for writes too.
	other, _, err := f.c.Attach()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Setattr(other, protocol.Tsetattr{Mask: protocol.SetattrSize, Size: 2}); err != nil {
		t.Errorf("truncate through another FID of the root: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "re" {
		t.Errorf("host file after truncating the followed root: %q", b)
	}

	// Something of another type at the name is not followed; nor is a
	// missing name.
	followed := lstat(t, path).Ino
	for _, tc := range []struct {
		what string
		make func() error
	}{
		{"a directory", func() error { return os.Mkdir(path, 0o755) }},
		{"a symlink", func() error { return os.Symlink("dir/sub.txt", path) }},
		{"nothing", func() error { return nil }},
	} {
		if err := os.RemoveAll(path); err != nil {
			t.Fatal(err)
		}
		if err := tc.make(); err != nil {
			t.Fatal(err)
		}
		_, a, err := f.c.Revalidate(root, "", 0, 0)
		if err != nil || a.Ino != followed || a.Mode&unix.S_IFMT != unix.S_IFREG {
			t.Errorf("%s at the name: root ino %d mode %o, %v; want it to stay %d, a regular file", tc.what, a.Ino, a.Mode, err, followed)
		}
	}
}

// TestServeEntryDirectoryDoesNotFollow: a directory served as an entry
// stays the directory it was.
func TestServeEntryDirectoryDoesNotFollow(t *testing.T) {
	dir := makeTree(t)
	f := startEntry(t, dir, "dir", server.Options{})
	root, attr, err := f.c.Attach()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "dir"), filepath.Join(dir, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, a, err := f.c.Revalidate(root, "", attr.Dev, attr.Ino); err != nil || a.Ino != attr.Ino {
		t.Errorf("Revalidate of a directory root: ino %d, %v; want %d", a.Ino, err, attr.Ino)
	}
	if _, _, err := f.c.Walk(root, "sub.txt"); err != nil {
		t.Errorf("Walk in the directory root after the host moved it: %v", err)
	}
}
