// Package loader loads a program into a fresh address space as execve(2)
// does: ELF64 executables (static, static-PIE, and dynamically linked, for
// which the sentry also loads the PT_INTERP interpreter), "#!" scripts,
// and the initial stack with argv, envp and the auxiliary vector.
//
// No vDSO is mapped yet: AT_SYSINFO_EHDR is absent, so libc makes real
// system calls for time functions.
package loader

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"path"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/platform"
	"palisade.dev/sentry/mm"
	"palisade.dev/sentry/vfs"
)

// Opener opens a path for execution (resolving it from the task's root and
// cwd, following symlinks) and checks that it may be executed.
type Opener func(ctx context.Context, path string) (*vfs.FileDescription, error)

// Args are the inputs of Load.
type Args struct {
	MM                   *mm.MemoryManager
	Open                 Opener
	Filename             string
	Argv                 []string
	Envv                 []string
	UID, EUID, GID, EGID uint32
	// Secure is AT_SECURE.
	Secure bool
	// Credentials, if set, is told the file finally executed (after any
	// "#!" scripts) and returns the IDs and AT_SECURE the new program
	// runs with (a set-user-ID program changes them).
	Credentials func(ctx context.Context, exe *vfs.FileDescription) (uid, euid, gid, egid uint32, secure bool, err error)
}

// Result is where the program starts.
type Result struct {
	Entry uintptr
	Stack uintptr
	// Executable is the file that was finally loaded (not a script).
	Executable *vfs.FileDescription
	// Comm is the new task name (basename of the file name).
	Comm string
}

// maxScriptDepth is how many "#!" scripts may lead to the program: Linux's
// exec_binprm gives up with ELOOP when the sixth file it looks at is a
// script too ("depth > 5").
const maxScriptDepth = 5

// binprmBufSize is how much of the file execve looks at to recognise its
// format (Linux's BINPRM_BUF_SIZE).
const binprmBufSize = 256

// Load loads the program and builds its stack. On error the address space
// may be partly populated; the caller throws it away.
func Load(ctx context.Context, a Args) (*Result, error) {
	argv := append([]string(nil), a.Argv...)
	if len(argv) == 0 {
		// As Linux does since 5.18: programs may assume argc >= 1.
		argv = []string{""}
	}
	filename := a.Filename
	var fd *vfs.FileDescription
	for depth := 0; ; depth++ {
		f, err := a.Open(ctx, filename)
		if err != nil {
			return nil, err
		}
		var head [binprmBufSize]byte
		n, err := f.PRead(ctx, head[:], 0)
		if err != nil {
			f.DecRef()
			return nil, err
		}
		if n >= 2 && head[0] == '#' && head[1] == '!' {
			f.DecRef()
			if depth >= maxScriptDepth {
				return nil, unix.ELOOP
			}
			interp, arg, err := parseShebang(head[:n])
			if err != nil {
				return nil, err
			}
			if interp == "" {
				// "#!" then a NUL: Linux opens "" (the cwd, not a
				// regular file) and fails with EACCES.
				return nil, unix.EACCES
			}
			// argv becomes: interp [arg] filename argv[1:].
			nargv := append([]string{interp}, arg...)
			nargv = append(nargv, filename)
			nargv = append(nargv, argv[1:]...)
			argv = nargv
			filename = interp
			continue
		}
		fd = f
		break
	}
	if a.Credentials != nil {
		var err error
		if a.UID, a.EUID, a.GID, a.EGID, a.Secure, err = a.Credentials(ctx, fd); err != nil {
			fd.DecRef()
			return nil, err
		}
	}
	res, err := loadELF(ctx, a, fd, argv)
	if err != nil {
		fd.DecRef()
		return nil, err
	}
	res.Executable = fd
	res.Comm = comm(a.Filename)
	return res, nil
}

// comm is the task name execve sets: the basename, truncated to 15 bytes.
func comm(filename string) string {
	c := path.Base(filename)
	if len(c) > 15 {
		c = c[:15]
	}
	return c
}

