package overlay

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/tmpfs"
	"palisade.dev/sentry/vfs"
)

// basic is a lower tree most tests start from.
func basic(l *tree) {
	l.mkdir("/etc", 0o755)
	l.writeFile("/etc/hostname", "lower-host\n", 0o644)
	l.writeFile("/etc/passwd", "root:x:0:0\n", 0o644)
	l.mkdir("/etc/sub", 0o750)
	l.writeFile("/etc/sub/conf", "a=1\n", 0o600)
	l.mkdir("/usr", 0o755)
	l.mkdir("/usr/share", 0o755)
	l.mkdir("/usr/share/doc", 0o755)
	l.mkdir("/usr/share/doc/pkg", 0o755)
	l.writeFile("/usr/share/doc/pkg/README", "read me\n", 0o644)
	l.writeFile("/usr/share/doc/pkg/changelog", strings.Repeat("change\n", 1000), 0o644)
	l.symlink("/usr/share/doc/pkg/link", "README")
	l.mkdir("/usr/share/doc/pkg/examples", 0o755)
	l.writeFile("/usr/share/doc/pkg/examples/ex1", "example\n", 0o755)
	l.mkdir("/empty", 0o700)
}

func TestLookupMerging(t *testing.T) {
	e := newEnv(t, basic)
	ov := e.ov
	if got := ov.read("/etc/hostname"); got != "lower-host\n" {
		t.Errorf("read lower file: %q", got)
	}
	wantNames(t, "root", ov.names("/"), "empty", "etc", "usr")
	// Nothing was copied up by reading.
	if ov.get("/etc").(*Dentry).Upper() != nil {
		t.Errorf("/etc was copied up by lookups and reads")
	}
	// A new file in a lower directory joins the lower entries.
	ov.writeFile("/etc/new", "new\n", 0o644)
	wantNames(t, "/etc after create", ov.names("/etc"), "hostname", "new", "passwd", "sub")
	wantNames(t, "upper /etc", e.upper.names("/etc"), "new")
	// An upper file hides the lower one.
	ov.writeFile("/etc/hostname", "upper-host\n", 0o644)
	if got := ov.read("/etc/hostname"); got != "upper-host\n" {
		t.Errorf("read copied-up file: %q", got)
	}
	wantNames(t, "/etc after copy-up", ov.names("/etc"), "hostname", "new", "passwd", "sub")
	// A directory in both layers merges; lookups go to both.
	ov.writeFile("/etc/sub/other", "o\n", 0o644)
	wantNames(t, "/etc/sub", ov.names("/etc/sub"), "conf", "other")
	if got := ov.read("/etc/sub/conf"); got != "a=1\n" {
		t.Errorf("read lower file in merged dir: %q", got)
	}
	_, err := ov.walk("/etc/missing")
	wantErr(t, "lookup of a missing name", err, unix.ENOENT)
	// Twice: the second answer comes from the negative cache.
	_, err = ov.walk("/etc/missing")
	wantErr(t, "lookup of a missing name again", err, unix.ENOENT)
	_, err = ov.walk("/etc/passwd/x")
	wantErr(t, "lookup under a file", err, unix.ENOTDIR)
	// The same name is the same dentry.
	if ov.get("/etc/passwd") != ov.get("/etc/passwd") {
		t.Errorf("two lookups of one name gave two dentries")
	}
}

func TestUpperFileHidesLowerDirectory(t *testing.T) {
	e := newEnv(t, basic)
	ov := e.ov
	// Replace the lower directory /etc/sub (after emptying it) with a file.
	if err := ov.unlink("/etc/sub/conf"); err != nil {
		t.Fatal(err)
	}
	if err := ov.rmdir("/etc/sub"); err != nil {
		t.Fatal(err)
	}
	ov.writeFile("/etc/sub", "now a file\n", 0o644)
	st := ov.stat("/etc/sub")
	if st.Mode&vfs.S_IFMT != vfs.S_IFREG {
		t.Errorf("/etc/sub mode %o, want a regular file", st.Mode)
	}
	_, err := ov.walk("/etc/sub/conf")
	wantErr(t, "lookup under the file", err, unix.ENOTDIR)
	wantNames(t, "/etc", ov.names("/etc"), "hostname", "passwd", "sub")
}

