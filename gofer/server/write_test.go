package server_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"palisade.dev/gofer/protocol"
)

// outsideTree makes a served tree and, beside it, a directory the tree's
// symlinks point into:
//
//	outside/victim      "precious", mode 0644
//	outside/vdir/       directory
//	root/               makeTree, plus
//	root/abs     ->     outside/victim (absolute)
//	root/absdir  ->     outside/vdir (absolute)
//	root/up      ->     ../../../..
//	root/rel     ->     ../outside/victim
//
// and returns the tree's root and the outside directory.
func outsideTree(t *testing.T) (string, string) {
	t.Helper()
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	root := filepath.Join(base, "root")
	for _, err := range []error{
		os.Mkdir(outside, 0o755),
		os.WriteFile(filepath.Join(outside, "victim"), []byte("precious"), 0o644),
		os.Mkdir(filepath.Join(outside, "vdir"), 0o755),
		os.Mkdir(root, 0o755),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	tree := makeTree(t)
	// Move makeTree's entries into root.
	ents, err := os.ReadDir(tree)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if err := os.Rename(filepath.Join(tree, e.Name()), filepath.Join(root, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range map[string]string{
		"abs":    filepath.Join(outside, "victim"),
		"absdir": filepath.Join(outside, "vdir"),
		"up":     "../../../..",
		"rel":    "../outside/victim",
	} {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	return root, outside
}

// snapshot describes every file under dir: type, mode, owner, size,
// times, content and xattrs, to check that nothing changed.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			b.WriteString(p + ": " + err.Error() + "\n")
			return nil
		}
		var st unix.Stat_t
		unix.Lstat(p, &st)
		b.WriteString(p)
		b.WriteString(" " + fi.Mode().String())
		b.WriteString(" " + itoa(int(st.Uid)) + ":" + itoa(int(st.Gid)) + " " + itoa(int(st.Size)))
		// Not the access time: reading the content changes it.
		b.WriteString(" m" + itoa(int(st.Mtim.Sec)) + "." + itoa(int(st.Mtim.Nsec)))
		b.WriteString(" c" + itoa(int(st.Ctim.Sec)) + "." + itoa(int(st.Ctim.Nsec)))
		if fi.Mode().IsRegular() {
			c, _ := os.ReadFile(p)
			b.WriteString(" " + string(c))
		}
		buf := make([]byte, 4096)
		if n, err := unix.Llistxattr(p, buf); err == nil {
			b.WriteString(" x[" + string(bytes.ReplaceAll(buf[:n], []byte{0}, []byte{','})) + "]")
		}
		b.WriteString("\n")
		return nil
	})
	return b.String()
}

