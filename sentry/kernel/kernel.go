// Package kernel is the sentry's process model: the Kernel, thread groups
// (processes) and tasks (threads), each task run by its own goroutine
// locked to an OS thread that loops: handle signals → Switch into the
// application → handle the system call or fault it stopped for.
//
// Lock order: Kernel.taskMu (the process tree, thread lists, exit states,
// process groups and sessions, pending signals, signal masks, dispositions
// and group stops — Linux's tasklist_lock and siglock in one), then
// Task.mu (credentials and name), then futex and memory locks.
package kernel

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/platform"
	"palisade.dev/sentry/kernel/auth"
	"palisade.dev/sentry/memfile"
	"palisade.dev/sentry/vfs"
)

// Kernel is one sandbox's kernel.
type Kernel struct {
	Platform   platform.Platform
	MemoryFile *memfile.MemoryFile
	MountNS    *vfs.MountNamespace
	Syscalls   *SyscallTable
	Log        *slog.Logger
	// Strace logs every system call with its arguments and result.
	Strace bool

	Hostname string
	Release  string
	Version  string

	bootTime time.Time
	cpus     []int
	futexes  futexTable

	taskMu  sync.Mutex
	tasks   map[int32]*Task        // live tasks by thread ID
	tgs     map[int32]*ThreadGroup // thread groups by ID, until reaped
	lastTID int32
	initTG  *ThreadGroup

	unimplemented sync.Map // syscall number -> logged once
}

// Sentry identity reported by uname(2) and /proc/version.
const (
	Release = "6.1.0-palisade"
	Version = "#1 SMP Palisade"
)

// pidMax is /proc/sys/kernel/pid_max.
const pidMax = 4194304

// New returns a kernel.
func New(p platform.Platform, mf *memfile.MemoryFile, ns *vfs.MountNamespace, st *SyscallTable, log *slog.Logger) *Kernel {
	if log == nil {
		log = slog.Default()
	}
	k := &Kernel{
		Platform: p, MemoryFile: mf, MountNS: ns, Syscalls: st, Log: log,
		Hostname: "palisade", Release: Release, Version: Version,
		bootTime: time.Now(), tasks: make(map[int32]*Task), tgs: make(map[int32]*ThreadGroup),
	}
	k.futexes.init()
	// The sandbox's CPUs are the sentry's, read before any task thread is
	// pinned to one of them.
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) == nil {
		for i := 0; i < 1024; i++ {
			if set.IsSet(i) {
				k.cpus = append(k.cpus, i)
			}
		}
	}
	if len(k.cpus) == 0 {
		k.cpus = []int{0}
	}
	return k
}

// CPUs returns the CPUs the sandbox may run on.
func (k *Kernel) CPUs() []int { return k.cpus }

// BootTime returns when the kernel started.
func (k *Kernel) BootTime() time.Time { return k.bootTime }

// Uptime returns the time since boot (CLOCK_BOOTTIME's value).
func (k *Kernel) Uptime() time.Duration { return time.Since(k.bootTime) }

// LogUnimplemented logs an unimplemented system call, once per number:
// at warning level, or at info level for a libc probe.
func (k *Kernel) LogUnimplemented(t *Task, sysno uintptr, name string, probe bool) {
	if _, loaded := k.unimplemented.LoadOrStore(sysno, true); loaded {
		return
	}
	if name == "" {
		name = fmt.Sprintf("syscall %d", sysno)
	}
	level := slog.LevelWarn
	if probe {
		level = slog.LevelInfo
	}
	k.Log.Log(context.Background(), level, "unsupported syscall: returning ENOSYS", "syscall", name, "number", sysno, "tid", t.tid, "comm", t.Comm())
}

// TaskByTID returns the live task with the given thread ID, or nil.
func (k *Kernel) TaskByTID(tid int32) *Task {
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	return k.tasks[tid]
}

// ThreadGroupByID returns the thread group with the given ID (zombies
// included), or nil.
func (k *Kernel) ThreadGroupByID(id int32) *ThreadGroup {
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	return k.tgs[id]
}

// Tasks returns all live tasks in thread ID order.
func (k *Kernel) Tasks() []*Task {
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	out := make([]*Task, 0, len(k.tasks))
	for _, t := range k.tasks {
		out = append(out, t)
	}
	sortTasks(out)
	return out
}

// ThreadGroups returns every thread group (zombies included) in ID order.
func (k *Kernel) ThreadGroups() []*ThreadGroup {
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	out := make([]*ThreadGroup, 0, len(k.tgs))
	for _, tg := range k.tgs {
		out = append(out, tg)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].tgid < out[j-1].tgid; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func sortTasks(ts []*Task) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j].tid < ts[j-1].tid; j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}

// allocTIDLocked returns an unused ID: not a live task, not a thread
// group (zombies keep theirs), not a process group or session in use.
//
// Preconditions: k.taskMu is held.
func (k *Kernel) allocTIDLocked() (int32, error) {
	for i := 0; i < pidMax; i++ {
		k.lastTID++
		if k.lastTID >= pidMax {
			k.lastTID = 300 // Linux restarts above the daemons' range
		}
		id := k.lastTID
		if _, ok := k.tasks[id]; ok {
			continue
		}
		if _, ok := k.tgs[id]; ok {
			continue
		}
		if k.idInUseAsGroupLocked(id) {
			continue
		}
		return id, nil
	}
	return 0, unix.EAGAIN
}

func (k *Kernel) idInUseAsGroupLocked(id int32) bool {
	for _, tg := range k.tgs {
		if tg.pgid == id || tg.sid == id {
			return true
		}
	}
	return false
}

