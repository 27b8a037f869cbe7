package boot

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"palisade.dev/gofer/protocol"
	"palisade.dev/gofer/server"
	"palisade.dev/sentry/fs/dev"
	"palisade.dev/sentry/fs/gofer"
	"palisade.dev/sentry/memfile"
	"palisade.dev/sentry/vfs"
)

var (
	mfOnce sync.Once
	mf     *memfile.MemoryFile
	mfErr  error
)

func memFile(t *testing.T) *memfile.MemoryFile {
	t.Helper()
	mfOnce.Do(func() { mf, mfErr = memfile.New("boot-test") })
	if mfErr != nil {
		t.Fatalf("memfile.New: %v", mfErr)
	}
	return mf
}

// goferFS serves, in this process, the directory dir (name "") or its
// entry name, and returns the filesystem attached to it.
func goferFS(t *testing.T, dir, name string, writable bool) *gofer.Filesystem {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	dirFD, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	o := server.Options{Writable: writable}
	done := make(chan error, 1)
	go func() {
		if name == "" {
			done <- server.ServeWith(fds[1], dirFD, o)
		} else {
			done <- server.ServeEntry(fds[1], dirFD, name, o)
		}
	}()
	client, err := protocol.NewClient(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	fs, err := gofer.New(client, memFile(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("serve did not return")
		}
		unix.Close(fds[1])
		unix.Close(dirFD)
	})
	return fs
}

// hostTree makes a directory holding etc/hosts ("hosts\n"), a symlink
// link -> /etc, and conf.txt ("conf\n").
func hostTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"etc/hosts": "hosts\n", "conf.txt": "conf\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func resolve(ctx context.Context, ns *vfs.MountNamespace, path string) (vfs.VirtualDentry, error) {
	root := ns.Root()
	return ns.Resolve(ctx, path, vfs.ResolveOpts{Root: root, Start: root, FollowFinal: true})
}

func readAll(t *testing.T, ctx context.Context, vd vfs.VirtualDentry) string {
	t.Helper()
	f, err := vd.Dentry.Open(ctx, vd, unix.O_RDONLY)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer f.DecRef()
	buf := make([]byte, 256)
	n, err := f.PRead(ctx, buf, 0)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(buf[:n])
}

// TestMountPointOverlay checks that missing mount points are made in the
// memory overlay, even when the root's mount is read-only, and that a
// file can be mounted on a file.
func TestMountPointOverlay(t *testing.T) {
	ctx := context.Background()
	host := hostTree(t)
	fs, ro, err := memoryOverlay(goferFS(t, host, "", false), memFile(t), true)
	if err != nil {
		t.Fatal(err)
	}
	ns := vfs.NewMountNamespace(fs, "none", ro)

	// An existing mount point is used as it is.
	at, err := mountPoint(ctx, ns, nil, "/etc", true)
	if err != nil || at.Dentry.Mode()&vfs.S_IFMT != vfs.S_IFDIR {
		t.Fatalf("mountPoint /etc: %v, %v", at, err)
	}
	// Missing directories are made, following symlinks in the root.
	at, err = mountPoint(ctx, ns, nil, "/link/a/b", true)
	if err != nil {
		t.Fatalf("mountPoint /link/a/b: %v", err)
	}
	if got, err := resolve(ctx, ns, "/etc/a/b"); err != nil || got != at || at.Dentry.Mode() != vfs.S_IFDIR|0o755 {
		t.Errorf("/etc/a/b: %v, %v; want the directory made, mode 0755", got, err)
	}
	// A file mount point is an empty regular file, and a file mounts on it.
	at, err = mountPoint(ctx, ns, nil, "/etc/new/palisade.conf", false)
	if err != nil {
		t.Fatalf("mountPoint of a file: %v", err)
	}
	if at.Dentry.Mode() != vfs.S_IFREG|0o644 || readAll(t, ctx, at) != "" {
		t.Errorf("file mount point: mode %o", at.Dentry.Mode())
	}
	ns.Mount(at, goferFS(t, host, "conf.txt", false), filepath.Join(host, "conf.txt"), true)
	vd, err := resolve(ctx, ns, "/etc/new/palisade.conf")
	if err != nil {
		t.Fatalf("resolve the file mount: %v", err)
	}
	if vd.Mount == at.Mount || vd.Dentry.Mode()&vfs.S_IFMT != vfs.S_IFREG {
		t.Errorf("resolve the file mount: got the mount point, not the mounted file")
	}
	if got := readAll(t, ctx, vd); got != "conf\n" {
		t.Errorf("read through the file mount: %q, want %q", got, "conf\n")
	}
	if p, ok := ns.PathOf(ns.Root(), vd); !ok || p != "/etc/new/palisade.conf" {
		t.Errorf("PathOf the file mount: %q, %v", p, ok)
	}
	// Nothing was made on the host.
	for _, p := range []string{"etc/a", "etc/new"} {
		if _, err := os.Lstat(filepath.Join(host, p)); !os.IsNotExist(err) {
			t.Errorf("%s on the host: %v, want it missing", p, err)
		}
	}
}

