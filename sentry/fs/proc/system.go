package proc

import (
	"context"
	"crypto/rand"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/synth"
	"palisade.dev/sentry/mm"
)

// addSystemFiles adds the system-wide files of /proc.
func (p *procFS) addSystemFiles(root *synth.Dir) {
	fs := p.fs
	k := p.k
	static := func(name string, gen func() []byte) {
		root.Add(name, fs.NewDataFile(root, name, 0o444, func(context.Context) ([]byte, error) { return gen(), nil }))
	}
	static("cmdline", func() []byte { return []byte("BOOT_IMAGE=palisade\n") })
	static("cpuinfo", p.cpuinfo)
	static("filesystems", p.filesystems)
	static("loadavg", p.loadavg)
	static("meminfo", p.meminfo)
	static("stat", p.stat)
	static("swaps", func() []byte { return []byte("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n") })
	static("vmstat", p.vmstat)
	static("uptime", func() []byte {
		up := k.Uptime().Seconds()
		return []byte(fmt.Sprintf("%.2f %.2f\n", up, p.idle().Seconds()))
	})
	static("version", func() []byte {
		return []byte(fmt.Sprintf("Linux version %s (palisade@palisade) (gcc version 12.2.0) %s\n", k.Release, k.Version))
	})
}

// busy returns the CPU time of every task since boot.
func (p *procFS) busy() (user, sys time.Duration) { return p.k.CPUTime() }

// idle is the CPUs' idle time since boot, over all of them.
func (p *procFS) idle() time.Duration {
	u, s := p.busy()
	return max(p.k.Uptime()*time.Duration(len(p.k.CPUs()))-u-s, 0)
}

// stat renders /proc/stat. The sentry doesn't know which CPU ran what:
// the time is shared evenly among the CPU lines.
func (p *procFS) stat() []byte {
	k := p.k
	u, s := p.busy()
	idle := p.idle()
	cpus := k.CPUs()
	n := time.Duration(len(cpus))
	var b strings.Builder
	line := func(name string, u, s, idle time.Duration) {
		fmt.Fprintf(&b, "%s %d 0 %d %d 0 0 0 0 0 0\n", name, ticks(u), ticks(s), ticks(idle))
	}
	line("cpu ", u, s, idle)
	for _, c := range cpus {
		line(fmt.Sprintf("cpu%d", c), u/n, s/n, idle/n)
	}
	st := k.Stats()
	fmt.Fprintf(&b, "intr 0\nctxt %d\nbtime %d\nprocesses %d\nprocs_running %d\nprocs_blocked 0\n",
		st.ContextSwitches, k.BootTime().Unix(), st.Forks, st.Running)
	b.WriteString("softirq 0 0 0 0 0 0 0 0 0 0 0\n")
	return []byte(b.String())
}

// loadAvg is the sandbox's load average: the number of runnable tasks,
// averaged exponentially over 1, 5 and 15 minutes, sampled every five
// seconds as Linux does — here when someone looks, for the samples
// since.
type loadAvg struct {
	mu   sync.Mutex
	last time.Time
	avg  [3]float64
}

func (l *loadAvg) sample(now time.Time, running int) [3]float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	const period = 5 * time.Second
	steps := int(now.Sub(l.last) / period)
	if steps > 0 {
		l.last = l.last.Add(time.Duration(steps) * period)
		for i, mins := range []float64{1, 5, 15} {
			e := math.Exp(-5 / (60 * mins))
			f := math.Pow(e, float64(min(steps, 100000)))
			l.avg[i] = l.avg[i]*f + float64(running)*(1-f)
		}
	}
	return l.avg
}

// loadavg renders /proc/loadavg.
func (p *procFS) loadavg() []byte {
	st := p.k.Stats()
	a := p.load.sample(time.Now(), st.Running)
	return []byte(fmt.Sprintf("%.2f %.2f %.2f %d/%d %d\n", a[0], a[1], a[2], st.Running, st.Tasks, st.LastPID))
}

// hostMemTotal is the host's memory in bytes, read when /proc is made (at
// boot): the sandbox may use as much.
func hostMemTotal() uint64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 1 << 30
	}
	return si.Totalram * uint64(si.Unit)
}

// memUse sums the memory of every address space in the sandbox, each
// page once (by proportional shares).
type memUse struct {
	anon, shmem, mapped uint64
	committed           uint64
}

func (p *procFS) memUse() memUse {
	var u memUse
	seen := make(map[*mm.MemoryManager]bool)
	for _, t := range p.k.Tasks() {
		m := t.MemoryManager()
		if m == nil || seen[m] {
			continue
		}
		seen[m] = true
		for _, a := range m.Areas(true) {
			u.anon += a.Usage.AnonPSS
			shared := a.Usage.PSS - a.Usage.AnonPSS
			if a.SharedAnon {
				u.shmem += shared
			} else {
				u.mapped += shared
			}
			if a.Private && a.Perms.Write {
				u.committed += uint64(a.End - a.Start)
			}
		}
	}
	return u
}

// memSnapshot is the sandbox's memory, in bytes, from the sentry's
// accounting: the memory file's allocated pages are the used memory; what
// is not the processes' own (anonymous) memory is the page cache: files,
// mapped or not, and shared memory.
type memSnapshot struct {
	total, free, cached, anon, shmem, mapped, committed uint64
}

func (p *procFS) memSnapshot() memSnapshot {
	total := p.memTotal
	used := min(p.k.MemoryFile.InUse(), total)
	u := p.memUse()
	s := memSnapshot{total: total, free: total - used, anon: min(u.anon, used), committed: u.committed}
	s.cached = used - s.anon
	s.shmem = min(u.shmem, s.cached)
	s.mapped = min(u.mapped, s.cached)
	return s
}

