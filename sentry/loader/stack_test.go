package loader

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"path"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/platform"
	"palisade.dev/sentry/mm"
)

// initialStack is the initial process stack as read back from memory.
type initialStack struct {
	sp         uintptr
	argv, envv []string
	argvPtrs   []uintptr
	auxv       map[uint64]uint64
	auxvOrder  []uint64
}

// readStack decodes the stack at sp as a program's _start would.
func readStack(t *testing.T, m *mm.MemoryManager, sp uintptr) *initialStack {
	t.Helper()
	word := func(a uintptr) uint64 {
		v, err := m.CopyInUint64(a)
		if err != nil {
			t.Fatalf("reading the stack at %#x: %v", a, err)
		}
		return v
	}
	str := func(a uintptr) string {
		s, err := m.CopyInString(a, maxArgStrlen)
		if err != nil {
			t.Fatalf("reading a string at %#x: %v", a, err)
		}
		return s
	}
	st := &initialStack{sp: sp, auxv: map[uint64]uint64{}}
	argc := word(sp)
	p := sp + 8
	for i := uint64(0); i < argc; i++ {
		a := uintptr(word(p))
		st.argvPtrs = append(st.argvPtrs, a)
		st.argv = append(st.argv, str(a))
		p += 8
	}
	if word(p) != 0 {
		t.Fatalf("argv[argc] is not NULL")
	}
	p += 8
	for a := word(p); a != 0; a = word(p) {
		st.envv = append(st.envv, str(uintptr(a)))
		p += 8
	}
	p += 8
	for {
		k, v := word(p), word(p+8)
		p += 16
		if k == linux.AT_NULL {
			break
		}
		if _, dup := st.auxv[k]; dup {
			t.Errorf("auxv key %d appears twice", k)
		}
		st.auxv[k] = v
		st.auxvOrder = append(st.auxvOrder, k)
		if len(st.auxvOrder) > 100 {
			t.Fatal("auxv does not end")
		}
	}
	return st
}

// mapStack maps a stack like loadELF's and returns its top.
func mapStack(t *testing.T, m *mm.MemoryManager) uintptr {
	t.Helper()
	top := m.StackTop()
	if _, err := m.MMap(mm.MMapOpts{
		Length: mm.DefaultStackSize, Addr: top - mm.DefaultStackSize, Fixed: true, Private: true,
		GrowsDown: true, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess,
	}); err != nil {
		t.Fatal(err)
	}
	return top
}

