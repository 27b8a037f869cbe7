package gofer

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/vfs"
)

// hostOpensDuring returns how many host descriptors fs asked the gofer for
// while fn ran.
func hostOpensDuring(fs *Filesystem, fn func()) uint64 {
	before := fs.hostOpens.Load()
	fn()
	return fs.hostOpens.Load() - before
}

func TestFDCacheReuse(t *testing.T) {
	dir := realTree(t)
	fs := serve(t, dir)
	fs.cache = newFDCache(16, time.Minute)
	path := filepath.Join(dir, "big.bin")
	d := lookup(t, fs.Root(), "big.bin")
	var f, g *vfs.FileDescription
	if n := hostOpensDuring(fs, func() { f = open(t, d, unix.O_RDONLY) }); n != 1 {
		t.Errorf("first open asked the gofer %d times, want 1", n)
	}
	if n := hostOpensDuring(fs, func() { g = open(t, d, unix.O_RDONLY) }); n != 0 {
		t.Errorf("second open asked the gofer %d times, want 0", n)
	}
	// FID and one shared descriptor.
	checkFDsTo(t, path, 2, "with two files open")
	// Each description keeps its own offset.
	want := bigContent()
	buf := make([]byte, 10)
	f.Read(ctx, buf)
	if n, _ := f.Read(ctx, buf); n != 10 || string(buf) != string(want[10:20]) {
		t.Errorf("second read of f: %q, want %q", buf[:n], want[10:20])
	}
	if n, _ := g.Read(ctx, buf); n != 10 || string(buf) != string(want[:10]) {
		t.Errorf("first read of g: %q, want %q", buf[:n], want[:10])
	}
	f.DecRef()
	g.DecRef()
	// Closed, the descriptor stays for the next open.
	checkFDsTo(t, path, 2, "after the last close")
	if inodes, fds := fs.cache.size(); inodes != 1 || fds != 1 {
		t.Errorf("cache holds %d inodes, %d descriptors; want 1, 1", inodes, fds)
	}
	if n := hostOpensDuring(fs, func() { f = open(t, d, unix.O_RDONLY) }); n != 0 {
		t.Errorf("open after close asked the gofer %d times, want 0", n)
	}
	if inodes, _ := fs.cache.size(); inodes != 0 {
		t.Errorf("an inode in use is still idle in the cache")
	}
	if got := pread(t, f, 5, 0); got != string(want[:5]) {
		t.Errorf("read through the cached descriptor: %q", got)
	}
	f.DecRef()
}

