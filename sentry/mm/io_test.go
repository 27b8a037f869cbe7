package mm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/platform"
)

func TestCopyFaults(t *testing.T) {
	e := newEnv(t)
	m, _ := e.newMM(base)
	a := uintptr(0x2000_0000)
	// [a, a+2) rw, [a+2, a+3) r, [a+3, a+4) none, [a+4, a+5) unmapped,
	// [a+5, a+6) rw.
	mustMMap(t, m, anon(a, 2*pg, platform.ReadWrite))
	mustMMap(t, m, anon(a+2*pg, pg, platform.Read))
	mustMMap(t, m, anon(a+3*pg, pg, platform.NoAccess))
	mustMMap(t, m, anon(a+5*pg, pg, platform.ReadWrite))

	for _, tc := range []struct {
		name      string
		addr      uintptr
		n         int
		write     bool
		ignore    bool
		wantN     int
		wantFault bool
	}{
		{name: "read rw", addr: a, n: 2 * pg, wantN: 2 * pg},
		{name: "write rw", addr: a + 10, n: 2*pg - 10, write: true, wantN: 2*pg - 10},
		{name: "read across rw and r", addr: a + pg, n: 2 * pg, wantN: 2 * pg},
		{name: "write across rw into r", addr: a + pg + 100, n: 2 * pg, write: true, wantN: pg - 100, wantFault: true},
		{name: "write r", addr: a + 2*pg, n: 1, write: true, wantFault: true},
		{name: "read into none", addr: a + 2*pg + 5, n: pg, wantN: pg - 5, wantFault: true},
		{name: "read none", addr: a + 3*pg, n: 1, wantFault: true},
		{name: "write none", addr: a + 3*pg, n: 1, write: true, wantFault: true},
		{name: "read unmapped", addr: a + 4*pg, n: 1, wantFault: true},
		{name: "write unmapped", addr: a + 4*pg + 7, n: 10, write: true, wantFault: true},
		{name: "read wrapping", addr: ^uintptr(0) - 3, n: 10, wantFault: true},
		{name: "read nothing", addr: a + 4*pg, n: 0},
		{name: "ignore perms: write r", addr: a + 2*pg, n: pg, write: true, ignore: true, wantN: pg},
		{name: "ignore perms: write none", addr: a + 3*pg, n: pg, write: true, ignore: true, wantN: pg},
		{name: "ignore perms: write into unmapped", addr: a + 3*pg + 1, n: pg, write: true, ignore: true, wantN: pg - 1, wantFault: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n int
			var err error
			switch {
			case tc.write && tc.ignore:
				n, err = m.CopyOutOpts(tc.addr, bytes.Repeat([]byte{0x5a}, tc.n), IOOpts{IgnorePermissions: true})
			case tc.write:
				n, err = m.CopyOut(tc.addr, bytes.Repeat([]byte{0x5a}, tc.n))
			default:
				n, err = m.CopyIn(tc.addr, make([]byte, tc.n))
			}
			if n != tc.wantN || (err != nil) != tc.wantFault || (err != nil && !errors.Is(err, unix.EFAULT)) {
				want := "nil"
				if tc.wantFault {
					want = "EFAULT"
				}
				t.Errorf("got %d, %v; want %d, %s", n, err, tc.wantN, want)
			}
			e.check(tc.name)
		})
	}
	// What the permission-ignoring writes wrote is there.
	if err := m.MProtect(a+2*pg, 2*pg, linux.PROT_READ); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, m, a+2*pg, 2*pg); !bytes.Equal(got, bytes.Repeat([]byte{0x5a}, 2*pg)) {
		t.Errorf("writes with IgnorePermissions were lost")
	}
	// ZeroOut follows the same rules.
	if n, err := m.ZeroOut(a+pg, 2*pg, IOOpts{}); n != pg || !errors.Is(err, unix.EFAULT) {
		t.Errorf("ZeroOut into read-only = %d, %v; want %d, EFAULT", n, err, pg)
	}
	if n, err := m.ZeroOut(a+pg, 2*pg, IOOpts{IgnorePermissions: true}); n != 2*pg || err != nil {
		t.Errorf("ZeroOut ignoring permissions = %d, %v; want %d, nil", n, err, 2*pg)
	}
	if got := readAll(t, m, a+pg, 2*pg); !isZero(got) {
		t.Errorf("ZeroOut left non-zero bytes")
	}
	e.check("after")
}

