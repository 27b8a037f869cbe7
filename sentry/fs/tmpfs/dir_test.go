package tmpfs

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/vfs"
)

func TestDirectoryErrors(t *testing.T) {
	e := newEnv(t, Options{})
	e.mkdir("d", 0o755)
	e.create("d/f")
	e.create("file")
	root := e.root()
	long := strings.Repeat("x", 256)
	for _, c := range []struct {
		what string
		err  error
		want error
	}{
		{"create existing", func() error { _, err := root.Create(ctx, "file", opts(0o644)); return err }(), unix.EEXIST},
		{"mkdir existing", root.Mkdir(ctx, "d", opts(vfs.S_IFDIR|0o755)), unix.EEXIST},
		{"mkdir over file", root.Mkdir(ctx, "file", opts(vfs.S_IFDIR|0o755)), unix.EEXIST},
		{"symlink existing", root.Symlink(ctx, "d", "x", opts(vfs.S_IFLNK|0o777)), unix.EEXIST},
		{"mkdir dot", root.Mkdir(ctx, ".", opts(vfs.S_IFDIR|0o755)), unix.EEXIST},
		{"create long name", func() error { _, err := root.Create(ctx, long, opts(0o644)); return err }(), unix.ENAMETOOLONG},
		{"lookup long name", func() error { _, err := root.Lookup(ctx, long); return err }(), unix.ENAMETOOLONG},
		{"lookup missing", func() error { _, err := root.Lookup(ctx, "nope"); return err }(), unix.ENOENT},
		{"lookup in file", func() error { _, err := e.lookup("file").Lookup(ctx, "x"); return err }(), unix.ENOTDIR},
		{"create in file", func() error { _, err := e.lookup("file").Create(ctx, "x", opts(0o644)); return err }(), unix.ENOTDIR},
		{"unlink missing", root.Unlink(ctx, "nope"), unix.ENOENT},
		{"unlink dir", root.Unlink(ctx, "d"), unix.EISDIR},
		{"rmdir missing", root.Rmdir(ctx, "nope"), unix.ENOENT},
		{"rmdir file", root.Rmdir(ctx, "file"), unix.ENOTDIR},
		{"rmdir non-empty", root.Rmdir(ctx, "d"), unix.ENOTEMPTY},
		{"rmdir dot", root.Rmdir(ctx, "."), unix.EINVAL},
		{"mknod dir", root.Mknod(ctx, "x", opts(vfs.S_IFDIR|0o755)), unix.EPERM},
		{"mknod bad type", root.Mknod(ctx, "x", opts(0o170000|0o644)), unix.EINVAL},
		{"symlink empty", root.Symlink(ctx, "x", "", opts(vfs.S_IFLNK|0o777)), unix.ENOENT},
		{"symlink long", root.Symlink(ctx, "x", strings.Repeat("a", 4096), opts(vfs.S_IFLNK|0o777)), unix.ENAMETOOLONG},
		{"open dir for writing", func() error {
			_, err := e.lookup("d").Open(ctx, vfs.VirtualDentry{Mount: e.mnt, Dentry: e.lookup("d")}, unix.O_RDWR)
			return err
		}(), unix.EISDIR},
	} {
		wantErr(t, c.what, c.err, c.want)
	}
	// An empty directory goes; one removed can't get new entries.
	dd := e.lookup("d")
	fd := e.open(dd, unix.O_RDONLY)
	defer fd.DecRef()
	root.Unlink(ctx, "d") // EISDIR, no effect
	dd.Unlink(ctx, "f")
	if err := root.Rmdir(ctx, "d"); err != nil {
		t.Fatalf("rmdir empty: %v", err)
	}
	if !dd.IsDeleted() || stat(t, dd).Nlink != 0 {
		t.Errorf("removed dir: deleted %v nlink %d", dd.IsDeleted(), stat(t, dd).Nlink)
	}
	_, err := dd.Create(ctx, "new", opts(0o644))
	wantErr(t, "create in removed dir", err, unix.ENOENT)
	wantErr(t, "mkdir in removed dir", dd.Mkdir(ctx, "new", opts(vfs.S_IFDIR|0o755)), unix.ENOENT)
	if n := e.names(dd); len(n) != 0 {
		t.Errorf("removed dir lists %v", n)
	}
}