func itoa(i int) string {
	if i < 0 {
		return "-" + itoa(-i)
	}
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestWriteOpsReadOnly(t *testing.T) {
	dir := makeTree(t)
	f := start(t, dir)
	before := snapshot(t, dir)
	root := f.attach(t)
	file := f.mustWalk(t, "file.txt")
	_, _, _, err := f.c.Create(root, "new", unix.O_RDWR, 0o644, 0, 0)
	checkErrno(t, "Create", err, unix.EROFS)
	_, _, err = f.c.Mkdir(root, "newdir", 0o755, 0, 0)
	checkErrno(t, "Mkdir", err, unix.EROFS)
	_, _, err = f.c.Mknod(root, "newfifo", unix.S_IFIFO|0o644, 0, 0, 0)
	checkErrno(t, "Mknod", err, unix.EROFS)
	_, _, err = f.c.Symlink(root, "newlink", "file.txt", 0, 0)
	checkErrno(t, "Symlink", err, unix.EROFS)
	_, _, err = f.c.Link(root, "newhard", file)
	checkErrno(t, "Link", err, unix.EROFS)
	checkErrno(t, "Unlink", f.c.Unlink(root, "file.txt", 0), unix.EROFS)
	checkErrno(t, "Rename", f.c.Rename(root, "file.txt", root, "moved", 0), unix.EROFS)
	_, err = f.c.Setattr(file, protocol.Tsetattr{Mask: protocol.SetattrMode, Mode: 0o600})
	checkErrno(t, "Setattr", err, unix.EROFS)
	checkErrno(t, "Fsync", f.c.Fsync(file), unix.EROFS)
	checkErrno(t, "SetXattr", f.c.SetXattr(file, "user.a", "b", 0), unix.EROFS)
	checkErrno(t, "RemoveXattr", f.c.RemoveXattr(file, "user.a"), unix.EROFS)
	for _, fl := range []int{unix.O_WRONLY, unix.O_RDWR, unix.O_RDONLY | unix.O_TRUNC} {
		_, err := f.c.Open(file, fl)
		checkErrno(t, "Open for writing", err, unix.EROFS)
	}
	// Reading attributes is not a change.
	_, err = f.c.GetXattr(file, "user.missing", 0)
	checkErrno(t, "GetXattr", err, unix.ENODATA)
	if _, err := f.c.ListXattr(file, 0); err != nil {
		t.Errorf("ListXattr: got %v, want nil", err)
	}
	if f.c.Writable() {
		t.Errorf("Writable after Attach to a read-only server: got true")
	}
	if after := snapshot(t, dir); after != before {
		t.Errorf("read-only tree changed:\nbefore\n%s\nafter\n%s", before, after)
	}
}

// badNames are names no operation may use.
var badNames = []struct {
	name string
	want unix.Errno
}{
	{"", unix.EINVAL},
	{".", unix.EINVAL},
	{"..", unix.EINVAL},
	{"a/b", unix.EINVAL},
	{"/etc", unix.EINVAL},
	{"dir/x", unix.EINVAL},
	{"../x", unix.EINVAL},
	{"x\x00y", unix.EINVAL},
	{strings.Repeat("n", 256), unix.ENAMETOOLONG},
}

func TestWriteOpsRefuseBadNames(t *testing.T) {
	root, outside := outsideTree(t)
	f := startRW(t, root)
	before, beforeOut := snapshot(t, root), snapshot(t, outside)
	rootFID := f.attach(t)
	file := f.mustWalk(t, "file.txt")
	for _, tc := range badNames {
		t.Run(strings.ReplaceAll(tc.name, "/", "|"), func(t *testing.T) {
			_, _, _, err := f.c.Create(rootFID, tc.name, unix.O_RDWR, 0o644, 0, 0)
			checkErrno(t, "Create", err, tc.want)
			_, _, err = f.c.Mkdir(rootFID, tc.name, 0o755, 0, 0)
			checkErrno(t, "Mkdir", err, tc.want)
			_, _, err = f.c.Mknod(rootFID, tc.name, unix.S_IFIFO|0o644, 0, 0, 0)
			checkErrno(t, "Mknod", err, tc.want)
			_, _, err = f.c.Symlink(rootFID, tc.name, "x", 0, 0)
			checkErrno(t, "Symlink", err, tc.want)
			_, _, err = f.c.Link(rootFID, tc.name, file)
			checkErrno(t, "Link", err, tc.want)
			checkErrno(t, "Unlink", f.c.Unlink(rootFID, tc.name, 0), tc.want)
			checkErrno(t, "Rmdir", f.c.Unlink(rootFID, tc.name, unix.AT_REMOVEDIR), tc.want)
			checkErrno(t, "Rename from", f.c.Rename(rootFID, tc.name, rootFID, "moved", 0), tc.want)
			checkErrno(t, "Rename to", f.c.Rename(rootFID, "file.txt", rootFID, tc.name, 0), tc.want)
		})
	}
	if after := snapshot(t, root); after != before {
		t.Errorf("tree changed:\nbefore\n%s\nafter\n%s", before, after)
	}
	if after := snapshot(t, outside); after != beforeOut {
		t.Errorf("outside changed:\nbefore\n%s\nafter\n%s", beforeOut, after)
	}
}

// TestSymlinksNeverFollowed makes every write operation meet symlinks that
// point out of the tree, as the directory, the name or the node operated
// on, and checks that nothing outside changed.
func TestSymlinksNeverFollowed(t *testing.T) {
	root, outside := outsideTree(t)
	f := startRW(t, root)
	beforeOut := snapshot(t, outside)
	rootFID := f.attach(t)
	links := []string{"abs", "absdir", "up", "rel", "escape"}

	for _, l := range links {
		t.Run(l, func(t *testing.T) {
			fid := f.mustWalk(t, l)
			// A symlink is no directory to make things in.
			_, _, _, err := f.c.Create(fid, "x", unix.O_RDWR, 0o644, 0, 0)
			checkErrno(t, "Create in symlink", err, unix.ENOTDIR)
			_, _, err = f.c.Mkdir(fid, "x", 0o755, 0, 0)
			checkErrno(t, "Mkdir in symlink", err, unix.ENOTDIR)
			_, _, err = f.c.Mknod(fid, "x", unix.S_IFIFO|0o644, 0, 0, 0)
			checkErrno(t, "Mknod in symlink", err, unix.ENOTDIR)
			_, _, err = f.c.Symlink(fid, "x", "y", 0, 0)
			checkErrno(t, "Symlink in symlink", err, unix.ENOTDIR)
			_, _, err = f.c.Link(fid, "x", f.mustWalk(t, "file.txt"))
			checkErrno(t, "Link in symlink", err, unix.ENOTDIR)
			checkErrno(t, "Unlink in symlink", f.c.Unlink(fid, "victim", 0), unix.ENOTDIR)
			checkErrno(t, "Rename into symlink", f.c.Rename(rootFID, "file.txt", fid, "victim", 0), unix.ENOTDIR)
			checkErrno(t, "Rename out of symlink", f.c.Rename(fid, "victim", rootFID, "stolen", 0), unix.ENOTDIR)

			// Making a node over the symlink's name doesn't go through it.
			_, _, _, err = f.c.Create(rootFID, l, unix.O_RDWR, 0o644, 0, 0)
			checkErrno(t, "Create over symlink", err, unix.EEXIST)
			_, _, err = f.c.Mkdir(rootFID, l, 0o755, 0, 0)
			checkErrno(t, "Mkdir over symlink", err, unix.EEXIST)
			_, _, err = f.c.Mknod(rootFID, l, unix.S_IFIFO|0o644, 0, 0, 0)
			checkErrno(t, "Mknod over symlink", err, unix.EEXIST)

			// The node itself: opening for writing is ELOOP, attribute
			// changes act on the link (or are refused), never the target.
			for _, fl := range []int{unix.O_WRONLY, unix.O_RDWR, unix.O_RDONLY | unix.O_TRUNC, unix.O_WRONLY | unix.O_TRUNC} {
				_, err := f.c.Open(fid, fl)
				checkErrno(t, "Open symlink for writing", err, unix.ELOOP)
			}
			_, err = f.c.Setattr(fid, protocol.Tsetattr{Mask: protocol.SetattrMode, Mode: 0o777})
			checkErrno(t, "chmod symlink", err, unix.EOPNOTSUPP)
			_, err = f.c.Setattr(fid, protocol.Tsetattr{Mask: protocol.SetattrSize, Size: 0})
			checkErrno(t, "truncate symlink", err, unix.EINVAL)
			a, err := f.c.Setattr(fid, protocol.Tsetattr{Mask: protocol.SetattrUID | protocol.SetattrGID, UID: 4321, GID: 8765})
			if err != nil || a.UID != 4321 || a.GID != 8765 || a.Mode&unix.S_IFMT != unix.S_IFLNK {
				t.Errorf("chown symlink: got %+v, %v; want the link owned by 4321:8765", a, err)
			}
			a, err = f.c.Setattr(fid, protocol.Tsetattr{Mask: protocol.SetattrAtime | protocol.SetattrMtime,
				Atime: protocol.Timespec{Sec: 1000}, Mtime: protocol.Timespec{Sec: 2000}})
			if err != nil || a.Mtime.Sec != 2000 || a.Atime.Sec != 1000 {
				t.Errorf("utimes symlink: got %+v, %v; want the link's times 1000/2000", a, err)
			}
			// user.* attributes are not allowed on symlinks.
			checkErrno(t, "setxattr symlink", f.c.SetXattr(fid, "user.x", "y", 0), unix.EPERM)
			_, err = f.c.GetXattr(fid, "user.x", 0)
			if err != unix.ENODATA && err != unix.EPERM {
				t.Errorf("getxattr symlink: got %v, want ENODATA or EPERM", err)
			}
			// A hard link to the symlink is another symlink.
			_, la, err := f.c.Link(rootFID, l+".hard", fid)
			if err != nil || la.Mode&unix.S_IFMT != unix.S_IFLNK {
				t.Errorf("link to symlink: got %+v, %v; want a symlink", la, err)
			}
			if fi, err := os.Lstat(filepath.Join(root, l+".hard")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("host %s.hard: got %v, %v; want a symlink", l, fi, err)
			}
			// Renaming and removing the link moves and removes the link.
			checkErrno(t, "Rename symlink", f.c.Rename(rootFID, l+".hard", rootFID, l+".moved", 0), nil)
			checkErrno(t, "Unlink symlink", f.c.Unlink(rootFID, l+".moved", 0), nil)
		})
	}
	// Replacing a walked node by a symlink to the outside between
	// requests: the gofer acts on what it walked, or refuses.
	fid := f.mustWalk(t, "dir", "sub.txt")
	if err := os.Remove(filepath.Join(root, "dir", "sub.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "victim"), filepath.Join(root, "dir", "sub.txt")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Setattr(fid, protocol.Tsetattr{Mask: protocol.SetattrSize, Size: 1}); err == nil {
		t.Errorf("truncate of a node replaced by a symlink: got nil, want an error")
	}
	if fd, err := f.c.Open(fid, unix.O_RDWR); err == nil {
		unix.Close(fd)
		t.Errorf("open for writing of a node replaced by a symlink: got nil, want an error")
	}
	f.c.Setattr(fid, protocol.Tsetattr{Mask: protocol.SetattrMode | protocol.SetattrUID, Mode: 0o777, UID: 99})
	f.c.SetXattr(fid, "user.x", "y", 0)
	if err := f.c.Fsync(fid); err == nil {
		t.Errorf("fsync of a node replaced by a symlink: got nil, want an error")
	}

	if after := snapshot(t, outside); after != beforeOut {
		t.Errorf("outside changed:\nbefore\n%s\nafter\n%s", beforeOut, after)
	}
	if got, _ := os.ReadFile(filepath.Join(outside, "victim")); string(got) != "precious" {
		t.Errorf("outside victim: got %q, want %q", got, "precious")
	}
}

func TestCreate(t *testing.T) {
	dir := makeTree(t)
	f := startRW(t, dir)
	root := f.attach(t)
	if !f.c.Writable() {
		t.Fatalf("Writable after Attach to a read-write server: got false")
	}
	fid, attr, fd, err := f.c.Create(root, "new.txt", unix.O_RDWR, 0o640, 1234, 5678)
	if err != nil {
		t.Fatalf("Create: got %v, want nil", err)
	}
	defer unix.Close(fd)
	st := lstat(t, filepath.Join(dir, "new.txt"))
	if st.Mode != unix.S_IFREG|0o640 || st.Uid != 1234 || st.Gid != 5678 || st.Size != 0 {
		t.Errorf("host file: mode %#o owner %d:%d size %d; want %#o 1234:5678 0", st.Mode, st.Uid, st.Gid, st.Size, unix.S_IFREG|0o640)
	}
	if attr.Ino != st.Ino || attr.Mode != st.Mode || attr.UID != 1234 {
		t.Errorf("attr: got %+v, want the host's", attr)
	}
	// The donated descriptor reads and writes the new file.
	if _, err := unix.Pwrite(fd, []byte("data"), 0); err != nil {
		t.Errorf("pwrite on the donated descriptor: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "new.txt")); string(got) != "data" {
		t.Errorf("host content: got %q, want %q", got, "data")
	}
	// The FID is the new file's.
	if a, err := f.c.Stat(fid); err != nil || a.Ino != st.Ino || a.Size != 4 {
		t.Errorf("Stat new FID: got %+v, %v", a, err)
	}
	// umask is not the gofer's business: a mode with every bit stays.
	_, attr, fd2, err := f.c.Create(root, "all", unix.O_WRONLY, 0o777, 0, 0)
	if err != nil {
		t.Fatalf("Create 0777: %v", err)
	}
	unix.Close(fd2)
	if attr.Mode != unix.S_IFREG|0o777 {
		t.Errorf("Create 0777: mode %#o, want %#o", attr.Mode, unix.S_IFREG|0o777)
	}
	// Existing names, symlinks (dangling or not) included.
	for _, name := range []string{"file.txt", "dir", "link", "dangling", "escape", "fifo"} {
		_, _, _, err := f.c.Create(root, name, unix.O_RDWR, 0o644, 0, 0)
		checkErrno(t, "Create "+name, err, unix.EEXIST)
	}
	if _, err := os.Lstat(filepath.Join(dir, "nope")); !os.IsNotExist(err) {
		t.Errorf("the dangling symlink's target was made: %v", err)
	}
	_, _, _, err = f.c.Create(f.mustWalk(t, "file.txt"), "x", unix.O_RDWR, 0o644, 0, 0)
	checkErrno(t, "Create in a file", err, unix.ENOTDIR)
	_, _, _, err = f.c.Create(root, "bad", unix.O_RDWR|unix.O_APPEND, 0o644, 0, 0)
	checkErrno(t, "Create with flags", err, unix.EINVAL)
}

func TestMakeNodes(t *testing.T) {
	dir := makeTree(t)
	f := startRW(t, dir)
	root := f.attach(t)
	sub := f.mustWalk(t, "dir")

	_, a, err := f.c.Mkdir(sub, "newdir", 0o750, 11, 22)
	if err != nil {
		t.Fatalf("Mkdir: %v", err)
	}
	st := lstat(t, filepath.Join(dir, "dir", "newdir"))
	if st.Mode != unix.S_IFDIR|0o750 || st.Uid != 11 || st.Gid != 22 || a.Ino != st.Ino {
		t.Errorf("Mkdir: host mode %#o owner %d:%d; want %#o 11:22", st.Mode, st.Uid, st.Gid, unix.S_IFDIR|0o750)
	}
	_, _, err = f.c.Mkdir(sub, "newdir", 0o750, 0, 0)
	checkErrno(t, "Mkdir again", err, unix.EEXIST)

	_, a, err = f.c.Mknod(root, "newfifo", unix.S_IFIFO|0o620, 0, 33, 44)
	if err != nil {
		t.Fatalf("Mknod FIFO: %v", err)
	}
	st = lstat(t, filepath.Join(dir, "newfifo"))
	if st.Mode != unix.S_IFIFO|0o620 || st.Uid != 33 || st.Gid != 44 || a.Mode != st.Mode {
		t.Errorf("Mknod FIFO: host mode %#o owner %d:%d; want %#o 33:44", st.Mode, st.Uid, st.Gid, unix.S_IFIFO|0o620)
	}
	if _, _, err = f.c.Mknod(root, "newsock", unix.S_IFSOCK|0o600, 0, 0, 0); err != nil {
		t.Errorf("Mknod socket: %v", err)
	} else if st := lstat(t, filepath.Join(dir, "newsock")); st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		t.Errorf("Mknod socket: host mode %#o", st.Mode)
	}
	for _, mode := range []uint32{unix.S_IFREG | 0o644, unix.S_IFDIR | 0o755, unix.S_IFLNK | 0o777, 0o644} {
		_, _, err := f.c.Mknod(root, "bad", mode, 0, 0, 0)
		checkErrno(t, "Mknod type", err, unix.EINVAL)
	}
	_, a, err = f.c.Mknod(root, "newnull", unix.S_IFCHR|0o666, unix.Mkdev(1, 3), 0, 0)
	if err == unix.EPERM {
		t.Logf("no CAP_MKNOD: device nodes not tested")
	} else if err != nil {
		t.Errorf("Mknod char device: %v", err)
	} else if st := lstat(t, filepath.Join(dir, "newnull")); st.Mode != unix.S_IFCHR|0o666 || st.Rdev != unix.Mkdev(1, 3) || a.Rdev != st.Rdev {
		t.Errorf("Mknod char device: host mode %#o rdev %#x", st.Mode, st.Rdev)
	}

	_, a, err = f.c.Symlink(root, "newlink", "/etc/passwd", 55, 66)
	if err != nil {
		t.Fatalf("Symlink: %v", err)
	}
	if target, err := os.Readlink(filepath.Join(dir, "newlink")); err != nil || target != "/etc/passwd" {
		t.Errorf("Symlink target: got %q, %v", target, err)
	}
	st = lstat(t, filepath.Join(dir, "newlink"))
	if st.Uid != 55 || st.Gid != 66 || a.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Errorf("Symlink: owner %d:%d mode %#o; want 55:66, a symlink", st.Uid, st.Gid, a.Mode)
	}
	_, _, err = f.c.Symlink(root, "empty", "", 0, 0)
	checkErrno(t, "Symlink to empty", err, unix.ENOENT)

	file := f.mustWalk(t, "file.txt")
	_, a, err = f.c.Link(sub, "hard", file)
	if err != nil {
		t.Fatalf("Link: %v", err)
	}
	st = lstat(t, filepath.Join(dir, "dir", "hard"))
	orig := lstat(t, filepath.Join(dir, "file.txt"))
	if st.Ino != orig.Ino || st.Nlink != 2 || a.Nlink != 2 {
		t.Errorf("Link: ino %d nlink %d (attr %d); want ino %d nlink 2", st.Ino, st.Nlink, a.Nlink, orig.Ino)
	}
	_, _, err = f.c.Link(root, "dirlink", sub)
	checkErrno(t, "Link a directory", err, unix.EPERM)
}

func TestUnlink(t *testing.T) {
	dir := makeTree(t)
	f := startRW(t, dir)
	root := f.attach(t)
	file := f.mustWalk(t, "file.txt")
	checkErrno(t, "Unlink a directory", f.c.Unlink(root, "dir", 0), unix.EISDIR)
	checkErrno(t, "Rmdir a file", f.c.Unlink(root, "file.txt", unix.AT_REMOVEDIR), unix.ENOTDIR)
	checkErrno(t, "Rmdir non-empty", f.c.Unlink(root, "dir", unix.AT_REMOVEDIR), unix.ENOTEMPTY)
	checkErrno(t, "Unlink missing", f.c.Unlink(root, "missing", 0), unix.ENOENT)
	checkErrno(t, "Unlink bad flags", f.c.Unlink(root, "file.txt", 0x1), unix.EINVAL)
	checkErrno(t, "Unlink", f.c.Unlink(root, "file.txt", 0), nil)
	checkErrno(t, "Rmdir", f.c.Unlink(root, "empty", unix.AT_REMOVEDIR), nil)
	checkErrno(t, "Unlink symlink", f.c.Unlink(root, "escape", 0), nil)
	for _, name := range []string{"file.txt", "empty", "escape"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", name, err)
		}
	}
	// The FID of the removed file still stats it, but can't be opened
	// by a name it no longer has.
	if a, err := f.c.Stat(file); err != nil || a.Nlink != 0 {
		t.Errorf("Stat unlinked: got %+v, %v; want nlink 0", a, err)
	}
	_, err := f.c.Open(file, unix.O_RDONLY)
	checkErrno(t, "Open unlinked", err, unix.ESTALE)
	// A new file of the same name is not the old FID's.
	_, _, fd, err := f.c.Create(root, "file.txt", unix.O_RDWR, 0o644, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	_, err = f.c.Open(file, unix.O_RDONLY)
	checkErrno(t, "Open unlinked after a new file took its name", err, unix.ESTALE)
}

func TestRename(t *testing.T) {
	dir := makeTree(t)
	f := startRW(t, dir)
	root := f.attach(t)
	sub := f.mustWalk(t, "dir")
	file := f.mustWalk(t, "file.txt")
	subtxt := f.mustWalk(t, "dir", "sub.txt")

	checkErrno(t, "Rename", f.c.Rename(root, "file.txt", sub, "moved.txt", 0), nil)
	if got, err := os.ReadFile(filepath.Join(dir, "dir", "moved.txt")); err != nil || string(got) != fileContent {
		t.Errorf("moved file: got %q, %v", got, err)
	}
	// The FID follows the file to its new name.
	fd, err := f.c.Open(file, unix.O_RDONLY)
	if err != nil {
		t.Errorf("Open after rename: got %v, want nil", err)
	} else {
		unix.Close(fd)
	}
	// NOREPLACE refuses an existing name; EXCHANGE swaps.
	checkErrno(t, "Rename NOREPLACE", f.c.Rename(sub, "moved.txt", sub, "sub.txt", unix.RENAME_NOREPLACE), unix.EEXIST)
	checkErrno(t, "Rename EXCHANGE", f.c.Rename(sub, "moved.txt", sub, "sub.txt", unix.RENAME_EXCHANGE), nil)
	if got, _ := os.ReadFile(filepath.Join(dir, "dir", "sub.txt")); string(got) != fileContent {
		t.Errorf("after exchange, sub.txt: got %q, want %q", got, fileContent)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "dir", "moved.txt")); string(got) != "sub" {
		t.Errorf("after exchange, moved.txt: got %q, want %q", got, "sub")
	}
	for fid, want := range map[protocol.FID]string{file: fileContent, subtxt: "sub"} {
		fd, err := f.c.Open(fid, unix.O_RDONLY)
		if err != nil {
			t.Errorf("Open after exchange: %v", err)
			continue
		}
		buf := make([]byte, 64)
		n, _ := unix.Read(fd, buf)
		unix.Close(fd)
		if string(buf[:n]) != want {
			t.Errorf("Open after exchange: read %q, want %q", buf[:n], want)
		}
	}
	// Replacing: the victim's FID can't be re-opened.
	checkErrno(t, "Rename over", f.c.Rename(sub, "moved.txt", sub, "sub.txt", 0), nil)
	_, err = f.c.Open(file, unix.O_RDONLY)
	checkErrno(t, "Open replaced", err, unix.ESTALE)
	checkErrno(t, "Rename both flags", f.c.Rename(sub, "sub.txt", sub, "x", unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE), unix.EINVAL)
	checkErrno(t, "Rename WHITEOUT|EXCHANGE", f.c.Rename(sub, "sub.txt", sub, "x", unix.RENAME_WHITEOUT|unix.RENAME_EXCHANGE), unix.EINVAL)
	// RENAME_WHITEOUT leaves a 0:0 character device at the old name.
	checkErrno(t, "Rename WHITEOUT", f.c.Rename(sub, "sub.txt", sub, "x", unix.RENAME_WHITEOUT), nil)
	if _, a, err := f.c.Walk(sub, "sub.txt"); err != nil || a.Mode&unix.S_IFMT != unix.S_IFCHR || a.Rdev != 0 {
		t.Errorf("Walk to the whiteout: mode %#o rdev %#x, %v; want a 0:0 char device", a.Mode, a.Rdev, err)
	}
	checkErrno(t, "Unlink the whiteout", f.c.Unlink(sub, "sub.txt", 0), nil)
	checkErrno(t, "Rename back", f.c.Rename(sub, "x", sub, "sub.txt", 0), nil)
	checkErrno(t, "Rename dir into itself", f.c.Rename(root, "dir", sub, "x", 0), unix.EINVAL)
	// A renamed directory keeps serving its children.
	checkErrno(t, "Rename dir", f.c.Rename(root, "dir", root, "dir2", 0), nil)
	if _, _, err := f.c.Walk(sub, "sub.txt"); err != nil {
		t.Errorf("Walk in renamed directory: %v", err)
	}
	if _, err := f.c.ReadDir(sub); err != nil {
		t.Errorf("ReadDir of renamed directory: %v", err)
	}
}

