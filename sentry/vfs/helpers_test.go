package vfs

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// listing is a DirIter.List whose contents can change and that counts its
// calls.
type listing struct {
	names []string
	calls int
}

func (l *listing) list(context.Context) ([]Dirent, error) {
	l.calls++
	out := []Dirent{{Name: "."}, {Name: ".."}}
	for i, n := range l.names {
		out = append(out, Dirent{Name: n, Ino: uint64(i + 10)})
	}
	return out, nil
}

// collect returns the names IterDirents yields, consuming at most max
// entries (-1: all), and their NextOffs.
func collect(t *testing.T, d *DirIter, max int) ([]string, []int64) {
	t.Helper()
	var names []string
	var offs []int64
	err := d.IterDirents(context.Background(), func(e Dirent) bool {
		if max >= 0 && len(names) == max {
			return false
		}
		names = append(names, e.Name)
		offs = append(offs, e.NextOff)
		return true
	})
	if err != nil {
		t.Fatalf("IterDirents: %v", err)
	}
	return names, offs
}

func TestDirIter(t *testing.T) {
	ctx := context.Background()
	l := &listing{names: []string{"a", "b", "c"}}
	d := &DirIter{List: l.list}

	names, offs := collect(t, d, 2)
	if want := []string{".", ".."}; !reflect.DeepEqual(names, want) {
		t.Fatalf("first batch: got %v, want %v", names, want)
	}
	if want := []int64{1, 2}; !reflect.DeepEqual(offs, want) {
		t.Errorf("first batch offsets: got %v, want %v", offs, want)
	}
	// The rest, from the same snapshot even if the directory changes.
	l.names = append(l.names, "d")
	names, offs = collect(t, d, -1)
	if want := []string{"a", "b", "c"}; !reflect.DeepEqual(names, want) {
		t.Errorf("second batch: got %v, want %v", names, want)
	}
	if want := []int64{3, 4, 5}; !reflect.DeepEqual(offs, want) {
		t.Errorf("second batch offsets: got %v, want %v", offs, want)
	}
	if l.calls != 1 {
		t.Errorf("List called %d times for one pass, want 1", l.calls)
	}
	if names, _ := collect(t, d, -1); len(names) != 0 {
		t.Errorf("at the end: got %v, want nothing", names)
	}
	if off, err := d.Seek(ctx, 0, unix.SEEK_CUR); off != 5 || err != nil {
		t.Errorf("Seek(0, SEEK_CUR) at the end: got %d, %v; want 5", off, err)
	}

	// Seeking to an entry's d_off resumes after it, without relisting.
	if off, err := d.Seek(ctx, 3, unix.SEEK_SET); off != 3 || err != nil {
		t.Fatalf("Seek(3, SEEK_SET): got %d, %v", off, err)
	}
	if names, _ := collect(t, d, 1); !reflect.DeepEqual(names, []string{"b"}) {
		t.Errorf("after Seek(3): got %v, want [b]", names)
	}
	if l.calls != 1 {
		t.Errorf("List called %d times after a non-zero seek, want 1", l.calls)
	}
	if off, err := d.Seek(ctx, -2, unix.SEEK_CUR); off != 2 || err != nil {
		t.Errorf("Seek(-2, SEEK_CUR) from 4: got %d, %v; want 2", off, err)
	}
	if names, _ := collect(t, d, 1); !reflect.DeepEqual(names, []string{"a"}) {
		t.Errorf("after Seek(2): got %v, want [a]", names)
	}

	// Rewinding re-lists: the new entry shows.
	if off, err := d.Seek(ctx, 0, unix.SEEK_SET); off != 0 || err != nil {
		t.Fatalf("rewind: got %d, %v", off, err)
	}
	names, _ = collect(t, d, -1)
	if want := []string{".", "..", "a", "b", "c", "d"}; !reflect.DeepEqual(names, want) {
		t.Errorf("after rewind: got %v, want %v", names, want)
	}
	if l.calls != 2 {
		t.Errorf("List called %d times after a rewind, want 2", l.calls)
	}

	// Past the end: nothing, and no error.
	if off, err := d.Seek(ctx, 100, unix.SEEK_SET); off != 100 || err != nil {
		t.Errorf("Seek(100): got %d, %v", off, err)
	}
	if names, _ := collect(t, d, -1); len(names) != 0 {
		t.Errorf("past the end: got %v", names)
	}

	// Errors leave the offset alone.
	for _, tc := range []struct {
		off    int64
		whence int
	}{
		{-1, unix.SEEK_SET},
		{-101, unix.SEEK_CUR},
		{math.MaxInt64, unix.SEEK_CUR},
		{0, unix.SEEK_END},
		{0, unix.SEEK_DATA},
		{0, unix.SEEK_HOLE},
		{0, 42},
	} {
		if _, err := d.Seek(ctx, tc.off, tc.whence); err != unix.EINVAL {
			t.Errorf("Seek(%d, %d): got %v, want EINVAL", tc.off, tc.whence, err)
		}
	}
	if off, _ := d.Seek(ctx, 0, unix.SEEK_CUR); off != 100 {
		t.Errorf("offset after failed seeks: got %d, want 100", off)
	}
}

