package arch

// cpuid executes CPUID with the given leaf and sub-leaf.
func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

// xgetbv reads an extended control register. The caller must have checked
// CPUID.1:ECX.OSXSAVE.
func xgetbv(index uint32) (eax, edx uint32)

// fxsave stores the calling thread's x87/SSE state into area, which must be
// 16-byte aligned.
func fxsave(area *[512]byte)

// rdtsc reads the time-stamp counter.
func rdtsc() uint64

// CPUID executes CPUID with the given leaf and sub-leaf on the calling
// thread's CPU.
func CPUID(leaf, sub uint32) (eax, ebx, ecx, edx uint32) { return cpuid(leaf, sub) }

// RDTSC reads the calling CPU's time-stamp counter.
func RDTSC() uint64 { return rdtsc() }
