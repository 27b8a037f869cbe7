package loader

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"os"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/platform"
	"palisade.dev/sentry/mm"
)

const (
	hostExe    = "/bin/ls"
	hostInterp = "/lib64/ld-linux-x86-64.so.2"
)

func readHost(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("host binary: %v", err)
	}
	return b
}

// TestReadELFHost reads host binaries and compares with debug/elf.
func TestReadELFHost(t *testing.T) {
	for _, path := range []string{hostExe, hostInterp} {
		t.Run(path, func(t *testing.T) {
			data := readHost(t, path)
			ef, err := elf.NewFile(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if ef.Machine != elf.EM_X86_64 {
				t.Skipf("%s is not x86-64", path)
			}
			fs := newFiles(map[string][]byte{path: data})
			fd := fs.fd(t, path)
			defer fd.DecRef()
			info, err := readELF(context.Background(), fd)
			if err != nil {
				t.Fatalf("readELF: %v", err)
			}
			if info.hdr.typ != uint16(ef.Type) || info.hdr.entry != ef.Entry || int(info.hdr.phnum) != len(ef.Progs) {
				t.Errorf("header: got %+v; debug/elf says type %v entry %#x phnum %d", info.hdr, ef.Type, ef.Entry, len(ef.Progs))
			}
			var interp string
			for i, p := range ef.Progs {
				got := info.phdrs[i]
				want := progHeader{typ: uint32(p.Type), flags: uint32(p.Flags), off: p.Off, vaddr: p.Vaddr, filesz: p.Filesz, memsz: p.Memsz}
				if got != want {
					t.Errorf("phdr %d: got %+v, want %+v", i, got, want)
				}
				if p.Type == elf.PT_INTERP && interp == "" {
					b := make([]byte, p.Filesz)
					p.ReadAt(b, 0)
					interp = string(bytes.TrimRight(b, "\x00"))
				}
				if p.Type == elf.PT_GNU_STACK && (p.Flags&elf.PF_X != 0) != info.execStack {
					t.Errorf("execStack %v, PT_GNU_STACK flags %v", info.execStack, p.Flags)
				}
			}
			if info.interp != interp {
				t.Errorf("interp: got %q, want %q", info.interp, interp)
			}
			if path == hostExe && (info.hdr.typ != etDyn || info.interp == "") {
				t.Logf("%s is not a PIE with an interpreter here (type %d, interp %q)", path, info.hdr.typ, info.interp)
			}
			if path == hostInterp && info.interp != "" {
				t.Errorf("%s has an interpreter %q", path, info.interp)
			}
		})
	}
}

func TestReadELFErrors(t *testing.T) {
	good := buildELF(etExec, 0x401000, []seg{
		{ph: progHeader{typ: ptLoad, flags: pfR | pfX, off: 0, vaddr: 0x400000, filesz: 0x200, memsz: 0x200}},
		{ph: progHeader{typ: ptInterp, flags: pfR, off: 0x100, vaddr: 0x400100, filesz: 8, memsz: 8}, data: []byte("/ld.so\x00\x00")},
	})
	le := binary.LittleEndian
	patch := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	phdr := func(b []byte, i int) []byte { return b[64+56*i:] }
	tests := []struct {
		name string
		data []byte
		err  error
	}{
		{"empty", nil, unix.ENOEXEC},
		{"short header", good[:63], unix.ENOEXEC},
		{"not ELF", append([]byte("\x7fELG"), good[4:]...), unix.ENOEXEC},
		{"text", []byte("hello world, this is not an executable at all, just words......\n"), unix.ENOEXEC},
		{"ELFCLASS32", patch(func(b []byte) { b[4] = 1 }), unix.ENOEXEC},
		{"big-endian", patch(func(b []byte) { b[5] = 2 }), unix.ENOEXEC},
		{"bad version", patch(func(b []byte) { b[6] = 0 }), unix.ENOEXEC},
		{"i386 machine", patch(func(b []byte) { le.PutUint16(b[18:], 3) }), unix.ENOEXEC},
		{"aarch64 machine", patch(func(b []byte) { le.PutUint16(b[18:], 183) }), unix.ENOEXEC},
		{"ET_REL", patch(func(b []byte) { le.PutUint16(b[16:], 1) }), unix.ENOEXEC},
		{"ET_CORE", patch(func(b []byte) { le.PutUint16(b[16:], 4) }), unix.ENOEXEC},
		{"bad phentsize", patch(func(b []byte) { le.PutUint16(b[54:], 32) }), unix.ENOEXEC},
		{"no phdrs", patch(func(b []byte) { le.PutUint16(b[56:], 0) }), unix.ENOEXEC},
		{"too many phdrs", patch(func(b []byte) { le.PutUint16(b[56:], 65536/56+1) }), unix.ENOEXEC},
		{"truncated phdrs", good[:64+56+10], unix.ENOEXEC},
		{"phdrs past EOF", patch(func(b []byte) { le.PutUint64(b[32:], 1<<20) }), unix.ENOEXEC},
		{"interp not terminated", patch(func(b []byte) { copy(b[0x100:], "/ld.so.x") }), unix.ENOEXEC},
		{"interp too short", patch(func(b []byte) { le.PutUint64(phdr(b, 1)[32:], 1) }), unix.ENOEXEC},
		{"interp too long", patch(func(b []byte) { le.PutUint64(phdr(b, 1)[32:], 4097) }), unix.ENOEXEC},
		{"interp past EOF", patch(func(b []byte) { le.PutUint64(phdr(b, 1)[8:], 1<<20) }), unix.EIO},
		{"empty interp", patch(func(b []byte) { copy(b[0x100:], "\x00\x00\x00") }), unix.EACCES},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFiles(map[string][]byte{"f": tc.data})
			fd := fs.fd(t, "f")
			defer fd.DecRef()
			info, err := readELF(context.Background(), fd)
			if err != tc.err {
				t.Errorf("readELF: got %+v, %v; want %v", info, err, tc.err)
			}
		})
	}

	// The good file, and the edge cases that are accepted.
	for name, data := range map[string][]byte{
		"good":                good,
		"interp with garbage": patch(func(b []byte) { copy(b[0x100:], "/ld\x00xyz\x00") }),
		"second PT_INTERP ignored": buildELF(etExec, 0x401000, []seg{
			{ph: progHeader{typ: ptInterp, off: 0x100, filesz: 4}, data: []byte("/i1\x00")},
			{ph: progHeader{typ: ptInterp, off: 0x110, filesz: 4}, data: []byte("/i2\x00")},
			{ph: progHeader{typ: ptLoad, flags: pfR, vaddr: 0x400000, filesz: 0x200, memsz: 0x200}},
		}),
	} {
		fs := newFiles(map[string][]byte{"f": data})
		fd := fs.fd(t, "f")
		info, err := readELF(context.Background(), fd)
		fd.DecRef()
		want := map[string]string{"good": "/ld.so", "interp with garbage": "/ld", "second PT_INTERP ignored": "/i1"}[name]
		if err != nil || info.interp != want {
			t.Errorf("%s: got %v, %v; want interp %q", name, info, err, want)
		}
	}

	// PT_GNU_STACK.
	for _, flags := range []uint32{pfR | pfW, pfR | pfW | pfX} {
		data := buildELF(etExec, 0x401000, []seg{
			{ph: progHeader{typ: ptLoad, flags: pfR, vaddr: 0x400000, filesz: 0x200, memsz: 0x200}},
			{ph: progHeader{typ: ptGNUStack, flags: flags}},
		})
		fs := newFiles(map[string][]byte{"f": data})
		fd := fs.fd(t, "f")
		info, err := readELF(context.Background(), fd)
		fd.DecRef()
		if err != nil || info.execStack != (flags&pfX != 0) {
			t.Errorf("PT_GNU_STACK flags %#x: got execStack %v, %v", flags, info != nil && info.execStack, err)
		}
	}
}

