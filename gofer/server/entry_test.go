package server_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"palisade.dev/gofer/protocol"
	"palisade.dev/gofer/server"
)

// entryFixture is a gofer serving one entry of a directory.
type entryFixture struct {
	c    *protocol.Client
	done chan error
}

// startEntry serves the entry name of dir with options o. At the end of
// the test the client is closed and ServeEntry must return nil.
func startEntry(t *testing.T, dir, name string, o server.Options) *entryFixture {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	dirFD, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	f := &entryFixture{done: make(chan error, 1)}
	go func() { f.done <- server.ServeEntry(fds[1], dirFD, name, o) }()
	if f.c, err = protocol.NewClient(fds[0]); err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() {
		f.c.Close()
		select {
		case err := <-f.done:
			if err != nil {
				t.Errorf("ServeEntry: got %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("ServeEntry did not return")
		}
		unix.Close(fds[1])
		unix.Close(dirFD)
	})
	return f
}

func readFD(t *testing.T, fd int) string {
	t.Helper()
	defer unix.Close(fd)
	buf := make([]byte, 4096)
	n, err := unix.Pread(fd, buf, 0)
	if err != nil {
		t.Fatalf("pread: %v", err)
	}
	return string(buf[:n])
}

func TestServeEntryFileReadOnly(t *testing.T) {
	dir := makeTree(t)
	path := filepath.Join(dir, "file.txt")
	f := startEntry(t, dir, "file.txt", server.Options{})
	root, attr, err := f.c.Attach()
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	st := lstat(t, path)
	if attr.Mode != st.Mode || attr.Ino != st.Ino || attr.Size != st.Size {
		t.Errorf("Attach attr: mode %o ino %d size %d, want %o %d %d", attr.Mode, attr.Ino, attr.Size, st.Mode, st.Ino, st.Size)
	}
	if f.c.Writable() {
		t.Errorf("Writable: got true for a read-only entry")
	}
	fd, err := f.c.Open(root, unix.O_RDONLY)
	if err != nil {
		t.Fatalf("Open O_RDONLY: %v", err)
	}
	if got := readFD(t, fd); got != fileContent {
		t.Errorf("read: got %q, want %q", got, fileContent)
	}
	// A file has no entries; the directory holding it is out of reach.
	for _, name := range []string{"x", "file.txt"} {
		_, _, err := f.c.Walk(root, name)
		checkErrno(t, "Walk "+name, err, unix.ENOTDIR)
	}
	_, _, err = f.c.Walk(root, "..")
	checkErrno(t, "Walk ..", err, unix.EINVAL)
	_, err = f.c.ReadDir(root)
	checkErrno(t, "ReadDir", err, unix.ENOTDIR)
	// Read-only: no writing, truncating or changing attributes.
	_, err = f.c.Open(root, unix.O_WRONLY)
	checkErrno(t, "Open O_WRONLY", err, unix.EROFS)
	_, err = f.c.Open(root, unix.O_RDONLY|unix.O_TRUNC)
	checkErrno(t, "Open O_TRUNC", err, unix.EROFS)
	_, err = f.c.Setattr(root, protocol.Tsetattr{Mask: protocol.SetattrMode, Mode: 0o600})
	checkErrno(t, "Setattr", err, unix.EROFS)
	if b, _ := os.ReadFile(path); string(b) != fileContent {
		t.Errorf("host file: got %q, want %q", b, fileContent)
	}
	if st := lstat(t, path); st.Mode&0o777 != 0o644 {
		t.Errorf("host mode: got %o, want 644", st.Mode&0o777)
	}
}

func TestServeEntryFileWritable(t *testing.T) {
	dir := makeTree(t)
	path := filepath.Join(dir, "file.txt")
	f := startEntry(t, dir, "file.txt", server.Options{Writable: true})
	root, _, err := f.c.Attach()
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if !f.c.Writable() {
		t.Errorf("Writable: got false for a writable entry")
	}
	fd, err := f.c.Open(root, unix.O_WRONLY|unix.O_TRUNC)
	if err != nil {
		t.Fatalf("Open O_WRONLY|O_TRUNC: %v", err)
	}
	if _, err := unix.Write(fd, []byte("new\n")); err != nil {
		t.Fatalf("write: %v", err)
	}
	unix.Close(fd)
	if b, _ := os.ReadFile(path); string(b) != "new\n" {
		t.Errorf("host file after write: got %q, want %q", b, "new\n")
	}
	a, err := f.c.Setattr(root, protocol.Tsetattr{Mask: protocol.SetattrSize | protocol.SetattrMode, Size: 2, Mode: 0o600})
	if err != nil {
		t.Fatalf("Setattr: %v", err)
	}
	if st := lstat(t, path); st.Size != 2 || st.Mode&0o777 != 0o600 || a.Size != 2 || a.Mode&0o777 != 0o600 {
		t.Errorf("after Setattr: host size %d mode %o, reply size %d mode %o; want 2, 600", st.Size, st.Mode&0o777, a.Size, a.Mode&0o777)
	}
	checkErrno(t, "Fsync", f.c.Fsync(root), nil)
	// Still nothing to make in a file.
	_, _, err = f.c.Mkdir(root, "d", 0o755, 0, 0)
	checkErrno(t, "Mkdir in a file", err, unix.ENOTDIR)
}

// TestServeEntryReplaced checks that a file replaced on the host is not
// opened in place of the one served.
func TestServeEntryReplaced(t *testing.T) {
	dir := makeTree(t)
	path := filepath.Join(dir, "file.txt")
	f := startEntry(t, dir, "file.txt", server.Options{Writable: true})
	root, _, err := f.c.Attach()
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, []byte("other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	_, err = f.c.Open(root, unix.O_RDONLY)
	checkErrno(t, "Open after the host replaced the file", err, unix.ESTALE)
	_, err = f.c.Setattr(root, protocol.Tsetattr{Mask: protocol.SetattrSize, Size: 0})
	checkErrno(t, "truncate after the host replaced the file", err, unix.ESTALE)
	if b, _ := os.ReadFile(path); string(b) != "other\n" {
		t.Errorf("replacement: got %q, want it untouched", b)
	}
	// The node served is still there to stat.
	if a, err := f.c.Stat(root); err != nil || a.Size != int64(len(fileContent)) {
		t.Errorf("Stat: size %d, err %v; want %d, nil", a.Size, err, len(fileContent))
	}
}

func TestServeEntryDirectory(t *testing.T) {
	dir := makeTree(t)
	f := startEntry(t, dir, "dir", server.Options{})
	root, attr, err := f.c.Attach()
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if attr.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Fatalf("Attach: mode %o, want a directory", attr.Mode)
	}
	sub, _, err := f.c.Walk(root, "sub.txt")
	if err != nil {
		t.Fatalf("Walk sub.txt: %v", err)
	}
	fd, err := f.c.Open(sub, unix.O_RDONLY)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if got := readFD(t, fd); got != "sub" {
		t.Errorf("read: got %q, want %q", got, "sub")
	}
	ents, err := f.c.ReadDir(root)
	if err != nil || len(ents) != 2 {
		t.Errorf("ReadDir: %v, %v; want sub.txt and nested", ents, err)
	}
	// Its siblings are not served.
	_, _, err = f.c.Walk(root, "file.txt")
	checkErrno(t, "Walk to a sibling", err, unix.ENOENT)
}

func TestServeEntryBadArguments(t *testing.T) {
	dir := makeTree(t)
	dirFD, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dirFD)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	before := openFDs(t)
	for _, tc := range []struct {
		name string
		want unix.Errno
	}{
		{"", unix.EINVAL},
		{".", unix.EINVAL},
		{"..", unix.EINVAL},
		{"dir/sub.txt", unix.EINVAL},
		{"nope", unix.ENOENT},
		// A symlink is not followed: the caller resolves the source.
		{"link", unix.ELOOP},
	} {
		err := server.ServeEntry(fds[1], dirFD, tc.name, server.Options{})
		if !errors.Is(err, tc.want) {
			t.Errorf("ServeEntry %q: got %v, want %v", tc.name, err, tc.want)
		}
	}
	if got := openFDs(t); got != before {
		t.Errorf("descriptors after failed ServeEntry calls: got %d, want %d", got, before)
	}
}

// TestServeEntryNoDescriptorLeak checks that ServeEntry closes what it
// opened (the directory and the entry) when the peer goes.
func TestServeEntryNoDescriptorLeak(t *testing.T) {
	dir := makeTree(t)
	dirFD, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dirFD)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	before := openFDs(t)
	done := make(chan error, 1)
	go func() { done <- server.ServeEntry(fds[1], dirFD, "file.txt", server.Options{}) }()
	c, err := protocol.NewClient(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := c.Attach()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		fd, err := c.Open(root, unix.O_RDONLY)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
	}
	c.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeEntry: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeEntry did not return")
	}
	// The client's end was closed with it.
	if got := openFDs(t); got != before-1 {
		t.Errorf("descriptors after ServeEntry returned: got %d, want %d", got, before-1)
	}
}