// parseShebang parses the "#!" line at the start of b, the first
// binprmBufSize bytes of a file (fewer if the file is shorter), as Linux's
// binfmt_script does:
//
//   - the line ends at the first newline. Without one in the buffer, the
//     line may have been cut: it is accepted only if the interpreter name
//     ends (space, tab or NUL) within the buffer, and then ends before the
//     buffer's last byte;
//   - spaces and tabs (only those: not '\r') are trimmed at both ends;
//   - the interpreter name runs to the first space, tab or NUL; nothing is
//     ENOEXEC;
//   - after a space or tab, the rest of the line less its leading spaces
//     and tabs is the one optional argument, up to a NUL if it holds one.
//
// It returns the interpreter and zero or one argument. The interpreter is
// "" if the name starts with a NUL.
func parseShebang(b []byte) (string, []string, error) {
	// Linux reads into a zeroed buffer: past the end of a short file, it
	// sees NULs.
	var buf [binprmBufSize]byte
	copy(buf[:], b)
	end := bytes.IndexByte(buf[:], '\n')
	if end < 0 {
		i := 2
		for i < len(buf) && spaceTab(buf[i]) {
			i++
		}
		if i == len(buf) || indexTerminator(buf[i:]) < 0 {
			// All blanks, or an interpreter name that may be cut.
			return "", nil, unix.ENOEXEC
		}
		end = len(buf) - 1
	}
	line := buf[2:end]
	for len(line) > 0 && spaceTab(line[len(line)-1]) {
		line = line[:len(line)-1]
	}
	for len(line) > 0 && spaceTab(line[0]) {
		line = line[1:]
	}
	if len(line) == 0 {
		return "", nil, unix.ENOEXEC
	}
	i := indexTerminator(line)
	if i < 0 {
		return string(line), nil, nil
	}
	interp := string(line[:i])
	if line[i] == 0 {
		return interp, nil, nil
	}
	arg := line[i:]
	for len(arg) > 0 && spaceTab(arg[0]) {
		arg = arg[1:]
	}
	// The line was trimmed: something follows the blanks, if only a NUL
	// (which makes an empty argument).
	if j := bytes.IndexByte(arg, 0); j >= 0 {
		arg = arg[:j]
	}
	return interp, []string{string(arg)}, nil
}

func spaceTab(c byte) bool { return c == ' ' || c == '\t' }

// indexTerminator returns the index of the first space, tab or NUL in b,
// or -1.
func indexTerminator(b []byte) int {
	for i, c := range b {
		if spaceTab(c) || c == 0 {
			return i
		}
	}
	return -1
}

// ELF constants.
const (
	etExec   = 2
	etDyn    = 3
	emX86_64 = 62
	ptLoad   = 1
	ptInterp = 3
	ptPhdr   = 6
	// ptGNUStack's flags say whether the stack is executable.
	ptGNUStack = 0x6474e551
	pfX        = 1
	pfW        = 2
	pfR        = 4

	// elfETDynBase is where Linux puts position-independent executables
	// that have an interpreter (2/3 of the 47-bit address space).
	elfETDynBase = 0x555555554000
)

type elfHeader struct {
	typ       uint16
	entry     uint64
	phoff     uint64
	phentsize uint16
	phnum     uint16
}

type progHeader struct {
	typ                       uint32
	flags                     uint32
	off, vaddr, filesz, memsz uint64
}

type elfInfo struct {
	hdr    elfHeader
	phdrs  []progHeader
	interp string
	// execStack is set by a PT_GNU_STACK with PF_X. Without one, the
	// stack of an x86-64 program is not executable.
	execStack bool
}

