package loader

import (
	"crypto/rand"
	"encoding/binary"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/sentry/mm"
)

// Limits of execve's arguments, as Linux's: the strings (with the file
// name) and the argv and envp pointers together may use a quarter of the
// stack rlimit, and each string with its NUL at most MAX_ARG_STRLEN.
const (
	maxArgEnv    = mm.DefaultStackSize / 4
	maxArgStrlen = 32 * linux.PageSize
)

// buildStack writes the initial process stack below top:
//
//	[16 random bytes] ["x86_64\0"] [execfn\0] [env strings] [arg strings]
//	padding to 16 bytes
//	auxv pairs, AT_NULL
//	envp pointers, NULL
//	argv pointers, NULL
//	argc                               <- returned stack pointer
//
// It returns the stack pointer, the argv and envp string ranges, and the
// complete auxiliary vector.
func buildStack(m *mm.MemoryManager, top uintptr, argv, envv []string, execfn string, auxv []uint64) (uintptr, mm.Range, mm.Range, []uint64, error) {
	total := len(execfn) + 1 + 8*(len(argv)+len(envv))
	for _, v := range [][]string{argv, envv} {
		for _, s := range v {
			if len(s)+1 > maxArgStrlen {
				return 0, mm.Range{}, mm.Range{}, nil, unix.E2BIG
			}
			total += len(s) + 1
		}
	}
	if total > maxArgEnv {
		return 0, mm.Range{}, mm.Range{}, nil, unix.E2BIG
	}
	sp := top
	push := func(b []byte) (uintptr, error) {
		sp -= uintptr(len(b))
		_, err := m.CopyOut(sp, b)
		return sp, err
	}
	pushStr := func(s string) (uintptr, error) { return push(append([]byte(s), 0)) }

	var rnd [16]byte
	rand.Read(rnd[:])
	randomAddr, err := push(rnd[:])
	if err != nil {
		return 0, mm.Range{}, mm.Range{}, nil, err
	}
	platformAddr, err := pushStr("x86_64")
	if err != nil {
		return 0, mm.Range{}, mm.Range{}, nil, err
	}
	execfnAddr, err := pushStr(execfn)
	if err != nil {
		return 0, mm.Range{}, mm.Range{}, nil, err
	}

	envEnd := sp
	envPtrs := make([]uintptr, len(envv))
	for i := len(envv) - 1; i >= 0; i-- {
		if envPtrs[i], err = pushStr(envv[i]); err != nil {
			return 0, mm.Range{}, mm.Range{}, nil, err
		}
	}
	envStart := sp
	argEnd := sp
	argPtrs := make([]uintptr, len(argv))
	for i := len(argv) - 1; i >= 0; i-- {
		if argPtrs[i], err = pushStr(argv[i]); err != nil {
			return 0, mm.Range{}, mm.Range{}, nil, err
		}
	}
	argStart := sp

	auxv = append(auxv,
		linux.AT_RANDOM, uint64(randomAddr),
		linux.AT_PLATFORM, uint64(platformAddr),
		linux.AT_EXECFN, uint64(execfnAddr),
		linux.AT_NULL, 0,
	)
	// Words below the strings: argc, argv+NULL, envp+NULL, auxv.
	words := 1 + len(argv) + 1 + len(envv) + 1 + len(auxv)
	sp &^= 15
	if words%2 == 1 {
		sp -= 8 // keep the final sp 16-byte aligned
	}
	sp -= uintptr(words * 8)
	buf := make([]byte, words*8)
	le := binary.LittleEndian
	i := 0
	put := func(v uint64) { le.PutUint64(buf[8*i:], v); i++ }
	put(uint64(len(argv)))
	for _, p := range argPtrs {
		put(uint64(p))
	}
	put(0)
	for _, p := range envPtrs {
		put(uint64(p))
	}
	put(0)
	for _, v := range auxv {
		put(v)
	}
	if _, err := m.CopyOut(sp, buf); err != nil {
		return 0, mm.Range{}, mm.Range{}, nil, err
	}
	return sp, mm.Range{Start: argStart, End: argEnd}, mm.Range{Start: envStart, End: envEnd}, auxv, nil
}
