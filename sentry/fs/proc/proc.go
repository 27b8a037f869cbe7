// Package proc is the sandbox's /proc. Only the sandbox's tasks appear,
// and everything comes from the sentry's own model of them (the kernel,
// address spaces, FD tables, mounts), never from the host's /proc.
//
// Layout: proc.go holds the root and the per-process directories'
// lifetime; task.go the files of /proc/[pid] and /proc/[pid]/task/[tid];
// stat.go their stat, statm and status; maps.go maps and smaps; fd.go fd/
// and fdinfo/; ns.go ns/; mounts.go mounts and mountinfo; system.go the
// system-wide files (meminfo, stat, loadavg...); cpuinfo_amd64.go
// cpuinfo, from CPUID; sys.go /proc/sys.
//
// cwd, root, exe and fd/N are magic links (vfs.MagicLink): opening one
// reaches the open file itself, as in Linux. Files that show what ptrace
// would (environ, auxv, maps, fd/...) check the reader may ptrace the task.
//
// Lock order: procFS.mu, then kernel locks (taken by accessors).
package proc

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/synth"
	"palisade.dev/sentry/kernel"
	"palisade.dev/sentry/vfs"
)

// procMagic is PROC_SUPER_MAGIC.
const procMagic = 0x9fa0

// procFS is one /proc instance.
type procFS struct {
	k  *kernel.Kernel
	fs *synth.FS

	// bootID is /proc/sys/kernel/random/boot_id; ns holds the files of
	// the sandbox's namespaces.
	bootID string
	ns     *nsFS
	// memTotal is the memory the sandbox may use, in bytes.
	memTotal uint64

	load loadAvg

	mu sync.Mutex
	// dirs caches the directories of processes and threads, so that
	// their inode numbers stay put while they live.
	dirs map[dirKey]*synth.Dir
}

// dirKey names a cached directory: /proc/[pid] (t nil), /proc/[tid] of a
// thread other than the leader (t set), or /proc/[pid]/task/[tid]
// (thread set).
type dirKey struct {
	tg     *kernel.ThreadGroup
	t      *kernel.Task
	thread bool
}

// Option configures a /proc.
type Option func(*procFS)

// WithMemoryLimit makes /proc/meminfo (and the OOM scores) count with
// limit bytes of memory, the sandbox's limit, rather than the host's.
func WithMemoryLimit(limit uint64) Option {
	return func(p *procFS) {
		if limit > 0 {
			p.memTotal = min(limit, p.memTotal)
		}
	}
}

// New returns a /proc for k.
func New(k *kernel.Kernel, opts ...Option) *synth.FS {
	p := &procFS{k: k, dirs: make(map[dirKey]*synth.Dir), bootID: newUUID(), memTotal: hostMemTotal()}
	for _, o := range opts {
		o(p)
	}
	p.ns = newNSFS(newNSInos())
	p.load.last = k.BootTime()
	fs := synth.NewFSDynamic("proc", procMagic, 0o555, pids{p})
	p.fs = fs
	root := fs.RootDir()
	root.Add("self", fs.NewSymlink(root, "self", func(ctx context.Context) (string, error) {
		t := kernel.TaskFromContext(ctx)
		if t == nil {
			return "", unix.ENOENT
		}
		return strconv.Itoa(int(t.PID())), nil
	}))
	root.Add("thread-self", fs.NewSymlink(root, "thread-self", func(ctx context.Context) (string, error) {
		t := kernel.TaskFromContext(ctx)
		if t == nil {
			return "", unix.ENOENT
		}
		return fmt.Sprintf("%d/task/%d", t.PID(), t.ThreadID()), nil
	}))
	root.Add("mounts", fs.NewSymlink(root, "mounts", synth.StaticTarget("self/mounts")))
	p.addSystemFiles(root)
	p.addSys(root.Subdir("sys", 0o555, nil))
	// Reading the CPU's facts may take a clock measurement: do it now
	// rather than at the first read of /proc/cpuinfo.
	go cpuInfo()
	return fs
}

// pids supplies /proc/[pid]: every process is listed; a thread other
// than a leader is found by its ID but not listed, as in Linux.
type pids struct{ p *procFS }

// Lookup implements synth.Dynamic.Lookup.
func (d pids) Lookup(ctx context.Context, parent *synth.Dir, name string) (vfs.Dentry, error) {
	id, ok := parseID(name)
	if !ok {
		return nil, unix.ENOENT
	}
	p := d.p
	if tg := p.k.ThreadGroupByID(id); tg != nil {
		return p.dir(parent, name, dirKey{tg: tg}), nil
	}
	t := p.k.TaskByTID(id)
	if t == nil {
		return nil, unix.ENOENT
	}
	return p.dir(parent, name, dirKey{tg: t.ThreadGroup(), t: t}), nil
}

// List implements synth.Dynamic.List.
func (d pids) List(ctx context.Context, parent *synth.Dir) ([]vfs.Dirent, error) {
	d.p.prune()
	var out []vfs.Dirent
	for _, tg := range d.p.k.ThreadGroups() {
		name := strconv.Itoa(int(tg.ID()))
		dir := d.p.dir(parent, name, dirKey{tg: tg})
		out = append(out, vfs.Dirent{Name: name, Ino: dir.Ino(), Type: vfs.DirentType(vfs.S_IFDIR)})
	}
	return out, nil
}