func TestNlinkAndSizes(t *testing.T) {
	e := newEnv(t, Options{})
	root := e.root()
	check := func(what string, d *Dentry, nlink uint32, entries int) {
		t.Helper()
		st := stat(t, d)
		if st.Nlink != nlink || st.Size != uint64(bogoDirentSize*(2+entries)) {
			t.Errorf("%s: nlink %d size %d; want %d, %d", what, st.Nlink, st.Size, nlink, bogoDirentSize*(2+entries))
		}
	}
	check("empty root", root, 2, 0)
	a := e.mkdir("a", 0o755)
	e.mkdir("b", 0o755)
	e.create("f")
	check("root", root, 4, 3)
	e.mkdir("a/sub", 0o755)
	check("a", a, 3, 1)
	if err := root.Rename(ctx, "b", a, "b2", 0); err != nil {
		t.Fatal(err)
	}
	check("root after moving b", root, 3, 2)
	check("a after moving b in", a, 4, 2)
	root.Rmdir(ctx, "nope")
	a.Rmdir(ctx, "b2")
	check("a after rmdir", a, 3, 1)
	if err := a.Rename(ctx, "sub", root, "f", 0); err != unix.ENOTDIR {
		t.Errorf("dir over file: %v", err)
	}
	st := stat(t, e.lookup("a/sub"))
	if st.Mode != vfs.S_IFDIR|0o755 || st.Nlink != 2 {
		t.Errorf("subdir mode %#o nlink %d", st.Mode, st.Nlink)
	}
}

func TestInodeNumbers(t *testing.T) {
	e := newEnv(t, Options{})
	if ino := stat(t, e.root()).Ino; ino != 1 {
		t.Errorf("root inode %d, want 1", ino)
	}
	seen := map[uint64]bool{}
	for i := 0; i < 100; i++ {
		d := e.create(fmt.Sprint("f", i))
		ino := stat(t, d).Ino
		if seen[ino] {
			t.Fatalf("inode %d reused", ino)
		}
		seen[ino] = true
	}
}

