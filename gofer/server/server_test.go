package server_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"palisade.dev/gofer/protocol"
	"palisade.dev/gofer/server"
)

const fileContent = "hello, gofer\n"

// makeTree creates the tree most tests serve and returns its path:
//
//	file.txt        regular file holding fileContent
//	dir/sub.txt     regular file holding "sub"
//	dir/nested/     directory
//	empty/          directory
//	link            -> file.txt
//	escape          -> ../../etc
//	dangling        -> nope
//	fifo            FIFO
//	sock            unix socket (if the path fits sun_path)
//	null            char device 1:3 (if mknod is allowed)
func makeTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("making tree: %v", err)
		}
	}
	must(os.WriteFile(filepath.Join(root, "file.txt"), []byte(fileContent), 0o644))
	must(os.MkdirAll(filepath.Join(root, "dir", "nested"), 0o755))
	must(os.WriteFile(filepath.Join(root, "dir", "sub.txt"), []byte("sub"), 0o644))
	must(os.Mkdir(filepath.Join(root, "empty"), 0o755))
	must(os.Symlink("file.txt", filepath.Join(root, "link")))
	must(os.Symlink("../../etc", filepath.Join(root, "escape")))
	must(os.Symlink("nope", filepath.Join(root, "dangling")))
	must(unix.Mkfifo(filepath.Join(root, "fifo"), 0o644))
	if sock := filepath.Join(root, "sock"); len(sock) < 100 {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		must(err)
		must(unix.Bind(fd, &unix.SockaddrUnix{Name: sock}))
		unix.Close(fd)
	}
	// Creating a device node needs CAP_MKNOD; without it the test of
	// device nodes is skipped.
	_ = unix.Mknod(filepath.Join(root, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3)))
	return root
}

// fixture is a gofer serving a directory in a goroutine, and a client of it.
type fixture struct {
	c        *protocol.Client
	dir      string
	srvSock  int
	rootFD   int
	done     chan error
	waitOnce sync.Once
	serveErr error
}

// start serves dir, opened O_PATH, and returns a fixture for it. At the end
// of the test, the client is closed and Serve must return nil.
func start(t *testing.T, dir string) *fixture {
	t.Helper()
	return startWith(t, dir, unix.O_PATH|unix.O_DIRECTORY)
}

// startWith is start with the root directory opened with rootFlags.
func startWith(t *testing.T, dir string, rootFlags int) *fixture {
	t.Helper()
	return startOpts(t, dir, rootFlags, server.Options{})
}

// startRW serves dir read-write.
func startRW(t *testing.T, dir string) *fixture {
	t.Helper()
	return startOpts(t, dir, unix.O_PATH|unix.O_DIRECTORY, server.Options{Writable: true})
}

// startOpts is startWith with serving options.
func startOpts(t *testing.T, dir string, rootFlags int, o server.Options) *fixture {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	rootFD, err := unix.Open(dir, rootFlags|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open root: %v", err)
	}
	f := &fixture{dir: dir, srvSock: fds[1], rootFD: rootFD, done: make(chan error, 1)}
	go func() { f.done <- server.ServeWith(fds[1], rootFD, o) }()
	f.c, err = protocol.NewClient(fds[0])
	if err != nil {
		t.Fatalf("NewClient: got %v, want nil", err)
	}
	t.Cleanup(func() {
		f.c.Close()
		if err := f.wait(t); err != nil {
			t.Errorf("Serve: got %v, want nil", err)
		}
		unix.Close(f.srvSock)
		unix.Close(f.rootFD)
	})
	return f
}

// wait waits for Serve to return and returns its result.
func (f *fixture) wait(t *testing.T) error {
	t.Helper()
	f.waitOnce.Do(func() {
		select {
		case f.serveErr = <-f.done:
		case <-time.After(10 * time.Second):
			f.serveErr = errors.New("Serve did not return")
		}
	})
	return f.serveErr
}

// attach returns the root FID.
func (f *fixture) attach(t *testing.T) protocol.FID {
	t.Helper()
	root, _, err := f.c.Attach()
	if err != nil {
		t.Fatalf("Attach: got %v, want nil", err)
	}
	return root
}

// walkPath walks the components of path from the root and returns the
// final FID; intermediate FIDs are clunked.
func (f *fixture) walkPath(path ...string) (protocol.FID, protocol.Attr, error) {
	fid, attr, err := f.c.Attach()
	if err != nil {
		return 0, attr, err
	}
	for _, name := range path {
		next, a, err := f.c.Walk(fid, name)
		f.c.Clunk(fid)
		if err != nil {
			return 0, a, err
		}
		fid, attr = next, a
	}
	return fid, attr, nil
}