// TestMountPointReadOnlyTree checks that with --overlay=none and a
// read-only root, a missing mount point is EROFS, and that a writable
// tree gets it on the host.
func TestMountPointReadOnlyTree(t *testing.T) {
	ctx := context.Background()
	host := hostTree(t)
	ns := vfs.NewMountNamespace(goferFS(t, host, "", false), "none", true)
	if _, err := mountPoint(ctx, ns, nil, "/etc", true); err != nil {
		t.Errorf("existing mount point: %v", err)
	}
	if _, err := mountPoint(ctx, ns, nil, "/data", true); !errors.Is(err, unix.EROFS) {
		t.Errorf("missing mount point in a read-only tree: got %v, want EROFS", err)
	}
	ns = vfs.NewMountNamespace(goferFS(t, host, "", true), "none", false)
	if _, err := mountPoint(ctx, ns, nil, "/data/x", false); err != nil {
		t.Fatalf("missing mount point in a writable tree: %v", err)
	}
	if st, err := os.Lstat(filepath.Join(host, "data", "x")); err != nil || !st.Mode().IsRegular() {
		t.Errorf("data/x on the host: %v, %v; want a regular file", st, err)
	}
}

// TestAddDevices checks that the spec's device nodes under /dev are made
// in the sentry's /dev with their type, numbers, mode and owner, and that
// the ones the sentry has no driver for don't open.
func TestAddDevices(t *testing.T) {
	ctx := context.Background()
	devFS := dev.New(memFile(t))
	mode := os.FileMode(0o620)
	uid, gid := uint32(3), uint32(4)
	spec := &specs.Spec{Linux: &specs.Linux{Devices: []specs.LinuxDevice{
		{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: &mode, UID: &uid, GID: &gid},
		{Path: "/dev/loop/0", Type: "b", Major: 7, Minor: 0},
		{Path: "/dev/kmsg-like", Type: "u", Major: 1, Minor: 11},
		{Path: "/dev/myfifo", Type: "p"},
		{Path: "/elsewhere/x", Type: "c", Major: 1, Minor: 3},
	}}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := addDevices(spec, devFS, memFile(t), log); err != nil {
		t.Fatalf("addDevices: %v", err)
	}
	ns := vfs.NewMountNamespace(devFS, "tmpfs", false)
	for _, tc := range []struct {
		path         string
		mode         uint32
		major, minor uint32
		uid, gid     uint32
	}{
		{"/fuse", vfs.S_IFCHR | 0o620, 10, 229, 3, 4},
		{"/loop/0", vfs.S_IFBLK | 0o666, 7, 0, 0, 0},
		{"/kmsg-like", vfs.S_IFCHR | 0o666, 1, 11, 0, 0},
		{"/myfifo", vfs.S_IFIFO | 0o666, 0, 0, 0, 0},
	} {
		vd, err := resolve(ctx, ns, tc.path)
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		st, _ := vd.Dentry.Stat(ctx)
		if st.Mode != tc.mode || st.RdevMajor != tc.major || st.RdevMinor != tc.minor || st.UID != tc.uid || st.GID != tc.gid {
			t.Errorf("%s: mode %o rdev %d:%d owner %d:%d; want %o %d:%d %d:%d", tc.path, st.Mode, st.RdevMajor, st.RdevMinor,
				st.UID, st.GID, tc.mode, tc.major, tc.minor, tc.uid, tc.gid)
		}
		if tc.mode&vfs.S_IFMT != vfs.S_IFIFO {
			if _, err := vd.Dentry.Open(ctx, vd, unix.O_RDONLY); err != unix.ENXIO {
				t.Errorf("open %s: got %v, want ENXIO", tc.path, err)
			}
		}
	}
	if _, err := resolve(ctx, ns, "/x"); err != unix.ENOENT {
		t.Errorf("a device outside /dev was made in it: %v", err)
	}
	// An unknown type is an error.
	bad := &specs.Spec{Linux: &specs.Linux{Devices: []specs.LinuxDevice{{Path: "/dev/y", Type: "x"}}}}
	if err := addDevices(bad, devFS, memFile(t), log); err == nil {
		t.Errorf("addDevices with type x: got nil, want an error")
	}
}