func TestWhiteouts(t *testing.T) {
	e := newEnv(t, basic)
	ov := e.ov
	old := ov.stat("/etc/passwd")
	d := ov.get("/etc/passwd")
	if err := ov.unlink("/etc/passwd"); err != nil {
		t.Fatalf("unlink lower file: %v", err)
	}
	if !d.(vfs.Deleted).IsDeleted() {
		t.Errorf("unlinked dentry doesn't say it is deleted")
	}
	_, err := ov.walk("/etc/passwd")
	wantErr(t, "lookup of an unlinked lower file", err, unix.ENOENT)
	wantNames(t, "/etc", ov.names("/etc"), "hostname", "sub")
	if !e.isUpperWhiteout("/etc/passwd") {
		t.Errorf("no whiteout in the upper layer: %v", e.upper.dump("/etc"))
	}
	wantErr(t, "unlink again", ov.unlink("/etc/passwd"), unix.ENOENT)
	// A new file replaces the whiteout.
	ov.writeFile("/etc/passwd", "new\n", 0o600)
	if got := ov.read("/etc/passwd"); got != "new\n" {
		t.Errorf("read recreated file: %q", got)
	}
	if st := ov.stat("/etc/passwd"); st.Ino == old.Ino || st.Mode&0o777 != 0o600 {
		t.Errorf("recreated file: ino %d mode %o (old ino %d): want a new file", st.Ino, st.Mode, old.Ino)
	}
	wantNames(t, "/etc after recreate", ov.names("/etc"), "hostname", "passwd", "sub")
	// Removing a file that only the upper layer has leaves nothing.
	ov.writeFile("/etc/tmpfile", "x", 0o644)
	if err := ov.unlink("/etc/tmpfile"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.upper.walk("/etc/tmpfile"); err != unix.ENOENT {
		t.Errorf("upper-only file: got %v after unlink, want ENOENT (no whiteout)", err)
	}
	// Whiteouts are the overlay's: applications can't make one.
	dw, _ := ov.parent("/etc/x")
	wantErr(t, "mknod c 0 0", dw.Mknod(ctx, "x", vfs.CreateOptions{Mode: vfs.S_IFCHR | 0o600}), unix.EPERM)
	// Other devices are fine.
	ov.mknod("/etc/null", vfs.S_IFCHR|0o666, vfs.Makedev(1, 3))
	if st := ov.stat("/etc/null"); st.RdevMajor != 1 || st.RdevMinor != 3 {
		t.Errorf("mknod c 1 3: rdev %d:%d", st.RdevMajor, st.RdevMinor)
	}
	wantErr(t, "unlink of a directory", ov.unlink("/etc/sub"), unix.EISDIR)
	wantErr(t, "rmdir of a file", ov.rmdir("/etc/hostname"), unix.ENOTDIR)
}

func TestOpaqueDirectories(t *testing.T) {
	e := newEnv(t, basic)
	ov := e.ov
	wantErr(t, "rmdir of a non-empty lower directory", ov.rmdir("/etc/sub"), unix.ENOTEMPTY)
	if err := ov.unlink("/etc/sub/conf"); err != nil {
		t.Fatal(err)
	}
	if err := ov.rmdir("/etc/sub"); err != nil {
		t.Fatalf("rmdir of an emptied lower directory: %v", err)
	}
	if !e.isUpperWhiteout("/etc/sub") {
		t.Errorf("no whiteout for the removed directory")
	}
	ov.mkdir("/etc/sub", 0o711)
	wantNames(t, "recreated /etc/sub", ov.names("/etc/sub"))
	_, err := ov.walk("/etc/sub/conf")
	wantErr(t, "lookup of a lower name in the opaque directory", err, unix.ENOENT)
	// The marker is in the upper layer, and hidden from applications.
	if v, err := e.upper.get("/etc/sub").(vfs.Xattrs).GetXattr(ctx, opaqueXattr, 0); err != nil || v != "y" {
		t.Errorf("upper opaque xattr: %q, %v", v, err)
	}
	x := ov.get("/etc/sub").(vfs.Xattrs)
	_, err = x.GetXattr(ctx, opaqueXattr, 0)
	wantErr(t, "getxattr trusted.overlay.opaque", err, unix.EOPNOTSUPP)
	wantErr(t, "setxattr trusted.overlay.opaque", x.SetXattr(ctx, opaqueXattr, "n", 0), unix.EPERM)
	wantErr(t, "removexattr trusted.overlay.opaque", x.RemoveXattr(ctx, opaqueXattr), unix.EPERM)
	if names, err := x.ListXattr(ctx, 0); err != nil || len(names) != 0 {
		t.Errorf("listxattr of an opaque directory: %q, %v; want nothing", names, err)
	}
	ov.setXattr("/etc/sub", "user.a", "1")
	if names, err := x.ListXattr(ctx, 0); err != nil || strings.Join(names, ",") != "user.a" {
		t.Errorf("listxattr: %q, %v; want user.a", names, err)
	}
	if _, err := x.ListXattr(ctx, 3); err != unix.ERANGE {
		t.Errorf("listxattr with a short buffer: %v, want ERANGE", err)
	}
	// A directory made where there was none is not opaque, and a
	// directory made in it neither.
	ov.mkdir("/etc/fresh", 0o755)
	if _, err := e.upper.get("/etc/fresh").(vfs.Xattrs).GetXattr(ctx, opaqueXattr, 0); err != unix.ENODATA {
		t.Errorf("fresh directory: opaque xattr %v, want ENODATA", err)
	}
	// An opaque upper directory made by hand hides the lower one
	// (as a layer prepared by another tool would have it).
	e2 := newEnv(t, func(l *tree) {
		basic(l)
	})
	e2.upper.mkdir("/etc", 0o755)
	e2.upper.setXattr("/etc", opaqueXattr, "y")
	e2.upper.writeFile("/etc/only", "x", 0o644)
	wantNames(t, "hand-made opaque /etc", e2.ov.names("/etc"), "only")
	_, err = e2.ov.walk("/etc/passwd")
	wantErr(t, "lookup under a hand-made opaque dir", err, unix.ENOENT)
}

func TestCopyUpKeepsAttributes(t *testing.T) {
	e := newEnv(t, func(l *tree) {
		basic(l)
		l.writeFile("/usr/bin-su", "\x7fELF....", 0o4751)
		l.setStat("/usr/bin-su", vfs.SetStatOptions{Mask: vfs.STATX_UID | vfs.STATX_GID | vfs.STATX_ATIME | vfs.STATX_MTIME,
			Stat: vfs.Statx{UID: 1000, GID: 100, Atime: vfs.Timespec{Sec: 1000, Nsec: 5}, Mtime: vfs.Timespec{Sec: 2000, Nsec: 7}}})
		l.setXattr("/usr/bin-su", "user.mime", "application/x-elf")
		l.setXattr("/usr/bin-su", "trusted.t", "secret")
		l.mkdir("/var", 0o775)
		l.symlink("/var/ln", "../usr/bin-su")
		l.setStat("/var/ln", vfs.SetStatOptions{Mask: vfs.STATX_UID | vfs.STATX_MTIME,
			Stat: vfs.Statx{UID: 7, Mtime: vfs.Timespec{Sec: 4000}}})
		l.mknod("/var/null", vfs.S_IFCHR|0o666, vfs.Makedev(1, 3))
		l.mknod("/var/fifo", vfs.S_IFIFO|0o640, 0)
		l.mknod("/var/disk", vfs.S_IFBLK|0o660, vfs.Makedev(8, 1))
		l.setStat("/var", vfs.SetStatOptions{Mask: vfs.STATX_MODE | vfs.STATX_GID | vfs.STATX_MTIME,
			Stat: vfs.Statx{Mode: 0o2775, GID: 50, Mtime: vfs.Timespec{Sec: 3000}}})
	})
	ov := e.ov
	before := ov.dump("/")
	beforeStat := map[string]vfs.Statx{}
	for _, p := range []string{"/usr/bin-su", "/var", "/var/ln", "/var/null", "/var/fifo", "/var/disk"} {
		beforeStat[p] = ov.stat(p)
	}
	// Copy each node up by touching its access time only.
	for p := range beforeStat {
		ov.setStat(p, vfs.SetStatOptions{Mask: vfs.STATX_ATIME, Stat: vfs.Statx{Atime: vfs.Timespec{Sec: 1000, Nsec: 5}}})
		if ov.get(p).(*Dentry).Upper() == nil {
			t.Errorf("%s: not copied up by setstat", p)
		}
	}
	if after := ov.dump("/"); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("copy-up changed what the overlay shows:\nbefore:\n%s\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
	for p, b := range beforeStat {
		a := ov.stat(p)
		if a.Ino != b.Ino || a.DevMinor != b.DevMinor || a.Mode != b.Mode || a.UID != b.UID || a.GID != b.GID ||
			a.Mtime != b.Mtime || a.Size != b.Size || a.RdevMajor != b.RdevMajor || a.RdevMinor != b.RdevMinor {
			t.Errorf("%s: stat after copy-up %+v, before %+v", p, a, b)
		}
	}
	if v, err := ov.get("/usr/bin-su").(vfs.Xattrs).GetXattr(ctx, "trusted.t", 0); v != "secret" || err != nil {
		t.Errorf("trusted xattr after copy-up: %q, %v", v, err)
	}
	// The parents were copied up with their own attributes.
	if st := e.upper.stat("/var"); st.Mode&0o7777 != 0o2775 || st.GID != 50 || st.Mtime.Sec != 3000 {
		t.Errorf("upper /var: mode %o gid %d mtime %d", st.Mode, st.GID, st.Mtime.Sec)
	}
	// Reading the copied symlink through a path works.
	if tgt, err := ov.get("/var/ln").Readlink(ctx); tgt != "../usr/bin-su" || err != nil {
		t.Errorf("readlink after copy-up: %q, %v", tgt, err)
	}
}

func TestCopyUpParentsFirst(t *testing.T) {
	e := newEnv(t, func(l *tree) {
		l.mkdir("/a", 0o751)
		l.mkdir("/a/b", 0o705)
		l.mkdir("/a/b/c", 0o700)
		l.writeFile("/a/b/c/f", "deep", 0o640)
		for _, p := range []string{"/a", "/a/b", "/a/b/c"} {
			l.setStat(p, vfs.SetStatOptions{Mask: vfs.STATX_UID | vfs.STATX_GID | vfs.STATX_MTIME,
				Stat: vfs.Statx{UID: 11, GID: 22, Mtime: vfs.Timespec{Sec: 12345, Nsec: 678}}})
		}
	})
	ov := e.ov
	want := map[string]vfs.Statx{}
	for _, p := range []string{"/a", "/a/b", "/a/b/c"} {
		want[p] = ov.stat(p)
	}
	ov.appendFile("/a/b/c/f", "er")
	if got := ov.read("/a/b/c/f"); got != "deeper" {
		t.Errorf("appended copy: %q", got)
	}
	for p, w := range want {
		g := e.upper.stat(p)
		if g.Mode != w.Mode || g.UID != 11 || g.GID != 22 || g.Mtime != w.Mtime {
			t.Errorf("upper %s: mode %o owner %d:%d mtime %v; want %o 11:22 %v", p, g.Mode, g.UID, g.GID, g.Mtime, w.Mode, w.Mtime)
		}
	}
	// The directory holding the file keeps its times too.
	if st := ov.stat("/a/b/c"); st.Mtime != want["/a/b/c"].Mtime {
		t.Errorf("/a/b/c mtime changed by a copy-up: %v, want %v", st.Mtime, want["/a/b/c"].Mtime)
	}
}

func TestTruncateCopiesOnlyWhatStays(t *testing.T) {
	e := newEnv(t, func(l *tree) {
		l.writeFile("/big", strings.Repeat("0123456789", 10000), 0o644)
		l.writeFile("/big2", strings.Repeat("0123456789", 10000), 0o644)
	})
	ov := e.ov
	ov.setStat("/big", vfs.SetStatOptions{Mask: vfs.STATX_SIZE, Stat: vfs.Statx{Size: 0}})
	if st := ov.stat("/big"); st.Size != 0 || st.Blocks != 0 {
		t.Errorf("truncated to 0: size %d blocks %d", st.Size, st.Blocks)
	}
	ov.setStat("/big2", vfs.SetStatOptions{Mask: vfs.STATX_SIZE, Stat: vfs.Statx{Size: 15}})
	if got := ov.read("/big2"); got != "012345678901234" {
		t.Errorf("truncated to 15: %q", got)
	}
	// Opening with O_TRUNC copies up nothing, and the file is empty.
	e2 := newEnv(t, func(l *tree) { l.writeFile("/f", "data", 0o644) })
	fd := e2.ov.open(e2.ov.get("/f"), unix.O_WRONLY|unix.O_TRUNC)
	fd.DecRef()
	if got := e2.ov.read("/f"); got != "" {
		t.Errorf("after O_TRUNC: %q", got)
	}
	// Sparse lower files stay sparse.
	e3 := newEnv(t, func(l *tree) {
		l.writeFile("/sparse", "", 0o644)
		fd := l.open(l.get("/sparse"), unix.O_WRONLY)
		fd.PWrite(ctx, []byte("end"), 10<<20)
		fd.DecRef()
	})
	e3.ov.appendFile("/sparse", "!")
	st := e3.ov.stat("/sparse")
	if st.Size != 10<<20+4 || st.Blocks > 64 {
		t.Errorf("copied-up sparse file: size %d blocks %d, want %d and a few blocks", st.Size, st.Blocks, 10<<20+4)
	}
}

func TestOpenBeforeCopyUpSeesLowerData(t *testing.T) {
	e := newEnv(t, basic)
	ov := e.ov
	d := ov.get("/etc/hostname")
	old := ov.open(d, unix.O_RDONLY)
	defer old.DecRef()
	oldSt, err := old.Stat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := ov.stat("/etc/hostname"); oldSt != want {
		t.Errorf("fstat of a lower file: %+v, want the dentry's %+v", oldSt, want)
	}
	ov.writeFile("/etc/hostname", "changed\n", 0o644)
	if ov.get("/etc/hostname") != d {
		t.Errorf("copy-up changed the dentry")
	}
	// The documented limit: the older description reads the lower data.
	if got := readFD(t, old); got != "lower-host\n" {
		t.Errorf("description opened before copy-up reads %q", got)
	}
	if got := ov.read("/etc/hostname"); got != "changed\n" {
		t.Errorf("new description reads %q", got)
	}
	// The same description for writing and reading sees its writes.
	fd := ov.open(ov.get("/etc/passwd"), unix.O_RDWR)
	defer fd.DecRef()
	if _, err := fd.PWrite(ctx, []byte("ROOT"), 0); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 11)
	if n, _ := fd.PRead(ctx, buf, 0); string(buf[:n]) != "ROOT:x:0:0\n" {
		t.Errorf("read back: %q", buf[:n])
	}
	if st, _ := fd.Stat(ctx); st.Ino != ov.stat("/etc/passwd").Ino || st.DevMinor != e.fs.dev {
		t.Errorf("fstat of a copied-up file: ino %d dev %d", st.Ino, st.DevMinor)
	}
}

func TestInodeNumbers(t *testing.T) {
	e := newEnv(t, basic)
	ov := e.ov
	paths := []string{"/etc", "/etc/hostname", "/etc/passwd", "/etc/sub", "/etc/sub/conf", "/usr/share/doc/pkg/link", "/empty"}
	before := map[string]uint64{}
	for _, p := range paths {
		st := ov.stat(p)
		if st.Ino != e.lower.stat(p).Ino {
			t.Errorf("%s: ino %d, lower's %d", p, st.Ino, e.lower.stat(p).Ino)
		}
		if st.DevMajor != 0 || st.DevMinor != e.fs.dev {
			t.Errorf("%s: dev %d:%d, want the overlay's 0:%d", p, st.DevMajor, st.DevMinor, e.fs.dev)
		}
		before[p] = st.Ino
	}
	// Copy everything up.
	for _, p := range paths {
		ov.setStat(p, vfs.SetStatOptions{Mask: vfs.STATX_MTIME, Stat: vfs.Statx{Mtime: vfs.Timespec{Sec: 5}}})
	}
	ov.writeFile("/etc/new1", "", 0o644)
	ov.writeFile("/etc/new2", "", 0o644)
	ov.mkdir("/etc/newdir", 0o755)
	seen := map[uint64]string{}
	for _, p := range append(paths, "/etc/new1", "/etc/new2", "/etc/newdir", "/usr", "/usr/share/doc/pkg/README") {
		ino := ov.stat(p).Ino
		if b, ok := before[p]; ok && b != ino {
			t.Errorf("%s: ino %d after copy-up, %d before", p, ino, b)
		}
		if q, dup := seen[ino]; dup {
			t.Errorf("%s and %s share inode number %d", p, q, ino)
		}
		seen[ino] = p
	}
	// getdents reports the same numbers as stat, in merged and lower
	// directories, and for "." and "..".
	for _, dir := range []string{"/", "/etc", "/usr/share/doc/pkg"} {
		fd := ov.open(ov.get(dir), unix.O_RDONLY)
		fd.IterDirents(ctx, func(de vfs.Dirent) bool {
			p := strings.TrimSuffix(dir, "/") + "/" + de.Name
			switch de.Name {
			case ".":
				p = dir
			case "..":
				p = dir[:strings.LastIndex(dir, "/")+1]
			}
			if st := ov.stat(p); st.Ino != de.Ino || vfs.DirentType(st.Mode) != de.Type {
				t.Errorf("%s: dirent ino %d type %d, stat ino %d type %d", p, de.Ino, de.Type, st.Ino, vfs.DirentType(st.Mode))
			}
			return true
		})
		fd.DecRef()
	}
	// A merged directory reports one link; an upper-only one counts.
	if st := ov.stat("/etc"); st.Nlink != 1 {
		t.Errorf("merged /etc: nlink %d, want 1", st.Nlink)
	}
	ov.mkdir("/etc/newdir/sub", 0o755)
	if st := ov.stat("/etc/newdir"); st.Nlink != 3 {
		t.Errorf("upper-only directory with a subdirectory: nlink %d, want 3", st.Nlink)
	}
	if st := ov.stat("/usr/share/doc"); st.Nlink != 1 {
		t.Errorf("merged /usr/share/doc: nlink %d, want 1", st.Nlink)
	}
	if st := ov.stat("/usr/share/doc/pkg/examples"); st.Nlink != 2 {
		t.Errorf("lower-only directory: nlink %d, want the lower's 2", st.Nlink)
	}
}

func TestHardLinks(t *testing.T) {
	e := newEnv(t, func(l *tree) {
		l.mkdir("/d", 0o755)
		l.writeFile("/d/a", "shared", 0o644)
		l.link("/d/b", "/d/a")
	})
	ov := e.ov
	ino := ov.stat("/d/a").Ino
	if ov.stat("/d/b").Ino != ino || ov.stat("/d/a").Nlink != 2 {
		t.Fatalf("lower hard links: inos %d %d", ino, ov.stat("/d/b").Ino)
	}
	ov.appendFile("/d/a", "+a")
	ov.chmod("/d/b", 0o600)
	// b's copy-up linked it to a's copy.
	if got := ov.read("/d/b"); got != "shared+a" {
		t.Errorf("/d/b after copy-up of both links: %q", got)
	}
	ov.appendFile("/d/b", "+b")
	if got := ov.read("/d/a"); got != "shared+a+b" {
		t.Errorf("/d/a: %q", got)
	}
	for _, p := range []string{"/d/a", "/d/b"} {
		if st := ov.stat(p); st.Ino != ino || st.Nlink != 2 || st.Mode&0o777 != 0o600 {
			t.Errorf("%s: ino %d nlink %d mode %o; want %d 2 600", p, st.Ino, st.Nlink, st.Mode&0o777, ino)
		}
	}
	// link(2) of a lower file copies it up and links in the upper layer.
	e2 := newEnv(t, basic)
	e2.ov.link("/etc/hostname2", "/etc/hostname")
	a, b := e2.ov.stat("/etc/hostname"), e2.ov.stat("/etc/hostname2")
	if a.Ino != b.Ino || a.Nlink != 2 || b.Nlink != 2 {
		t.Errorf("after link: inos %d %d nlinks %d %d", a.Ino, b.Ino, a.Nlink, b.Nlink)
	}
	e2.ov.appendFile("/etc/hostname2", "more\n")
	if got := e2.ov.read("/etc/hostname"); got != "lower-host\nmore\n" {
		t.Errorf("write through the new link: %q", got)
	}
	dw, _ := e2.ov.parent("/etc/x")
	wantErr(t, "link to a directory", dw.Link(ctx, "x", e2.ov.get("/etc/sub")), unix.EPERM)
	wantErr(t, "link over an existing name", dw.Link(ctx, "passwd", e2.ov.get("/etc/hostname")), unix.EEXIST)
	wantErr(t, "link across filesystems", dw.Link(ctx, "x", e2.lower.get("/etc/passwd")), unix.EXDEV)
}

func TestRmdirSeesMergedDirectory(t *testing.T) {
	e := newEnv(t, basic)
	ov := e.ov
	ov.writeFile("/usr/share/doc/pkg/examples/ex2", "2", 0o644)
	wantErr(t, "rmdir with lower and upper entries", ov.rmdir("/usr/share/doc/pkg/examples"), unix.ENOTEMPTY)
	if err := ov.unlink("/usr/share/doc/pkg/examples/ex1"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "rmdir with an upper entry", ov.rmdir("/usr/share/doc/pkg/examples"), unix.ENOTEMPTY)
	if err := ov.unlink("/usr/share/doc/pkg/examples/ex2"); err != nil {
		t.Fatal(err)
	}
	ov.writeFile("/usr/share/doc/pkg/examples/ex1", "again", 0o644)
	wantErr(t, "rmdir with a file over a whiteout", ov.rmdir("/usr/share/doc/pkg/examples"), unix.ENOTEMPTY)
	if err := ov.unlink("/usr/share/doc/pkg/examples/ex1"); err != nil {
		t.Fatal(err)
	}
	if err := ov.rmdir("/usr/share/doc/pkg/examples"); err != nil {
		t.Fatalf("rmdir of a merged directory with only whiteouts: %v", err)
	}
	_, err := ov.walk("/usr/share/doc/pkg/examples")
	wantErr(t, "lookup after rmdir", err, unix.ENOENT)
	wantNames(t, "pkg", ov.names("/usr/share/doc/pkg"), "README", "changelog", "link")
	if !e.isUpperWhiteout("/usr/share/doc/pkg/examples") {
		t.Errorf("no whiteout after rmdir: %v", e.upper.dump("/usr/share/doc/pkg"))
	}
	// A lower-only empty directory goes at once.
	if err := ov.rmdir("/empty"); err != nil {
		t.Fatalf("rmdir of an empty lower directory: %v", err)
	}
	// Recreating a tree removed with everything in it (rm -rf, then
	// mkdir -p) gives an empty directory, not the lower one back.
	rmrf(t, ov, "/usr/share/doc")
	_, err = ov.walk("/usr/share/doc")
	wantErr(t, "after rm -rf", err, unix.ENOENT)
	ov.mkdir("/usr/share/doc", 0o755)
	ov.mkdir("/usr/share/doc/pkg", 0o755)
	ov.writeFile("/usr/share/doc/pkg/README", "new readme", 0o644)
	wantNames(t, "recreated doc", ov.names("/usr/share/doc"), "pkg")
	wantNames(t, "recreated doc/pkg", ov.names("/usr/share/doc/pkg"), "README")
	wantErr(t, "rmdir .", ov.get("/usr").(vfs.DirWriter).Rmdir(ctx, "."), unix.EINVAL)
	wantErr(t, "rmdir ..", ov.get("/usr").(vfs.DirWriter).Rmdir(ctx, ".."), unix.ENOTEMPTY)
}

// rmrf removes path and everything under it, as rm -rf does: children
// first, while reading the directory.
func rmrf(t *testing.T, ov *tree, path string) {
	t.Helper()
	if ov.stat(path).Mode&vfs.S_IFMT == vfs.S_IFDIR {
		fd := ov.open(ov.get(path), unix.O_RDONLY)
		var names []string
		fd.IterDirents(ctx, func(de vfs.Dirent) bool {
			if de.Name != "." && de.Name != ".." {
				// Remove while reading: the listing must not notice.
				rmrf(t, ov, path+"/"+de.Name)
				names = append(names, de.Name)
			}
			return true
		})
		fd.DecRef()
		if err := ov.rmdir(path); err != nil {
			t.Fatalf("rmdir %s (after removing %q): %v", path, names, err)
		}
		return
	}
	if err := ov.unlink(path); err != nil {
		t.Fatalf("unlink %s: %v", path, err)
	}
}

func TestRenameLowerDirectory(t *testing.T) {
	e := newEnv(t, basic)
	ov := e.ov
	ov.writeFile("/usr/share/doc/pkg/examples/ex2", "upper", 0o644)
	if err := ov.unlink("/usr/share/doc/pkg/changelog"); err != nil {
		t.Fatal(err)
	}
	before := ov.dump("/usr/share/doc/pkg")
	inos := map[string]uint64{}
	for _, p := range []string{"", "/README", "/link", "/examples", "/examples/ex1", "/examples/ex2"} {
		inos[p] = ov.stat("/usr/share/doc/pkg" + p).Ino
	}
	moved := ov.get("/usr/share/doc/pkg")
	if err := ov.rename("/usr/share/doc/pkg", "/x", 0); err != nil {
		t.Fatalf("rename of a lower directory: %v", err)
	}
	_, err := ov.walk("/usr/share/doc/pkg")
	wantErr(t, "old name after rename", err, unix.ENOENT)
	wantNames(t, "doc after rename", ov.names("/usr/share/doc"))
	if ov.get("/x") != moved || moved.Name() != "x" || moved.Parent() != ov.root {
		t.Errorf("the moved directory is not the same dentry under its new name")
	}
	after := ov.dump("/x")
	for i := range before {
		before[i] = strings.Replace(before[i], "/usr/share/doc/pkg", "/x", 1)
	}
	if strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("renamed tree differs:\nbefore:\n%s\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
	for p, ino := range inos {
		if got := ov.stat("/x" + p).Ino; got != ino {
			t.Errorf("/x%s: ino %d, was %d", p, got, ino)
		}
	}
	// The old place can take a new directory, which starts empty.
	ov.mkdir("/usr/share/doc/pkg", 0o755)
	wantNames(t, "new pkg", ov.names("/usr/share/doc/pkg"))
	// Back again, over the new empty directory.
	if err := ov.rename("/x", "/usr/share/doc/pkg", 0); err != nil {
		t.Fatalf("rename back over an empty directory: %v", err)
	}
	wantNames(t, "pkg back", ov.names("/usr/share/doc/pkg"), "README", "examples", "link")
	wantNames(t, "pkg/examples back", ov.names("/usr/share/doc/pkg/examples"), "ex1", "ex2")
	_, err = ov.walk("/x")
	wantErr(t, "/x after moving back", err, unix.ENOENT)
	if _, err := e.upper.walk("/x"); err != unix.ENOENT {
		t.Errorf("upper /x after moving back: %v, want ENOENT (no whiteout: the lower layer has no /x)", err)
	}
	// Over a lower directory that is empty in the merged view: the
	// result hides the lower directory's entries.
	if err := ov.unlink("/etc/sub/conf"); err != nil {
		t.Fatal(err)
	}
	if err := ov.rename("/usr/share/doc/pkg/examples", "/etc/sub", 0); err != nil {
		t.Fatalf("rename over a merged empty directory: %v", err)
	}
	wantNames(t, "/etc/sub", ov.names("/etc/sub"), "ex1", "ex2")
	_, err = ov.walk("/etc/sub/conf")
	wantErr(t, "lower entry of the replaced directory", err, unix.ENOENT)
}

func TestRenameFiles(t *testing.T) {
	e := newEnv(t, basic)
	ov := e.ov
	ino := ov.stat("/etc/hostname").Ino
	if err := ov.rename("/etc/hostname", "/etc/hostname.old", 0); err != nil {
		t.Fatalf("rename of a lower file: %v", err)
	}
	if got := ov.read("/etc/hostname.old"); got != "lower-host\n" {
		t.Errorf("renamed file: %q", got)
	}
	if ov.stat("/etc/hostname.old").Ino != ino {
		t.Errorf("renamed file changed inode number")
	}
	if !e.isUpperWhiteout("/etc/hostname") {
		t.Errorf("no whiteout at the old name")
	}
	// Over a lower file.
	if err := ov.rename("/etc/hostname.old", "/etc/passwd", 0); err != nil {
		t.Fatalf("rename over a lower file: %v", err)
	}
	if got := ov.read("/etc/passwd"); got != "lower-host\n" {
		t.Errorf("replaced file: %q", got)
	}
	wantNames(t, "/etc", ov.names("/etc"), "passwd", "sub")
	// Into a whiteout's place.
	ov.writeFile("/etc/x", "x", 0o644)
	if err := ov.rename("/etc/x", "/etc/hostname", 0); err != nil {
		t.Fatalf("rename onto a whiteout: %v", err)
	}
	if got := ov.read("/etc/hostname"); got != "x" {
		t.Errorf("file renamed onto a whiteout: %q", got)
	}
	// Across directories, from lower to a lower-only directory.
	if err := ov.rename("/usr/share/doc/pkg/README", "/empty/README", 0); err != nil {
		t.Fatalf("rename across directories: %v", err)
	}
	wantNames(t, "/empty", ov.names("/empty"), "README")
	wantNames(t, "pkg", ov.names("/usr/share/doc/pkg"), "changelog", "examples", "link")
	// A symlink from the lower layer keeps its target.
	if err := ov.rename("/usr/share/doc/pkg/link", "/empty/link", 0); err != nil {
		t.Fatal(err)
	}
	if tgt, _ := ov.get("/empty/link").Readlink(ctx); tgt != "README" {
		t.Errorf("moved symlink: %q", tgt)
	}
}

func TestRenameErrorsAndFlags(t *testing.T) {
	e := newEnv(t, basic)
	ov := e.ov
	wantErr(t, "NOREPLACE over a lower file", ov.rename("/etc/hostname", "/etc/passwd", tmpfs.RENAME_NOREPLACE), unix.EEXIST)
	wantErr(t, "EXCHANGE with a missing name", ov.rename("/etc/hostname", "/etc/none", tmpfs.RENAME_EXCHANGE), unix.ENOENT)
	wantErr(t, "NOREPLACE|EXCHANGE", ov.rename("/etc/hostname", "/etc/passwd", tmpfs.RENAME_NOREPLACE|tmpfs.RENAME_EXCHANGE), unix.EINVAL)
	wantErr(t, "WHITEOUT", ov.rename("/etc/hostname", "/etc/passwd", tmpfs.RENAME_WHITEOUT), unix.EINVAL)
	wantErr(t, "missing source", ov.rename("/etc/none", "/etc/x", 0), unix.ENOENT)
	wantErr(t, "into its own subtree", ov.rename("/usr/share", "/usr/share/doc/pkg/x", 0), unix.EINVAL)
	wantErr(t, "over its own ancestor", ov.rename("/usr/share/doc/pkg/examples", "/usr/share", 0), unix.ENOTEMPTY)
	wantErr(t, "directory over a non-empty merged directory", ov.rename("/empty", "/etc/sub", 0), unix.ENOTEMPTY)
	wantErr(t, "directory over a file", ov.rename("/empty", "/etc/passwd", 0), unix.ENOTDIR)
	wantErr(t, "file over a directory", ov.rename("/etc/passwd", "/empty", 0), unix.EISDIR)
	wantErr(t, "old name .", ov.rename("/etc/.", "/etc/x", 0), unix.EBUSY)
	if err := ov.rename("/etc/passwd", "/etc/passwd", 0); err != nil {
		t.Errorf("rename onto itself: %v", err)
	}
	if e.fs.root.Upper() != nil && ov.get("/etc").(*Dentry).Upper() != nil {
		t.Errorf("failed renames copied /etc up")
	}
	// Exchange a lower file with an upper one, and a lower directory
	// with an upper file.
	ov.writeFile("/etc/up", "upper\n", 0o644)
	if err := ov.rename("/etc/hostname", "/etc/up", tmpfs.RENAME_EXCHANGE); err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if a, b := ov.read("/etc/hostname"), ov.read("/etc/up"); a != "upper\n" || b != "lower-host\n" {
		t.Errorf("after exchange: hostname %q up %q", a, b)
	}
	if err := ov.rename("/etc/sub", "/etc/up", tmpfs.RENAME_EXCHANGE); err != nil {
		t.Fatalf("exchange of a directory and a file: %v", err)
	}
	wantNames(t, "/etc/up (the directory)", ov.names("/etc/up"), "conf")
	if got := ov.read("/etc/sub"); got != "lower-host\n" {
		t.Errorf("/etc/sub (the file): %q", got)
	}
	_, err := ov.walk("/etc/up/conf")
	if err != nil {
		t.Errorf("lookup in the exchanged directory: %v", err)
	}
	wantNames(t, "/etc", ov.names("/etc"), "hostname", "passwd", "sub", "up")
	// Cross-filesystem.
	dw, _ := ov.parent("/etc/x")
	wantErr(t, "rename to another filesystem", dw.Rename(ctx, "passwd", e.lower.get("/etc"), "x", 0), unix.EXDEV)
}

func TestReaddirStableWhileChanging(t *testing.T) {
	e := newEnv(t, func(l *tree) {
		l.mkdir("/d", 0o755)
		for i := 0; i < 40; i++ {
			l.writeFile(fmt.Sprintf("/d/l%02d", i), "", 0o644)
		}
	})
	ov := e.ov
	for i := 0; i < 40; i++ {
		ov.writeFile(fmt.Sprintf("/d/u%02d", i), "", 0o644)
	}
	fd := ov.open(ov.get("/d"), unix.O_RDONLY)
	defer fd.DecRef()
	var got []string
	read := func(n int) {
		fd.IterDirents(ctx, func(de vfs.Dirent) bool {
			if n == 0 {
				return false
			}
			n--
			got = append(got, de.Name)
			return true
		})
	}
	read(30)
	// Change the directory under the reader: remove entries it read and
	// entries it didn't, add some, copy up a lower one.
	for i := 0; i < 40; i += 3 {
		if err := ov.unlink(fmt.Sprintf("/d/l%02d", i)); err != nil {
			t.Fatal(err)
		}
		if err := ov.unlink(fmt.Sprintf("/d/u%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 10; i++ {
		ov.writeFile(fmt.Sprintf("/d/n%02d", i), "", 0o644)
	}
	ov.appendFile("/d/l01", "x")
	// Seeking to where we are changes nothing.
	off, err := fd.Seek(ctx, 0, unix.SEEK_CUR)
	if err != nil || off != 30 {
		t.Fatalf("SEEK_CUR: %d, %v", off, err)
	}
	read(1000)
	if len(got) != 82 {
		t.Errorf("read %d entries, want the 82 of the snapshot (with . and ..)", len(got))
	}
	seen := map[string]bool{}
	for _, n := range got {
		if seen[n] {
			t.Errorf("%s listed twice", n)
		}
		seen[n] = true
	}
	for i := 0; i < 40; i++ {
		for _, p := range []string{"l", "u"} {
			if n := fmt.Sprintf("%s%02d", p, i); !seen[n] {
				t.Errorf("%s missing from the listing", n)
			}
		}
	}
	// Rewinding takes a new snapshot.
	if _, err := fd.Seek(ctx, 0, unix.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	got = nil
	read(1000)
	sort.Strings(got)
	var want []string
	for i := 0; i < 40; i++ {
		if i%3 != 0 {
			want = append(want, fmt.Sprintf("l%02d", i), fmt.Sprintf("u%02d", i))
		}
	}
	for i := 0; i < 10; i++ {
		want = append(want, fmt.Sprintf("n%02d", i))
	}
	want = append(want, ".", "..")
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("after rewind: %q\nwant %q", got, want)
	}
	// Offsets are seekable: SEEK_SET to an offset returned earlier
	// continues from there.
	var offs []int64
	var names []string
	fd2 := ov.open(ov.get("/d"), unix.O_RDONLY)
	defer fd2.DecRef()
	fd2.IterDirents(ctx, func(de vfs.Dirent) bool {
		offs, names = append(offs, de.NextOff), append(names, de.Name)
		return true
	})
	fd2.Seek(ctx, offs[10], unix.SEEK_SET)
	fd2.IterDirents(ctx, func(de vfs.Dirent) bool {
		if de.Name != names[11] {
			t.Errorf("after SEEK_SET to entry 11's offset: %q, want %q", de.Name, names[11])
		}
		return false
	})
}

func TestStatfsAndDevice(t *testing.T) {
	e := newEnv(t, basic)
	s, err := e.fs.Statfs(ctx)
	if err != nil || s.Type != OVERLAYFS_SUPER_MAGIC || s.Bsize == 0 || s.Blocks == 0 {
		t.Errorf("statfs: %+v, %v", s, err)
	}
	if e.fs.Name() != "overlay" {
		t.Errorf("name %q", e.fs.Name())
	}
	before := s.Bfree
	e.ov.writeFile("/big", strings.Repeat("x", 1<<20), 0o644)
	if s, _ := e.fs.Statfs(ctx); s.Bfree >= before {
		t.Errorf("statfs free blocks didn't drop after writing 1MiB: %d then %d", before, s.Bfree)
	}
	// The root has the lower root's attributes.
	if st, lst := e.ov.stat("/"), e.lower.stat("/"); st.Mode != lst.Mode || st.Ino != lst.Ino {
		t.Errorf("root: mode %o ino %d, lower %o %d", st.Mode, st.Ino, lst.Mode, lst.Ino)
	}
}

func TestXattrsOnLowerFiles(t *testing.T) {
	e := newEnv(t, func(l *tree) {
		basic(l)
		l.setXattr("/etc/passwd", "user.a", "1")
	})
	ov := e.ov
	x := ov.get("/etc/passwd").(vfs.Xattrs)
	if v, err := x.GetXattr(ctx, "user.a", 0); v != "1" || err != nil {
		t.Errorf("getxattr of a lower file: %q, %v", v, err)
	}
	if ov.get("/etc/passwd").(*Dentry).Upper() != nil {
		t.Errorf("getxattr copied up")
	}
	if err := x.SetXattr(ctx, "user.b", "2", 0); err != nil {
		t.Fatal(err)
	}
	if names, _ := x.ListXattr(ctx, 0); strings.Join(names, ",") != "user.a,user.b" {
		t.Errorf("after setxattr: %q", names)
	}
	if err := x.RemoveXattr(ctx, "user.a"); err != nil {
		t.Fatal(err)
	}
	if names, _ := x.ListXattr(ctx, 0); strings.Join(names, ",") != "user.b" {
		t.Errorf("after removexattr: %q", names)
	}
	// Unprivileged callers follow the upper layer's rules.
	wantErr(t, "trusted.* by a user", x.SetXattr(userCtx, "trusted.x", "1", 0), unix.EPERM)
	x2 := ov.get("/etc/hostname").(vfs.Xattrs)
	wantErr(t, "removexattr of a missing name", x2.RemoveXattr(ctx, "user.none"), unix.ENODATA)
	wantErr(t, "setxattr with bad flags", x2.SetXattr(ctx, "user.a", "", 8), unix.EINVAL)
}

func TestFIFOAndDeviceOpen(t *testing.T) {
	e := newEnv(t, func(l *tree) {
		l.mknod("/fifo", vfs.S_IFIFO|0o666, 0)
	})
	ov := e.ov
	// O_RDWR never waits; fstat is the overlay's node.
	fd := ov.open(ov.get("/fifo"), unix.O_RDWR)
	st, err := fd.Stat(ctx)
	if err != nil || st.DevMinor != e.fs.dev || st.Ino != ov.stat("/fifo").Ino {
		t.Errorf("fstat of a lower FIFO: %+v, %v", st, err)
	}
	fd.DecRef()
	ov.mknod("/fifo2", vfs.S_IFIFO|0o666, 0)
	fd = ov.open(ov.get("/fifo2"), unix.O_RDWR)
	if n, err := fd.Write(ctx, []byte("hi")); n != 2 || err != nil {
		t.Errorf("write to upper FIFO: %d, %v", n, err)
	}
	buf := make([]byte, 2)
	if n, err := fd.Read(ctx, buf); n != 2 || err != nil || string(buf) != "hi" {
		t.Errorf("read from upper FIFO: %d, %v", n, err)
	}
	st, err = fd.Stat(ctx)
	if err != nil || st.DevMinor != e.fs.dev || st.Ino != ov.stat("/fifo2").Ino {
		t.Errorf("fstat of an upper FIFO: %+v, %v", st, err)
	}
	fd.DecRef()
	ov.mknod("/null", vfs.S_IFCHR|0o666, vfs.Makedev(1, 3))
	if _, err := ov.get("/null").Open(ctx, vfs.VirtualDentry{Mount: ov.mnt, Dentry: ov.get("/null")}, unix.O_RDONLY); err != unix.ENXIO {
		t.Errorf("open of a device node without a device opener: %v, want ENXIO", err)
	}
}

// TestConcurrentChanges runs lookups, stats, listings and changes at the
// same time (run with -race).
func TestConcurrentChanges(t *testing.T) {
	e := newEnv(t, func(l *tree) {
		basic(l)
		l.mkdir("/c", 0o755)
		for i := 0; i < 20; i++ {
			l.writeFile(fmt.Sprintf("/c/f%d", i), fmt.Sprint(i), 0o644)
		}
	})
	ov := e.ov
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				name := fmt.Sprintf("/c/w%d-%d", w, i%5)
				dw, n := ov.parent(name)
				if c, err := dw.Create(ctx, n, createOpts(vfs.S_IFREG|0o644)); err == nil {
					c.Stat(ctx)
				}
				dw.Unlink(ctx, n)
				if d, err := ov.walk(fmt.Sprintf("/c/f%d", (i+w)%20)); err == nil {
					d.(vfs.Setter).SetStat(ctx, vfs.SetStatOptions{Mask: vfs.STATX_MODE, Stat: vfs.Statx{Mode: 0o600}})
					d.Stat(ctx)
				}
				if d, err := ov.walk("/c"); err == nil {
					fd, err := d.Open(ctx, vfs.VirtualDentry{Mount: ov.mnt, Dentry: d}, unix.O_RDONLY)
					if err == nil {
						fd.IterDirents(ctx, func(vfs.Dirent) bool { return true })
						fd.DecRef()
					}
				}
				ov.walk("/usr/share/doc/pkg/README")
			}
		}(w)
	}
	wg.Wait()
	for i := 0; i < 20; i++ {
		if got := ov.read(fmt.Sprintf("/c/f%d", i)); got != fmt.Sprint(i) {
			t.Errorf("/c/f%d: %q", i, got)
		}
	}
	wantNames(t, "/c", ov.names("/c")[:1], "f0")
	if n := len(ov.names("/c")); n != 20 {
		t.Errorf("/c has %d entries, want 20", n)
	}
}

func TestRemovedDirectoryIsEmpty(t *testing.T) {
	e := newEnv(t, basic)
	ov := e.ov
	sub := ov.get("/etc/sub")
	fd := ov.open(sub, unix.O_RDONLY)
	defer fd.DecRef()
	file := ov.open(ov.get("/etc/sub/conf"), unix.O_RDONLY)
	defer file.DecRef()
	if err := ov.unlink("/etc/sub/conf"); err != nil {
		t.Fatal(err)
	}
	if st, _ := file.Stat(ctx); st.Nlink != 0 {
		t.Errorf("fstat of an unlinked lower file: nlink %d, want 0", st.Nlink)
	}
	if got := readFD(t, file); got != "a=1\n" {
		t.Errorf("reading an unlinked file: %q", got)
	}
	if err := ov.rmdir("/etc/sub"); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Lookup(ctx, "conf"); err != unix.ENOENT {
		t.Errorf("lookup in a removed directory: %v, want ENOENT", err)
	}
	var names []string
	fd.IterDirents(ctx, func(de vfs.Dirent) bool {
		names = append(names, de.Name)
		return true
	})
	if strings.Join(names, ",") != ".,.." {
		t.Errorf("listing of a removed directory: %q", names)
	}
	if st, _ := sub.Stat(ctx); st.Nlink != 0 {
		t.Errorf("removed directory: nlink %d, want 0", st.Nlink)
	}
	wantErr(t, "create in a removed directory", sub.(vfs.DirWriter).Mkdir(ctx, "x", createOpts(vfs.S_IFDIR|0o755)), unix.ENOENT)
}

func TestTmpfileAndSockets(t *testing.T) {
	e := newEnv(t, basic)
	ov := e.ov
	dir := ov.get("/etc").(*Dentry)
	fd, err := dir.Tmpfile(ctx, ov.mnt, unix.O_RDWR, createOpts(0o600))
	if err != nil {
		t.Fatalf("Tmpfile: %v", err)
	}
	defer fd.DecRef()
	if _, err := fd.Write(ctx, []byte("tmp")); err != nil {
		t.Fatal(err)
	}
	st, err := fd.Stat(ctx)
	if err != nil || st.Nlink != 0 || st.DevMinor != e.fs.dev {
		t.Errorf("fstat of a tmpfile: %+v, %v", st, err)
	}
	wantNames(t, "/etc with a tmpfile", ov.names("/etc"), "hostname", "passwd", "sub")
	if err := dir.Link(ctx, "named", fd.Dentry()); err != nil {
		t.Fatalf("linking the tmpfile: %v", err)
	}
	if got := ov.read("/etc/named"); got != "tmp" {
		t.Errorf("linked tmpfile: %q", got)
	}
	if ino := ov.stat("/etc/named").Ino; ino != st.Ino {
		t.Errorf("linked tmpfile: ino %d, fstat said %d", ino, st.Ino)
	}
	ep := new(int)
	if _, err := dir.MknodSocket(ctx, "sock", createOpts(0o755), ep); err != nil {
		t.Fatal(err)
	}
	if got := ov.get("/etc/sock").(*Dentry).SocketEndpoint(); got != ep {
		t.Errorf("SocketEndpoint: %v, want %v", got, ep)
	}
	if _, err := dir.MknodSocket(ctx, "passwd", createOpts(0o755), ep); err != unix.EEXIST {
		t.Errorf("MknodSocket over a lower file: %v, want EEXIST", err)
	}
}