func TestSetattr(t *testing.T) {
	dir := makeTree(t)
	f := startRW(t, dir)
	file := f.mustWalk(t, "file.txt")
	path := filepath.Join(dir, "file.txt")

	a, err := f.c.Setattr(file, protocol.Tsetattr{Mask: protocol.SetattrMode, Mode: 0o4711})
	if err != nil || a.Mode != unix.S_IFREG|0o4711 || lstat(t, path).Mode != unix.S_IFREG|0o4711 {
		t.Errorf("chmod: got %+v, %v", a, err)
	}
	_, err = f.c.Setattr(file, protocol.Tsetattr{Mask: protocol.SetattrMode, Mode: 0o10000})
	checkErrno(t, "chmod type bits", err, unix.EINVAL)
	a, err = f.c.Setattr(file, protocol.Tsetattr{Mask: protocol.SetattrUID, UID: 77})
	if st := lstat(t, path); err != nil || st.Uid != 77 || st.Gid != 0 || a.UID != 77 {
		t.Errorf("chown uid: got %+v, %v; host %d:%d", a, err, st.Uid, st.Gid)
	}
	a, err = f.c.Setattr(file, protocol.Tsetattr{Mask: protocol.SetattrGID, GID: 88})
	if st := lstat(t, path); err != nil || st.Uid != 77 || st.Gid != 88 {
		t.Errorf("chown gid: got %+v, %v; host %d:%d", a, err, st.Uid, st.Gid)
	}
	a, err = f.c.Setattr(file, protocol.Tsetattr{Mask: protocol.SetattrSize, Size: 5})
	if got, _ := os.ReadFile(path); err != nil || string(got) != "hello" || a.Size != 5 {
		t.Errorf("truncate: got %+v, %v; content %q", a, err, got)
	}
	a, err = f.c.Setattr(file, protocol.Tsetattr{Mask: protocol.SetattrSize, Size: 8192})
	if err != nil || a.Size != 8192 || lstat(t, path).Size != 8192 {
		t.Errorf("extend: got %+v, %v", a, err)
	}
	_, err = f.c.Setattr(f.mustWalk(t, "dir"), protocol.Tsetattr{Mask: protocol.SetattrSize})
	checkErrno(t, "truncate dir", err, unix.EISDIR)
	_, err = f.c.Setattr(f.mustWalk(t, "fifo"), protocol.Tsetattr{Mask: protocol.SetattrSize})
	checkErrno(t, "truncate fifo", err, unix.EINVAL)

	// Times: set both, then one with the other omitted, then now.
	a, err = f.c.Setattr(file, protocol.Tsetattr{Mask: protocol.SetattrAtime | protocol.SetattrMtime,
		Atime: protocol.Timespec{Sec: 1000, Nsec: 5}, Mtime: protocol.Timespec{Sec: 2000, Nsec: 6}})
	st := lstat(t, path)
	if err != nil || st.Atim.Sec != 1000 || st.Atim.Nsec != 5 || st.Mtim.Sec != 2000 || st.Mtim.Nsec != 6 || a.Mtime.Sec != 2000 {
		t.Errorf("utimes: got %+v, %v; host atime %v mtime %v", a, err, st.Atim, st.Mtim)
	}
	_, err = f.c.Setattr(file, protocol.Tsetattr{Mask: protocol.SetattrMtime, Mtime: protocol.Timespec{Sec: 3000}})
	if st := lstat(t, path); err != nil || st.Atim.Sec != 1000 || st.Mtim.Sec != 3000 {
		t.Errorf("utimes mtime only: %v; host atime %v mtime %v", err, st.Atim, st.Mtim)
	}
	_, err = f.c.Setattr(file, protocol.Tsetattr{Mask: protocol.SetattrAtime | protocol.SetattrMtime,
		Atime: protocol.Timespec{Nsec: protocol.UtimeOmit}, Mtime: protocol.Timespec{Nsec: protocol.UtimeNow}})
	if st := lstat(t, path); err != nil || st.Atim.Sec != 1000 || st.Mtim.Sec < 1e9 {
		t.Errorf("utimes omit/now: %v; host atime %v mtime %v", err, st.Atim, st.Mtim)
	}
	_, err = f.c.Setattr(file, protocol.Tsetattr{Mask: protocol.SetattrMtime, Mtime: protocol.Timespec{Nsec: 1e9}})
	checkErrno(t, "utimes bad nsec", err, unix.EINVAL)

	// Directories and FIFOs change mode too, without being opened.
	a, err = f.c.Setattr(f.mustWalk(t, "fifo"), protocol.Tsetattr{Mask: protocol.SetattrMode, Mode: 0o600})
	if err != nil || lstat(t, filepath.Join(dir, "fifo")).Mode != unix.S_IFIFO|0o600 {
		t.Errorf("chmod fifo: got %+v, %v", a, err)
	}
	if _, err := f.c.Setattr(f.mustWalk(t, "dir"), protocol.Tsetattr{Mask: protocol.SetattrMode, Mode: 0o1777}); err != nil ||
		lstat(t, filepath.Join(dir, "dir")).Mode != unix.S_IFDIR|0o1777 {
		t.Errorf("chmod dir: %v", err)
	}
}