// TestRename is the rename matrix: sources and targets of each type, with
// each flag.
func TestRename(t *testing.T) {
	std := func(e *env) {
		e.writeFile("f", []byte("f"))
		e.writeFile("g", []byte("g"))
		e.mkdir("d", 0o755)
		e.writeFile("d/in", []byte("in"))
		e.mkdir("d/sub", 0o755)
		e.mkdir("empty", 0o755)
		e.mkdir("other", 0o755)
		e.root().Link(ctx, "f-link", e.lookup("f"))
	}
	for _, c := range []struct {
		name           string
		old, newDir    string
		oldName, newNm string
		flags          uint32
		want           error
		// check verifies the result of a successful rename.
		check func(t *testing.T, e *env)
	}{
		{name: "file to new name", old: "", oldName: "f", newDir: "", newNm: "h", check: func(t *testing.T, e *env) {
			expectContent(t, e, "h", "f")
			expectMissing(t, e, "f")
		}},
		{name: "file into other dir", old: "", oldName: "f", newDir: "other", newNm: "f", check: func(t *testing.T, e *env) {
			expectContent(t, e, "other/f", "f")
			if d := e.lookup("other/f"); d.Parent() != e.lookup("other") || d.Name() != "f" {
				t.Errorf("parent %v name %q", d.Parent(), d.Name())
			}
		}},
		{name: "file over file", oldName: "f", newNm: "g", check: func(t *testing.T, e *env) {
			expectContent(t, e, "g", "f")
			expectMissing(t, e, "f")
		}},
		{name: "file over itself", oldName: "f", newNm: "f", check: func(t *testing.T, e *env) {
			expectContent(t, e, "f", "f")
		}},
		{name: "file over its own hard link", oldName: "f", newNm: "f-link", check: func(t *testing.T, e *env) {
			// Nothing happens: both names stay.
			expectContent(t, e, "f", "f")
			expectContent(t, e, "f-link", "f")
		}},
		{name: "noreplace onto itself", oldName: "f", newNm: "f", flags: RENAME_NOREPLACE, want: unix.EEXIST},
		{name: "file over dir", oldName: "f", newNm: "empty", want: unix.EISDIR},
		{name: "dir over file", oldName: "empty", newNm: "f", want: unix.ENOTDIR},
		{name: "dir over empty dir", oldName: "d", newNm: "empty", check: func(t *testing.T, e *env) {
			expectContent(t, e, "empty/in", "in")
			expectMissing(t, e, "d")
			if st := stat(t, e.root()); st.Nlink != 2+2 {
				t.Errorf("root nlink %d; want 4", st.Nlink)
			}
		}},
		{name: "dir over non-empty dir", oldName: "empty", newNm: "d", want: unix.ENOTEMPTY},
		{name: "dir into itself", oldName: "d", newDir: "d", newNm: "x", want: unix.EINVAL},
		{name: "dir into its subtree", oldName: "d", newDir: "d/sub", newNm: "x", want: unix.EINVAL},
		{name: "dot-dot as a name", old: "d/sub", oldName: "..", newNm: "d", want: unix.EBUSY},
		{name: "subdir over its ancestor", old: "d", oldName: "sub", newNm: "d", want: unix.ENOTEMPTY},
		{name: "missing source", oldName: "nope", newNm: "x", want: unix.ENOENT},
		{name: "noreplace onto existing", oldName: "f", newNm: "g", flags: RENAME_NOREPLACE, want: unix.EEXIST},
		{name: "noreplace onto new", oldName: "f", newNm: "h", flags: RENAME_NOREPLACE, check: func(t *testing.T, e *env) {
			expectContent(t, e, "h", "f")
		}},
		{name: "exchange files", oldName: "f", newNm: "g", flags: RENAME_EXCHANGE, check: func(t *testing.T, e *env) {
			expectContent(t, e, "f", "g")
			expectContent(t, e, "g", "f")
		}},
		{name: "exchange file and dir across dirs", old: "d", oldName: "sub", newDir: "", newNm: "f", flags: RENAME_EXCHANGE, check: func(t *testing.T, e *env) {
			expectContent(t, e, "d/sub", "f")
			if e.lookup("f").Mode()&vfs.S_IFMT != vfs.S_IFDIR {
				t.Error("f is not the directory")
			}
			if st := stat(t, e.lookup("d")); st.Nlink != 2 {
				t.Errorf("d nlink %d after giving away its subdir; want 2", st.Nlink)
			}
			if st := stat(t, e.root()); st.Nlink != 2+4 {
				t.Errorf("root nlink %d; want 6", st.Nlink)
			}
			if e.lookup("f").Parent() != e.root() || e.lookup("d/sub").Parent() != e.lookup("d") {
				t.Error("parents not exchanged")
			}
		}},
		{name: "exchange with missing", oldName: "f", newNm: "nope", flags: RENAME_EXCHANGE, want: unix.ENOENT},
		{name: "exchange dir with its child", oldName: "d", old: "", newDir: "d", newNm: "in", flags: RENAME_EXCHANGE, want: unix.EINVAL},
		{name: "exchange child with its ancestor", old: "d", oldName: "in", newNm: "d", flags: RENAME_EXCHANGE, want: unix.EINVAL},
		{name: "noreplace and exchange", oldName: "f", newNm: "g", flags: RENAME_NOREPLACE | RENAME_EXCHANGE, want: unix.EINVAL},
		{name: "whiteout", oldName: "f", newNm: "g", flags: RENAME_WHITEOUT, check: func(t *testing.T, e *env) {
			expectContent(t, e, "g", "f")
			st := stat(t, e.lookup("f"))
			if st.Mode != vfs.S_IFCHR || st.RdevMajor != 0 || st.RdevMinor != 0 || st.Nlink != 1 {
				t.Errorf("whiteout: mode %#o rdev %d:%d nlink %d; want a 0:0 char device, mode 0", st.Mode, st.RdevMajor, st.RdevMinor, st.Nlink)
			}
			if st := stat(t, e.root()); st.Size != 8*bogoDirentSize {
				t.Errorf("root size %d; want %d (8 entries)", st.Size, 8*bogoDirentSize)
			}
		}},
		{name: "whiteout of a dir across dirs", oldName: "d", newDir: "other", newNm: "d", flags: RENAME_WHITEOUT, check: func(t *testing.T, e *env) {
			expectContent(t, e, "other/d/in", "in")
			if e.lookup("d").Mode()&vfs.S_IFMT != vfs.S_IFCHR {
				t.Error("no whiteout at the old name")
			}
			if st := stat(t, e.root()); st.Nlink != 2+2 {
				t.Errorf("root nlink %d; want 4 (the moved dir's link went to other)", st.Nlink)
			}
		}},
		{name: "whiteout and noreplace onto existing", oldName: "f", newNm: "g", flags: RENAME_WHITEOUT | RENAME_NOREPLACE, want: unix.EEXIST},
		{name: "whiteout and exchange", oldName: "f", newNm: "g", flags: RENAME_WHITEOUT | RENAME_EXCHANGE, want: unix.EINVAL},
		{name: "whiteout over non-empty dir", oldName: "empty", newNm: "d", flags: RENAME_WHITEOUT, want: unix.ENOTEMPTY},
		{name: "unknown flag", oldName: "f", newNm: "h", flags: 8, want: unix.EINVAL},
		{name: "long name", oldName: "f", newNm: strings.Repeat("n", 256), want: unix.ENAMETOOLONG},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			std(e)
			oldDir, newDir := e.root(), e.root()
			if c.old != "" {
				oldDir = e.lookup(c.old)
			}
			if c.newDir != "" {
				newDir = e.lookup(c.newDir)
			}
			err := oldDir.Rename(ctx, c.oldName, newDir, c.newNm, c.flags)
			if err != c.want {
				t.Fatalf("rename = %v, want %v", err, c.want)
			}
			if err == nil && c.check != nil {
				c.check(t, e)
			}
			checkTree(t, e)
		})
	}
}