func TestBuildStack(t *testing.T) {
	for argc := 0; argc <= 3; argc++ {
		for envc := 0; envc <= 2; envc++ {
			for _, extraAux := range []int{0, 1} {
				t.Run(fmt.Sprintf("argc=%d,envc=%d,aux=%d", argc, envc, extraAux), func(t *testing.T) {
					m := newMM(t)
					top := mapStack(t, m)
					var argv, envv []string
					for i := 0; i < argc; i++ {
						argv = append(argv, strings.Repeat(fmt.Sprint(i), i+1))
					}
					for i := 0; i < envc; i++ {
						envv = append(envv, fmt.Sprintf("K%d=%s", i, strings.Repeat("v", i*3)))
					}
					auxv := []uint64{linux.AT_PAGESZ, linux.PageSize}
					if extraAux == 1 {
						auxv = append(auxv, linux.AT_ENTRY, 0x401000)
					}
					sp, argvR, envvR, full, err := buildStack(m, top, argv, envv, "/some/exe", auxv)
					if err != nil {
						t.Fatalf("buildStack: %v", err)
					}
					if sp%16 != 0 {
						t.Errorf("sp %#x is not 16-byte aligned", sp)
					}
					if sp >= top || top-sp > 64<<10 {
						t.Errorf("sp %#x, top %#x", sp, top)
					}
					st := readStack(t, m, sp)
					if !reflect.DeepEqual(st.argv, argv) && !(len(argv) == 0 && len(st.argv) == 0) {
						t.Errorf("argv: got %q, want %q", st.argv, argv)
					}
					if !reflect.DeepEqual(st.envv, envv) && !(len(envv) == 0 && len(st.envv) == 0) {
						t.Errorf("envp: got %q, want %q", st.envv, envv)
					}
					if st.auxv[linux.AT_PAGESZ] != linux.PageSize {
						t.Errorf("AT_PAGESZ: got %d", st.auxv[linux.AT_PAGESZ])
					}
					if extraAux == 1 && st.auxv[linux.AT_ENTRY] != 0x401000 {
						t.Errorf("AT_ENTRY: got %#x", st.auxv[linux.AT_ENTRY])
					}
					if got, _ := m.CopyInString(uintptr(st.auxv[linux.AT_EXECFN]), 100); got != "/some/exe" {
						t.Errorf("AT_EXECFN: %q", got)
					}
					if got, _ := m.CopyInString(uintptr(st.auxv[linux.AT_PLATFORM]), 100); got != "x86_64" {
						t.Errorf("AT_PLATFORM: %q", got)
					}
					rnd := uintptr(st.auxv[linux.AT_RANDOM])
					if rnd < sp || rnd+16 > top {
						t.Errorf("AT_RANDOM %#x outside the stack [%#x, %#x)", rnd, sp, top)
					}
					copyIn(t, m, rnd, 16)
					// The auxiliary vector returned is the one on the stack.
					if len(full) != 2*(len(st.auxvOrder)+1) || full[len(full)-2] != linux.AT_NULL {
						t.Errorf("returned auxv %v does not match the stack's %v", full, st.auxv)
					}
					for i := 0; i+1 < len(full)-2; i += 2 {
						if st.auxv[full[i]] != full[i+1] {
							t.Errorf("auxv[%d]: stack has %#x, returned %#x", full[i], st.auxv[full[i]], full[i+1])
						}
					}
					// The argv and envp ranges hold the strings, back to back,
					// argv just below envp.
					wantArgs := strings.Join(argv, "\x00")
					if argc > 0 {
						wantArgs += "\x00"
					}
					if got := string(copyIn(t, m, argvR.Start, int(argvR.Len()))); got != wantArgs {
						t.Errorf("argv range holds %q, want %q", got, wantArgs)
					}
					wantEnv := strings.Join(envv, "\x00")
					if envc > 0 {
						wantEnv += "\x00"
					}
					if got := string(copyIn(t, m, envvR.Start, int(envvR.Len()))); got != wantEnv {
						t.Errorf("envp range holds %q, want %q", got, wantEnv)
					}
					if argvR.End != envvR.Start {
						t.Errorf("argv range %+v does not end where envp's %+v starts", argvR, envvR)
					}
					if len(st.argvPtrs) > 0 && st.argvPtrs[0] != argvR.Start {
						t.Errorf("argv[0] at %#x, range starts at %#x", st.argvPtrs[0], argvR.Start)
					}
				})
			}
		}
	}
}