// mustWalk is walkPath that fails the test on error.
func (f *fixture) mustWalk(t *testing.T, path ...string) protocol.FID {
	t.Helper()
	fid, _, err := f.walkPath(path...)
	if err != nil {
		t.Fatalf("walk %q: got %v, want nil", path, err)
	}
	return fid
}

// checkErrno fails the test unless err is the plain unix.Errno want, or nil
// if want is nil.
func checkErrno(t *testing.T, what string, err error, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("%s: got %v, want nil", what, err)
		}
		return
	}
	if got, ok := err.(unix.Errno); !ok || got != want {
		t.Errorf("%s: got %#v (%v), want unix.Errno %v", what, err, err, want)
	}
}

func lstat(t *testing.T, path string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatalf("lstat %s: %v", path, err)
	}
	return &st
}

func TestRootFDKinds(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags int
	}{
		{"O_PATH", unix.O_PATH | unix.O_DIRECTORY},
		{"O_RDONLY", unix.O_RDONLY | unix.O_DIRECTORY},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startWith(t, makeTree(t), tc.flags)
			fid := f.mustWalk(t, "file.txt")
			fd, err := f.c.Open(fid, unix.O_RDONLY)
			if err != nil {
				t.Fatalf("Open: got %v, want nil", err)
			}
			defer unix.Close(fd)
			buf := make([]byte, 64)
			n, err := unix.Read(fd, buf)
			if got := string(buf[:n]); err != nil || got != fileContent {
				t.Errorf("read: got %q, %v, want %q", got, err, fileContent)
			}
			fd2, err := f.c.Open(f.attach(t), unix.O_RDONLY|unix.O_DIRECTORY)
			if err != nil {
				t.Fatalf("Open root: got %v, want nil", err)
			}
			unix.Close(fd2)
		})
	}
}

func TestAttach(t *testing.T) {
	f := start(t, makeTree(t))
	root, attr, err := f.c.Attach()
	if err != nil {
		t.Fatalf("Attach: got %v, want nil", err)
	}
	if root == 0 {
		t.Errorf("Attach: got FID 0, want a valid FID")
	}
	st := lstat(t, f.dir)
	if attr.Mode != st.Mode || attr.Ino != st.Ino {
		t.Errorf("Attach attr: got mode %#o ino %d, want %#o %d", attr.Mode, attr.Ino, st.Mode, st.Ino)
	}
	// Each Attach is a new FID.
	root2 := f.attach(t)
	if root2 == root {
		t.Errorf("second Attach: got FID %d again, want a new one", root)
	}
}

func TestWalk(t *testing.T) {
	f := start(t, makeTree(t))
	for _, tc := range []struct {
		path     []string
		wantErr  error
		wantType uint32
	}{
		{[]string{"file.txt"}, nil, unix.S_IFREG},
		{[]string{"dir"}, nil, unix.S_IFDIR},
		{[]string{"dir", "sub.txt"}, nil, unix.S_IFREG},
		{[]string{"dir", "nested"}, nil, unix.S_IFDIR},
		{[]string{"link"}, nil, unix.S_IFLNK},
		{[]string{"escape"}, nil, unix.S_IFLNK},
		{[]string{"dangling"}, nil, unix.S_IFLNK},
		{[]string{"fifo"}, nil, unix.S_IFIFO},
		{[]string{"missing"}, unix.ENOENT, 0},
		{[]string{"dir", "missing"}, unix.ENOENT, 0},
		{[]string{"file.txt", "x"}, unix.ENOTDIR, 0},
		{[]string{"link", "x"}, unix.ENOTDIR, 0},
		{[]string{"escape", "passwd"}, unix.ENOTDIR, 0},
		{[]string{".."}, unix.EINVAL, 0},
		{[]string{"."}, unix.EINVAL, 0},
		{[]string{""}, unix.EINVAL, 0},
		{[]string{"dir/sub.txt"}, unix.EINVAL, 0},
		{[]string{"/"}, unix.EINVAL, 0},
		{[]string{"/etc"}, unix.EINVAL, 0},
		{[]string{"file.txt\x00"}, unix.EINVAL, 0},
		{[]string{"dir", ".."}, unix.EINVAL, 0},
		{[]string{strings.Repeat("a", 255)}, unix.ENOENT, 0},
		{[]string{strings.Repeat("a", 256)}, unix.ENAMETOOLONG, 0},
	} {
		name := strings.Join(tc.path, "|")
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			fid, attr, err := f.walkPath(tc.path...)
			checkErrno(t, "Walk", err, tc.wantErr)
			if err != nil {
				return
			}
			defer f.c.Clunk(fid)
			if got := attr.Mode & unix.S_IFMT; got != tc.wantType {
				t.Errorf("type: got %#o, want %#o", got, tc.wantType)
			}
			st := lstat(t, filepath.Join(append([]string{f.dir}, tc.path...)...))
			if attr.Ino != st.Ino || attr.Dev != uint64(st.Dev) {
				t.Errorf("inode: got %d:%d, want %d:%d", attr.Dev, attr.Ino, st.Dev, st.Ino)
			}
		})
	}
}

