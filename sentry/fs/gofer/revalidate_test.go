package gofer

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/gofer/server"
	"palisade.dev/sentry/vfs"
)

// Revalidating trees (Options.Revalidate, a bind mount's "shared" file
// access): what the host changes while the sandbox runs is seen.

// serveShared serves dir read-only to a revalidating Filesystem.
func serveShared(t *testing.T, dir string) *Filesystem {
	t.Helper()
	return serveWith(t, dir, server.Options{}, Options{Revalidate: true})
}

// replaceOnHost rewrites path the way editors and tools do: a new file,
// renamed over the old one.
func replaceOnHost(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// hostIno returns the inode number of path on the host.
func hostIno(t *testing.T, path string) uint64 {
	t.Helper()
	st := hostStat(t, path)
	return st.Ino
}

// resolve resolves path from the root of a namespace over fs, as a
// system call's path walk does.
func resolve(fs *Filesystem, path string) (vfs.Dentry, error) {
	ns := vfs.NewMountNamespace(fs, "bind", false)
	root := ns.Root()
	vd, err := ns.Resolve(context.Background(), path, vfs.ResolveOpts{Root: root, Start: root, FollowFinal: true})
	return vd.Dentry, err
}

func TestRevalidateReplacedFile(t *testing.T) {
	dir := realTree(t)
	fs := serveShared(t, dir)
	fs.cache = newFDCache(16, time.Minute)
	path := filepath.Join(dir, "file.txt")
	oldIno := hostIno(t, path)
	d := lookup(t, fs.Root(), "file.txt")
	oldF := open(t, d, unix.O_RDONLY)

	replaceOnHost(t, path, "replaced by the host\n")
	newIno := hostIno(t, path)
	d2, err := resolve(fs, "/file.txt")
	if err != nil {
		t.Fatalf("resolve /file.txt after the host replaced it: %v", err)
	}
	if d2 == d {
		t.Fatalf("lookup after the host replaced the file returned the old dentry")
	}
	if !d.(*dentry).IsDeleted() {
		t.Errorf("the replaced dentry is not marked deleted")
	}
	if again := lookup(t, fs.Root(), "file.txt"); again != d2 {
		t.Errorf("a second lookup of an unchanged name returned another dentry")
	}
	f := open(t, d2, unix.O_RDONLY)
	if got := pread(t, f, 100, 0); got != "replaced by the host\n" {
		t.Errorf("new open reads %q, want the host's new contents", got)
	}
	if st, err := d2.Stat(ctx); err != nil || st.Ino != newIno || st.Size != uint64(len("replaced by the host\n")) {
		t.Errorf("stat of the new file: ino %d size %d, %v; want %d, %d", st.Ino, st.Size, err, newIno, len("replaced by the host\n"))
	}
	f.DecRef()

	// The file opened before goes on reading the old file, as on Linux,
	// and fstat of it reports that file.
	if got := pread(t, oldF, 100, 0); got != "hello, gofer\n" {
		t.Errorf("file opened before the replacement reads %q, want the old contents", got)
	}
	if st, err := oldF.Stat(ctx); err != nil || st.Ino != oldIno || st.Nlink != 0 {
		t.Errorf("fstat of the file opened before: ino %d nlink %d, %v; want %d, 0", st.Ino, st.Nlink, err, oldIno)
	}
	// Closed, nothing holds the old host file any more: the host frees it.
	oldF.DecRef()
	checkFDsTo(t, path+" (deleted)", 0, "after the old file was closed")
}

// TestRevalidateFDCache checks that the idle host descriptor of a file
// the host replaced is not handed to a new open.
func TestRevalidateFDCache(t *testing.T) {
	dir := realTree(t)
	fs := serveShared(t, dir)
	fs.cache = newFDCache(16, time.Minute)
	path := filepath.Join(dir, "dir", "a")
	a := lookup(t, fs.Root(), "dir", "a")
	f := open(t, a, unix.O_RDONLY)
	if got := pread(t, f, 10, 0); got != "a" {
		t.Fatalf("read %q, want a", got)
	}
	f.DecRef()
	if inodes, _ := fs.cache.size(); inodes != 1 {
		t.Fatalf("cache holds %d idle inodes, want 1", inodes)
	}
	// Opened again, unchanged: the idle descriptor serves.
	if n := hostOpensDuring(fs, func() { f = open(t, lookup(t, fs.Root(), "dir", "a"), unix.O_RDONLY) }); n != 0 {
		t.Errorf("open of an unchanged file asked the gofer for %d descriptors, want 0", n)
	}
	f.DecRef()

	replaceOnHost(t, path, "new a")
	if n := hostOpensDuring(fs, func() { f = open(t, lookup(t, fs.Root(), "dir", "a"), unix.O_RDONLY) }); n != 1 {
		t.Errorf("open of the replaced file asked the gofer for %d descriptors, want 1", n)
	}
	if got := pread(t, f, 10, 0); got != "new a" {
		t.Errorf("open after the host replaced the file reads %q, want %q", got, "new a")
	}
	f.DecRef()
	// The old file's idle descriptor and FID went when its dentry did.
	checkFDsTo(t, path+" (deleted)", 0, "after the replaced dentry was dropped")
}

func TestRevalidateRemoved(t *testing.T) {
	dir := realTree(t)
	fs := serveShared(t, dir)
	fs.cache = newFDCache(16, time.Minute)
	root := fs.Root()
	a := lookup(t, root, "dir", "a")
	fa := open(t, a, unix.O_RDONLY)
	fa.DecRef() // idle in the cache
	sub := lookup(t, root, "dir", "sub")
	file := lookup(t, root, "file.txt")
	f := open(t, file, unix.O_RDONLY)
	defer f.DecRef()

	for _, p := range []string{"dir/a", "dir/sub", "file.txt"} {
		if err := os.Remove(filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"/dir/a", "/dir/sub", "/dir/sub/x", "/file.txt"} {
		if _, err := resolve(fs, p); err != unix.ENOENT {
			t.Errorf("resolve %s after the host removed it: got %v, want ENOENT", p, err)
		}
	}
	for _, d := range []vfs.Dentry{a, sub, file} {
		if !d.(*dentry).IsDeleted() {
			t.Errorf("%s: not marked deleted after the host removed it", d.Name())
		}
	}
	// Unlinked but open: still read, as on Linux.
	if got := pread(t, f, 100, 0); got != "hello, gofer\n" {
		t.Errorf("open file the host removed reads %q", got)
	}
	checkFDsTo(t, filepath.Join(dir, "dir", "a")+" (deleted)", 0, "after the removed file's dentry was dropped")

	// Made again on the host: found again.
	if err := os.WriteFile(filepath.Join(dir, "dir", "a"), []byte("again"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := open(t, lookup(t, root, "dir", "a"), unix.O_RDONLY)
	if got := pread(t, g, 10, 0); got != "again" {
		t.Errorf("file the host made again reads %q", got)
	}
	g.DecRef()
}

// TestNewNamesSeen checks, on both kinds of tree, that names the host adds
// to a directory already listed and looked up in are found by a lookup and
// listed by a new getdents, after rewinddir too.
func TestNewNamesSeen(t *testing.T) {
	for _, revalidate := range []bool{false, true} {
		dir := makeTree(t)
		fs := serveWith(t, dir, server.Options{}, Options{Revalidate: revalidate})
		d := lookup(t, fs.Root(), "dir")
		lookup(t, d, "a")
		f := open(t, d, unix.O_RDONLY|unix.O_DIRECTORY)
		before := dirNames(t, f, -1)
		if err := os.WriteFile(filepath.Join(dir, "dir", "new"), []byte("n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Lookup(ctx, "new"); err != nil {
			t.Errorf("revalidate=%v: lookup of a name the host added: %v", revalidate, err)
		}
		if _, err := f.Seek(ctx, 0, unix.SEEK_SET); err != nil {
			t.Fatal(err)
		}
		rewound := dirNames(t, f, -1)
		f.DecRef()
		g := open(t, d, unix.O_RDONLY|unix.O_DIRECTORY)
		fresh := dirNames(t, g, -1)
		g.DecRef()
		sort.Strings(rewound)
		sort.Strings(fresh)
		want := append([]string{"new"}, before...)
		sort.Strings(want)
		if !equal(rewound, want) || !equal(fresh, want) {
			t.Errorf("revalidate=%v: listing after the host added a name: rewound %v, new open %v; want %v", revalidate, rewound, fresh, want)
		}
	}
}

func TestRevalidateAttributes(t *testing.T) {
	dir := makeTree(t)
	fs := serveShared(t, dir)
	root := fs.Root()
	path := filepath.Join(dir, "file.txt")
	d := lookup(t, root, "file.txt")
	statOf(t, d)

	// A host write and chmod, with no file open in the sandbox.
	hf, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hf.WriteString("appended on the host\n"); err != nil {
		t.Fatal(err)
	}
	hf.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(what string, st vfs.Statx) {
		t.Helper()
		host := hostStat(t, path)
		if st.Size != uint64(host.Size) || st.Mode != host.Mode || st.Mtime.Sec != host.Mtim.Sec || st.Mtime.Nsec != host.Mtim.Nsec || st.Ctime.Nsec != host.Ctim.Nsec {
			t.Errorf("%s: size %d mode %o mtime %d.%09d; host's %d %o %d.%09d", what, st.Size, st.Mode, st.Mtime.Sec, st.Mtime.Nsec, host.Size, host.Mode, host.Mtim.Sec, host.Mtim.Nsec)
		}
	}
	check("stat after a host write and chmod", statOf(t, d))
	// The walk refreshes what it checks the path with: the mode.
	if m := lookup(t, root, "file.txt").Mode(); m != unix.S_IFREG|0o600 {
		t.Errorf("mode after lookup: %o, want %o", m, unix.S_IFREG|0o600)
	}

	// With a file open (a host descriptor to fstat): stat and fstat.
	f := open(t, d, unix.O_RDONLY)
	defer f.DecRef()
	if err := os.Truncate(path, 3); err != nil {
		t.Fatal(err)
	}
	check("stat after a host truncate", statOf(t, d))
	st, err := f.Stat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check("fstat after a host truncate", st)
	if err := os.WriteFile(path, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	if off, err := f.Seek(ctx, 0, unix.SEEK_END); off != 10 || err != nil {
		t.Errorf("SEEK_END after the host grew the file: %d, %v; want 10", off, err)
	}

	// A directory.
	if err := os.Chmod(filepath.Join(dir, "dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if st := statOf(t, lookup(t, root, "dir")); st.Mode != unix.S_IFDIR|0o700 {
		t.Errorf("directory mode after a host chmod: %o, want %o", st.Mode, unix.S_IFDIR|0o700)
	}
	if st := statOf(t, root); st.Mode&0o7777 != uint32(hostStat(t, dir).Mode)&0o7777 {
		t.Errorf("root mode %o, host's %o", st.Mode, hostStat(t, dir).Mode)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	if st := statOf(t, root); st.Mode != unix.S_IFDIR|0o711 {
		t.Errorf("root mode after a host chmod: %o, want %o", st.Mode, unix.S_IFDIR|0o711)
	}
}

// TestRevalidateFileRoot: a bind mount of a single file the host
// rewrites by renaming a new file over it.
func TestRevalidateFileRoot(t *testing.T) {
	for _, writable := range []bool{false, true} {
		dir := realTree(t)
		path := filepath.Join(dir, "file.txt")
		fs := serveFileWith(t, dir, "file.txt", server.Options{Writable: writable}, Options{Revalidate: true})
		root := fs.Root()
		oldIno := hostIno(t, path)
		f1 := open(t, root, unix.O_RDONLY)
		idle := open(t, root, unix.O_RDONLY)
		idle.DecRef()

		for i, content := range []string{"replaced by the host\n", "and again\n", "and a third time\n"} {
			replaceOnHost(t, path, content)
			st, err := root.Stat(ctx)
			if err != nil || st.Ino != hostIno(t, path) || st.Size != uint64(len(content)) {
				t.Errorf("writable=%v #%d: stat of the root: ino %d size %d, %v; want the host's new file, %d, %d", writable, i, st.Ino, st.Size, err, hostIno(t, path), len(content))
			}
			if i == 1 {
				// Replaced once more before the open, with no stat
				// between: the open still follows.
				content = "opened without a stat\n"
				replaceOnHost(t, path, content)
			}
			f := open(t, root, unix.O_RDONLY)
			if got := pread(t, f, 100, 0); got != content {
				t.Errorf("writable=%v #%d: open after the host replaced the file reads %q, want %q", writable, i, got, content)
			}
			f.DecRef()
		}
		if writable {
			w := open(t, root, unix.O_WRONLY|unix.O_APPEND)
			write(t, w, "from the sandbox\n")
			w.DecRef()
			if got := hostContent(t, path); got != "and a third time\nfrom the sandbox\n" {
				t.Errorf("host file after a write through the followed root: %q", got)
			}
		}
		// The file opened first still reads, and fstats as, the first
		// file.
		if got := pread(t, f1, 100, 0); got != "hello, gofer\n" {
			t.Errorf("writable=%v: file opened before the replacements reads %q", writable, got)
		}
		if st, err := f1.Stat(ctx); err != nil || st.Ino != oldIno {
			t.Errorf("writable=%v: fstat of the file opened before: ino %d, %v; want %d", writable, st.Ino, err, oldIno)
		}
		f1.DecRef()
		checkFDsTo(t, path+" (deleted)", 0, "after the first file was closed")
	}
}

// TestRevalidateConcurrent looks up, opens and reads a file while the
// host keeps replacing it: every read sees one whole version.
func TestRevalidateConcurrent(t *testing.T) {
	dir := realTree(t)
	fs := serveShared(t, dir)
	path := filepath.Join(dir, "dir", "a")
	versions := map[string]bool{"a": true}
	var names []string
	for i := 0; i < 50; i++ {
		v := "version " + itoa(i)
		versions[v] = true
		names = append(names, v)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, v := range names {
			replaceOnHost(t, path, v)
			// A pause long enough for an open to get in between,
			// even on a loaded machine.
			time.Sleep(5 * time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				d, err := resolve(fs, "/dir/a")
				if err != nil {
					t.Errorf("resolve: %v", err)
					return
				}
				f, err := d.Open(ctx, vfs.VirtualDentry{Dentry: d}, unix.O_RDONLY)
				if err != nil {
					t.Errorf("open: %v", err)
					return
				}
				buf := make([]byte, 64)
				n, err := f.PRead(ctx, buf, 0)
				f.DecRef()
				if err != nil || !versions[string(buf[:n])] {
					t.Errorf("read %q, %v: not a version the host wrote", buf[:n], err)
					return
				}
			}
		}()
	}
	wg.Wait()
	<-done
	f := open(t, lookup(t, fs.Root(), "dir", "a"), unix.O_RDONLY)
	if got := pread(t, f, 64, 0); got != names[len(names)-1] {
		t.Errorf("after the host's last replacement, reads %q, want %q", got, names[len(names)-1])
	}
	f.DecRef()
}

// TestExclusiveCachesNames documents the other side, a tree the sandbox
// is taken to have to itself (Options{}, the root's "exclusive" file
// access): a cached name is used again without asking the gofer, whatever
// the host did to it meanwhile, which is what makes walks cheap there.
// What the sandbox then sees of a file the host replaced or removed is
// not specified, and not checked.
func TestExclusiveCachesNames(t *testing.T) {
	dir := realTree(t)
	fs := serve(t, dir)
	a := lookup(t, fs.Root(), "dir", "a")
	b := lookup(t, fs.Root(), "dir", "b")
	replaceOnHost(t, filepath.Join(dir, "dir", "a"), "new a")
	if err := os.Remove(filepath.Join(dir, "dir", "b")); err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, fs.Root(), "dir", "a"); got != a {
		t.Errorf("exclusive: cached lookup of a replaced name returned a new dentry")
	}
	if got := lookup(t, fs.Root(), "dir", "b"); got != b {
		t.Errorf("exclusive: cached lookup of a removed name returned a new dentry")
	}
	// No walk was made: the gofer holds no FID of the new file.
	checkFDsTo(t, filepath.Join(dir, "dir", "a"), 0, "exclusive: after cached lookups")
}