func TestRenameAcrossFilesystems(t *testing.T) {
	a, b := newEnv(t, Options{}), newEnv(t, Options{})
	a.create("f")
	wantErr(t, "rename to another filesystem", a.root().Rename(ctx, "f", b.root(), "f", 0), unix.EXDEV)
}

func TestRenameReplacedStaysOpen(t *testing.T) {
	e := newEnv(t, Options{})
	e.writeFile("new", []byte("new"))
	old := e.writeFile("old", []byte("old contents"))
	fd := e.open(old, unix.O_RDONLY)
	defer fd.DecRef()
	if err := e.root().Rename(ctx, "new", e.root(), "old", 0); err != nil {
		t.Fatal(err)
	}
	if !old.IsDeleted() || stat(t, old).Nlink != 0 {
		t.Errorf("replaced file: deleted %v nlink %d", old.IsDeleted(), stat(t, old).Nlink)
	}
	if got := string(readFD(t, fd)); got != "old contents" {
		t.Errorf("replaced file reads %q", got)
	}
	expectContent(t, e, "old", "new")
}

func expectContent(t *testing.T, e *env, path, want string) {
	t.Helper()
	d, err := e.walk(path)
	if err != nil {
		t.Errorf("lookup %q: %v", path, err)
		return
	}
	if d.Mode()&vfs.S_IFMT == vfs.S_IFDIR {
		if _, err := d.Lookup(ctx, want); err != nil {
			t.Errorf("%q has no %q", path, want)
		}
		return
	}
	if got := string(e.readAll(d)); got != want {
		t.Errorf("%q contains %q, want %q", path, got, want)
	}
}