// meminfo renders /proc/meminfo.
func (p *procFS) meminfo() []byte {
	m := p.memSnapshot()
	var b strings.Builder
	kb := func(name string, v uint64) { fmt.Fprintf(&b, "%-15s %8d kB\n", name+":", v/1024) }
	kb("MemTotal", m.total)
	kb("MemFree", m.free)
	kb("MemAvailable", m.free+m.cached-m.shmem)
	kb("Buffers", 0)
	kb("Cached", m.cached)
	kb("SwapCached", 0)
	kb("Active", m.anon+m.shmem)
	kb("Inactive", m.cached-m.shmem)
	kb("Active(anon)", m.anon+m.shmem)
	kb("Inactive(anon)", 0)
	kb("Active(file)", 0)
	kb("Inactive(file)", m.cached-m.shmem)
	kb("Unevictable", 0)
	kb("Mlocked", 0)
	kb("SwapTotal", 0)
	kb("SwapFree", 0)
	kb("Zswap", 0)
	kb("Zswapped", 0)
	kb("Dirty", 0)
	kb("Writeback", 0)
	kb("AnonPages", m.anon)
	kb("Mapped", m.mapped)
	kb("Shmem", m.shmem)
	kb("KReclaimable", 0)
	kb("Slab", 0)
	kb("SReclaimable", 0)
	kb("SUnreclaim", 0)
	kb("KernelStack", 0)
	kb("PageTables", 0)
	kb("SecPageTables", 0)
	kb("NFS_Unstable", 0)
	kb("Bounce", 0)
	kb("WritebackTmp", 0)
	kb("CommitLimit", m.total/2)
	kb("Committed_AS", m.committed)
	kb("VmallocTotal", 34359738367*1024)
	kb("VmallocUsed", 0)
	kb("VmallocChunk", 0)
	kb("Percpu", 0)
	kb("AnonHugePages", 0)
	kb("ShmemHugePages", 0)
	kb("ShmemPmdMapped", 0)
	kb("FileHugePages", 0)
	kb("FilePmdMapped", 0)
	fmt.Fprintf(&b, "HugePages_Total:       0\nHugePages_Free:        0\nHugePages_Rsvd:        0\nHugePages_Surp:        0\n")
	kb("Hugepagesize", 2048*1024)
	kb("Hugetlb", 0)
	return []byte(b.String())
}

// vmstat renders /proc/vmstat: the page counts of meminfo, in pages, and
// the event counters, which the sentry does not keep (zero).
func (p *procFS) vmstat() []byte {
	m := p.memSnapshot()
	pg := func(v uint64) uint64 { return v / pageSize }
	var b strings.Builder
	for _, kv := range []struct {
		name string
		v    uint64
	}{
		{"nr_free_pages", pg(m.free)},
		{"nr_zone_inactive_anon", 0},
		{"nr_zone_active_anon", pg(m.anon + m.shmem)},
		{"nr_zone_inactive_file", pg(m.cached - m.shmem)},
		{"nr_zone_active_file", 0},
		{"nr_zone_unevictable", 0},
		{"nr_zone_write_pending", 0},
		{"nr_mlock", 0},
		{"nr_zspages", 0},
		{"nr_free_cma", 0},
		{"nr_inactive_anon", 0},
		{"nr_active_anon", pg(m.anon + m.shmem)},
		{"nr_inactive_file", pg(m.cached - m.shmem)},
		{"nr_active_file", 0},
		{"nr_unevictable", 0},
		{"nr_slab_reclaimable", 0},
		{"nr_slab_unreclaimable", 0},
		{"nr_isolated_anon", 0},
		{"nr_isolated_file", 0},
		{"nr_anon_pages", pg(m.anon)},
		{"nr_mapped", pg(m.mapped)},
		{"nr_file_pages", pg(m.cached)},
		{"nr_dirty", 0},
		{"nr_writeback", 0},
		{"nr_shmem", pg(m.shmem)},
		{"nr_kernel_stack", 0},
		{"nr_page_table_pages", 0},
		{"nr_swapcached", 0},
		{"nr_dirty_threshold", pg(m.free) / 5},
		{"nr_dirty_background_threshold", pg(m.free) / 10},
		{"pgpgin", 0},
		{"pgpgout", 0},
		{"pswpin", 0},
		{"pswpout", 0},
		{"pgalloc_normal", 0},
		{"pgfree", 0},
		{"pgactivate", 0},
		{"pgdeactivate", 0},
		{"pgfault", 0},
		{"pgmajfault", 0},
		{"pgsteal_kswapd", 0},
		{"pgsteal_direct", 0},
		{"pgscan_kswapd", 0},
		{"pgscan_direct", 0},
		{"oom_kill", 0},
	} {
		fmt.Fprintf(&b, "%s %d\n", kv.name, kv.v)
	}
	return []byte(b.String())
}

// filesystems lists the filesystem types the sentry implements, and any
// other type mounted.
func (p *procFS) filesystems() []byte {
	names := []string{"sysfs", "tmpfs", "proc", "pipefs", "anon_inodefs", "9p"}
	have := make(map[string]bool)
	for _, n := range names {
		have[n] = true
	}
	var more []string
	for _, m := range p.k.MountNS.Mounts() {
		if n := m.FS.Name(); !have[n] {
			have[n] = true
			more = append(more, n)
		}
	}
	sort.Strings(more)
	var b strings.Builder
	for _, n := range append(names, more...) {
		fmt.Fprintf(&b, "nodev\t%s\n", n)
	}
	return []byte(b.String())
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
