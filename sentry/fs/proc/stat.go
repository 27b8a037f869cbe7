package proc

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"
	"time"

	"palisade.dev/sentry/fs/sys"
	"palisade.dev/sentry/kernel"
	"palisade.dev/sentry/mm"
	"palisade.dev/sentry/vfs"
)

// Task flags (PF_*) /proc/[pid]/stat reports.
const (
	pfExiting    = 0x4
	pfForkNoExec = 0x40
	pfRandomize  = 0x400000
)

// ticks converts a duration to clock ticks (USER_HZ = 100).
func ticks(d time.Duration) int64 { return int64(d / (10 * time.Millisecond)) }

// memStats are an address space's sizes, in bytes, in the terms of
// /proc/[pid]/status and stat.
type memStats struct {
	size, rss, hwm         uint64
	anon, file, shmem      uint64
	data, stack, exec, exe uint64
	// The executable's code and data, as start_code/end_code and
	// start_data/end_data.
	startCode, endCode, startData, endData uintptr
}

// memOf measures t's address space.
func memOf(t *kernel.Task) memStats {
	var s memStats
	m := t.MemoryManager()
	if m == nil {
		return s
	}
	var exe any
	if f, ok := m.Executable().(*vfs.FileDescription); ok && f != nil {
		exe = f.VirtualDentry()
	}
	for _, a := range m.Areas(true) {
		n := uint64(a.End - a.Start)
		s.size += n
		s.rss += a.Usage.RSS
		s.anon += a.Usage.Anonymous
		if a.SharedAnon {
			s.shmem += a.Usage.RSS - a.Usage.Anonymous
		} else {
			s.file += a.Usage.RSS - a.Usage.Anonymous
		}
		stack := a.GrowsDown || a.Hint == "[stack]"
		switch {
		case stack:
			s.stack += n
		case a.Perms.Write && a.Private:
			s.data += n
		case a.Perms.Execute && !a.Perms.Write:
			s.exec += n
		}
		if exe != nil && a.File == exe {
			if a.Perms.Execute {
				if s.startCode == 0 || a.Start < s.startCode {
					s.startCode = a.Start
				}
				s.endCode = max(s.endCode, a.End)
			} else if a.Perms.Write {
				if s.startData == 0 || a.Start < s.startData {
					s.startData = a.Start
				}
				s.endData = max(s.endData, a.End)
			}
		}
	}
	s.exe = uint64(s.endCode - s.startCode)
	s.hwm = max(m.MaxRSS(), s.rss)
	return s
}

// startStack finds where the initial stack pointer pointed at exec (the
// argument count, below the argv pointers), which the loader does not
// record: the word above it must point at the first argument.
func startStack(t *kernel.Task, l mm.Layout) uintptr {
	if l.Argv.Start == 0 {
		return 0
	}
	argc := uint64(bytes.Count(readMem(t, l.Argv.Start, l.Argv.End), []byte{0}))
	envc := uint64(bytes.Count(readMem(t, l.Envv.Start, l.Envv.End), []byte{0}))
	words := 3 + argc + envc + uint64(len(t.MemoryManager().Auxv())) + 4
	lo := l.Argv.Start - uintptr(8*words) - 64
	b := readMem(t, lo&^7, l.Argv.Start)
	base := lo &^ 7
	le := binary.LittleEndian
	for i := (len(b) - 16) &^ 7; i >= 0; i -= 8 {
		if le.Uint64(b[i:]) == argc && le.Uint64(b[i+8:]) == uint64(l.Argv.Start) {
			return base + uintptr(i)
		}
	}
	return 0
}

// stateName is the word status shows after the state letter.
func stateName(s byte) string {
	switch s {
	case 'R':
		return "running"
	case 'S':
		return "sleeping"
	case 'D':
		return "disk sleep"
	case 'T':
		return "stopped"
	case 't':
		return "tracing stop"
	case 'Z':
		return "zombie"
	}
	return "dead"
}

// ttyOf returns the device number (new_encode_dev) of the process's
// controlling terminal and its foreground process group; (0, -1) without
// one. A terminal shows its number if it implements ttyDevice.
func ttyOf(t *kernel.Task) (uint32, int32) {
	tty := t.ControllingTTY()
	if tty == nil {
		return 0, -1
	}
	var nr uint32
	if d, ok := tty.(ttyDevice); ok {
		major, minor := d.DeviceNumber()
		nr = minor&0xff | major<<8 | (minor&^0xff)<<12
	}
	pgrp, err := t.TTYForegroundGroup(tty, false)
	if err != nil || pgrp == 0 {
		return nr, -1
	}
	return nr, pgrp
}

