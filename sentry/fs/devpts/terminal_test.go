package devpts

import (
	"context"
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/vfs"
	"palisade.dev/sentry/waiter"
)

var ctx = context.Background()

// fakeMem is application memory for ioctls: 4 KiB at address 0x1000.
type fakeMem struct{ b [4096]byte }

func (m *fakeMem) CopyIn(addr uintptr, dst []byte) (int, error) {
	if addr < 0x1000 || addr+uintptr(len(dst)) > 0x2000 {
		return 0, unix.EFAULT
	}
	return copy(dst, m.b[addr-0x1000:]), nil
}

func (m *fakeMem) CopyOut(addr uintptr, src []byte) (int, error) {
	if addr < 0x1000 || addr+uintptr(len(src)) > 0x2000 {
		return 0, unix.EFAULT
	}
	return copy(m.b[addr-0x1000:], src), nil
}

func (m *fakeMem) u32() uint32     { return binary.LittleEndian.Uint32(m.b[:]) }
func (m *fakeMem) setU32(v uint32) { binary.LittleEndian.PutUint32(m.b[:], v) }

const arg = 0x1000

// newPair opens ptmx and the unlocked slave of a fresh devpts.
func newPair(t *testing.T) (fs *FS, master, slave *vfs.FileDescription) {
	t.Helper()
	fs = New(DefaultOptions())
	mnt := &vfs.Mount{FS: fs, Root: fs.Root()}
	ptmx, err := fs.Root().Lookup(ctx, "ptmx")
	if err != nil {
		t.Fatal(err)
	}
	master, err = ptmx.Open(ctx, vfs.VirtualDentry{Mount: mnt, Dentry: ptmx}, unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	var mem fakeMem
	if _, err := master.Ioctl(ctx, &mem, unix.TIOCGPTN, arg); err != nil || mem.u32() != 0 {
		t.Fatalf("TIOCGPTN: %d, %v", mem.u32(), err)
	}
	d, err := fs.Root().Lookup(ctx, "0")
	if err != nil {
		t.Fatalf("lookup of the slave: %v", err)
	}
	if _, err := d.Open(ctx, vfs.VirtualDentry{Mount: mnt, Dentry: d}, unix.O_RDWR); err != unix.EIO {
		t.Errorf("opening a locked slave: %v, want EIO", err)
	}
	mem.setU32(0)
	if _, err := master.Ioctl(ctx, &mem, unix.TIOCSPTLCK, arg); err != nil {
		t.Fatal(err)
	}
	slave, err = d.Open(ctx, vfs.VirtualDentry{Mount: mnt, Dentry: d}, unix.O_RDWR)
	if err != nil {
		t.Fatalf("opening the unlocked slave: %v", err)
	}
	return fs, master, slave
}

func read(t *testing.T, f *vfs.FileDescription) (string, error) {
	t.Helper()
	b := make([]byte, 1024)
	n, err := f.Read(ctx, b)
	return string(b[:n]), err
}

func TestPairDataPath(t *testing.T) {
	_, m, s := newPair(t)
	defer m.DecRef()
	defer s.DecRef()
	sw := s.Impl().(waiter.Waitable)
	mw := m.Impl().(waiter.Waitable)
	if ev := sw.Readiness(waiter.ReadableEvents | waiter.WritableEvents); ev != waiter.WritableEvents {
		t.Errorf("fresh slave readiness %#x", ev)
	}
	if _, err := read(t, s); err != unix.EAGAIN {
		t.Errorf("empty slave read: %v, want EAGAIN", err)
	}
	if _, err := read(t, m); err != unix.EAGAIN {
		t.Errorf("empty master read: %v, want EAGAIN", err)
	}
	m.Write(ctx, []byte("ls\r"))
	if ev := sw.Readiness(waiter.ReadableEvents); ev != waiter.ReadableEvents {
		t.Errorf("slave readiness with a line %#x", ev)
	}
	if got, err := read(t, s); got != "ls\n" || err != nil {
		t.Errorf("slave read %q, %v", got, err)
	}
	if ev := mw.Readiness(waiter.ReadableEvents); ev != waiter.ReadableEvents {
		t.Errorf("master readiness with echo %#x", ev)
	}
	if got, _ := read(t, m); got != "ls\r\n" {
		t.Errorf("echo %q", got)
	}
	s.Write(ctx, []byte("out\n"))
	if got, _ := read(t, m); got != "out\r\n" {
		t.Errorf("master read %q", got)
	}
}

func TestSignalsAndWindowSize(t *testing.T) {
	_, m, s := newPair(t)
	defer m.DecRef()
	defer s.DecRef()
	var sigs []int
	tm := m.Impl().(*masterFile).tm
	tm.signalHook = func(sig int) { sigs = append(sigs, sig) }
	m.Write(ctx, []byte("abc\x03"))
	if len(sigs) != 1 || sigs[0] != sigINT {
		t.Errorf("^C sent %v", sigs)
	}
	var mem fakeMem
	copy(mem.b[:], Winsize{Row: 24, Col: 80}.marshal())
	for i := 0; i < 2; i++ {
		if _, err := m.Ioctl(ctx, &mem, unix.TIOCSWINSZ, arg); err != nil {
			t.Fatal(err)
		}
	}
	if len(sigs) != 2 || sigs[1] != 28 {
		t.Errorf("signals %v: want one SIGWINCH for one change of size", sigs)
	}
	clear(mem.b[:])
	if _, err := s.Ioctl(ctx, &mem, unix.TIOCGWINSZ, arg); err != nil || unmarshalWinsize(mem.b[:]) != (Winsize{Row: 24, Col: 80}) {
		t.Errorf("slave TIOCGWINSZ: %+v, %v", unmarshalWinsize(mem.b[:]), err)
	}
	mem.setU32(9)
	if _, err := m.Ioctl(ctx, &mem, unix.TIOCSIG, 9); err != unix.EINVAL {
		t.Errorf("TIOCSIG SIGKILL: %v, want EINVAL", err)
	}
	if _, err := m.Ioctl(ctx, &mem, unix.TIOCSIG, 3); err != nil || sigs[len(sigs)-1] != sigQUIT {
		t.Errorf("TIOCSIG SIGQUIT: %v, %v", err, sigs)
	}
}

func TestTermiosIoctls(t *testing.T) {
	_, m, s := newPair(t)
	defer m.DecRef()
	defer s.DecRef()
	var mem fakeMem
	if _, err := m.Ioctl(ctx, &mem, unix.TCGETS, arg); err != nil {
		t.Fatal(err)
	}
	tt := unmarshalTermios(mem.b[:termiosSize], Termios{})
	if tt.Lflag != defaultTermios().Lflag {
		t.Errorf("master TCGETS lflag %#x", tt.Lflag)
	}
	tt.Lflag &^= unix.ICANON
	copy(mem.b[:], tt.marshal(termiosSize))
	if _, err := s.Ioctl(ctx, &mem, unix.TCSETS, arg); err != nil {
		t.Fatal(err)
	}
	m.Write(ctx, []byte("x"))
	if got, _ := read(t, s); got != "x" {
		t.Errorf("noncanonical read %q", got)
	}
	if _, err := s.Ioctl(ctx, &mem, unix.TCGETS2, arg); err != nil {
		t.Fatal(err)
	}
	if got := unmarshalTermios(mem.b[:termios2Size], Termios{}); got.Ospeed != 38400 || got.Lflag&unix.ICANON != 0 {
		t.Errorf("TCGETS2 %+v", got)
	}
	if _, err := s.Ioctl(ctx, &mem, unix.TCFLSH, 5); err != unix.EINVAL {
		t.Errorf("TCFLSH 5: %v", err)
	}
	if _, err := s.Ioctl(ctx, &mem, 0x54ff, arg); err != unix.ENOTTY {
		t.Errorf("unknown ioctl: %v, want ENOTTY", err)
	}
	if _, err := s.Ioctl(ctx, &mem, unix.TIOCGPTN, arg); err != unix.ENOTTY {
		t.Errorf("TIOCGPTN on the slave: %v, want ENOTTY", err)
	}
	if _, err := m.Ioctl(ctx, &mem, unix.TIOCGPTN, 0x3000); err != unix.EFAULT {
		t.Errorf("TIOCGPTN to a bad address: %v, want EFAULT", err)
	}
	if _, err := s.Ioctl(ctx, &mem, unix.TIOCGDEV, arg); err != nil || mem.u32() != 136<<8 {
		t.Errorf("TIOCGDEV %#x, %v", mem.u32(), err)
	}
}

func TestHangups(t *testing.T) {
	fs, m, s := newPair(t)
	mw := m.Impl().(waiter.Waitable)
	sw := s.Impl().(waiter.Waitable)
	s.DecRef()
	if ev := mw.Readiness(waiter.ReadableEvents); ev&waiter.EventHUp == 0 {
		t.Errorf("master readiness after the slave closed %#x: want HUP", ev)
	}
	if _, err := read(t, m); err != unix.EIO {
		t.Errorf("master read after the slave closed: %v, want EIO", err)
	}
	// Reopen, then close the master.
	d, _ := fs.Root().Lookup(ctx, "0")
	s, err := d.Open(ctx, vfs.VirtualDentry{Dentry: d}, unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	sw = s.Impl().(waiter.Waitable)
	m.DecRef()
	if ev := sw.Readiness(waiter.ReadableEvents); ev&(waiter.EventHUp|waiter.EventIn) != waiter.EventHUp|waiter.EventIn {
		t.Errorf("slave readiness after the master closed %#x", ev)
	}
	if got, err := read(t, s); got != "" || err != nil {
		t.Errorf("slave read after the master closed: %q, %v; want end of file", got, err)
	}
	if _, err := s.Write(ctx, []byte("x")); err != unix.EIO {
		t.Errorf("slave write after the master closed: %v, want EIO", err)
	}
	var mem fakeMem
	if _, err := s.Ioctl(ctx, &mem, unix.TCGETS, arg); err != unix.EIO {
		t.Errorf("slave TCGETS after the master closed: %v, want EIO", err)
	}
	if _, err := fs.Root().Lookup(ctx, "0"); err != unix.ENOENT {
		t.Errorf("lookup of a closed pair: %v, want ENOENT", err)
	}
	if len(fs.ptys) != 1 {
		t.Errorf("the index is freed while a slave file is open")
	}
	s.DecRef()
	if len(fs.ptys) != 0 {
		t.Errorf("the index isn't freed when both sides are closed")
	}
}

func TestDirectoryAndIndices(t *testing.T) {
	fs := New(DefaultOptions())
	mnt := &vfs.Mount{FS: fs, Root: fs.Root()}
	ptmx, _ := fs.Root().Lookup(ctx, "ptmx")
	open := func() *vfs.FileDescription {
		f, err := ptmx.Open(ctx, vfs.VirtualDentry{Mount: mnt, Dentry: ptmx}, unix.O_RDWR)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	a, b, c := open(), open(), open()
	b.DecRef()
	d := open() // reuses index 1
	var mem fakeMem
	d.Ioctl(ctx, &mem, unix.TIOCGPTN, arg)
	if mem.u32() != 1 {
		t.Errorf("new pair got index %d, want the lowest free, 1", mem.u32())
	}
	root, _ := fs.Root().Open(ctx, vfs.VirtualDentry{Mount: mnt, Dentry: fs.Root()}, unix.O_RDONLY)
	var names []string
	root.IterDirents(ctx, func(e vfs.Dirent) bool { names = append(names, e.Name); return true })
	if want := []string{".", "..", "ptmx", "0", "1", "2"}; len(names) != len(want) || names[3] != "0" || names[5] != "2" {
		t.Errorf("listing %q, want %q", names, want)
	}
	for _, name := range []string{"00", "+1", "3", "x"} {
		if _, err := fs.Root().Lookup(ctx, name); err != unix.ENOENT {
			t.Errorf("lookup %q: %v, want ENOENT", name, err)
		}
	}
	st, _ := ptmx.Stat(ctx)
	if st.RdevMajor != 5 || st.RdevMinor != 2 || st.Mode != vfs.S_IFCHR {
		t.Errorf("ptmx stat %+v", st)
	}
	sd, _ := fs.Root().Lookup(ctx, "2")
	st, _ = sd.Stat(ctx)
	if st.RdevMajor != 136 || st.RdevMinor != 2 || st.Mode != vfs.S_IFCHR|0o600 {
		t.Errorf("pts/2 stat %+v", st)
	}
	if err := sd.(vfs.Setter).SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_MODE, Stat: vfs.Statx{Mode: 0o620}}); err != nil {
		t.Fatal(err)
	}
	if st, _ = sd.Stat(ctx); st.Mode != vfs.S_IFCHR|0o620 {
		t.Errorf("after chmod mode %#o", st.Mode)
	}
	a.DecRef()
	c.DecRef()
	d.DecRef()
	root.DecRef()
}

func TestParseOptions(t *testing.T) {
	o, err := ParseOptions([]string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5", "max=10"})
	if err != nil {
		t.Fatal(err)
	}
	if o.PtmxMode != 0o666 || o.Mode != 0o620 || !o.SetGID || o.GID != 5 || o.SetUID || o.Max != 10 {
		t.Errorf("options %+v", o)
	}
	for _, bad := range [][]string{{"mode=9"}, {"gid"}, {"bogus=1"}, {"uid=-1"}} {
		if _, err := ParseOptions(bad); err == nil {
			t.Errorf("ParseOptions(%q) accepted", bad)
		}
	}
	fs := New(Options{Max: 1, Mode: 0o600})
	ptmx, _ := fs.Root().Lookup(ctx, "ptmx")
	f, err := ptmx.Open(ctx, vfs.VirtualDentry{Dentry: ptmx}, unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ptmx.Open(ctx, vfs.VirtualDentry{Dentry: ptmx}, unix.O_RDWR); err != unix.ENOSPC {
		t.Errorf("opening past max: %v, want ENOSPC", err)
	}
	f.DecRef()
}