func TestDirIterListError(t *testing.T) {
	d := &DirIter{List: func(context.Context) ([]Dirent, error) { return nil, unix.EIO }}
	if err := d.IterDirents(context.Background(), func(Dirent) bool { return true }); err != unix.EIO {
		t.Errorf("IterDirents with a failing List: got %v, want EIO", err)
	}
}

func TestSeekRegular(t *testing.T) {
	const size = 100
	tests := []struct {
		cur, off int64
		whence   int
		want     int64
		err      error
	}{
		{cur: 10, off: 5, whence: unix.SEEK_SET, want: 5},
		{cur: 10, off: 0, whence: unix.SEEK_SET, want: 0},
		{cur: 10, off: 500, whence: unix.SEEK_SET, want: 500}, // past EOF is fine
		{cur: 10, off: -1, whence: unix.SEEK_SET, err: unix.EINVAL},
		{cur: 10, off: 5, whence: unix.SEEK_CUR, want: 15},
		{cur: 10, off: -10, whence: unix.SEEK_CUR, want: 0},
		{cur: 10, off: -11, whence: unix.SEEK_CUR, err: unix.EINVAL},
		{cur: 10, off: math.MaxInt64, whence: unix.SEEK_CUR, err: unix.EINVAL}, // overflow
		{cur: 10, off: 0, whence: unix.SEEK_END, want: size},
		{cur: 10, off: -size, whence: unix.SEEK_END, want: 0},
		{cur: 10, off: 7, whence: unix.SEEK_END, want: size + 7},
		{cur: 10, off: -size - 1, whence: unix.SEEK_END, err: unix.EINVAL},
		{cur: 10, off: 0, whence: unix.SEEK_DATA, want: 0},
		{cur: 10, off: 50, whence: unix.SEEK_DATA, want: 50},
		{cur: 10, off: size - 1, whence: unix.SEEK_DATA, want: size - 1},
		{cur: 10, off: size, whence: unix.SEEK_DATA, err: unix.ENXIO},
		{cur: 10, off: -1, whence: unix.SEEK_DATA, err: unix.ENXIO},
		{cur: 10, off: 0, whence: unix.SEEK_HOLE, want: size},
		{cur: 10, off: 50, whence: unix.SEEK_HOLE, want: size},
		{cur: 10, off: size, whence: unix.SEEK_HOLE, err: unix.ENXIO},
		{cur: 10, off: -1, whence: unix.SEEK_HOLE, err: unix.ENXIO},
		{cur: 10, off: 0, whence: 5, err: unix.EINVAL},
		{cur: 10, off: 0, whence: -1, err: unix.EINVAL},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("cur=%d,off=%d,whence=%d", tc.cur, tc.off, tc.whence), func(t *testing.T) {
			got, err := SeekRegular(tc.cur, size, tc.off, tc.whence)
			if err != tc.err || (err == nil && got != tc.want) {
				t.Errorf("SeekRegular: got %d, %v; want %d, %v", got, err, tc.want, tc.err)
			}
		})
	}
	// An empty file has no data at all.
	if _, err := SeekRegular(0, 0, 0, unix.SEEK_DATA); err != unix.ENXIO {
		t.Errorf("SEEK_DATA in an empty file: got %v, want ENXIO", err)
	}
	if _, err := SeekRegular(0, 0, 0, unix.SEEK_HOLE); err != unix.ENXIO {
		t.Errorf("SEEK_HOLE in an empty file: got %v, want ENXIO", err)
	}
}

func TestSelfAndParent(t *testing.T) {
	ctx := context.Background()
	fs := newFakeFS("fake")
	a := fs.root.dir("a")
	got := SelfAndParent(ctx, a)
	want := []Dirent{
		{Name: ".", Ino: a.ino, Type: unix.DT_DIR},
		{Name: "..", Ino: fs.root.ino, Type: unix.DT_DIR},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SelfAndParent(a): got %+v, want %+v", got, want)
	}
	got = SelfAndParent(ctx, fs.root)
	if got[1].Ino != fs.root.ino {
		t.Errorf("SelfAndParent(root): .. has ino %d, want the root's own %d", got[1].Ino, fs.root.ino)
	}
}