// InitArgs describe the container's first process.
type InitArgs struct {
	Argv  []string
	Envv  []string
	Cwd   string
	Creds *auth.Credentials
	// Stdio are the files for descriptors 0, 1 and 2.
	Stdio  []*vfs.FileDescription
	Limits *Limits
	Umask  uint32
}

// CreateInit creates PID 1, loads its program and starts it.
func (k *Kernel) CreateInit(ctx context.Context, a InitArgs) (*ThreadGroup, error) {
	root := k.MountNS.Root()
	fs := &FSContext{root: root, cwd: root, umask: a.Umask}
	fs.users.Store(1)
	limits := a.Limits
	if limits == nil {
		limits = DefaultLimits()
	}
	k.taskMu.Lock()
	tid, err := k.allocTIDLocked()
	if err != nil {
		k.taskMu.Unlock()
		return nil, err
	}
	tg := newThreadGroup(k, tid, nil, limits, newSignalHandlers())
	tg.pgid, tg.sid = tid, tid
	t := k.newTaskLocked(tid, tg, a.Creds, newFDTable(), fs)
	k.taskMu.Unlock()

	if a.Cwd != "" {
		cwd, err := k.MountNS.Resolve(t, a.Cwd, vfs.ResolveOpts{Root: root, Start: root, FollowFinal: true})
		if err == nil && cwd.Dentry.Mode()&vfs.S_IFMT != vfs.S_IFDIR {
			err = unix.ENOTDIR
		}
		if err != nil {
			k.abandonTask(t)
			return nil, fmt.Errorf("cwd %q: %w", a.Cwd, err)
		}
		fs.cwd = cwd
	}
	for i, f := range a.Stdio {
		if f != nil {
			t.fdTable.NewFDAt(i, f, false, int(limits.Get(RLIMIT_NOFILE).Cur))
		}
	}
	filename, err := k.lookPath(t, a.Argv[0], a.Envv)
	if err != nil {
		k.abandonTask(t)
		return nil, err
	}
	if err := t.execve(filename, a.Argv, a.Envv); err != nil {
		k.abandonTask(t)
		return nil, fmt.Errorf("exec %q: %w", a.Argv[0], err)
	}
	k.taskMu.Lock()
	k.initTG = tg
	k.taskMu.Unlock()
	t.start()
	return tg, nil
}

// abandonTask undoes the creation of a task that never ran.
func (k *Kernel) abandonTask(t *Task) {
	t.fdTable.DecUsers()
	t.pctx.Release()
	k.taskMu.Lock()
	delete(k.tasks, t.tid)
	delete(k.tgs, t.tg.tgid)
	k.taskMu.Unlock()
}

// lookPath finds name as execvp(3) does, with the PATH in envv.
func (k *Kernel) lookPath(t *Task, name string, envv []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range envv {
		if strings.HasPrefix(e, "PATH=") {
			path = e[5:]
		}
	}
	var firstErr error
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			dir = "."
		}
		cand := dir + "/" + name
		vd, err := t.resolve(unix.AT_FDCWD, cand, true)
		if err != nil {
			continue
		}
		if vd.Dentry.Mode()&vfs.S_IFMT == vfs.S_IFREG && vd.Dentry.Mode()&0o111 != 0 {
			return cand, nil
		}
		if firstErr == nil {
			firstErr = unix.EACCES
		}
	}
	if firstErr != nil {
		return "", fmt.Errorf("exec %q: %w", name, firstErr)
	}
	return "", fmt.Errorf("exec %q: executable file not found in $PATH: %w", name, unix.ENOENT)
}

// newTaskLocked registers a task in tg.
//
// Preconditions: k.taskMu is held.
func (k *Kernel) newTaskLocked(tid int32, tg *ThreadGroup, creds *auth.Credentials, fdt *FDTable, fs *FSContext) *Task {
	t := &Task{
		k: k, tg: tg, tid: tid, creds: creds, fdTable: fdt, fs: fs,
		pctx: k.Platform.NewContext(), interruptCh: make(chan struct{}, 1),
		started: time.Now(),
	}
	if tg.leader == nil {
		tg.leader = t
	}
	tg.tasks[t] = struct{}{}
	k.tasks[tid] = t
	k.tgs[tg.tgid] = tg
	return t
}

// WaitStatus is a wait(2) status word.
type WaitStatus uint32

// ExitedStatus returns the status of a normal exit.
func ExitedStatus(code int) WaitStatus { return WaitStatus((code & 0xff) << 8) }

// SignaledStatus returns the status of death by signal.
func SignaledStatus(sig int, core bool) WaitStatus {
	s := WaitStatus(sig & 0x7f)
	if core {
		s |= 0x80
	}
	return s
}

// StoppedStatus returns the status of a stop by signal.
func StoppedStatus(sig int) WaitStatus { return WaitStatus(sig<<8 | 0x7f) }

// ContinuedStatus is the status of a continued process.
const ContinuedStatus WaitStatus = 0xffff

// Exited reports a normal exit; ExitCode is then valid.
func (w WaitStatus) Exited() bool { return w&0x7f == 0 }

// ExitCode returns the exit code.
func (w WaitStatus) ExitCode() int { return int(w>>8) & 0xff }

// Signaled reports death by signal; Signal is then valid.
func (w WaitStatus) Signaled() bool { return w&0x7f != 0 && w&0x7f != 0x7f }

// Signal returns the signal that killed the process.
func (w WaitStatus) Signal() int { return int(w & 0x7f) }

// CoreDumped reports whether the process dumped core.
func (w WaitStatus) CoreDumped() bool { return w.Signaled() && w&0x80 != 0 }

// ShellStatus returns the status as a shell reports it: the exit code, or
// 128+N after death by signal N.
func (w WaitStatus) ShellStatus() int {
	if w.Signaled() {
		return 128 + w.Signal()
	}
	return w.ExitCode()
}
