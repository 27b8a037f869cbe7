// Package sys is the sandbox's /sys: the few files programs and language
// runtimes read to size themselves (the CPUs, transparent huge pages),
// from the sentry's own model, and an empty /sys/fs/cgroup to mount on.
// Nothing of the host's /sys shows through.
package sys

import (
	"context"
	"fmt"
	"strings"

	"palisade.dev/sentry/fs/synth"
	"palisade.dev/sentry/kernel"
)

// sysfsMagic is SYSFS_MAGIC.
const sysfsMagic = 0x62656572

// New returns a /sys for k.
func New(k *kernel.Kernel) *synth.FS {
	return newFS(k.CPUs())
}

// newFS builds /sys for a sandbox running on cpus.
func newFS(cpus []int) *synth.FS {
	fs := synth.NewFS("sysfs", sysfsMagic, 0o555)
	// sysfs reports a page as the size of its attribute files.
	fs.SetFileSize(4096)
	root := fs.RootDir()
	file := func(d *synth.Dir, name, content string) {
		d.Add(name, fs.NewDataFile(d, name, 0o444, func(context.Context) ([]byte, error) {
			return []byte(content), nil
		}))
	}
	dir := func(d *synth.Dir, name string) *synth.Dir { return d.Subdir(name, 0o755, nil) }

	highest := 0
	for _, c := range cpus {
		highest = max(highest, c)
	}
	system := dir(dir(root, "devices"), "system")
	cpu := dir(system, "cpu")
	file(cpu, "online", CPUList(cpus)+"\n")
	all := make([]int, highest+1)
	for i := range all {
		all[i] = i
	}
	file(cpu, "possible", CPUList(all)+"\n")
	file(cpu, "present", CPUList(all)+"\n")
	file(cpu, "offline", offline(cpus, highest)+"\n")
	file(cpu, "kernel_max", fmt.Sprintf("%d\n", max(highest, 255)))
	for _, c := range cpus {
		d := dir(cpu, fmt.Sprintf("cpu%d", c))
		file(d, "online", "1\n")
	}

	// One NUMA node has every CPU.
	node := dir(system, "node")
	for _, f := range []string{"online", "possible", "has_cpu", "has_memory", "has_normal_memory"} {
		file(node, f, "0\n")
	}
	node0 := dir(node, "node0")
	file(node0, "cpulist", CPUList(cpus)+"\n")
	file(node0, "cpumap", CPUMask(cpus, highest+1)+"\n")

	dir(dir(root, "fs"), "cgroup")

	thp := dir(dir(dir(root, "kernel"), "mm"), "transparent_hugepage")
	file(thp, "enabled", "always madvise [never]\n")
	file(thp, "defrag", "always defer defer+madvise madvise [never]\n")
	file(thp, "hpage_pmd_size", "2097152\n")
	return fs
}

// CPUList renders a set of CPUs, in increasing order, as Linux lists
// them in /sys and /proc: ranges separated by commas ("0-3,6").
func CPUList(cpus []int) string {
	var parts []string
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, fmt.Sprint(cpus[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", cpus[i], cpus[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// offline lists the CPUs up to highest that the sandbox does not run on.
func offline(cpus []int, highest int) string {
	on := make(map[int]bool)
	for _, c := range cpus {
		on[c] = true
	}
	var off []int
	for c := 0; c <= highest; c++ {
		if !on[c] {
			off = append(off, c)
		}
	}
	return CPUList(off)
}

// CPUMask renders a set of CPUs as a bitmap of nbits bits (at least) in
// hex, as Linux shows one in /sys and in /proc/[pid]/status: 32-bit groups
// separated by commas, most significant first, the first as wide as the
// bits it holds need.
func CPUMask(cpus []int, nbits int) string {
	for _, c := range cpus {
		nbits = max(nbits, c+1)
	}
	nbits = max(nbits, 1)
	words := make([]uint32, (nbits+31)/32)
	for _, c := range cpus {
		words[c/32] |= 1 << (c % 32)
	}
	parts := make([]string, len(words))
	for i, w := range words {
		width := 8
		if i == len(words)-1 {
			width = ((nbits-1)%32 + 4) / 4
		}
		parts[len(words)-1-i] = fmt.Sprintf("%0*x", width, w)
	}
	return strings.Join(parts, ",")
}