func TestBadFID(t *testing.T) {
	f := start(t, makeTree(t))
	file := f.mustWalk(t, "file.txt")
	if err := f.c.Clunk(file); err != nil {
		t.Fatalf("Clunk: got %v, want nil", err)
	}
	for _, fid := range []protocol.FID{0, 12345, file} {
		t.Run(fmt.Sprint(fid), func(t *testing.T) {
			_, _, err := f.c.Walk(fid, "x")
			checkErrno(t, "Walk", err, unix.EBADF)
			_, err = f.c.Stat(fid)
			checkErrno(t, "Stat", err, unix.EBADF)
			_, err = f.c.Open(fid, unix.O_RDONLY)
			checkErrno(t, "Open", err, unix.EBADF)
			_, err = f.c.ReadDir(fid)
			checkErrno(t, "ReadDir", err, unix.EBADF)
			_, err = f.c.Readlink(fid)
			checkErrno(t, "Readlink", err, unix.EBADF)
			_, err = f.c.Statfs(fid)
			checkErrno(t, "Statfs", err, unix.EBADF)
			checkErrno(t, "Clunk", f.c.Clunk(fid), unix.EBADF)
		})
	}
}

func TestStat(t *testing.T) {
	f := start(t, makeTree(t))
	for _, path := range []string{"file.txt", "dir", "link", "escape", "fifo"} {
		t.Run(path, func(t *testing.T) {
			fid := f.mustWalk(t, path)
			defer f.c.Clunk(fid)
			got, err := f.c.Stat(fid)
			if err != nil {
				t.Fatalf("Stat: got %v, want nil", err)
			}
			st := lstat(t, filepath.Join(f.dir, path))
			want := protocol.Attr{
				Mode: st.Mode, UID: st.Uid, GID: st.Gid, Nlink: uint64(st.Nlink),
				Size: st.Size, Blocks: int64(st.Blocks), Blksize: int64(st.Blksize),
				Ino: st.Ino, Dev: uint64(st.Dev), Rdev: uint64(st.Rdev),
				Atime: protocol.Timespec{Sec: int64(st.Atim.Sec), Nsec: int64(st.Atim.Nsec)},
				Mtime: protocol.Timespec{Sec: int64(st.Mtim.Sec), Nsec: int64(st.Mtim.Nsec)},
				Ctime: protocol.Timespec{Sec: int64(st.Ctim.Sec), Nsec: int64(st.Ctim.Nsec)},
			}
			if got != want {
				t.Errorf("Stat:\ngot  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	dir := makeTree(t)
	f := start(t, dir)
	_, noSock := os.Lstat(filepath.Join(dir, "sock"))
	_, noNull := os.Lstat(filepath.Join(dir, "null"))
	for _, tc := range []struct {
		name    string
		path    []string
		flags   int
		wantErr error
		// want is the content of a file.
		want string
		// isDir says the node is a directory, whose names are checked.
		isDir bool
		skip  bool
	}{
		{name: "file", path: []string{"file.txt"}, flags: unix.O_RDONLY, want: fileContent},
		{name: "file nonblock", path: []string{"dir", "sub.txt"}, flags: unix.O_RDONLY | unix.O_NONBLOCK, want: "sub"},
		{name: "file append cloexec", path: []string{"file.txt"}, flags: unix.O_RDONLY | unix.O_APPEND | unix.O_CLOEXEC | unix.O_NOFOLLOW, want: fileContent},
		{name: "dir", path: []string{"dir"}, flags: unix.O_RDONLY | unix.O_DIRECTORY, isDir: true},
		{name: "root", path: nil, flags: unix.O_RDONLY, isDir: true},
		{name: "dir trunc ignored", path: []string{"empty"}, flags: unix.O_RDONLY | unix.O_TRUNC, isDir: true},
		{name: "file wronly", path: []string{"file.txt"}, flags: unix.O_WRONLY, wantErr: unix.EROFS},
		{name: "file rdwr", path: []string{"file.txt"}, flags: unix.O_RDWR, wantErr: unix.EROFS},
		{name: "file trunc", path: []string{"file.txt"}, flags: unix.O_RDONLY | unix.O_TRUNC, wantErr: unix.EROFS},
		{name: "file creat", path: []string{"file.txt"}, flags: unix.O_RDONLY | unix.O_CREAT, wantErr: unix.EROFS},
		{name: "file creat excl", path: []string{"file.txt"}, flags: unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL, wantErr: unix.EROFS},
		{name: "dir tmpfile", path: []string{"dir"}, flags: unix.O_RDWR | unix.O_TMPFILE, wantErr: unix.EROFS},
		{name: "dir wronly", path: []string{"dir"}, flags: unix.O_WRONLY, wantErr: unix.EISDIR},
		{name: "file as directory", path: []string{"file.txt"}, flags: unix.O_RDONLY | unix.O_DIRECTORY, wantErr: unix.ENOTDIR},
		{name: "accmode 3", path: []string{"file.txt"}, flags: unix.O_ACCMODE, wantErr: unix.EINVAL},
		{name: "O_PATH", path: []string{"file.txt"}, flags: unix.O_PATH, wantErr: unix.EINVAL},
		{name: "O_DIRECT", path: []string{"file.txt"}, flags: unix.O_RDONLY | unix.O_DIRECT, wantErr: unix.EINVAL},
		{name: "symlink", path: []string{"link"}, flags: unix.O_RDONLY, wantErr: unix.ELOOP},
		{name: "symlink outside", path: []string{"escape"}, flags: unix.O_RDONLY | unix.O_DIRECTORY, wantErr: unix.ELOOP},
		{name: "fifo", path: []string{"fifo"}, flags: unix.O_RDONLY, wantErr: unix.EACCES},
		{name: "fifo nonblock", path: []string{"fifo"}, flags: unix.O_RDONLY | unix.O_NONBLOCK, wantErr: unix.EACCES},
		{name: "fifo wronly", path: []string{"fifo"}, flags: unix.O_WRONLY, wantErr: unix.EACCES},
		{name: "socket", path: []string{"sock"}, flags: unix.O_RDONLY, wantErr: unix.EACCES, skip: noSock != nil},
		{name: "device", path: []string{"null"}, flags: unix.O_RDONLY, wantErr: unix.EACCES, skip: noNull != nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip {
				t.Skip("node could not be created")
			}
			fid := f.mustWalk(t, tc.path...)
			defer f.c.Clunk(fid)
			fd, err := f.c.Open(fid, tc.flags)
			checkErrno(t, "Open", err, tc.wantErr)
			if err != nil {
				if fd != -1 {
					t.Errorf("Open on error: got fd %d, want -1", fd)
				}
				return
			}
			file := os.NewFile(uintptr(fd), "donated")
			defer file.Close()
			if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
				t.Errorf("F_GETFD: got %#x, %v, want FD_CLOEXEC", fl, err)
			}
			fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
			if err != nil {
				t.Fatalf("F_GETFL: %v", err)
			}
			if got, want := fl&unix.O_ACCMODE, unix.O_RDONLY; got != want {
				t.Errorf("access mode: got %#x, want %#x", got, want)
			}
			if got, want := fl&unix.O_NONBLOCK != 0, tc.flags&unix.O_NONBLOCK != 0; got != want {
				t.Errorf("O_NONBLOCK: got %v, want %v", got, want)
			}
			var got string
			if tc.isDir {
				names, err := file.Readdirnames(-1)
				if err != nil {
					t.Fatalf("Readdirnames: %v", err)
				}
				sort.Strings(names)
				got = strings.Join(names, ",")
				ents, err := os.ReadDir(filepath.Join(append([]string{dir}, tc.path...)...))
				if err != nil {
					t.Fatal(err)
				}
				names = names[:0]
				for _, e := range ents {
					names = append(names, e.Name())
				}
				tc.want = strings.Join(names, ",")
			} else {
				b := make([]byte, 100)
				n, err := file.Read(b)
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				got = string(b[:n])
			}
			if got != tc.want {
				t.Errorf("content: got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestOpenReplaced checks that Open refuses a node whose name now refers to
// another file, instead of opening (or blocking on) the newcomer.
func TestOpenReplaced(t *testing.T) {
	dir := makeTree(t)
	f := start(t, dir)
	for _, tc := range []struct {
		name    string
		replace func(path string) error
	}{
		{"by file", func(path string) error {
			if err := os.WriteFile(path+".new", []byte("other"), 0o644); err != nil {
				return err
			}
			return os.Rename(path+".new", path)
		}},
		{"by fifo", func(path string) error {
			if err := os.Remove(path); err != nil {
				return err
			}
			return unix.Mkfifo(path, 0o644)
		}},
		{"by symlink", func(path string) error {
			if err := os.Remove(path); err != nil {
				return err
			}
			return os.Symlink("/etc/passwd", path)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "victim-" + strings.ReplaceAll(tc.name, " ", "-")
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, []byte("victim"), 0o644); err != nil {
				t.Fatal(err)
			}
			fid := f.mustWalk(t, name)
			defer f.c.Clunk(fid)
			if err := tc.replace(path); err != nil {
				t.Fatalf("replace: %v", err)
			}
			fd, err := f.c.Open(fid, unix.O_RDONLY)
			if err == nil {
				unix.Close(fd)
			}
			want := unix.ESTALE
			if tc.name == "by symlink" {
				want = unix.ELOOP // O_NOFOLLOW
			}
			checkErrno(t, "Open", err, want)
		})
	}
}

func TestReadDir(t *testing.T) {
	dir := makeTree(t)
	f := start(t, dir)
	for _, tc := range []struct {
		path    []string
		wantErr error
	}{
		{nil, nil},
		{[]string{"dir"}, nil},
		{[]string{"empty"}, nil},
		{[]string{"file.txt"}, unix.ENOTDIR},
		{[]string{"link"}, unix.ENOTDIR},
		{[]string{"fifo"}, unix.ENOTDIR},
	} {
		t.Run(strings.Join(append([]string{"root"}, tc.path...), "/"), func(t *testing.T) {
			fid := f.mustWalk(t, tc.path...)
			defer f.c.Clunk(fid)
			ents, err := f.c.ReadDir(fid)
			checkErrno(t, "ReadDir", err, tc.wantErr)
			if err != nil {
				return
			}
			want, err := os.ReadDir(filepath.Join(append([]string{dir}, tc.path...)...))
			if err != nil {
				t.Fatal(err)
			}
			got := make(map[string]protocol.Dirent)
			for _, e := range ents {
				if _, dup := got[e.Name]; dup {
					t.Errorf("entry %q: listed twice", e.Name)
				}
				got[e.Name] = e
			}
			if len(got) != len(want) {
				t.Errorf("entries: got %d, want %d (%v)", len(got), len(want), ents)
			}
			for _, w := range want {
				e, ok := got[w.Name()]
				if !ok {
					t.Errorf("entry %q: missing", w.Name())
					continue
				}
				st := lstat(t, filepath.Join(append(append([]string{dir}, tc.path...), w.Name())...))
				if e.Ino != st.Ino {
					t.Errorf("entry %q: got ino %d, want %d", e.Name, e.Ino, st.Ino)
				}
				if wantType := uint8(st.Mode & unix.S_IFMT >> 12); e.Type != wantType {
					t.Errorf("entry %q: got type %d, want %d", e.Name, e.Type, wantType)
				}
			}
		})
	}
}

func TestReadDirLarge(t *testing.T) {
	for _, tc := range []struct {
		name  string
		count int
		pad   int
	}{
		{"10000 short names", 10000, 0},
		{"3000 long names", 3000, 240},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Hard links to one file: allocating an inode per entry is
			// slow on some filesystems, and only the names matter here.
			dir := t.TempDir()
			target := filepath.Join(t.TempDir(), "target")
			if err := os.WriteFile(target, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			want := make(map[string]bool, tc.count)
			for i := 0; i < tc.count; i++ {
				name := fmt.Sprintf("entry-%d%s", i, strings.Repeat("x", tc.pad))
				if err := os.Link(target, filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
				want[name] = true
			}
			f := start(t, dir)
			ents, err := f.c.ReadDir(f.attach(t))
			if err != nil {
				t.Fatalf("ReadDir: got %v, want nil", err)
			}
			if len(ents) != tc.count {
				t.Errorf("entries: got %d, want %d", len(ents), tc.count)
			}
			for _, e := range ents {
				if !want[e.Name] {
					t.Errorf("entry %q: unexpected or listed twice", e.Name)
				}
				delete(want, e.Name)
			}
			if len(want) != 0 {
				t.Errorf("entries: %d missing", len(want))
			}
		})
	}
}

func TestReadlink(t *testing.T) {
	f := start(t, makeTree(t))
	for _, tc := range []struct {
		path    string
		want    string
		wantErr error
	}{
		{"link", "file.txt", nil},
		{"escape", "../../etc", nil},
		{"dangling", "nope", nil},
		{"file.txt", "", unix.EINVAL},
		{"dir", "", unix.EINVAL},
	} {
		t.Run(tc.path, func(t *testing.T) {
			fid := f.mustWalk(t, tc.path)
			defer f.c.Clunk(fid)
			got, err := f.c.Readlink(fid)
			checkErrno(t, "Readlink", err, tc.wantErr)
			if got != tc.want {
				t.Errorf("Readlink: got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStatfs(t *testing.T) {
	f := start(t, makeTree(t))
	for _, path := range []string{"", "file.txt", "link"} {
		t.Run(path, func(t *testing.T) {
			var fid protocol.FID
			if path == "" {
				fid = f.attach(t)
			} else {
				fid = f.mustWalk(t, path)
			}
			defer f.c.Clunk(fid)
			got, err := f.c.Statfs(fid)
			if err != nil {
				t.Fatalf("Statfs: got %v, want nil", err)
			}
			var want unix.Statfs_t
			if err := unix.Statfs(f.dir, &want); err != nil {
				t.Fatal(err)
			}
			if got.Type != int64(want.Type) || got.Bsize != int64(want.Bsize) ||
				got.Blocks != want.Blocks || got.Namelen != int64(want.Namelen) || got.Frsize != int64(want.Frsize) {
				t.Errorf("Statfs: got %+v, want %+v", got, want)
			}
		})
	}
}

func TestClunk(t *testing.T) {
	f := start(t, makeTree(t))
	dir := f.mustWalk(t, "dir")
	sub, _, err := f.c.Walk(dir, "sub.txt")
	if err != nil {
		t.Fatalf("Walk: got %v, want nil", err)
	}
	// A child outlives a clunked parent: Open re-opens it through the
	// parent's descriptor, which the child keeps alive.
	if err := f.c.Clunk(dir); err != nil {
		t.Fatalf("Clunk dir: got %v, want nil", err)
	}
	fd, err := f.c.Open(sub, unix.O_RDONLY)
	if err != nil {
		t.Fatalf("Open after parent clunk: got %v, want nil", err)
	}
	unix.Close(fd)
	_, err = f.c.Stat(dir)
	checkErrno(t, "Stat of clunked FID", err, unix.EBADF)
	checkErrno(t, "Clunk", f.c.Clunk(sub), nil)
	checkErrno(t, "second Clunk", f.c.Clunk(sub), unix.EBADF)
}

// openFDs returns the number of descriptors open in this process.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(ents)
}

func TestNoDescriptorLeak(t *testing.T) {
	dir := makeTree(t)
	before := openFDs(t)
	func() {
		f := start(t, dir)
		root := f.attach(t)
		// Warm up: the first calls may make the runtime open its poller.
		if _, err := f.c.Stat(root); err != nil {
			t.Fatal(err)
		}
		base := openFDs(t)
		for i := 0; i < 100; i++ {
			fid := f.mustWalk(t, "dir", "sub.txt")
			fd, err := f.c.Open(fid, unix.O_RDONLY)
			if err != nil {
				t.Fatal(err)
			}
			unix.Close(fd)
			if _, err := f.c.ReadDir(root); err != nil {
				t.Fatal(err)
			}
			if err := f.c.Clunk(fid); err != nil {
				t.Fatal(err)
			}
		}
		if got := openFDs(t); got != base {
			t.Errorf("descriptors after walk/open/clunk: got %d, want %d", got, base)
		}
		// FIDs left unclunked are released when the client goes away.
		// FIDs of one entry share its node and descriptor.
		for i := 0; i < 50; i++ {
			f.mustWalk(t, "dir", "nested")
		}
		if got := openFDs(t); got != base+2 {
			t.Errorf("descriptors with 50 FIDs of dir/nested held: got %d, want %d (dir and dir/nested)", got, base+2)
		}
		f.c.Close()
		if err := f.wait(t); err != nil {
			t.Fatalf("Serve: got %v, want nil", err)
		}
		unix.Close(f.srvSock)
		unix.Close(f.rootFD)
		f.srvSock, f.rootFD = -1, -1
	}()
	if got := openFDs(t); got != before {
		t.Errorf("descriptors after Serve returned: got %d, want %d", got, before)
	}
}

// rawConn starts a server on dir and returns a raw connection to it.
func rawConn(t *testing.T, dir string) *protocol.Conn {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	rootFD, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- server.Serve(fds[1], rootFD) }()
	conn, err := protocol.NewConn(fds[0])
	if err != nil {
		t.Fatalf("NewConn: %v", err)
	}
	t.Cleanup(func() {
		conn.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: got %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve did not return")
		}
		unix.Close(fds[1])
		unix.Close(rootFD)
	})
	return conn
}

// exchange sends msg (with fd attached if fd >= 0) and returns the header
// and payload of the response.
func exchange(t *testing.T, conn *protocol.Conn, msg []byte, fd int) (protocol.Header, []byte) {
	t.Helper()
	if err := conn.WriteMessage(msg, fd); err != nil {
		t.Fatalf("WriteMessage: %v", err)
	}
	buf := make([]byte, protocol.MaxMessageSize)
	n, fds, err := conn.ReadMessage(buf)
	if err != nil {
		t.Fatalf("ReadMessage: %v", err)
	}
	for _, fd := range fds {
		unix.Close(fd)
	}
	h, payload, err := protocol.ParseHeader(buf[:n])
	if err != nil {
		t.Fatalf("ParseHeader: %v", err)
	}
	return h, payload
}

// marshal returns m as a message with tag.
func marshal(t *testing.T, tag uint32, m protocol.Message) []byte {
	t.Helper()
	b, err := protocol.Marshal(nil, tag, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMalformedRequests(t *testing.T) {
	conn := rawConn(t, makeTree(t))
	walk := marshal(t, 3, &protocol.Twalk{Dir: 1, Name: "file.txt"})
	oversized := append(marshal(t, 9, &protocol.Twalk{Dir: 1, Name: "x"}), make([]byte, protocol.MaxMessageSize)...)
	for _, tc := range []struct {
		name    string
		msg     []byte
		wantTag uint32
		want    unix.Errno
	}{
		{"short header", []byte{1, 2, 3}, 0, unix.EINVAL},
		{"reserved flags", []byte{2, 0, 1, 0, 4, 0, 0, 0}, 4, unix.EINVAL},
		{"unknown type", []byte{0xfe, 0, 0, 0, 5, 0, 0, 0}, 5, unix.ENOSYS},
		{"response type", marshal(t, 6, &protocol.Rclunk{}), 6, unix.ENOSYS},
		{"truncated walk", walk[:len(walk)-3], 3, unix.EINVAL},
		{"walk trailing bytes", append(append([]byte{}, walk...), 0), 3, unix.EINVAL},
		{"clunk without fid", marshal(t, 7, &protocol.Tclunk{})[:protocol.HeaderSize+4], 7, unix.EINVAL},
		{"oversized", oversized, 9, unix.EINVAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, payload := exchange(t, conn, tc.msg, -1)
			if h.Type != protocol.MsgRerror || h.Tag != tc.wantTag {
				t.Fatalf("response header: got %+v, want Rerror with tag %d", h, tc.wantTag)
			}
			var r protocol.Rerror
			if err := protocol.Unmarshal(payload, &r); err != nil {
				t.Fatalf("Unmarshal Rerror: %v", err)
			}
			if r.Errno != tc.want {
				t.Errorf("errno: got %v, want %v", r.Errno, tc.want)
			}
			// The server still serves.
			h, _ = exchange(t, conn, marshal(t, 100, &protocol.Tattach{}), -1)
			if h.Type != protocol.MsgRattach || h.Tag != 100 {
				t.Errorf("Tattach after bad request: got %+v, want Rattach with tag 100", h)
			}
		})
	}
}

// TestRequestDescriptorsClosed checks that the server closes descriptors
// that arrive with a request instead of keeping them.
func TestRequestDescriptorsClosed(t *testing.T) {
	conn := rawConn(t, makeTree(t))
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	exchange(t, conn, marshal(t, 1, &protocol.Tattach{}), int(w.Fd()))
	w.Close()
	// Once the server has closed its copy, no write end is left.
	r.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := r.Read(make([]byte, 1))
	if n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read from pipe: got %d, %v, want 0, EOF", n, err)
	}
}

func TestServerGone(t *testing.T) {
	f := start(t, makeTree(t))
	root := f.attach(t)
	// Hang up the server's end: Serve sees EOF, the client a dead peer.
	if err := unix.Shutdown(f.srvSock, unix.SHUT_RDWR); err != nil {
		t.Fatal(err)
	}
	if err := f.wait(t); err != nil {
		t.Errorf("Serve after shutdown: got %v, want nil", err)
	}
	for i := 0; i < 2; i++ {
		if _, err := f.c.Stat(root); !errors.Is(err, unix.EIO) {
			t.Errorf("Stat #%d: got %v, want EIO", i, err)
		}
	}
}

func TestServeBadArguments(t *testing.T) {
	dir := makeTree(t)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	file, err := unix.Open(filepath.Join(dir, "file.txt"), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(file)
	root, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(root)
	for _, tc := range []struct {
		name   string
		sock   int
		root   int
		wantIs error
	}{
		{"root is a file", fds[1], file, unix.ENOTDIR},
		{"root is closed", fds[1], 1 << 20, unix.EBADF},
		{"socket is a directory", root, root, unix.ENOTSOCK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := server.Serve(tc.sock, tc.root); !errors.Is(err, tc.wantIs) {
				t.Errorf("Serve: got %v, want %v", err, tc.wantIs)
			}
		})
	}
}

func TestConcurrent(t *testing.T) {
	f := start(t, makeTree(t))
	root := f.attach(t)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if err := concurrentStep(f.c, root, g+i); err != nil {
					t.Errorf("goroutine %d step %d: %v", g, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// concurrentStep walks to a file, reads it through a donated descriptor,
// lists a directory and checks an error path.
func concurrentStep(c *protocol.Client, root protocol.FID, i int) error {
	dir, _, err := c.Walk(root, "dir")
	if err != nil {
		return fmt.Errorf("walk dir: %w", err)
	}
	defer c.Clunk(dir)
	name, want := "sub.txt", "sub"
	if i%2 == 0 {
		dir, name, want = root, "file.txt", fileContent
	}
	fid, attr, err := c.Walk(dir, name)
	if err != nil {
		return fmt.Errorf("walk %s: %w", name, err)
	}
	defer c.Clunk(fid)
	if attr.Size != int64(len(want)) {
		return fmt.Errorf("size of %s: got %d, want %d", name, attr.Size, len(want))
	}
	fd, err := c.Open(fid, unix.O_RDONLY)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	buf := make([]byte, 64)
	n, err := unix.Pread(fd, buf, 0)
	unix.Close(fd)
	if err != nil || string(buf[:n]) != want {
		return fmt.Errorf("read %s: got %q, %v, want %q", name, buf[:n], err, want)
	}
	ents, err := c.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		return fmt.Errorf("readdir: got %d entries, %v", len(ents), err)
	}
	if _, _, err := c.Walk(root, "missing"); err != unix.ENOENT {
		return fmt.Errorf("walk missing: got %v, want ENOENT", err)
	}
	return nil
}

// TestPermissionDenied checks that the host's permission checks apply to
// the gofer. Root bypasses them, so it runs only as another user.
func TestPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root bypasses permission checks")
	}
	dir := makeTree(t)
	locked := filepath.Join(dir, "locked")
	if err := os.Mkdir(locked, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(locked, "secret"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "unreadable"), []byte("x"), 0o000); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(locked, 0o755) })
	f := start(t, dir)

	fid := f.mustWalk(t, "locked")
	defer f.c.Clunk(fid)
	_, _, err := f.c.Walk(fid, "secret")
	checkErrno(t, "Walk into locked dir", err, unix.EACCES)
	_, err = f.c.ReadDir(fid)
	checkErrno(t, "ReadDir of locked dir", err, unix.EACCES)

	file := f.mustWalk(t, "unreadable")
	defer f.c.Clunk(file)
	_, err = f.c.Open(file, unix.O_RDONLY)
	checkErrno(t, "Open of unreadable file", err, unix.EACCES)
}
