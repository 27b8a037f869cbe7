package gofer

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/gofer/protocol"
	"palisade.dev/gofer/server"
	"palisade.dev/sentry/vfs"
)

// serveFile starts a gofer serving the single file dir/name (a bind
// mount of a file) and returns a Filesystem attached to it.
func serveFile(t *testing.T, dir, name string, o server.Options) *Filesystem {
	t.Helper()
	return serveFileWith(t, dir, name, o, Options{})
}

// serveFileWith is serveFile with the Filesystem's options.
func serveFileWith(t *testing.T, dir, name string, o server.Options, fo Options) *Filesystem {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	dirFD, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	done := make(chan error, 1)
	go func() { done <- server.ServeEntry(fds[1], dirFD, name, o) }()
	client, err := protocol.NewClient(fds[0])
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	fs, err := NewWithOptions(client, memFile(t), fo)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		client.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ServeEntry: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("ServeEntry did not return")
		}
		unix.Close(fds[1])
		unix.Close(dirFD)
	})
	return fs
}

func TestFileRoot(t *testing.T) {
	ctx := context.Background()
	dir := makeTree(t)
	path := filepath.Join(dir, "file.txt")
	for _, writable := range []bool{false, true} {
		fs := serveFile(t, dir, "file.txt", server.Options{Writable: writable})
		root := fs.Root()
		if root.Mode()&vfs.S_IFMT != vfs.S_IFREG || root.Parent() != nil || root.Name() != "" {
			t.Fatalf("root: mode %o parent %v name %q; want a regular file without parent or name", root.Mode(), root.Parent(), root.Name())
		}
		st, err := root.Stat(ctx)
		if err != nil || st.Size != uint64(len("hello, gofer\n")) {
			t.Errorf("Stat: size %d, %v", st.Size, err)
		}
		_, err = root.Lookup(ctx, "x")
		if err != unix.ENOTDIR {
			t.Errorf("Lookup in a file: got %v, want ENOTDIR", err)
		}
		f, err := root.Open(ctx, vfs.VirtualDentry{Dentry: root}, unix.O_RDONLY)
		if err != nil {
			t.Fatalf("Open O_RDONLY: %v", err)
		}
		buf := make([]byte, 64)
		n, err := f.PRead(ctx, buf, 0)
		f.DecRef()
		if err != nil || string(buf[:n]) != "hello, gofer\n" {
			t.Errorf("read: %q, %v", buf[:n], err)
		}
		f, err = root.Open(ctx, vfs.VirtualDentry{Dentry: root}, unix.O_WRONLY|unix.O_APPEND)
		if !writable {
			if err != unix.EROFS {
				t.Errorf("Open O_WRONLY on a read-only file mount: got %v, want EROFS", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Open O_WRONLY: %v", err)
		}
		if _, err := f.Write(ctx, []byte("more\n")); err != nil {
			t.Errorf("write: %v", err)
		}
		f.DecRef()
		if b, _ := os.ReadFile(path); string(b) != "hello, gofer\nmore\n" {
			t.Errorf("host file: %q", b)
		}
		if st, _ := root.Stat(ctx); st.Size != uint64(len("hello, gofer\nmore\n")) {
			t.Errorf("Stat after write: size %d", st.Size)
		}
	}
}