// ttyDevice is implemented by terminals that have a device number, for
// the tty_nr field of /proc/[pid]/stat.
type ttyDevice interface {
	DeviceNumber() (major, minor uint32)
}

// stat renders /proc/[pid]/stat: 52 fields, in Linux's order.
func (x *target) stat(ctx context.Context) ([]byte, error) {
	t := x.task()
	s := t.Status()
	permitted := mayPtrace(ctx, t)
	alive := s.State != 'Z' && s.State != 'X'
	var ms memStats
	var l mm.Layout
	var sstack uintptr
	if alive {
		ms = memOf(t)
		l = t.MemoryManager().Layout()
		if permitted {
			sstack = startStack(t, l)
		}
	}
	ttyNr, tpgid := uint32(0), int32(-1)
	if alive {
		ttyNr, tpgid = ttyOf(t)
	}
	flags := uint32(pfRandomize)
	if !s.Execed || !s.Leader {
		flags |= pfForkNoExec
	}
	if s.Exiting {
		flags |= pfExiting
	}
	user, sys := s.TaskUser, s.TaskSys
	if x.whole {
		user, sys = s.GroupUser, s.GroupSys
	}
	policy, rtprio := t.SchedPolicy()
	policy &^= 0x40000000 // SCHED_RESET_ON_FORK
	nice := t.Nice()
	prio := int64(20 + nice)
	if policy == kernel.SCHED_FIFO || policy == kernel.SCHED_RR {
		prio = -1 - int64(rtprio)
	}
	cpu := 0
	if a := t.Affinity(); len(a) > 0 {
		cpu = a[0]
	}
	// Fields only those who may ptrace the task see, as in Linux.
	code := func(v uintptr) uint64 {
		switch {
		case !alive:
			return 0
		case !permitted:
			return 1
		}
		return uint64(v)
	}
	priv := func(v uintptr) uint64 {
		if !alive || !permitted {
			return 0
		}
		return uint64(v)
	}
	wchan := 0
	if permitted && (!x.whole || s.Threads < 2) && s.State == 'S' {
		wchan = 1
	}
	exitCode := int64(0)
	if permitted && !alive {
		exitCode = int64(s.ExitStatus)
	}
	const low = 0x7fffffff // the obsolete signal fields show the first 31
	var b strings.Builder
	fmt.Fprintf(&b, "%d (%s) %c %d %d %d %d %d %d ", s.TID, t.Comm(), s.State, s.PPID, s.PGID, s.SID, ttyNr, tpgid, flags)
	fmt.Fprintf(&b, "0 0 0 0 %d %d %d %d %d %d %d 0 ", ticks(user), ticks(sys), ticks(s.ChildUser), ticks(s.ChildSys), prio, nice, s.Threads)
	fmt.Fprintf(&b, "%d %d %d %d ", ticks(s.Started.Sub(t.Kernel().BootTime())), ms.size, ms.rss/pageSize, x.tg.Limits().Get(kernel.RLIMIT_RSS).Cur)
	fmt.Fprintf(&b, "%d %d %d 0 0 ", code(ms.startCode), code(ms.endCode), priv(sstack))
	fmt.Fprintf(&b, "%d %d %d %d %d 0 0 %d %d %d %d 0 0 0 ", s.Pending&low, s.Blocked&low, s.Ignored&low, s.Caught&low, wchan, s.ExitSignal, cpu, rtprio, policy)
	fmt.Fprintf(&b, "%d %d %d %d %d %d %d %d\n", priv(ms.startData), priv(ms.endData), priv(l.BrkStart), priv(l.Argv.Start), priv(l.Argv.End), priv(l.Envv.Start), priv(l.Envv.End), exitCode)
	return []byte(b.String()), nil
}

// statm renders /proc/[pid]/statm, in pages: size resident shared text
// lib data dt.
func (x *target) statm(context.Context) ([]byte, error) {
	var ms memStats
	if t := x.live(); t != nil {
		ms = memOf(t)
	}
	p := func(v uint64) uint64 { return (v + pageSize - 1) / pageSize }
	return []byte(fmt.Sprintf("%d %d %d %d 0 %d 0\n", p(ms.size), p(ms.rss), p(ms.file+ms.shmem), p(ms.exe), p(ms.data+ms.stack))), nil
}