func TestOpenWritable(t *testing.T) {
	dir := makeTree(t)
	f := startRW(t, dir)
	file := f.mustWalk(t, "file.txt")
	fd, err := f.c.Open(file, unix.O_WRONLY|unix.O_TRUNC)
	if err != nil {
		t.Fatalf("Open O_WRONLY|O_TRUNC: %v", err)
	}
	if _, err := unix.Write(fd, []byte("new")); err != nil {
		t.Errorf("write: %v", err)
	}
	unix.Close(fd)
	if got, _ := os.ReadFile(filepath.Join(dir, "file.txt")); string(got) != "new" {
		t.Errorf("after O_TRUNC and write: got %q, want %q", got, "new")
	}
	// O_RDONLY|O_TRUNC truncates too, as Linux does; the descriptor is
	// read-only.
	fd, err = f.c.Open(file, unix.O_RDONLY|unix.O_TRUNC)
	if err != nil {
		t.Fatalf("Open O_RDONLY|O_TRUNC: %v", err)
	}
	if _, err := unix.Write(fd, []byte("x")); err != unix.EBADF {
		t.Errorf("write to O_RDONLY descriptor: got %v, want EBADF", err)
	}
	unix.Close(fd)
	if st := lstat(t, filepath.Join(dir, "file.txt")); st.Size != 0 {
		t.Errorf("size after O_RDONLY|O_TRUNC: %d, want 0", st.Size)
	}
	_, err = f.c.Open(f.mustWalk(t, "dir"), unix.O_RDWR)
	checkErrno(t, "Open dir for writing", err, unix.EISDIR)
	_, err = f.c.Open(file, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL)
	checkErrno(t, "Open O_CREAT|O_EXCL", err, unix.EEXIST)
	_, err = f.c.Open(f.mustWalk(t, "fifo"), unix.O_WRONLY)
	checkErrno(t, "Open fifo", err, unix.EACCES)
}