func readELF(ctx context.Context, fd *vfs.FileDescription) (*elfInfo, error) {
	var eh [64]byte
	if n, err := fd.PRead(ctx, eh[:], 0); err != nil {
		return nil, err
	} else if n < 64 {
		return nil, unix.ENOEXEC
	}
	if string(eh[:4]) != "\x7fELF" {
		return nil, unix.ENOEXEC
	}
	if eh[4] != 2 || eh[5] != 1 || eh[6] != 1 {
		// Only ELF64, little-endian, version 1.
		return nil, unix.ENOEXEC
	}
	le := binary.LittleEndian
	h := elfHeader{
		typ: le.Uint16(eh[16:]), entry: le.Uint64(eh[24:]), phoff: le.Uint64(eh[32:]),
		phentsize: le.Uint16(eh[54:]), phnum: le.Uint16(eh[56:]),
	}
	if le.Uint16(eh[18:]) != emX86_64 || (h.typ != etExec && h.typ != etDyn) {
		return nil, unix.ENOEXEC
	}
	// Linux bounds the program headers to 64 KiB.
	if h.phentsize != 56 || h.phnum == 0 || int(h.phnum) > 65536/56 {
		return nil, unix.ENOEXEC
	}
	ph := make([]byte, int(h.phnum)*56)
	if n, err := fd.PRead(ctx, ph, int64(h.phoff)); err != nil {
		return nil, err
	} else if n < len(ph) {
		return nil, unix.ENOEXEC
	}
	info := &elfInfo{hdr: h}
	haveInterp := false
	for i := 0; i < int(h.phnum); i++ {
		b := ph[i*56:]
		p := progHeader{
			typ: le.Uint32(b[0:]), flags: le.Uint32(b[4:]), off: le.Uint64(b[8:]),
			vaddr: le.Uint64(b[16:]), filesz: le.Uint64(b[32:]), memsz: le.Uint64(b[40:]),
		}
		info.phdrs = append(info.phdrs, p)
		switch {
		case p.typ == ptInterp && !haveInterp:
			// As Linux: the first PT_INTERP counts; its path is a
			// NUL-terminated string of at most PATH_MAX bytes.
			haveInterp = true
			if p.filesz < 2 || p.filesz > 4096 {
				return nil, unix.ENOEXEC
			}
			buf := make([]byte, p.filesz)
			if n, err := fd.PRead(ctx, buf, int64(p.off)); err != nil {
				return nil, err
			} else if n != len(buf) {
				return nil, unix.EIO // as Linux's elf_read
			}
			if buf[len(buf)-1] != 0 {
				return nil, unix.ENOEXEC
			}
			info.interp = string(buf[:bytes.IndexByte(buf, 0)])
			if info.interp == "" {
				// Linux opens "" (the cwd, not a regular file): EACCES.
				return nil, unix.EACCES
			}
		case p.typ == ptGNUStack:
			info.execStack = p.flags&pfX != 0
		}
	}
	return info, nil
}

// loaded describes an ELF image placed in memory.
type loaded struct {
	bias  uintptr
	entry uintptr
	end   uintptr // end of the highest segment
	phdr  uintptr // address of the program headers, or 0
}