func TestBuildStackLimits(t *testing.T) {
	m := newMM(t)
	top := mapStack(t, m)
	if _, _, _, _, err := buildStack(m, top, []string{strings.Repeat("a", maxArgStrlen-1)}, nil, "x", nil); err != nil {
		t.Errorf("argument of MAX_ARG_STRLEN with its NUL: %v", err)
	}
	if _, _, _, _, err := buildStack(m, top, []string{strings.Repeat("a", maxArgStrlen)}, nil, "x", nil); err != unix.E2BIG {
		t.Errorf("argument over MAX_ARG_STRLEN: got %v, want E2BIG", err)
	}
	if _, _, _, _, err := buildStack(m, top, nil, []string{strings.Repeat("e", maxArgStrlen)}, "x", nil); err != unix.E2BIG {
		t.Errorf("environment string over MAX_ARG_STRLEN: got %v, want E2BIG", err)
	}
	// 17 strings of 128 KiB exceed the 2 MiB for arguments.
	var many []string
	for i := 0; i < 17; i++ {
		many = append(many, strings.Repeat("m", maxArgStrlen-1))
	}
	if _, _, _, _, err := buildStack(m, top, many, nil, "x", nil); err != unix.E2BIG {
		t.Errorf("2 MiB of arguments: got %v, want E2BIG", err)
	}
	// Pointers count too: many empty strings.
	if _, _, _, _, err := buildStack(m, top, make([]string, maxArgEnv/9+1), nil, "x", nil); err != unix.E2BIG {
		t.Errorf("%d empty arguments: got %v, want E2BIG", maxArgEnv/9+1, err)
	}
	// Without a stack mapped, EFAULT rather than a crash.
	m2 := newMM(t)
	if _, _, _, _, err := buildStack(m2, m2.StackTop(), []string{"a"}, nil, "x", nil); err != unix.EFAULT {
		t.Errorf("no stack: got %v, want EFAULT", err)
	}
}

// loadFiles returns the host's ls and dynamic linker and a set of scripts:
// /s0 runs ls, /sN runs /s(N-1) with "-N" as its argument for odd N.
func loadFiles(t *testing.T) *files {
	ls := readHost(t, hostExe)
	ld := readHost(t, hostInterp)
	m := map[string][]byte{
		hostExe:     ls,
		hostInterp:  ld,
		"/s0":       []byte("#!" + hostExe + "\n"),
		"/empty":    nil,
		"/text":     []byte("just some text, long enough to hold an ELF header if it were one.\n"),
		"/nulint":   []byte("#! \x00x\n"),
		"/noint":    []byte("#!/missing -x\n"),
		"/badint":   buildELFWithInterp(t, ls, "/text"),
		"/noldso":   buildELFWithInterp(t, ls, "/missing"),
		"/runtext":  []byte("#!/text\n"),
		"/shortint": buildELFWithInterp(t, ls, "/short"),
		"/short":    []byte("\x7fELF\x02\x01\x01"),
	}
	for i := 1; i <= 6; i++ {
		arg := ""
		if i%2 == 1 {
			arg = fmt.Sprintf(" -%d", i)
		}
		m[fmt.Sprintf("/s%d", i)] = []byte(fmt.Sprintf("#!/s%d%s\n", i-1, arg))
	}
	return newFiles(m)
}

// buildELFWithInterp returns exe with its PT_INTERP path replaced (the new
// path must fit).
func buildELFWithInterp(t *testing.T, exe []byte, interp string) []byte {
	t.Helper()
	ef, err := elf.NewFile(bytes.NewReader(exe))
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(nil), exe...)
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			if uint64(len(interp)+1) > p.Filesz {
				t.Fatalf("interpreter path %q does not fit", interp)
			}
			b := out[p.Off : p.Off+p.Filesz]
			clear(b)
			copy(b, interp)
			return out
		}
	}
	t.Skip("host executable has no PT_INTERP")
	return nil
}