func TestCopyInString(t *testing.T) {
	e := newEnv(t)
	m, _ := e.newMM(base)
	a := uintptr(0x2000_0000)
	// Two areas of two mapped pages, each followed by an unmapped page.
	mustMMap(t, m, anon(a, 2*pg, platform.ReadWrite))
	mustMMap(t, m, anon(a+3*pg, 2*pg, platform.ReadWrite))
	end, end2 := a+2*pg, a+5*pg
	put := func(addr uintptr, s string) { writeAll(t, m, addr, []byte(s)) }

	put(end-4, "abc\x00")       // ends on the last byte before the hole
	put(a+pg-3, "crossing\x00") // crosses the page boundary
	put(end2-3, "xyz")          // runs into the hole
	put(a+100, strings.Repeat("n", 10)+"\x00")
	for _, tc := range []struct {
		name    string
		addr    uintptr
		maxLen  int
		want    string
		wantErr error
	}{
		{"before a hole", end - 4, 100, "abc", nil},
		{"across pages", a + pg - 3, 100, "crossing", nil},
		{"into a hole", end2 - 3, 100, "", unix.EFAULT},
		{"into a hole, short max", end2 - 3, 2, "", unix.ENAMETOOLONG},
		{"unmapped", end, 100, "", unix.EFAULT},
		{"exactly max", a + 100, 10, strings.Repeat("n", 10), nil},
		{"too long", a + 100, 9, "", unix.ENAMETOOLONG},
		{"empty", a + 110, 0, "", nil},
		{"max zero too long", a + 100, 0, "", unix.ENAMETOOLONG},
		{"long max before a hole", end - 4, 1 << 20, "abc", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := m.CopyInString(tc.addr, tc.maxLen)
			if got != tc.want || !errors.Is(err, tc.wantErr) {
				t.Errorf("CopyInString(%#x, %d) = %q, %v; want %q, %v", tc.addr, tc.maxLen, got, err, tc.want, tc.wantErr)
			}
		})
	}
	e.check("strings")
}

func TestCopyScalarsAndIOVecs(t *testing.T) {
	e := newEnv(t)
	m, _ := e.newMM(base)
	a := mustMMap(t, m, anon(0, pg, platform.ReadWrite))
	if err := m.CopyOutUint64(a, 0x1122334455667788); err != nil {
		t.Fatal(err)
	}
	if v, err := m.CopyInUint64(a); err != nil || v != 0x1122334455667788 {
		t.Errorf("CopyInUint64 = %#x, %v", v, err)
	}
	if v, err := m.CopyInUint32(a); err != nil || v != 0x55667788 {
		t.Errorf("CopyInUint32 = %#x, %v; want little-endian low half", v, err)
	}
	if err := m.CopyOutUint32(a+4, 0xdeadbeef); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.CopyInUint64(a); v != 0xdeadbeef55667788 {
		t.Errorf("after CopyOutUint32: %#x", v)
	}
	if _, err := m.CopyInUint64(a + pg - 4); !errors.Is(err, unix.EFAULT) {
		t.Errorf("CopyInUint64 across the end: %v, want EFAULT", err)
	}
	if err := m.CopyOutUint32(a+pg, 1); !errors.Is(err, unix.EFAULT) {
		t.Errorf("CopyOutUint32 unmapped: %v, want EFAULT", err)
	}
	if _, err := m.CopyInUint32(a + pg); !errors.Is(err, unix.EFAULT) {
		t.Errorf("CopyInUint32 unmapped: %v, want EFAULT", err)
	}

	putIOV := func(i int, base uintptr, l uint64) {
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:], uint64(base))
		binary.LittleEndian.PutUint64(b[8:], l)
		writeAll(t, m, a+uintptr(16*i), b[:])
	}
	putIOV(0, 0x1000, 10)
	putIOV(1, 0x2000, 20)
	iovs, err := m.CopyInIOVecs(a, 2)
	if err != nil || len(iovs) != 2 || iovs[0] != (IOVec{0x1000, 10}) || iovs[1] != (IOVec{0x2000, 20}) {
		t.Errorf("CopyInIOVecs = %+v, %v", iovs, err)
	}
	if iovs, err := m.CopyInIOVecs(a, 0); err != nil || len(iovs) != 0 {
		t.Errorf("CopyInIOVecs(0) = %v, %v", iovs, err)
	}
	for _, tc := range []struct {
		name string
		n    int
		set  func()
		want error
	}{
		{"too many", MaxIOVecs + 1, nil, unix.EINVAL},
		{"negative count", -1, nil, unix.EINVAL},
		{"negative length", 2, func() { putIOV(1, 0x2000, 1<<63) }, unix.EINVAL},
		{"total overflows", 2, func() { putIOV(0, 0x1000, 1<<62); putIOV(1, 0x2000, 1<<62) }, unix.EINVAL},
		{"unmapped", 2, func() {}, unix.EFAULT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := a
			if tc.name == "unmapped" {
				addr = a + pg - 16
			}
			if tc.set != nil {
				tc.set()
			}
			if _, err := m.CopyInIOVecs(addr, tc.n); !errors.Is(err, tc.want) {
				t.Errorf("CopyInIOVecs: %v, want %v", err, tc.want)
			}
		})
	}
	e.check("scalars")
}