func TestDirentType(t *testing.T) {
	for mode, want := range map[uint32]uint8{
		S_IFREG | 0o644: unix.DT_REG, S_IFDIR: unix.DT_DIR, S_IFLNK: unix.DT_LNK,
		S_IFIFO: unix.DT_FIFO, S_IFSOCK: unix.DT_SOCK, S_IFCHR: unix.DT_CHR, S_IFBLK: unix.DT_BLK,
	} {
		if got := DirentType(mode); got != want {
			t.Errorf("DirentType(%#o): got %d, want %d", mode, got, want)
		}
	}
}

func TestNewAnonDevUnique(t *testing.T) {
	a, b := NewAnonDev(), NewAnonDev()
	if a == b {
		t.Errorf("NewAnonDev returned %d twice", a)
	}
}

func TestFileDescriptionAccess(t *testing.T) {
	ctx := context.Background()
	buf := make([]byte, 1)
	for _, tc := range []struct {
		flags              uint32
		readable, writable bool
	}{
		{unix.O_RDONLY, true, false},
		{unix.O_WRONLY, false, true},
		{unix.O_RDWR, true, true},
		{unix.O_PATH, false, false},
		{unix.O_PATH | unix.O_RDWR, false, false},
	} {
		impl := &countingFile{}
		fd := NewFileDescription(impl, VirtualDentry{}, tc.flags|unix.O_CLOEXEC|unix.O_CREAT)
		if fd.Readable() != tc.readable || fd.Writable() != tc.writable {
			t.Errorf("flags %#x: readable %v writable %v, want %v %v", tc.flags, fd.Readable(), fd.Writable(), tc.readable, tc.writable)
		}
		if fd.Flags()&(unix.O_CLOEXEC|unix.O_CREAT) != 0 {
			t.Errorf("flags %#x: description keeps O_CLOEXEC or O_CREAT: %#x", tc.flags, fd.Flags())
		}
		if _, err := fd.Read(ctx, buf); !tc.readable && err != unix.EBADF {
			t.Errorf("flags %#x: Read got %v, want EBADF", tc.flags, err)
		}
		if _, err := fd.PRead(ctx, buf, 0); !tc.readable && err != unix.EBADF {
			t.Errorf("flags %#x: PRead got %v, want EBADF", tc.flags, err)
		}
		if _, err := fd.Write(ctx, buf); !tc.writable && err != unix.EBADF {
			t.Errorf("flags %#x: Write got %v, want EBADF", tc.flags, err)
		}
		if _, err := fd.PWrite(ctx, buf, 0); !tc.writable && err != unix.EBADF {
			t.Errorf("flags %#x: PWrite got %v, want EBADF", tc.flags, err)
		}
		if tc.readable {
			if _, err := fd.PRead(ctx, buf, -1); err != unix.EINVAL {
				t.Errorf("flags %#x: PRead at -1 got %v, want EINVAL", tc.flags, err)
			}
		}
		if tc.writable {
			if _, err := fd.PWrite(ctx, buf, -1); err != unix.EINVAL {
				t.Errorf("flags %#x: PWrite at -1 got %v, want EINVAL", tc.flags, err)
			}
		}
		if fd.IsPath() {
			if _, err := fd.Seek(ctx, 0, unix.SEEK_SET); err != unix.EBADF {
				t.Errorf("O_PATH Seek: got %v, want EBADF", err)
			}
			if err := fd.IterDirents(ctx, func(Dirent) bool { return true }); err != unix.EBADF {
				t.Errorf("O_PATH IterDirents: got %v, want EBADF", err)
			}
			if _, err := fd.Ioctl(ctx, nil, 0, 0); err != unix.EBADF {
				t.Errorf("O_PATH Ioctl: got %v, want EBADF", err)
			}
			if err := fd.ConfigureMMap(ctx, nil); err != unix.EBADF {
				t.Errorf("O_PATH ConfigureMMap: got %v, want EBADF", err)
			}
		} else {
			// FileDefaults' answers.
			if _, err := fd.Seek(ctx, 0, unix.SEEK_SET); err != unix.ESPIPE {
				t.Errorf("default Seek: got %v, want ESPIPE", err)
			}
			if err := fd.IterDirents(ctx, func(Dirent) bool { return true }); err != unix.ENOTDIR {
				t.Errorf("default IterDirents: got %v, want ENOTDIR", err)
			}
			if _, err := fd.Ioctl(ctx, nil, 0, 0); err != unix.ENOTTY {
				t.Errorf("default Ioctl: got %v, want ENOTTY", err)
			}
			if err := fd.ConfigureMMap(ctx, nil); err != unix.ENODEV {
				t.Errorf("default ConfigureMMap: got %v, want ENODEV", err)
			}
		}
		fd.IncRef()
		fd.DecRef()
		fd.DecRef()
		if got := impl.released.Load(); got != 1 {
			t.Errorf("flags %#x: released %d times, want 1", tc.flags, got)
		}
	}
}