func TestLoadDynamic(t *testing.T) {
	fs := loadFiles(t)
	m := newMM(t)
	ctx := context.Background()
	res, err := Load(ctx, Args{
		MM: m, Open: fs.open, Filename: hostExe, Argv: []string{"ls", "-l"}, Envv: []string{"A=1"},
		UID: 1, EUID: 2, GID: 3, EGID: 4,
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if res.Comm != "ls" {
		t.Errorf("Comm: %q", res.Comm)
	}
	if res.Executable == nil {
		t.Fatal("no Executable")
	}
	st := readStack(t, m, res.Stack)
	if res.Stack%16 != 0 {
		t.Errorf("sp %#x not 16-byte aligned", res.Stack)
	}
	if !reflect.DeepEqual(st.argv, []string{"ls", "-l"}) || !reflect.DeepEqual(st.envv, []string{"A=1"}) {
		t.Errorf("argv %q, envp %q", st.argv, st.envv)
	}
	if got := m.Auxv(); len(got) != 2*(len(st.auxvOrder)+1) {
		t.Errorf("recorded auxv has %d words, the stack %d pairs", len(got), len(st.auxvOrder)+1)
	}
	av := st.auxv
	for k, want := range map[uint64]uint64{
		linux.AT_PHENT: 56, linux.AT_PAGESZ: linux.PageSize, linux.AT_UID: 1, linux.AT_EUID: 2,
		linux.AT_GID: 3, linux.AT_EGID: 4, linux.AT_SECURE: 0, linux.AT_FLAGS: 0,
	} {
		if av[k] != want {
			t.Errorf("auxv[%d]: got %d, want %d", k, av[k], want)
		}
	}

	ls, _ := elf.NewFile(bytes.NewReader(fs.m[hostExe].data))
	ld, _ := elf.NewFile(bytes.NewReader(fs.m[hostInterp].data))
	bias := uintptr(av[linux.AT_ENTRY]) - uintptr(ls.Entry)
	if ls.Type == elf.ET_DYN {
		if bias < elfETDynBase || bias >= elfETDynBase+1<<(16+linux.PageShift) || bias&linux.PageMask != 0 {
			t.Errorf("PIE bias %#x, want a page in [%#x, +%#x)", bias, elfETDynBase, 1<<(16+linux.PageShift))
		}
	}
	base := uintptr(av[linux.AT_BASE])
	if base == 0 || base&linux.PageMask != 0 {
		t.Errorf("AT_BASE %#x", base)
	}
	if res.Entry != base+uintptr(ld.Entry) {
		t.Errorf("entry %#x, want the interpreter's %#x", res.Entry, base+uintptr(ld.Entry))
	}
	// AT_PHDR points at the executable's program headers.
	if av[linux.AT_PHNUM] != uint64(len(ls.Progs)) {
		t.Errorf("AT_PHNUM %d, want %d", av[linux.AT_PHNUM], len(ls.Progs))
	}
	raw := fs.m[hostExe].data
	phoff := binaryLE(raw[32:40])
	want := raw[phoff : phoff+56*uint64(len(ls.Progs))]
	if got := copyIn(t, m, uintptr(av[linux.AT_PHDR]), len(want)); !bytes.Equal(got, want) {
		t.Errorf("memory at AT_PHDR %#x is not the program headers", av[linux.AT_PHDR])
	}
	// Each PT_LOAD of both files is mapped with its permissions, and
	// shows the file's bytes.
	vmas := m.VMAs()
	check := func(f *elf.File, data []byte, bias uintptr, name string) {
		for _, p := range f.Progs {
			if p.Type != elf.PT_LOAD || p.Filesz == 0 {
				continue
			}
			addr := uintptr(p.Vaddr) + bias
			v, ok := vmaAt(vmas, addr)
			wantPerms := platform.AccessType{Read: p.Flags&elf.PF_R != 0, Write: p.Flags&elf.PF_W != 0, Execute: p.Flags&elf.PF_X != 0}
			if !ok || v.Perms != wantPerms {
				t.Errorf("%s segment at %#x: area %+v, want perms %v", name, addr, v, wantPerms)
			}
			n := min(int(p.Filesz), 4096)
			if got := copyIn(t, m, addr, n); !bytes.Equal(got, data[p.Off:p.Off+uint64(n)]) {
				t.Errorf("%s segment at %#x differs from the file", name, addr)
			}
			if p.Memsz > p.Filesz {
				end := addr + uintptr(p.Filesz)
				tail := (linux.PageSize - end&linux.PageMask) & linux.PageMask
				if got := copyIn(t, m, end, int(tail)); !bytes.Equal(got, make([]byte, tail)) {
					t.Errorf("%s: the page after the file data at %#x is not zeroed", name, end)
				}
			}
		}
	}
	check(ls, raw, bias, "ls")
	check(ld, fs.m[hostInterp].data, base, "ld.so")
	// The stack is not executable (ls has PT_GNU_STACK rw-).
	if v, ok := vmaAt(vmas, res.Stack); !ok || v.Perms != platform.ReadWrite || v.Hint != "[stack]" {
		t.Errorf("stack area: %+v", v)
	}
	// brk starts above the executable, within 32 MiB.
	brk := m.Brk(0)
	var end uintptr
	for _, p := range ls.Progs {
		if p.Type == elf.PT_LOAD {
			end = max(end, uintptr(p.Vaddr+p.Memsz)+bias)
		}
	}
	if brk < end || brk >= pageUp(end)+32<<20 || brk&linux.PageMask != 0 {
		t.Errorf("brk %#x, executable ends at %#x", brk, end)
	}

	// Every file opened was released but the executable.
	if got, want := fs.released.Load(), fs.opens.Load()-1; got != want {
		t.Errorf("%d of %d opened files released before the executable; want %d", got, fs.opens.Load(), want)
	}
	res.Executable.DecRef()
	if fs.released.Load() != fs.opens.Load() {
		t.Errorf("%d of %d opened files released", fs.released.Load(), fs.opens.Load())
	}
}

func binaryLE(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// TestLoadInterpreterDirectly runs the dynamic linker itself: an ET_DYN
// without an interpreter.
func TestLoadInterpreterDirectly(t *testing.T) {
	fs := loadFiles(t)
	m := newMM(t)
	res, err := Load(context.Background(), Args{MM: m, Open: fs.open, Filename: hostInterp, Argv: []string{"ld.so"}})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	defer res.Executable.DecRef()
	ld, _ := elf.NewFile(bytes.NewReader(fs.m[hostInterp].data))
	av := readStack(t, m, res.Stack).auxv
	if av[linux.AT_BASE] != 0 {
		t.Errorf("AT_BASE %#x, want 0 without an interpreter", av[linux.AT_BASE])
	}
	if uint64(res.Entry) != av[linux.AT_ENTRY] {
		t.Errorf("entry %#x, AT_ENTRY %#x: want equal", res.Entry, av[linux.AT_ENTRY])
	}
	bias := res.Entry - uintptr(ld.Entry)
	if bias&linux.PageMask != 0 || bias < elfETDynBase+1<<32 {
		t.Errorf("bias %#x: want page-aligned, placed like a library (high)", bias)
	}
	// As Linux: the heap of an ET_DYN run directly is moved to
	// ELF_ET_DYN_BASE, away from the mmap area.
	if brk := m.Brk(0); brk < elfETDynBase || brk >= elfETDynBase+32<<20 {
		t.Errorf("brk %#x, want within 32 MiB above %#x", brk, elfETDynBase)
	}
	if res.Comm != "ld-linux-x86-64" {
		t.Errorf("Comm %q, want the basename cut to 15 bytes", res.Comm)
	}
}

func TestLoadScripts(t *testing.T) {
	for _, tc := range []struct {
		file string
		argv []string
		want []string
		err  error
	}{
		{"/s0", []string{"s0", "a", "b"}, []string{hostExe, "/s0", "a", "b"}, nil},
		{"/s1", []string{"s1", "a"}, []string{hostExe, "/s0", "-1", "/s1", "a"}, nil},
		{"/s2", []string{"s2"}, []string{hostExe, "/s0", "-1", "/s1", "/s2"}, nil},
		// Five scripts in a row are allowed, a sixth is ELOOP (Linux's
		// exec_binprm: "depth > 5").
		{"/s4", []string{"x", "y"}, []string{hostExe, "/s0", "-1", "/s1", "/s2", "-3", "/s3", "/s4", "y"}, nil},
		{"/s5", []string{"x"}, nil, unix.ELOOP},
		{"/s6", []string{"x"}, nil, unix.ELOOP},
		// No argv: argv[0] is "" (Linux 5.18+), and a script drops it.
		{"/s0", nil, []string{hostExe, "/s0"}, nil},
		{hostExe, nil, []string{""}, nil},
		{"/noint", []string{"x"}, nil, unix.ENOENT},
		{"/nulint", []string{"x"}, nil, unix.EACCES},
		{"/missing", []string{"x"}, nil, unix.ENOENT},
		{"/empty", []string{"x"}, nil, unix.ENOEXEC},
		{"/text", []string{"x"}, nil, unix.ENOEXEC},
		{"/runtext", []string{"x"}, nil, unix.ENOEXEC},
		{"/badint", []string{"x"}, nil, unix.ELIBBAD},
		{"/noldso", []string{"x"}, nil, unix.ENOENT},
		{"/shortint", []string{"x"}, nil, unix.EIO},
	} {
		t.Run(fmt.Sprintf("%s%q", tc.file, tc.argv), func(t *testing.T) {
			fs := loadFiles(t)
			m := newMM(t)
			res, err := Load(context.Background(), Args{MM: m, Open: fs.open, Filename: tc.file, Argv: tc.argv, Envv: []string{"E=e"}})
			if err != tc.err {
				t.Fatalf("Load: got %v, want %v", err, tc.err)
			}
			if err != nil {
				if fs.released.Load() != fs.opens.Load() {
					t.Errorf("failed Load released %d of %d opened files", fs.released.Load(), fs.opens.Load())
				}
				return
			}
			defer res.Executable.DecRef()
			st := readStack(t, m, res.Stack)
			if !reflect.DeepEqual(st.argv, tc.want) {
				t.Errorf("argv: got %q, want %q", st.argv, tc.want)
			}
			if got, _ := m.CopyInString(uintptr(st.auxv[linux.AT_EXECFN]), 100); got != tc.file {
				t.Errorf("AT_EXECFN %q, want the file execve was given, %q", got, tc.file)
			}
			if want := path.Base(tc.file); res.Comm != want {
				t.Errorf("Comm %q, want %q", res.Comm, want)
			}
			if !reflect.DeepEqual(st.envv, []string{"E=e"}) {
				t.Errorf("envp %q", st.envv)
			}
		})
	}
}

// TestLoadExecStack checks that PT_GNU_STACK with PF_X makes the stack
// executable, as Linux does.
func TestLoadExecStack(t *testing.T) {
	for _, exec := range []bool{false, true} {
		flags := uint32(pfR | pfW)
		if exec {
			flags |= pfX
		}
		data := buildELF(etExec, 0x400100, []seg{
			{ph: progHeader{typ: ptLoad, flags: pfR | pfX, vaddr: 0x400000, filesz: 0x200, memsz: 0x200}},
			{ph: progHeader{typ: ptGNUStack, flags: flags}},
		})
		fs := newFiles(map[string][]byte{"/static": data})
		m := newMM(t)
		res, err := Load(context.Background(), Args{MM: m, Open: fs.open, Filename: "/static", Argv: []string{"static"}})
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		res.Executable.DecRef()
		if res.Entry != 0x400100 {
			t.Errorf("entry %#x, want 0x400100", res.Entry)
		}
		v, _ := vmaAt(m.VMAs(), res.Stack)
		if v.Perms.Execute != exec {
			t.Errorf("PT_GNU_STACK %#x: stack perms %v", flags, v.Perms)
		}
		av := readStack(t, m, res.Stack).auxv
		if av[linux.AT_PHDR] != 0x400040 || av[linux.AT_BASE] != 0 || av[linux.AT_ENTRY] != 0x400100 {
			t.Errorf("auxv: AT_PHDR %#x AT_BASE %#x AT_ENTRY %#x", av[linux.AT_PHDR], av[linux.AT_BASE], av[linux.AT_ENTRY])
		}
		if brk := m.Brk(0); brk < 0x401000 || brk >= 0x401000+32<<20 {
			t.Errorf("brk %#x, want above the image", brk)
		}
	}
}