// mapELF maps the PT_LOAD segments of info from fd. For ET_DYN images,
// base is the preferred load address (0: anywhere).
func mapELF(ctx context.Context, m *mm.MemoryManager, fd *vfs.FileDescription, info *elfInfo, base uintptr) (*loaded, error) {
	var lo, hi uint64 = ^uint64(0), 0
	for _, p := range info.phdrs {
		if p.typ != ptLoad || p.memsz == 0 {
			continue
		}
		if p.filesz > p.memsz || p.vaddr+p.memsz < p.vaddr || (p.vaddr-p.off)&linux.PageMask != 0 {
			return nil, unix.ENOEXEC
		}
		lo = min(lo, linux.PageRoundDown(p.vaddr))
		e, _ := linux.PageRoundUp(p.vaddr + p.memsz)
		hi = max(hi, e)
	}
	if hi == 0 {
		return nil, unix.ENOEXEC
	}
	var bias uintptr
	if info.hdr.typ == etDyn {
		// Reserve the whole image so its segments stay together.
		addr, err := m.MMap(mm.MMapOpts{Length: hi - lo, Addr: base, Private: true, MaxPerms: platform.AnyAccess})
		if err != nil {
			return nil, err
		}
		bias = addr - uintptr(lo)
	}
	res := &loaded{bias: bias, entry: uintptr(info.hdr.entry) + bias}
	for _, p := range info.phdrs {
		if p.typ == ptPhdr {
			res.phdr = uintptr(p.vaddr) + bias
		}
		if p.typ != ptLoad || p.memsz == 0 {
			continue
		}
		perms := platform.AccessType{Read: p.flags&pfR != 0, Write: p.flags&pfW != 0, Execute: p.flags&pfX != 0}
		start := uintptr(linux.PageRoundDown(p.vaddr)) + bias
		fileEnd := uintptr(p.vaddr+p.filesz) + bias
		memEnd := uintptr(p.vaddr+p.memsz) + bias
		if p.filesz > 0 {
			o := mm.MMapOpts{
				Length: uint64(fileEnd - start), Addr: start, Fixed: true, Private: true,
				Perms: perms, MaxPerms: platform.AnyAccess, Offset: linux.PageRoundDown(p.off),
			}
			if err := fd.ConfigureMMap(ctx, &o); err != nil {
				return nil, err
			}
			if _, err := m.MMap(o); err != nil {
				return nil, err
			}
			// With bss, zero the rest of the last file page, to the end of
			// the page as Linux's padzero does: ld.so's early allocator
			// hands out that tail and relies on it being zero.
			if memEnd > fileEnd && fileEnd&linux.PageMask != 0 {
				if _, err := m.ZeroOut(fileEnd, int(pageUp(fileEnd)-fileEnd), mm.IOOpts{IgnorePermissions: true}); err != nil {
					return nil, err
				}
			}
		}
		anonStart := pageUp(fileEnd)
		if p.filesz == 0 {
			anonStart = start
		}
		if anonEnd := pageUp(memEnd); anonEnd > anonStart {
			if _, err := m.MMap(mm.MMapOpts{
				Length: uint64(anonEnd - anonStart), Addr: anonStart, Fixed: true, Private: true,
				Perms: perms, MaxPerms: platform.AnyAccess,
			}); err != nil {
				return nil, err
			}
		}
		res.end = max(res.end, memEnd)
		if res.phdr == 0 && info.hdr.phoff >= p.off && info.hdr.phoff < p.off+p.filesz {
			res.phdr = uintptr(p.vaddr+(info.hdr.phoff-p.off)) + bias
		}
	}
	if info.hdr.typ == etDyn {
		// Drop the unused parts of the reservation (gaps between segments).
		for _, gap := range gaps(info.phdrs, lo, hi) {
			m.MUnmap(uintptr(gap[0])+bias, gap[1]-gap[0])
		}
	}
	return res, nil
}

// gaps returns the page ranges of [lo, hi) not covered by a PT_LOAD.
func gaps(phdrs []progHeader, lo, hi uint64) [][2]uint64 {
	var out [][2]uint64
	pos := lo
	for pos < hi {
		next := hi
		covered := false
		for _, p := range phdrs {
			if p.typ != ptLoad || p.memsz == 0 {
				continue
			}
			s := linux.PageRoundDown(p.vaddr)
			e, _ := linux.PageRoundUp(p.vaddr + p.memsz)
			if s <= pos && pos < e {
				pos = e
				covered = true
				break
			}
			if s > pos && s < next {
				next = s
			}
		}
		if !covered {
			out = append(out, [2]uint64{pos, next})
			pos = next
		}
	}
	return out
}

func pageUp(a uintptr) uintptr { return (a + linux.PageMask) &^ linux.PageMask }