func expectMissing(t *testing.T, e *env, path string) {
	t.Helper()
	if _, err := e.walk(path); err != unix.ENOENT {
		t.Errorf("lookup %q: %v, want ENOENT", path, err)
	}
}

// checkTree verifies the tree's invariants: every directory's nlink is 2
// plus its subdirectories, its size counts its entries, each child names
// its parent and its name, and the listing matches the entries.
func checkTree(t *testing.T, e *env) {
	t.Helper()
	var walk func(d *Dentry)
	walk = func(d *Dentry) {
		d.dir.mu.Lock()
		children := map[string]*Dentry{}
		for n, ent := range d.dir.entries {
			children[n] = ent.d
		}
		d.dir.mu.Unlock()
		subdirs := 0
		for n, c := range children {
			if c.Name() != n || c.parent() != d {
				t.Errorf("entry %q of %q names %q in %v", n, d.Name(), c.Name(), c.parent())
			}
			if c.dir != nil {
				subdirs++
				walk(c)
			}
		}
		st := stat(t, d)
		if st.Nlink != uint32(2+subdirs) || st.Size != uint64(bogoDirentSize*(2+len(children))) {
			t.Errorf("dir %q: nlink %d size %d; want %d, %d", d.Name(), st.Nlink, st.Size, 2+subdirs, bogoDirentSize*(2+len(children)))
		}
		listed := e.names(d)
		sort.Strings(listed)
		var want []string
		for n := range children {
			want = append(want, n)
		}
		sort.Strings(want)
		if strings.Join(listed, "/") != strings.Join(want, "/") {
			t.Errorf("dir %q lists %v; entries %v", d.Name(), listed, want)
		}
	}
	walk(e.root())
}

// TestIterStable checks getdents while entries come and go: nothing
// present throughout is missed or repeated.
func TestIterStable(t *testing.T) {
	e := newEnv(t, Options{})
	dir := e.mkdir("d", 0o755)
	const n = 500
	for i := 0; i < n; i++ {
		e.create(fmt.Sprintf("d/f%03d", i))
	}
	fd := e.open(dir, unix.O_RDONLY)
	defer fd.DecRef()
	seen := map[string]int{}
	read := func(max int) int {
		got := 0
		fd.IterDirents(ctx, func(de vfs.Dirent) bool {
			if got == max {
				return false
			}
			seen[de.Name]++
			got++
			return true
		})
		return got
	}
	read(100)
	removed := map[string]bool{}
	rng := rand.New(rand.NewSource(1))
	for round := 0; read(37) > 0; round++ {
		if round > 20 {
			continue
		}
		// Remove some entries, read or not, and add some.
		for k := 0; k < 10; k++ {
			name := fmt.Sprintf("f%03d", rng.Intn(n))
			if dir.Unlink(ctx, name) == nil {
				removed[name] = true
			}
		}
		dir.Create(ctx, fmt.Sprintf("new%03d", round), opts(0o644))
	}
	for name, c := range seen {
		if c > 1 {
			t.Errorf("%q returned %d times", name, c)
		}
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("f%03d", i)
		if !removed[name] && seen[name] != 1 {
			t.Errorf("%q, never removed, returned %d times", name, seen[name])
		}
	}
	if seen["."] != 1 || seen[".."] != 1 {
		t.Errorf(". and .. returned %d and %d times", seen["."], seen[".."])
	}
	// The compaction of removed entries happened along the way.
	if len(dir.dir.list) > len(dir.dir.entries)+dir.dir.removed || dir.dir.removed > len(dir.dir.list) {
		t.Errorf("list %d entries, %d live, %d removed", len(dir.dir.list), len(dir.dir.entries), dir.dir.removed)
	}
}

