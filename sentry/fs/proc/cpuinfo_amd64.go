package proc

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"palisade.dev/sentry/arch"
)

// cpuFacts is what /proc/cpuinfo says of the CPU, read with CPUID: the
// application runs on the host's CPU and sees it through CPUID anyway.
type cpuFacts struct {
	vendor, modelName   string
	family, model, step uint32
	maxLeaf             uint32
	flags               []string
	mhz                 float64
	cacheKB             uint32
	clflush             uint32
	physBits, virtBits  uint32
}

var (
	cpuOnce sync.Once
	cpu     cpuFacts
)

// cpuInfo returns the CPU's facts, read once.
func cpuInfo() *cpuFacts {
	cpuOnce.Do(func() { cpu = readCPU() })
	return &cpu
}

// Flag names by CPUID bit, as Linux names them in /proc/cpuinfo.
var (
	flags1EDX = map[uint]string{0: "fpu", 1: "vme", 2: "de", 3: "pse", 4: "tsc", 5: "msr", 6: "pae", 7: "mce",
		8: "cx8", 9: "apic", 11: "sep", 12: "mtrr", 13: "pge", 14: "mca", 15: "cmov", 16: "pat", 17: "pse36",
		18: "pn", 19: "clflush", 21: "dts", 22: "acpi", 23: "mmx", 24: "fxsr", 25: "sse", 26: "sse2", 27: "ss",
		28: "ht", 29: "tm", 30: "ia64", 31: "pbe"}
	flags1ECX = map[uint]string{0: "pni", 1: "pclmulqdq", 2: "dtes64", 3: "monitor", 4: "ds_cpl", 5: "vmx",
		6: "smx", 7: "est", 8: "tm2", 9: "ssse3", 10: "cid", 11: "sdbg", 12: "fma", 13: "cx16", 14: "xtpr",
		15: "pdcm", 17: "pcid", 18: "dca", 19: "sse4_1", 20: "sse4_2", 21: "x2apic", 22: "movbe", 23: "popcnt",
		24: "tsc_deadline_timer", 25: "aes", 26: "xsave", 28: "avx", 29: "f16c", 30: "rdrand", 31: "hypervisor"}
	flagsExtEDX = map[uint]string{11: "syscall", 19: "mp", 20: "nx", 22: "mmxext", 25: "fxsr_opt",
		26: "pdpe1gb", 27: "rdtscp", 29: "lm", 30: "3dnowext", 31: "3dnow"}
	flagsExtECX = map[uint]string{0: "lahf_lm", 1: "cmp_legacy", 2: "svm", 3: "extapic", 4: "cr8_legacy",
		5: "abm", 6: "sse4a", 7: "misalignsse", 8: "3dnowprefetch", 9: "osvw", 10: "ibs", 11: "xop",
		12: "skinit", 13: "wdt", 15: "lwp", 16: "fma4", 17: "tce", 19: "nodeid_msr", 21: "tbm",
		22: "topoext", 23: "perfctr_core", 24: "perfctr_nb", 26: "bpext", 27: "ptsc", 28: "perfctr_llc",
		29: "mwaitx"}
	flags7EBX = map[uint]string{0: "fsgsbase", 1: "tsc_adjust", 2: "sgx", 3: "bmi1", 4: "hle", 5: "avx2",
		7: "smep", 8: "bmi2", 9: "erms", 10: "invpcid", 11: "rtm", 12: "cqm", 14: "mpx", 15: "rdt_a",
		16: "avx512f", 17: "avx512dq", 18: "rdseed", 19: "adx", 20: "smap", 21: "avx512ifma",
		23: "clflushopt", 24: "clwb", 25: "intel_pt", 26: "avx512pf", 27: "avx512er", 28: "avx512cd",
		29: "sha_ni", 30: "avx512bw", 31: "avx512vl"}
	flags7ECX = map[uint]string{1: "avx512vbmi", 2: "umip", 3: "pku", 4: "ospke", 5: "waitpkg",
		6: "avx512_vbmi2", 8: "gfni", 9: "vaes", 10: "vpclmulqdq", 11: "avx512_vnni", 12: "avx512_bitalg",
		13: "tme", 14: "avx512_vpopcntdq", 16: "la57", 22: "rdpid", 24: "bus_lock_detect", 25: "cldemote",
		27: "movdiri", 28: "movdir64b", 29: "enqcmd", 30: "sgx_lc"}
	flags7EDX = map[uint]string{2: "avx512_4vnniw", 3: "avx512_4fmaps", 4: "fsrm",
		8: "avx512_vp2intersect", 10: "md_clear", 14: "serialize", 16: "tsxldtrk", 18: "pconfig",
		19: "arch_lbr", 20: "ibt", 22: "amx_bf16", 23: "avx512_fp16", 24: "amx_tile", 25: "amx_int8",
		28: "flush_l1d", 29: "arch_capabilities"}
	flags71EAX   = map[uint]string{4: "avx_vnni", 5: "avx512_bf16"}
	flagsDEAX    = map[uint]string{0: "xsaveopt", 1: "xsavec", 2: "xgetbv1", 3: "xsaves"}
	flags6EAX    = map[uint]string{0: "dtherm", 1: "ida", 2: "arat", 4: "pln", 6: "pts"}
	flagsExt8EBX = map[uint]string{0: "clzero", 1: "irperf", 2: "xsaveerptr", 9: "wbnoinvd"}
)

func addFlags(out []string, reg uint32, names map[uint]string) []string {
	for bit := uint(0); bit < 32; bit++ {
		if reg&(1<<bit) != 0 {
			if n, ok := names[bit]; ok {
				out = append(out, n)
			}
		}
	}
	return out
}