func TestXattr(t *testing.T) {
	dir := makeTree(t)
	f := startRW(t, dir)
	file := f.mustWalk(t, "file.txt")
	if err := f.c.SetXattr(file, "user.test", "value", 0); err == unix.EOPNOTSUPP {
		t.Skip("the test directory's filesystem has no user xattrs")
	} else if err != nil {
		t.Fatalf("SetXattr: %v", err)
	}
	buf := make([]byte, 64)
	if n, err := unix.Lgetxattr(filepath.Join(dir, "file.txt"), "user.test", buf); err != nil || string(buf[:n]) != "value" {
		t.Errorf("host xattr: got %q, %v", buf[:n], err)
	}
	if v, err := f.c.GetXattr(file, "user.test", 0); err != nil || v != "value" {
		t.Errorf("GetXattr: got %q, %v", v, err)
	}
	_, err := f.c.GetXattr(file, "user.test", 2)
	checkErrno(t, "GetXattr small", err, unix.ERANGE)
	checkErrno(t, "SetXattr CREATE existing", f.c.SetXattr(file, "user.test", "v", unix.XATTR_CREATE), unix.EEXIST)
	checkErrno(t, "SetXattr REPLACE missing", f.c.SetXattr(file, "user.none", "v", unix.XATTR_REPLACE), unix.ENODATA)
	f.c.SetXattr(file, "user.b", "", 0)
	names, err := f.c.ListXattr(file, 0)
	sort.Strings(names)
	if err != nil || strings.Join(names, ",") != "user.b,user.test" {
		t.Errorf("ListXattr: got %q, %v", names, err)
	}
	_, err = f.c.ListXattr(file, 5)
	checkErrno(t, "ListXattr small", err, unix.ERANGE)
	checkErrno(t, "RemoveXattr", f.c.RemoveXattr(file, "user.test"), nil)
	_, err = f.c.GetXattr(file, "user.test", 0)
	checkErrno(t, "GetXattr removed", err, unix.ENODATA)
	// Namespaces other than user.* are not served.
	for _, name := range []string{"trusted.x", "security.capability", "system.posix_acl_access"} {
		checkErrno(t, "SetXattr "+name, f.c.SetXattr(file, name, "v", 0), unix.EOPNOTSUPP)
		_, err := f.c.GetXattr(file, name, 0)
		checkErrno(t, "GetXattr "+name, err, unix.EOPNOTSUPP)
	}
	checkErrno(t, "SetXattr empty name", f.c.SetXattr(file, "", "v", 0), unix.ERANGE)
	// A namespace with an empty name is EINVAL, as in Linux.
	checkErrno(t, "SetXattr user.", f.c.SetXattr(file, "user.", "v", 0), unix.EINVAL)
	// Directories have user attributes too.
	if err := f.c.SetXattr(f.mustWalk(t, "dir"), "user.d", "1", 0); err != nil {
		t.Errorf("SetXattr dir: %v", err)
	}
}

func TestFsync(t *testing.T) {
	dir := makeTree(t)
	f := startRW(t, dir)
	checkErrno(t, "Fsync file", f.c.Fsync(f.mustWalk(t, "file.txt")), nil)
	checkErrno(t, "Fsync dir", f.c.Fsync(f.mustWalk(t, "dir")), nil)
	checkErrno(t, "Fsync fifo", f.c.Fsync(f.mustWalk(t, "fifo")), unix.EINVAL)
}