func TestSetStatusFlags(t *testing.T) {
	fd := NewFileDescription(&countingFile{}, VirtualDentry{}, unix.O_RDWR|unix.O_DSYNC)
	fd.SetStatusFlags(unix.O_APPEND | unix.O_NONBLOCK | unix.O_WRONLY | unix.O_SYNC)
	want := uint32(unix.O_RDWR | unix.O_DSYNC | unix.O_APPEND | unix.O_NONBLOCK)
	if got := fd.Flags(); got != want {
		t.Errorf("after F_SETFL: flags %#x, want %#x (access mode and O_DSYNC kept)", got, want)
	}
	fd.SetStatusFlags(0)
	if got := fd.Flags(); got != unix.O_RDWR|unix.O_DSYNC {
		t.Errorf("after F_SETFL(0): flags %#x, want %#x", got, unix.O_RDWR|unix.O_DSYNC)
	}
}

// TestStatLayouts decodes the marshalled structs as the host's own and
// compares the fields.
func TestStatLayouts(t *testing.T) {
	s := Statx{
		Mask: STATX_BASIC_STATS, Blksize: 4096, Nlink: 3, UID: 1000, GID: 1001,
		Mode: S_IFREG | 0o640, Ino: 123456789, Size: 1 << 33, Blocks: 77,
		Atime: Timespec{1, 2}, Btime: Timespec{3, 4}, Ctime: Timespec{5, 6}, Mtime: Timespec{7, 8},
		RdevMajor: 8, RdevMinor: 300, DevMajor: 0, DevMinor: 42,
	}
	b := s.MarshalStat()
	if len(b) != int(unsafe.Sizeof(unix.Stat_t{})) {
		t.Fatalf("MarshalStat: %d bytes, want %d", len(b), unsafe.Sizeof(unix.Stat_t{}))
	}
	st := *(*unix.Stat_t)(unsafe.Pointer(&b[0]))
	if st.Dev != unix.Mkdev(0, 42) || st.Ino != s.Ino || st.Nlink != 3 || st.Mode != s.Mode ||
		st.Uid != 1000 || st.Gid != 1001 || st.Rdev != unix.Mkdev(8, 300) || st.Size != 1<<33 ||
		st.Blksize != 4096 || st.Blocks != 77 || st.Atim != (unix.Timespec{Sec: 1, Nsec: 2}) ||
		st.Mtim != (unix.Timespec{Sec: 7, Nsec: 8}) || st.Ctim != (unix.Timespec{Sec: 5, Nsec: 6}) {
		t.Errorf("MarshalStat decoded as %+v", st)
	}

	b = s.MarshalStatx()
	if len(b) != int(unsafe.Sizeof(unix.Statx_t{})) {
		t.Fatalf("MarshalStatx: %d bytes, want %d", len(b), unsafe.Sizeof(unix.Statx_t{}))
	}
	sx := *(*unix.Statx_t)(unsafe.Pointer(&b[0]))
	if sx.Mask != s.Mask || sx.Blksize != 4096 || sx.Nlink != 3 || sx.Uid != 1000 || sx.Gid != 1001 ||
		sx.Mode != uint16(s.Mode) || sx.Ino != s.Ino || sx.Size != s.Size || sx.Blocks != 77 ||
		sx.Atime != (unix.StatxTimestamp{Sec: 1, Nsec: 2}) || sx.Btime != (unix.StatxTimestamp{Sec: 3, Nsec: 4}) ||
		sx.Ctime != (unix.StatxTimestamp{Sec: 5, Nsec: 6}) || sx.Mtime != (unix.StatxTimestamp{Sec: 7, Nsec: 8}) ||
		sx.Rdev_major != 8 || sx.Rdev_minor != 300 || sx.Dev_major != 0 || sx.Dev_minor != 42 {
		t.Errorf("MarshalStatx decoded as %+v", sx)
	}

	fs := Statfs{Type: 0x01021997, Bsize: 4096, Blocks: 10, Bfree: 9, Bavail: 8, Files: 7, Ffree: 6, Namelen: 255, Frsize: 512, Flags: 1}
	b = fs.Marshal()
	if len(b) != int(unsafe.Sizeof(unix.Statfs_t{})) {
		t.Fatalf("Statfs.Marshal: %d bytes, want %d", len(b), unsafe.Sizeof(unix.Statfs_t{}))
	}
	sf := *(*unix.Statfs_t)(unsafe.Pointer(&b[0]))
	if sf.Type != 0x01021997 || sf.Bsize != 4096 || sf.Blocks != 10 || sf.Bfree != 9 || sf.Bavail != 8 ||
		sf.Files != 7 || sf.Ffree != 6 || sf.Namelen != 255 || sf.Frsize != 512 || sf.Flags != 1 {
		t.Errorf("Statfs.Marshal decoded as %+v", sf)
	}
}