func TestGaps(t *testing.T) {
	load := func(vaddr, memsz uint64) progHeader {
		return progHeader{typ: ptLoad, vaddr: vaddr, memsz: memsz, filesz: memsz}
	}
	tests := []struct {
		name   string
		phdrs  []progHeader
		lo, hi uint64
		want   [][2]uint64
	}{
		{"one segment", []progHeader{load(0, 0x1800)}, 0, 0x2000, nil},
		{"contiguous", []progHeader{load(0, 0x1000), load(0x1000, 0x800)}, 0, 0x2000, nil},
		{"shared page", []progHeader{load(0, 0x1100), load(0x1200, 0x100)}, 0, 0x2000, nil},
		{"one gap", []progHeader{load(0, 0x1000), load(0x3000, 0x1000)}, 0, 0x4000, [][2]uint64{{0x1000, 0x3000}}},
		{"unaligned ends", []progHeader{load(0x10, 0x1100), load(0x5100, 0x10)}, 0, 0x6000, [][2]uint64{{0x2000, 0x5000}}},
		{"out of order", []progHeader{load(0x8000, 0x1000), load(0, 0x1000), load(0x4000, 0x1000)}, 0, 0x9000,
			[][2]uint64{{0x1000, 0x4000}, {0x5000, 0x8000}}},
		{"overlapping", []progHeader{load(0, 0x3000), load(0x1000, 0x1000), load(0x5000, 0x1000)}, 0, 0x6000,
			[][2]uint64{{0x3000, 0x5000}}},
		{"others ignored", []progHeader{load(0, 0x1000), {typ: ptInterp, vaddr: 0x2000, memsz: 0x1000}, {typ: ptLoad, vaddr: 0x2000}, load(0x4000, 0x1000)}, 0, 0x5000,
			[][2]uint64{{0x1000, 0x4000}}},
		{"nonzero lo", []progHeader{load(0x400000, 0x1000), load(0x402000, 0x1000)}, 0x400000, 0x403000, [][2]uint64{{0x401000, 0x402000}}},
	}
	for _, tc := range tests {
		if got := gaps(tc.phdrs, tc.lo, tc.hi); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %#x, want %#x", tc.name, got, tc.want)
		}
	}
}

