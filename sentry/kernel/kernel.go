// Package kernel is the sentry's process model: the Kernel, thread groups
// and tasks, each task run by its own goroutine locked to an OS thread that
// loops Switch → handle system call or fault → Switch.
//
// This slice is single-threaded programs: one task per thread group, no
// fork, no signal delivery (rt_sigaction and the mask are stored).
//
// Lock order: Kernel.mu, then ThreadGroup.mu, then Task.mu.
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

	mu      sync.Mutex
	tasks   map[int32]*Task
	nextTID int32
	initTG  *ThreadGroup

	unimplemented sync.Map // syscall number -> logged once
}

// Sentry identity reported by uname(2) and /proc/version.
const (
	Release = "6.1.0-palisade"
	Version = "#1 SMP Palisade"
)

// New returns a kernel.
func New(p platform.Platform, mf *memfile.MemoryFile, ns *vfs.MountNamespace, st *SyscallTable, log *slog.Logger) *Kernel {
	if log == nil {
		log = slog.Default()
	}
	k := &Kernel{
		Platform: p, MemoryFile: mf, MountNS: ns, Syscalls: st, Log: log,
		Hostname: "palisade", Release: Release, Version: Version,
		bootTime: time.Now(), tasks: make(map[int32]*Task), nextTID: 1,
	}
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

// TaskByTID returns the task with the given thread ID.
func (k *Kernel) TaskByTID(tid int32) *Task {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.tasks[tid]
}

// Tasks returns all live tasks in TID order.
func (k *Kernel) Tasks() []*Task {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]*Task, 0, len(k.tasks))
	for tid := int32(1); tid < k.nextTID; tid++ {
		if t, ok := k.tasks[tid]; ok {
			out = append(out, t)
		}
	}
	return out
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
	t := k.newTask(a.Creds, vfs.NewFDTable(), fs, a.Limits)
	if a.Cwd != "" {
		cwd, err := k.MountNS.Resolve(t, a.Cwd, vfs.ResolveOpts{Root: root, Start: root, FollowFinal: true})
		if err != nil {
			k.abandonTask(t)
			return nil, fmt.Errorf("cwd %q: %w", a.Cwd, err)
		}
		if cwd.Dentry.Mode()&vfs.S_IFMT != vfs.S_IFDIR {
			k.abandonTask(t)
			return nil, fmt.Errorf("cwd %q: %w", a.Cwd, unix.ENOTDIR)
		}
		fs.cwd = cwd
	}
	for i, f := range a.Stdio {
		if f != nil {
			t.fdTable.NewFDAt(i, f, false, int(t.tg.limits.Get(RLIMIT_NOFILE).Cur))
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
	k.mu.Lock()
	k.initTG = t.tg
	k.mu.Unlock()
	t.start()
	return t.tg, nil
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

func (k *Kernel) newTask(creds *auth.Credentials, fdt *vfs.FDTable, fs *FSContext, limits *Limits) *Task {
	if limits == nil {
		limits = DefaultLimits()
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	tid := k.nextTID
	k.nextTID++
	tg := &ThreadGroup{k: k, tgid: tid, limits: limits, done: make(chan struct{})}
	t := &Task{k: k, tg: tg, tid: tid, creds: creds, fdTable: fdt, fs: fs, pctx: k.Platform.NewContext(), interruptCh: make(chan struct{}, 1)}
	tg.leader = t
	k.tasks[tid] = t
	return t
}

func (k *Kernel) removeTask(t *Task) {
	k.mu.Lock()
	delete(k.tasks, t.tid)
	k.mu.Unlock()
}

// abandonTask undoes newTask for a task that never ran.
func (k *Kernel) abandonTask(t *Task) {
	t.fdTable.RemoveAll()
	t.pctx.Release()
	k.removeTask(t)
}

// ThreadGroup is a process.
type ThreadGroup struct {
	k      *Kernel
	tgid   int32
	leader *Task
	limits *Limits

	mu         sync.Mutex
	sigactions [NumSignals]SigAction
	exiting    bool
	exitStatus WaitStatus
	done       chan struct{} // closed when the group has exited
}

// ID returns the thread group ID (the PID).
func (tg *ThreadGroup) ID() int32 { return tg.tgid }

// Leader returns the thread group leader.
func (tg *ThreadGroup) Leader() *Task { return tg.leader }

// Limits returns the resource limits.
func (tg *ThreadGroup) Limits() *Limits { return tg.limits }

// Wait blocks until the group exits and returns its status.
func (tg *ThreadGroup) Wait() WaitStatus {
	<-tg.done
	return tg.exitStatus
}

// Done returns a channel closed when the group exits.
func (tg *ThreadGroup) Done() <-chan struct{} { return tg.done }

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

// Exited reports a normal exit; ExitCode is then valid.
func (w WaitStatus) Exited() bool { return w&0x7f == 0 }

// ExitCode returns the exit code.
func (w WaitStatus) ExitCode() int { return int(w>>8) & 0xff }

// Signaled reports death by signal; Signal is then valid.
func (w WaitStatus) Signaled() bool { return w&0x7f != 0 && w&0x7f != 0x7f }

// Signal returns the signal that killed the process.
func (w WaitStatus) Signal() int { return int(w & 0x7f) }

// ShellStatus returns the status as a shell reports it: the exit code, or
// 128+N after death by signal N.
func (w WaitStatus) ShellStatus() int {
	if w.Signaled() {
		return 128 + w.Signal()
	}
	return w.ExitCode()
}

// FSContext is a task's root, working directory and umask.
type FSContext struct {
	mu    sync.Mutex
	root  vfs.VirtualDentry
	cwd   vfs.VirtualDentry
	umask uint32
}

// Root returns the root directory.
func (f *FSContext) Root() vfs.VirtualDentry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.root
}

// Cwd returns the working directory.
func (f *FSContext) Cwd() vfs.VirtualDentry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cwd
}

// SetCwd changes the working directory.
func (f *FSContext) SetCwd(vd vfs.VirtualDentry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cwd = vd
}

// SwapUmask sets the umask and returns the old one.
func (f *FSContext) SwapUmask(m uint32) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.umask
	f.umask = m & 0o777
	return old
}