// status renders /proc/[pid]/status in Linux 6.1's form.
func (x *target) status(ctx context.Context) ([]byte, error) {
	t := x.task()
	s := t.Status()
	c := t.Credentials()
	alive := s.State != 'Z' && s.State != 'X'
	var b strings.Builder
	line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	line("Name:\t%s", escapeName(t.Comm()))
	if alive {
		line("Umask:\t%04o", t.FSContext().Umask())
	}
	line("State:\t%c (%s)", s.State, stateName(s.State))
	line("Tgid:\t%d", s.PID)
	line("Ngid:\t0")
	line("Pid:\t%d", s.TID)
	line("PPid:\t%d", s.PPID)
	line("TracerPid:\t0")
	line("Uid:\t%d\t%d\t%d\t%d", c.RealUID, c.EffectiveUID, c.SavedUID, c.FSUID)
	line("Gid:\t%d\t%d\t%d\t%d", c.RealGID, c.EffectiveGID, c.SavedGID, c.FSGID)
	fdSize := 0
	if alive {
		fdSize = 64
		if fds := t.FDTable().FDs(); len(fds) > 0 {
			fdSize = max(64, 1<<bits.Len(uint(fds[len(fds)-1])))
		}
	}
	line("FDSize:\t%d", fdSize)
	var groups strings.Builder
	for i, g := range c.Groups {
		if i > 0 {
			groups.WriteByte(' ')
		}
		fmt.Fprintf(&groups, "%d", g)
	}
	line("Groups:\t%s ", groups.String())
	line("NStgid:\t%d", s.PID)
	line("NSpid:\t%d", s.TID)
	line("NSpgid:\t%d", s.PGID)
	line("NSsid:\t%d", s.SID)
	if alive && t.MemoryManager() != nil {
		ms := memOf(t)
		kb := func(name string, v uint64) { line("%s\t%8d kB", name+":", v/1024) }
		kb("VmPeak", ms.size)
		kb("VmSize", ms.size)
		kb("VmLck", 0)
		kb("VmPin", 0)
		kb("VmHWM", ms.hwm)
		kb("VmRSS", ms.rss)
		kb("RssAnon", ms.anon)
		kb("RssFile", ms.file)
		kb("RssShmem", ms.shmem)
		kb("VmData", ms.data)
		kb("VmStk", ms.stack)
		kb("VmExe", ms.exe)
		kb("VmLib", ms.exec-min(ms.exec, ms.exe))
		kb("VmPTE", 0)
		kb("VmSwap", 0)
		line("HugetlbPages:\t%8d kB", 0)
		line("CoreDumping:\t0")
		line("THP_enabled:\t1")
	}
	line("Threads:\t%d", s.Threads)
	line("SigQ:\t%d/%d", s.QueuedSignals, x.tg.Limits().Get(kernel.RLIMIT_SIGPENDING).Cur)
	line("SigPnd:\t%016x", s.Pending)
	line("ShdPnd:\t%016x", s.SharedPending)
	line("SigBlk:\t%016x", s.Blocked)
	line("SigIgn:\t%016x", s.Ignored)
	line("SigCgt:\t%016x", s.Caught)
	line("CapInh:\t%016x", c.InheritableCaps)
	line("CapPrm:\t%016x", c.PermittedCaps)
	line("CapEff:\t%016x", c.EffectiveCaps)
	line("CapBnd:\t%016x", c.BoundingCaps)
	line("CapAmb:\t%016x", c.AmbientCaps)
	nnp := 0
	if t.NoNewPrivs() {
		nnp = 1
	}
	line("NoNewPrivs:\t%d", nnp)
	line("Seccomp:\t0")
	line("Seccomp_filters:\t0")
	cpus := t.Affinity()
	line("Cpus_allowed:\t%s", sys.CPUMask(cpus, possibleCPUs(t.Kernel())))
	line("Cpus_allowed_list:\t%s", sys.CPUList(cpus))
	line("Mems_allowed:\t%s", "00000001")
	line("Mems_allowed_list:\t0")
	line("voluntary_ctxt_switches:\t%d", s.VoluntarySwitches)
	line("nonvoluntary_ctxt_switches:\t0")
	return []byte(b.String()), nil
}

// escapeName escapes a task name as status shows it.
func escapeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// possibleCPUs is the number of CPU numbers the sandbox knows of: up to
// its highest CPU.
func possibleCPUs(k *kernel.Kernel) int {
	n := 1
	for _, c := range k.CPUs() {
		n = max(n, c+1)
	}
	return n
}