// twoSegmentELF is an ET_DYN image with a text segment, a gap of three
// pages, and a data segment whose bss starts inside a page that the file
// fills with garbage.
//
//	text: off 0,      vaddr 0,      filesz=memsz 0x1800, r-x
//	data: off 0x2100, vaddr 0x5100, filesz 0x300, memsz 0x2000, rw-
func twoSegmentELF(typ uint16, base uint64) []byte {
	b := buildELF(typ, base+0x100, []seg{
		{ph: progHeader{typ: ptLoad, flags: pfR | pfX, off: 0, vaddr: base, filesz: 0x1800, memsz: 0x1800}, data: pattern(0x1800, 0x11)},
		{ph: progHeader{typ: ptLoad, flags: pfR | pfW, off: 0x2100, vaddr: base + 0x5100, filesz: 0x300, memsz: 0x2000}, data: pattern(0x300, 0x22)},
		{ph: progHeader{typ: ptGNUStack, flags: pfR | pfW}},
		// Garbage after the data segment's file bytes, in its last page.
		{ph: progHeader{typ: 0x60000000, off: 0x2400}, data: pattern(0xc00, 0x33)},
	})
	return b
}

func vmaAt(vmas []mm.VMA, addr uintptr) (mm.VMA, bool) {
	for _, v := range vmas {
		if v.Start <= addr && addr < v.End {
			return v, true
		}
	}
	return mm.VMA{}, false
}

func copyIn(t *testing.T, m *mm.MemoryManager, addr uintptr, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if got, err := m.CopyIn(addr, b); err != nil || got != n {
		t.Fatalf("CopyIn(%#x, %d): %d, %v", addr, n, got, err)
	}
	return b
}