// TestCopyPrivateFile checks that writes to private file mappings never
// reach the file, including writes that run past the end of the file.
func TestCopyPrivateFile(t *testing.T) {
	e := newEnv(t)
	m, _ := e.newMM(base)
	m2, _ := e.newMM(base)
	file := pattern(pg+pg/2, 11) // a page and a half
	c, _ := e.newCache(file)
	opts := MMapOpts{Length: 4 * pg, Mappable: c, Private: true, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess}
	a := mustMMap(t, m, opts)
	other := mustMMap(t, m2, opts)

	// Reading across the end of the file stops at the first page wholly
	// beyond it; the tail of the last page is zero.
	buf := make([]byte, 4*pg)
	n, err := m.CopyIn(a, buf)
	if n != 2*pg || !errors.Is(err, unix.EFAULT) {
		t.Fatalf("CopyIn across EOF = %d, %v; want %d, EFAULT", n, err, 2*pg)
	}
	if !bytes.Equal(buf[:len(file)], file) || !isZero(buf[len(file):2*pg]) {
		t.Errorf("file contents or zero tail wrong")
	}
	// A fresh write across the end of the file in the other address space:
	// it must copy the pages it writes, not write the cache.
	n, err = m2.CopyOut(other+pg, bytes.Repeat([]byte{0xff}, 2*pg))
	if n != pg || !errors.Is(err, unix.EFAULT) {
		t.Fatalf("CopyOut across EOF = %d, %v; want %d, EFAULT", n, err, pg)
	}
	if got := cacheContents(t, c, 0, len(file)); !bytes.Equal(got, file) {
		t.Errorf("a private write reached the page cache")
	}
	if got := readAll(t, m, a, 2*pg); !bytes.Equal(got[:len(file)], file) || !isZero(got[len(file):]) {
		t.Errorf("another address space sees a private write")
	}
	if got := readAll(t, m2, other+pg, pg); !bytes.Equal(got, bytes.Repeat([]byte{0xff}, pg)) {
		t.Errorf("the writer doesn't see its own write")
	}
	// A write to pages already borrowed by reads.
	writeAll(t, m, a+10, []byte("hello"))
	if got := cacheContents(t, c, 10, 5); !bytes.Equal(got, file[10:15]) {
		t.Errorf("write to a borrowed page reached the page cache: %q", got)
	}
	e.check("private file")
}