func TestIterSeek(t *testing.T) {
	e := newEnv(t, Options{})
	dir := e.mkdir("d", 0o755)
	for _, n := range []string{"a", "b", "c", "d"} {
		e.create("d/" + n)
	}
	fd := e.open(dir, unix.O_RDONLY)
	defer fd.DecRef()
	var offs []int64
	var names []string
	fd.IterDirents(ctx, func(de vfs.Dirent) bool {
		offs = append(offs, de.NextOff)
		names = append(names, de.Name)
		return true
	})
	if strings.Join(names, " ") != ". .. a b c d" {
		t.Fatalf("listing %v", names)
	}
	// telldir/seekdir: resume after "a", even once "a" and "b" are gone.
	dir.Unlink(ctx, "a")
	dir.Unlink(ctx, "b")
	if _, err := fd.Seek(ctx, offs[2], unix.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	names = nil
	fd.IterDirents(ctx, func(de vfs.Dirent) bool { names = append(names, de.Name); return true })
	if strings.Join(names, " ") != "c d" {
		t.Errorf("after seekdir: %v", names)
	}
	// rewinddir sees the changes.
	fd.Seek(ctx, 0, unix.SEEK_SET)
	names = nil
	fd.IterDirents(ctx, func(de vfs.Dirent) bool { names = append(names, de.Name); return true })
	if strings.Join(names, " ") != ". .. c d" {
		t.Errorf("after rewinddir: %v", names)
	}
	if _, err := fd.Seek(ctx, 0, unix.SEEK_END); err != unix.EINVAL {
		t.Errorf("SEEK_END on a directory: %v", err)
	}
	var dotdot uint64
	fd.Seek(ctx, 1, unix.SEEK_SET)
	fd.IterDirents(ctx, func(de vfs.Dirent) bool { dotdot = de.Ino; return false })
	if dotdot != stat(t, e.root()).Ino {
		t.Errorf(".. is inode %d, want the root's", dotdot)
	}
}

// TestConcurrent runs creates, renames, links, removals and listings
// from many goroutines (run it with -race), then checks the tree.
func TestConcurrent(t *testing.T) {
	e := newEnv(t, Options{})
	dirs := []string{"a", "b", "a/x", "b/y", "a/x/z"}
	for _, d := range dirs {
		e.mkdir(d, 0o755)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(g)))
			pick := func() *Dentry {
				d, err := e.walk(dirs[rng.Intn(len(dirs))])
				if err != nil {
					return e.root()
				}
				return d
			}
			for i := 0; i < 400; i++ {
				name := fmt.Sprint("n", rng.Intn(6))
				d := pick()
				switch rng.Intn(9) {
				case 0:
					d.Create(ctx, name, opts(0o644))
				case 1:
					d.Mkdir(ctx, name, opts(vfs.S_IFDIR|0o755))
				case 2:
					d.Unlink(ctx, name)
				case 3:
					d.Rmdir(ctx, name)
				case 4:
					d.Rename(ctx, name, pick(), fmt.Sprint("n", rng.Intn(6)), 0)
				case 5:
					d.Rename(ctx, name, pick(), fmt.Sprint("n", rng.Intn(6)), RENAME_EXCHANGE)
				case 6:
					if c, err := d.Lookup(ctx, name); err == nil && c.Mode()&vfs.S_IFMT != vfs.S_IFDIR {
						pick().Link(ctx, fmt.Sprint("n", rng.Intn(6)), c)
					}
				case 7:
					// Move whole directories around, including into
					// each other.
					a, b := pick(), pick()
					if p := a.parent(); p != nil {
						p.Rename(ctx, a.Name(), b, fmt.Sprint("m", rng.Intn(3)), 0)
					}
				case 8:
					if fd, err := d.Open(ctx, vfs.VirtualDentry{Mount: e.mnt, Dentry: d}, unix.O_RDONLY); err == nil {
						fd.IterDirents(ctx, func(vfs.Dirent) bool { return true })
						fd.DecRef()
					}
				}
			}
		}(g)
	}
	wg.Wait()
	checkTree(t, e)
}