func TestMapELF(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  uint16
		base uint64 // link address
		hint uintptr
	}{
		{"ET_DYN anywhere", etDyn, 0, 0},
		{"ET_DYN at a hint", etDyn, 0, 0x555555554000},
		{"ET_EXEC", etExec, 0x400000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := twoSegmentELF(tc.typ, tc.base)
			m := newMM(t)
			fs := newFiles(map[string][]byte{"f": data})
			fd := fs.fd(t, "f")
			defer fd.DecRef()
			ctx := context.Background()
			info, err := readELF(ctx, fd)
			if err != nil {
				t.Fatal(err)
			}
			img, err := mapELF(ctx, m, fd, info, tc.hint)
			if err != nil {
				t.Fatalf("mapELF: %v", err)
			}
			bias := img.bias
			switch {
			case tc.typ == etExec && bias != 0:
				t.Errorf("ET_EXEC bias %#x, want 0", bias)
			case tc.hint != 0 && bias != tc.hint:
				t.Errorf("ET_DYN bias %#x, want the hint %#x", bias, tc.hint)
			case bias&linux.PageMask != 0:
				t.Errorf("bias %#x not page-aligned", bias)
			}
			at := func(off uint64) uintptr { return uintptr(tc.base+off) + bias }
			if img.entry != at(0x100) {
				t.Errorf("entry %#x, want %#x", img.entry, at(0x100))
			}
			if img.phdr != at(64) {
				t.Errorf("phdr %#x, want %#x (e_phoff inside the first segment)", img.phdr, at(64))
			}
			if img.end != at(0x7100) {
				t.Errorf("end %#x, want %#x", img.end, at(0x7100))
			}

			vmas := m.VMAs()
			for _, c := range []struct {
				addr  uintptr
				perms platform.AccessType
				file  bool
			}{
				{at(0), platform.AccessType{Read: true, Execute: true}, true},
				{at(0x1fff), platform.AccessType{Read: true, Execute: true}, true},
				{at(0x5000), platform.ReadWrite, true},
				{at(0x6000), platform.ReadWrite, false},
				{at(0x7fff), platform.ReadWrite, false},
			} {
				v, ok := vmaAt(vmas, c.addr)
				if !ok {
					t.Errorf("nothing mapped at %#x", c.addr)
					continue
				}
				if v.Perms != c.perms || (v.Mappable != nil) != c.file || !v.Private {
					t.Errorf("area at %#x: %+v; want perms %v, file-backed %v, private", c.addr, v, c.perms, c.file)
				}
			}
			for _, a := range []uintptr{at(0x2000), at(0x4fff), at(0x8000)} {
				if v, ok := vmaAt(vmas, a); ok {
					t.Errorf("%#x is mapped (%+v); the gap and the end must not be", a, v)
				}
			}

			// Contents: the text as in the file; the data page shows the
			// file up to the end of the data, then zeros to the end of the
			// page (padzero) and in the bss.
			if got := copyIn(t, m, at(0), 0x1800); !bytes.Equal(got, data[:0x1800]) {
				t.Errorf("text differs from the file")
			}
			if got := copyIn(t, m, at(0x5000), 0x400); !bytes.Equal(got, data[0x2000:0x2400]) {
				t.Errorf("data differs from the file")
			}
			if got := copyIn(t, m, at(0x5400), 0x2c00); !bytes.Equal(got, make([]byte, 0x2c00)) {
				i := bytes.IndexFunc(got, func(r rune) bool { return r != 0 })
				t.Errorf("bss not zero: byte at %#x is %#x", at(0x5400)+uintptr(i), got[i])
			}
			// padzero worked on a private copy: the page cache (and so
			// the file seen by other mappings) is unchanged.
			ts, err := fd.Impl().(*memFile).file.cache.Translate(0x2000, 0x3000, 0x2000)
			if err != nil {
				t.Fatal(err)
			}
			if got := testMF.Slice(ts[0].MemOff, 0x1000); !bytes.Equal(got, data[0x2000:0x3000]) {
				t.Errorf("padzero wrote through to the page cache")
			}
			testMF.DecRef(ts[0].MemOff, ts[0].End-ts[0].Start)
		})
	}
}

func TestMapELFErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		segs []seg
	}{
		{"no PT_LOAD", []seg{{ph: progHeader{typ: ptGNUStack}}}},
		{"empty PT_LOADs", []seg{{ph: progHeader{typ: ptLoad, vaddr: 0x1000}}}},
		{"filesz > memsz", []seg{{ph: progHeader{typ: ptLoad, vaddr: 0x1000, filesz: 0x200, memsz: 0x100}}}},
		{"misaligned offset", []seg{{ph: progHeader{typ: ptLoad, off: 0x10, vaddr: 0x1000, filesz: 0x100, memsz: 0x100}}}},
		{"wrapping", []seg{{ph: progHeader{typ: ptLoad, vaddr: 1 << 63, memsz: 1 << 63}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMM(t)
			fs := newFiles(map[string][]byte{"f": buildELF(etDyn, 0, tc.segs)})
			fd := fs.fd(t, "f")
			defer fd.DecRef()
			info, err := readELF(context.Background(), fd)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := mapELF(context.Background(), m, fd, info, 0); err != unix.ENOEXEC {
				t.Errorf("mapELF: got %v, want ENOEXEC", err)
			}
		})
	}
}