// TestIgnorePermissionsFile checks the loader's use of IgnorePermissions:
// zeroing the tail of a read-only private file page copies it.
func TestIgnorePermissionsFile(t *testing.T) {
	e := newEnv(t)
	m, _ := e.newMM(base)
	file := pattern(2*pg, 12)
	c, _ := e.newCache(file)
	a := mustMMap(t, m, MMapOpts{Length: 2 * pg, Mappable: c, Private: true, Perms: platform.AccessType{Read: true, Execute: true}, MaxPerms: platform.AnyAccess})
	readAll(t, m, a, 2*pg)
	if n, err := m.ZeroOut(a+pg+100, pg-100, IOOpts{IgnorePermissions: true}); n != pg-100 || err != nil {
		t.Fatalf("ZeroOut = %d, %v", n, err)
	}
	got := readAll(t, m, a+pg, pg)
	if !bytes.Equal(got[:100], file[pg:pg+100]) || !isZero(got[100:]) {
		t.Errorf("ZeroOut result wrong")
	}
	if got := cacheContents(t, c, pg, pg); !bytes.Equal(got, file[pg:]) {
		t.Errorf("ZeroOut of a private mapping reached the page cache")
	}
	if n, err := m.ZeroOut(a, 1, IOOpts{}); !errors.Is(err, unix.EFAULT) {
		t.Errorf("ZeroOut of read-only without IgnorePermissions = %d, %v; want EFAULT", n, err)
	}

	// A shared mapping that may never be writable stays unwritten even
	// with IgnorePermissions: the write would land in the page cache.
	sh := mustMMap(t, m, MMapOpts{Length: 2 * pg, Mappable: c, Perms: platform.Read, MaxPerms: platform.AccessType{Read: true, Execute: true}})
	if n, err := m.CopyOutOpts(sh, []byte("x"), IOOpts{IgnorePermissions: true}); !errors.Is(err, unix.EFAULT) {
		t.Errorf("CopyOut with IgnorePermissions to a never-writable shared mapping = %d, %v; want EFAULT", n, err)
	}
	if got := cacheContents(t, c, 0, 1); got[0] != file[0] {
		t.Errorf("page cache written through a read-only shared mapping")
	}

	// A shared mapping that may be made writable is written in place,
	// where every mapping of the object sees it.
	obj := NewSharedAnon(e.mf, pg)
	obj.DecMappings() // tests map it through mmapRef
	e.caches = append(e.caches, obj)
	s1 := mustMMap(t, m, MMapOpts{Length: pg, Mappable: obj, Perms: platform.Read, MaxPerms: platform.AnyAccess})
	s2 := mustMMap(t, m, MMapOpts{Length: pg, Mappable: obj, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess})
	readAll(t, m, s1, pg)
	if n, err := m.CopyOutOpts(s1, []byte("forced"), IOOpts{IgnorePermissions: true}); n != 6 || err != nil {
		t.Fatalf("CopyOut with IgnorePermissions to a shared mapping = %d, %v", n, err)
	}
	if got := readAll(t, m, s2, 6); string(got) != "forced" {
		t.Errorf("other mapping of the shared object reads %q, want %q", got, "forced")
	}
	e.check("ignore perms")
}

func TestPageCacheReaderAtEOF(t *testing.T) {
	e := newEnv(t)
	m, _ := e.newMM(base)
	file := pattern(pg+10, 13)
	c, src := e.newCache(file)
	src.eof = true // io.ReaderAt style: io.EOF on a short read
	a := mustMMap(t, m, MMapOpts{Length: 2 * pg, Mappable: c, Private: true, Perms: platform.Read, MaxPerms: platform.AnyAccess})
	got := readAll(t, m, a, 2*pg)
	if !bytes.Equal(got[:len(file)], file) || !isZero(got[len(file):]) {
		t.Errorf("contents of a file whose source returns io.EOF are wrong")
	}
	if err := m.HandleFault(a+pg, false); err != nil {
		t.Errorf("fault on the last, partial page: %v", err)
	}

	// Real read errors fail the access.
	c2, src2 := e.newCache(file)
	src2.fail = true
	b := mustMMap(t, m, MMapOpts{Length: 2 * pg, Mappable: c2, Private: true, Perms: platform.Read, MaxPerms: platform.AnyAccess})
	if n, err := m.CopyIn(b, make([]byte, 10)); !errors.Is(err, unix.EFAULT) {
		t.Errorf("CopyIn with a failing source = %d, %v; want EFAULT", n, err)
	}
	var fe *FaultError
	if err := m.HandleFault(b, false); !errors.As(err, &fe) || fe.Signo != linuxSIGBUS {
		t.Errorf("fault with a failing source = %v, want SIGBUS", err)
	}
	e.check("eof")
}