func TestFDCacheHardLinks(t *testing.T) {
	dir := makeTree(t)
	if err := os.Link(filepath.Join(dir, "file.txt"), filepath.Join(dir, "other")); err != nil {
		t.Fatal(err)
	}
	fs := serveRW(t, dir)
	fs.cache = newFDCache(16, time.Minute)
	a := lookup(t, fs.Root(), "file.txt")
	b := lookup(t, fs.Root(), "other")
	fa := open(t, a, unix.O_RDONLY)
	defer fa.DecRef()
	var fb *vfs.FileDescription
	if n := hostOpensDuring(fs, func() { fb = open(t, b, unix.O_RDONLY) }); n != 0 {
		t.Errorf("open of another link asked the gofer %d times, want 0", n)
	}
	defer fb.DecRef()
	// A write through either link, and one made by the host, is seen
	// through both.
	w := open(t, b, unix.O_WRONLY)
	write(t, w, "HELLO")
	w.DecRef()
	for _, f := range []*vfs.FileDescription{fa, fb} {
		if got := pread(t, f, 13, 0); got != "HELLO, gofer\n" {
			t.Errorf("read after a write through the other link: %q", got)
		}
	}
	hf, err := os.OpenFile(filepath.Join(dir, "file.txt"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	hf.WriteAt([]byte("howdy"), 0)
	hf.Close()
	if got := pread(t, fb, 13, 0); got != "howdy, gofer\n" {
		t.Errorf("read after a write by the host: %q", got)
	}
}

func TestFDCacheWritesSeen(t *testing.T) {
	dir := realTree(t)
	fs := serveRW(t, dir)
	fs.cache = newFDCache(16, time.Minute)
	d := lookup(t, fs.Root(), "file.txt")
	r := open(t, d, unix.O_RDONLY)
	defer r.DecRef()
	// A writer gets a writable descriptor of its own kind, once.
	var w *vfs.FileDescription
	if n := hostOpensDuring(fs, func() { w = open(t, d, unix.O_RDWR) }); n != 1 {
		t.Errorf("first open for writing asked the gofer %d times, want 1", n)
	}
	write(t, w, "HELLO")
	if got := pread(t, r, 13, 0); got != "HELLO, gofer\n" {
		t.Errorf("read-only description after a write: %q", got)
	}
	w.DecRef()
	// O_TRUNC through the cached writable descriptor: no round trip.
	var tr *vfs.FileDescription
	if n := hostOpensDuring(fs, func() { tr = open(t, d, unix.O_WRONLY|unix.O_TRUNC) }); n != 0 {
		t.Errorf("open with O_TRUNC asked the gofer %d times, want 0", n)
	}
	if got := pread(t, r, 13, 0); got != "" {
		t.Errorf("read after O_TRUNC: %q, want nothing", got)
	}
	if st := statOf(t, d); st.Size != 0 {
		t.Errorf("size after O_TRUNC: %d", st.Size)
	}
	write(t, tr, "new")
	tr.DecRef()
	if got := hostContent(t, filepath.Join(dir, "file.txt")); got != "new" {
		t.Errorf("host file: %q, want %q", got, "new")
	}
	// O_APPEND writes at the end of the file as the host has it.
	a := open(t, d, unix.O_WRONLY|unix.O_APPEND)
	write(t, a, "+more")
	a.DecRef()
	if got := pread(t, r, 20, 0); got != "new+more" {
		t.Errorf("after an append: %q", got)
	}
	// O_RDONLY|O_TRUNC truncates too, as Linux does.
	o := open(t, d, unix.O_RDONLY|unix.O_TRUNC)
	o.DecRef()
	if got := hostContent(t, filepath.Join(dir, "file.txt")); got != "" {
		t.Errorf("host file after O_RDONLY|O_TRUNC: %q", got)
	}
	// A read-only open when only the read-write descriptor is cached
	// shares it.
	fs2 := serveRW(t, dir)
	fs2.cache = newFDCache(16, time.Minute)
	d2 := lookup(t, fs2.Root(), "empty.txt")
	w2 := open(t, d2, unix.O_RDWR)
	if n := hostOpensDuring(fs2, func() { open(t, d2, unix.O_RDONLY).DecRef() }); n != 0 {
		t.Errorf("read-only open beside a read-write one asked the gofer %d times", n)
	}
	w2.DecRef()
}

func TestFDCacheEviction(t *testing.T) {
	dir := realTree(t)
	names := []string{"f0", "f1", "f2", "f3", "f4"}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fs := serve(t, dir)
	fs.cache = newFDCache(2, time.Minute)
	ds := make([]vfs.Dentry, len(names))
	for i, n := range names {
		ds[i] = lookup(t, fs.Root(), n)
		f := open(t, ds[i], unix.O_RDONLY)
		if got := pread(t, f, 10, 0); got != n {
			t.Errorf("%s reads %q", n, got)
		}
		f.DecRef()
	}
	if inodes, fds := fs.cache.size(); inodes != 2 || fds != 2 {
		t.Errorf("cache holds %d inodes, %d descriptors; want 2, 2", inodes, fds)
	}
	// The two used last keep their descriptors, the others do not.
	for i, n := range names {
		want := 1
		if i >= 3 {
			want = 2
		}
		checkFDsTo(t, filepath.Join(dir, n), want, n)
	}
	if n := hostOpensDuring(fs, func() { open(t, ds[4], unix.O_RDONLY).DecRef() }); n != 0 {
		t.Errorf("open of a cached file asked the gofer %d times", n)
	}
	if n := hostOpensDuring(fs, func() { open(t, ds[0], unix.O_RDONLY).DecRef() }); n != 1 {
		t.Errorf("open of an evicted file asked the gofer %d times, want 1", n)
	}
	// f0 pushed f3 out, the least recently used.
	checkFDsTo(t, filepath.Join(dir, "f3"), 1, "f3 after f0 came back")
	checkFDsTo(t, filepath.Join(dir, "f0"), 2, "f0 after it came back")
	// Open files are not bounded by the cache: their inodes are not idle.
	var open_ []*vfs.FileDescription
	for _, d := range ds {
		open_ = append(open_, open(t, d, unix.O_RDONLY))
	}
	for _, n := range names {
		checkFDsTo(t, filepath.Join(dir, n), 2, n+" while open")
	}
	for _, f := range open_ {
		f.DecRef()
	}
	if inodes, fds := fs.cache.size(); inodes != 2 || fds != 2 {
		t.Errorf("after closing all: cache holds %d inodes, %d descriptors; want 2, 2", inodes, fds)
	}
}

func TestFDCacheIdleTimeout(t *testing.T) {
	dir := realTree(t)
	fs := serve(t, dir)
	fs.cache = newFDCache(16, 50*time.Millisecond)
	path := filepath.Join(dir, "file.txt")
	d := lookup(t, fs.Root(), "file.txt")
	open(t, d, unix.O_RDONLY).DecRef()
	checkFDsTo(t, path, 2, "right after the close")
	deadline := time.Now().Add(5 * time.Second)
	for fdsTo(t, path) != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	checkFDsTo(t, path, 1, "after the idle timeout")
	if inodes, fds := fs.cache.size(); inodes != 0 || fds != 0 {
		t.Errorf("cache holds %d inodes, %d descriptors after the timeout", inodes, fds)
	}
	// The file opens again as usual.
	f := open(t, d, unix.O_RDONLY)
	if got := pread(t, f, 5, 0); got != "hello" {
		t.Errorf("read after the timeout: %q", got)
	}
	f.DecRef()
}

func TestFDCacheUnlinked(t *testing.T) {
	dir := realTree(t)
	fs := serveRW(t, dir)
	fs.cache = newFDCache(16, time.Minute)
	path := filepath.Join(dir, "big.bin")
	d := lookup(t, fs.Root(), "big.bin")
	open(t, d, unix.O_RDWR).DecRef()
	checkFDsTo(t, path, 2, "idle in the cache")
	// Unlinking the last name gives the idle descriptor back at once, so
	// the host frees the file.
	if err := dirWriter(t, fs.Root()).Unlink(ctx, "big.bin"); err != nil {
		t.Fatal(err)
	}
	checkFDsTo(t, path+" (deleted)", 0, "after unlinking an idle file")
	if inodes, fds := fs.cache.size(); inodes != 0 || fds != 0 {
		t.Errorf("cache holds %d inodes, %d descriptors", inodes, fds)
	}

	// A file with another name left keeps it; one open while unlinked
	// still reads, and reopens without the gofer (which no longer has a
	// name to open it by).
	if err := os.Link(filepath.Join(dir, "file.txt"), filepath.Join(dir, "second")); err != nil {
		t.Fatal(err)
	}
	f := lookup(t, fs.Root(), "file.txt")
	lookup(t, fs.Root(), "second")
	r := open(t, f, unix.O_RDONLY)
	if err := dirWriter(t, fs.Root()).Unlink(ctx, "file.txt"); err != nil {
		t.Fatal(err)
	}
	if err := dirWriter(t, fs.Root()).Unlink(ctx, "second"); err != nil {
		t.Fatal(err)
	}
	if got := pread(t, r, 5, 0); got != "hello" {
		t.Errorf("read of an unlinked open file: %q", got)
	}
	var r2 *vfs.FileDescription
	if n := hostOpensDuring(fs, func() { r2 = open(t, f, unix.O_RDONLY) }); n != 0 {
		t.Errorf("reopen of an unlinked open file asked the gofer %d times", n)
	}
	r2.DecRef()
	r.DecRef()
	checkFDsTo(t, filepath.Join(dir, "file.txt (deleted)"), 0, "after closing the unlinked file")
}

// TestFDCacheConcurrent opens, reads, writes and closes a few files from
// many goroutines through a cache smaller than the files (run with -race).
func TestFDCacheConcurrent(t *testing.T) {
	dir := realTree(t)
	const files = 6
	for i := 0; i < files; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("c%d", i)), []byte(fmt.Sprintf("file %d", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fs := serveRW(t, dir)
	fs.cache = newFDCache(2, 5*time.Millisecond)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				n := (g + i) % files
				d, err := fs.Root().Lookup(ctx, fmt.Sprintf("c%d", n))
				if err != nil {
					t.Error(err)
					return
				}
				flags := uint32(unix.O_RDONLY)
				if i%5 == 0 {
					flags = unix.O_RDWR
				}
				f, err := d.Open(ctx, vfs.VirtualDentry{Dentry: d}, flags)
				if err != nil {
					t.Error(err)
					return
				}
				if flags == unix.O_RDWR {
					f.PWrite(ctx, []byte("file"), 0)
				}
				b := make([]byte, 16)
				if k, err := f.PRead(ctx, b, 0); err != nil || string(b[:k]) != fmt.Sprintf("file %d", n) {
					t.Errorf("c%d reads %q, %v", n, b[:k], err)
				}
				f.DecRef()
			}
		}(g)
	}
	wg.Wait()
	if _, fds := fs.cache.size(); fds > 2 {
		t.Errorf("cache holds %d descriptors, more than its bound", fds)
	}
}