func loadELF(ctx context.Context, a Args, fd *vfs.FileDescription, argv []string) (*Result, error) {
	info, err := readELF(ctx, fd)
	if err != nil {
		return nil, err
	}
	m := a.MM
	var base uintptr
	if info.hdr.typ == etDyn && info.interp != "" {
		base = elfETDynBase + randomPages(16)
	}
	img, err := mapELF(ctx, m, fd, info, base)
	if err != nil {
		return nil, err
	}
	entry := img.entry
	var interpBase uintptr
	if info.interp != "" {
		ifd, err := a.Open(ctx, info.interp)
		if err != nil {
			return nil, err
		}
		defer ifd.DecRef()
		// Linux reads the interpreter's header with elf_read: a short
		// file is EIO.
		var hdr [64]byte
		if n, err := ifd.PRead(ctx, hdr[:], 0); err != nil {
			return nil, err
		} else if n < len(hdr) {
			return nil, unix.EIO
		}
		iinfo, err := readELF(ctx, ifd)
		if err == unix.ENOEXEC {
			// Linux: an interpreter that isn't an ELF of this machine
			// is a bad shared library.
			return nil, unix.ELIBBAD
		}
		if err != nil {
			return nil, err
		}
		if iinfo.interp != "" {
			return nil, unix.ELIBBAD
		}
		iimg, err := mapELF(ctx, m, ifd, iinfo, 0)
		if err != nil {
			return nil, err
		}
		entry = iimg.entry
		interpBase = iimg.bias
	}
	// The heap starts after the executable, at a random page offset (up
	// to 32 MiB, as arch_randomize_brk). An ET_DYN run without an
	// interpreter (ld.so itself, static-pie) was placed like a library, at
	// the top of the mmap area: Linux then moves the heap to
	// ELF_ET_DYN_BASE, out of the way of the mmap area.
	brk := pageUp(img.end)
	if info.hdr.typ == etDyn && info.interp == "" {
		brk = elfETDynBase
	}
	m.SetBrkStart(brk + randomPages(13))

	// The stack.
	stackTop := m.StackTop()
	stackPerms := platform.ReadWrite
	if info.execStack {
		stackPerms = platform.AnyAccess
	}
	// As Linux's setup_arg_pages: the stack area starts with room for the
	// arguments plus 128 KiB, and grows down on demand (MAP_GROWSDOWN).
	initial := uint64(pageUp(uintptr(argEnvSize(argv, a.Envv, a.Filename) + stackExpand)))
	if _, err := m.MMap(mm.MMapOpts{
		Length: initial, Addr: stackTop - uintptr(initial), Fixed: true, Private: true,
		GrowsDown: true, Perms: stackPerms, MaxPerms: platform.AnyAccess, Hint: "[stack]",
	}); err != nil {
		return nil, err
	}
	auxv := []uint64{
		linux.AT_PHDR, uint64(img.phdr),
		linux.AT_PHENT, 56,
		linux.AT_PHNUM, uint64(info.hdr.phnum),
		linux.AT_PAGESZ, linux.PageSize,
		linux.AT_BASE, uint64(interpBase),
		linux.AT_FLAGS, 0,
		linux.AT_ENTRY, uint64(img.entry),
		linux.AT_UID, uint64(a.UID),
		linux.AT_EUID, uint64(a.EUID),
		linux.AT_GID, uint64(a.GID),
		linux.AT_EGID, uint64(a.EGID),
		linux.AT_SECURE, boolAux(a.Secure),
		linux.AT_CLKTCK, 100,
		linux.AT_HWCAP, hostAuxv(linux.AT_HWCAP),
		linux.AT_HWCAP2, hostAuxv(linux.AT_HWCAP2),
	}
	if v := hostAuxv(linux.AT_MINSIGSTKSZ); v != 0 {
		auxv = append(auxv, linux.AT_MINSIGSTKSZ, v)
	}
	sp, argvR, envvR, fullAuxv, err := buildStack(m, stackTop, argv, a.Envv, a.Filename, auxv)
	if err != nil {
		return nil, err
	}
	m.SetImageInfo(argvR, envvR, fullAuxv, nil)
	return &Result{Entry: entry, Stack: sp}, nil
}

// stackExpand is how much room Linux gives a new stack beyond its
// arguments.
const stackExpand = 128 << 10

// argEnvSize bounds the stack space the arguments, environment and their
// pointers need.
func argEnvSize(argv, envv []string, filename string) int {
	n := len(filename) + 1 + 4096 // file name, random bytes, platform, auxv
	for _, s := range argv {
		n += len(s) + 1 + 8
	}
	for _, s := range envv {
		n += len(s) + 1 + 8
	}
	return n
}

func randomPages(bits uint) uintptr {
	var b [8]byte
	rand.Read(b[:])
	return uintptr(binary.LittleEndian.Uint64(b[:])&(1<<bits-1)) << linux.PageShift
}

// hostAuxv returns the host's value of an auxiliary vector entry: the
// application runs on the host's CPU, so it sees the host's hardware
// capabilities.
func hostAuxv(key uint64) uint64 {
	av, err := unix.Auxv()
	if err != nil {
		return 0
	}
	for _, kv := range av {
		if uint64(kv[0]) == key {
			return uint64(kv[1])
		}
	}
	return 0
}

func boolAux(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
