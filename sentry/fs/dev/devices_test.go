package dev

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/synth"
	"palisade.dev/sentry/memfile"
	"palisade.dev/sentry/vfs"
)

func newDev(t *testing.T) (*synth.FS, *memfile.MemoryFile) {
	t.Helper()
	mf, err := memfile.New("dev-test")
	if err != nil {
		t.Fatalf("memfile.New: %v", err)
	}
	return New(mf), mf
}

// lookup resolves a relative path in fs.
func lookup(t *testing.T, fs *synth.FS, path ...string) vfs.Dentry {
	t.Helper()
	var d vfs.Dentry = fs.Root()
	for _, name := range path {
		c, err := d.Lookup(context.Background(), name)
		if err != nil {
			t.Fatalf("lookup %v: %v", path, err)
		}
		d = c
	}
	return d
}

func TestAddDevices(t *testing.T) {
	ctx := context.Background()
	fs, mf := newDev(t)
	devs := []Device{
		{Path: "fuse", Type: vfs.S_IFCHR, Major: 10, Minor: 229, Perm: 0o660, UID: 5, GID: 6},
		{Path: "net/tun", Type: vfs.S_IFCHR, Major: 10, Minor: 200, Perm: 0o666},
		{Path: "sda", Type: vfs.S_IFBLK, Major: 8, Minor: 0, Perm: 0o600},
		{Path: "mynull", Type: vfs.S_IFCHR, Major: 1, Minor: 3, Perm: 0o666},
		{Path: "null", Type: vfs.S_IFCHR, Major: 1, Minor: 3, Perm: 0o600, GID: 9},
		{Path: "fifo", Type: vfs.S_IFIFO, Perm: 0o644},
		{Path: "shm/x", Type: vfs.S_IFCHR, Major: 1, Minor: 99, Perm: 0o644},
	}
	if err := AddDevices(fs, mf, devs); err != nil {
		t.Fatalf("AddDevices: %v", err)
	}
	for _, dv := range devs {
		d := lookup(t, fs, strings.Split(dv.Path, "/")...)
		st, err := d.Stat(ctx)
		if err != nil {
			t.Fatalf("stat %s: %v", dv.Path, err)
		}
		wantRdev := [2]uint32{dv.Major, dv.Minor}
		if st.Mode != dv.Type|dv.Perm || st.UID != dv.UID || st.GID != dv.GID || [2]uint32{st.RdevMajor, st.RdevMinor} != wantRdev {
			t.Errorf("stat %s: mode %o uid %d gid %d rdev %d:%d; want %o %d %d %d:%d", dv.Path,
				st.Mode, st.UID, st.GID, st.RdevMajor, st.RdevMinor, dv.Type|dv.Perm, dv.UID, dv.GID, dv.Major, dv.Minor)
		}
	}
	// Devices the sentry has no driver for never open: ENXIO.
	for _, p := range []string{"fuse", "net/tun", "sda", "shm/x"} {
		d := lookup(t, fs, strings.Split(p, "/")...)
		if _, err := d.Open(ctx, vfs.VirtualDentry{Dentry: d}, unix.O_RDWR); err != unix.ENXIO {
			t.Errorf("open %s: got %v, want ENXIO", p, err)
		}
	}
	// A memory device's numbers make that device.
	for _, p := range []string{"mynull", "null"} {
		d := lookup(t, fs, p)
		f, err := d.Open(ctx, vfs.VirtualDentry{Dentry: d}, unix.O_RDWR)
		if err != nil {
			t.Fatalf("open %s: %v", p, err)
		}
		if n, err := f.Write(ctx, []byte("discarded")); n != 9 || err != nil {
			t.Errorf("write %s: %d, %v; want 9, nil", p, n, err)
		}
		if n, err := f.Read(ctx, make([]byte, 8)); n != 0 || err != nil {
			t.Errorf("read %s: %d, %v; want 0, nil (EOF)", p, n, err)
		}
		f.DecRef()
	}
	// A FIFO is a pipe: what is written is read back.
	d := lookup(t, fs, "fifo")
	f, err := d.Open(ctx, vfs.VirtualDentry{Dentry: d}, unix.O_RDWR|unix.O_NONBLOCK)
	if err != nil {
		t.Fatalf("open fifo: %v", err)
	}
	defer f.DecRef()
	if _, err := f.Write(ctx, []byte("ping")); err != nil {
		t.Fatalf("write fifo: %v", err)
	}
	buf := make([]byte, 8)
	if n, err := f.Read(ctx, buf); err != nil || string(buf[:n]) != "ping" {
		t.Errorf("read fifo: %q, %v", buf[:n], err)
	}
}

func TestAddDevicesBad(t *testing.T) {
	fs, mf := newDev(t)
	for _, d := range []Device{
		{Path: "pts", Type: vfs.S_IFCHR, Major: 1, Minor: 3},
		{Path: "../x", Type: vfs.S_IFCHR, Major: 1, Minor: 3},
		{Path: "a//b", Type: vfs.S_IFCHR, Major: 1, Minor: 3},
		{Path: "fd/x", Type: vfs.S_IFCHR, Major: 1, Minor: 3},
		{Path: "", Type: vfs.S_IFCHR, Major: 1, Minor: 3},
		{Path: "file", Type: vfs.S_IFREG},
	} {
		// A good entry first: nothing is added when one is bad.
		good := Device{Path: "good", Type: vfs.S_IFCHR, Major: 1, Minor: 5}
		if err := AddDevices(fs, mf, []Device{good, d}); err == nil {
			t.Errorf("AddDevices %+v: got nil, want an error", d)
		}
		if _, err := fs.Root().Lookup(context.Background(), "good"); err != unix.ENOENT {
			t.Errorf("after a failed AddDevices of %+v: lookup good: %v, want ENOENT", d, err)
		}
	}
}