func readCPU() cpuFacts {
	var c cpuFacts
	maxLeaf, b, cx, d := arch.CPUID(0, 0)
	c.maxLeaf = maxLeaf
	c.vendor = regString(b, d, cx)
	a1, b1, c1, d1 := arch.CPUID(1, 0)
	c.step = a1 & 0xf
	c.model = a1 >> 4 & 0xf
	c.family = a1 >> 8 & 0xf
	if c.family == 0xf {
		c.family += a1 >> 20 & 0xff
	}
	if c.family == 0x6 || c.family >= 0xf {
		c.model += (a1 >> 16 & 0xf) << 4
	}
	c.clflush = (b1 >> 8 & 0xff) * 8
	maxExt, _, _, _ := arch.CPUID(0x80000000, 0)

	var flags []string
	flags = addFlags(flags, d1, flags1EDX)
	flags = addFlags(flags, c1, flags1ECX)
	if maxExt >= 0x80000001 {
		_, _, ec, ed := arch.CPUID(0x80000001, 0)
		flags = addFlags(flags, ed, flagsExtEDX)
		flags = addFlags(flags, ec, flagsExtECX)
	}
	if maxExt >= 0x80000007 {
		if _, _, _, ed := arch.CPUID(0x80000007, 0); ed&(1<<8) != 0 {
			flags = append(flags, "constant_tsc", "nonstop_tsc") // invariant TSC
		}
	}
	if maxLeaf >= 6 {
		a6, _, _, _ := arch.CPUID(6, 0)
		flags = addFlags(flags, a6, flags6EAX)
	}
	if maxLeaf >= 7 {
		a7, b7, c7, d7 := arch.CPUID(7, 0)
		flags = addFlags(flags, b7, flags7EBX)
		flags = addFlags(flags, c7, flags7ECX)
		flags = addFlags(flags, d7, flags7EDX)
		if a7 >= 1 {
			a71, _, _, _ := arch.CPUID(7, 1)
			flags = addFlags(flags, a71, flags71EAX)
		}
	}
	if maxLeaf >= 0xd {
		ad, _, _, _ := arch.CPUID(0xd, 1)
		flags = addFlags(flags, ad, flagsDEAX)
	}
	if maxExt >= 0x80000008 {
		a8, b8, _, _ := arch.CPUID(0x80000008, 0)
		flags = addFlags(flags, b8, flagsExt8EBX)
		c.physBits, c.virtBits = a8&0xff, a8>>8&0xff
	}
	c.flags = flags
	if maxExt >= 0x80000004 {
		var s strings.Builder
		for leaf := uint32(0x80000002); leaf <= 0x80000004; leaf++ {
			a, b, cc, d := arch.CPUID(leaf, 0)
			s.WriteString(regString(a, b, cc, d))
		}
		c.modelName = strings.TrimSpace(strings.TrimRight(s.String(), "\x00"))
	}
	if maxExt >= 0x80000006 {
		_, _, c6, _ := arch.CPUID(0x80000006, 0)
		c.cacheKB = c6 >> 16
	}
	if maxLeaf >= 0x16 {
		if a16, _, _, _ := arch.CPUID(0x16, 0); a16&0xffff != 0 {
			c.mhz = float64(a16 & 0xffff)
		}
	}
	if c.mhz == 0 {
		c.mhz = measureTSC()
	}
	return c
}

// regString decodes registers holding ASCII, least significant byte first.
func regString(regs ...uint32) string {
	b := make([]byte, 0, 4*len(regs))
	for _, r := range regs {
		b = append(b, byte(r), byte(r>>8), byte(r>>16), byte(r>>24))
	}
	return string(b)
}

// measureTSC estimates the CPU's clock from the time-stamp counter, in
// MHz, over a few milliseconds.
func measureTSC() float64 {
	start, t0 := arch.RDTSC(), time.Now()
	time.Sleep(20 * time.Millisecond)
	end, el := arch.RDTSC(), time.Since(t0)
	if el <= 0 || end <= start {
		return 0
	}
	return float64(end-start) / float64(el.Microseconds())
}

// cpuinfo renders /proc/cpuinfo for the sandbox's CPUs.
func (p *procFS) cpuinfo() []byte {
	c := cpuInfo()
	cpus := p.k.CPUs()
	var b strings.Builder
	for i, n := range cpus {
		line := func(name, format string, a ...any) {
			fmt.Fprintf(&b, "%s\t: %s\n", name, fmt.Sprintf(format, a...))
		}
		line("processor", "%d", n)
		line("vendor_id", "%s", c.vendor)
		line("cpu family", "%d", c.family)
		line("model\t", "%d", c.model)
		line("model name", "%s", c.modelName)
		line("stepping", "%d", c.step)
		line("cpu MHz\t", "%.3f", c.mhz)
		line("cache size", "%d KB", c.cacheKB)
		line("physical id", "0")
		line("siblings", "%d", len(cpus))
		line("core id\t", "%d", i)
		line("cpu cores", "%d", len(cpus))
		line("apicid\t", "%d", n)
		line("initial apicid", "%d", n)
		line("fpu\t", "yes")
		line("fpu_exception", "yes")
		line("cpuid level", "%d", c.maxLeaf)
		line("wp\t", "yes")
		line("flags\t", "%s", strings.Join(c.flags, " "))
		line("bogomips", "%.2f", 2*c.mhz)
		line("clflush size", "%d", c.clflush)
		line("cache_alignment", "%d", c.clflush)
		line("address sizes", "%d bits physical, %d bits virtual", c.physBits, c.virtBits)
		b.WriteString("power management:\n\n")
	}
	return []byte(b.String())
}