// parseID parses a PID as Linux's /proc does: decimal digits, no sign, no
// leading zeros.
func parseID(name string) (int32, bool) {
	if name == "" || name[0] == '0' && len(name) > 1 {
		return 0, false
	}
	for _, c := range name {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(name, 10, 32)
	if err != nil || n <= 0 {
		return 0, false
	}
	return int32(n), true
}

// dir returns the cached directory of key, making it if needed.
func (p *procFS) dir(parent *synth.Dir, name string, key dirKey) *synth.Dir {
	p.mu.Lock()
	d, ok := p.dirs[key]
	p.mu.Unlock()
	if ok {
		return d
	}
	x := &target{p: p, tg: key.tg, t: key.t, whole: !key.thread}
	d = p.newTaskDir(parent, name, x)
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.dirs[key]; ok {
		return old
	}
	if len(p.dirs) > 64 && len(p.dirs) >= 2*len(p.k.Tasks()) {
		p.pruneLocked()
	}
	p.dirs[key] = d
	return d
}

// prune forgets the directories of processes that were reaped and of
// threads that exited.
func (p *procFS) prune() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pruneLocked()
}

func (p *procFS) pruneLocked() {
	for key := range p.dirs {
		if p.k.ThreadGroupByID(key.tg.ID()) != key.tg || key.t != nil && !key.t.Alive() && key.tg.Leader() != key.t {
			delete(p.dirs, key)
		}
	}
}

// target is what a /proc/[pid] or task/[tid] directory shows.
type target struct {
	p  *procFS
	tg *kernel.ThreadGroup
	// t is the task shown; nil means the process's leader, whichever
	// task that is now (a thread that execs becomes it).
	t *kernel.Task
	// whole is set for a process directory (/proc/[pid]): stat and status
	// count the whole process.
	whole bool
}

// task returns the task the directory shows.
func (x *target) task() *kernel.Task {
	if x.t != nil {
		return x.t
	}
	return x.tg.Leader()
}

// alive fails with ENOENT once the process was reaped or the thread has
// exited: the directory is then empty, as in Linux.
func (x *target) alive(context.Context) error {
	if x.p.k.ThreadGroupByID(x.tg.ID()) != x.tg {
		return unix.ENOENT
	}
	if x.t != nil && !x.t.Alive() && x.tg.Leader() != x.t {
		// A dead leader stays, as its process's zombie, until reaped.
		return unix.ENOENT
	}
	return nil
}

// owner is the owner of the directory's files: the task's effective IDs,
// or root if the task is not dumpable (Linux's task_dump_owner).
func (x *target) owner(context.Context) (uint32, uint32) {
	t := x.task()
	if t == nil || t.Dumpable() != 1 {
		return 0, 0
	}
	c := t.Credentials()
	return c.EffectiveUID, c.EffectiveGID
}

// mayRead checks that the caller may read what ptrace would show of the
// task (Linux's ptrace_may_access with PTRACE_MODE_READ_FSCREDS).
func (x *target) mayRead(ctx context.Context) error {
	if err := x.alive(ctx); err != nil {
		return err
	}
	if !mayPtrace(ctx, x.task()) {
		return unix.EACCES
	}
	return nil
}

// mayPtrace implements Linux's ptrace access check for reading: a task may
// inspect its own process; otherwise the caller's filesystem IDs must
// match all of the target's real, effective and saved IDs, and the target
// must be dumpable, unless the caller has CAP_SYS_PTRACE.
func mayPtrace(ctx context.Context, target *kernel.Task) bool {
	caller := kernel.TaskFromContext(ctx)
	if caller == nil || target == nil {
		return caller == nil // the sentry itself, or nothing to inspect
	}
	if caller.ThreadGroup() == target.ThreadGroup() {
		return true
	}
	c := caller.Credentials()
	if c.HasCapability(unix.CAP_SYS_PTRACE) {
		return true
	}
	tc := target.Credentials()
	if c.FSUID != tc.RealUID || c.FSUID != tc.EffectiveUID || c.FSUID != tc.SavedUID ||
		c.FSGID != tc.RealGID || c.FSGID != tc.EffectiveGID || c.FSGID != tc.SavedGID {
		return false
	}
	return target.Dumpable() == 1
}

// readerRoot returns the root of the task reading (paths in /proc are
// shown as it sees them), or the namespace's root.
func (p *procFS) readerRoot(ctx context.Context) vfs.VirtualDentry {
	if t := kernel.TaskFromContext(ctx); t != nil {
		return t.FSContext().Root()
	}
	return p.k.MountNS.Root()
}

// pathOf renders vd as Linux's d_path does for /proc: the path from root;
// the name alone for a file of a pseudo filesystem (pipe:[N],
// anon_inode:[eventfd]); " (deleted)" after an unlinked file; and
// "(unreachable)" before a path outside root.
func (p *procFS) pathOf(root, vd vfs.VirtualDentry) string {
	if !vd.Ok() {
		return ""
	}
	s, ok := p.k.MountNS.PathOf(root, vd)
	if !ok {
		if vd.Dentry.Parent() == nil && vd.Dentry != vd.Mount.Root {
			return vd.Dentry.Name()
		}
		s = "(unreachable)" + s
	}
	if d, ok := vd.Dentry.(vfs.Deleted); ok && d.IsDeleted() {
		s += " (deleted)"
	}
	return s
}
