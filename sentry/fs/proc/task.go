package proc

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/synth"
	"palisade.dev/sentry/kernel"
	"palisade.dev/sentry/vfs"
)

// newTaskDir makes the directory of a process (/proc/[pid]) or a thread
// (/proc/[pid]/task/[tid]).
func (p *procFS) newTaskDir(parent vfs.Dentry, name string, x *target) *synth.Dir {
	fs := p.fs
	d := fs.NewDir(parent, name, 0o555, nil)
	d.Owner, d.Access = x.owner, x.alive

	// own sets the owner and access check of a node of the directory.
	own := func(n *synth.Node, access func(context.Context) error) {
		n.Owner = x.owner
		n.Access = access
		if access == nil {
			n.Access = x.alive
		}
	}
	file := func(name string, perm uint32, access func(context.Context) error, gen func(context.Context) ([]byte, error)) *synth.File {
		f := fs.NewDataFile(d, name, perm, gen)
		own(&f.Node, access)
		d.Add(name, f)
		return f
	}
	rwFile := func(name string, perm uint32, gen func(context.Context) ([]byte, error), write func(context.Context, []byte) (int, error)) {
		f := fs.NewRWFile(d, name, perm, gen, write)
		own(&f.Node, nil)
		d.Add(name, f)
	}
	link := func(name string, text func(context.Context) (string, error), follow func(context.Context) (vfs.VirtualDentry, error)) {
		l := fs.NewMagicLink(d, name, 0o777, text, follow)
		own(&l.Node, x.mayRead)
		d.Add(name, l)
	}
	subdir := func(name string, perm uint32, dyn synth.Dynamic, access func(context.Context) error) *synth.Dir {
		s := d.Subdir(name, perm, dyn)
		own(&s.Node, access)
		return s
	}

	file("auxv", 0o400, x.mayRead, x.auxv)
	file("cgroup", 0o444, nil, func(context.Context) ([]byte, error) { return []byte("0::/\n"), nil })
	file("cmdline", 0o444, nil, x.cmdline)
	rwFile("comm", 0o644, x.comm, x.setComm)
	link("cwd", x.linkText(x.cwd), x.cwd)
	file("environ", 0o400, x.mayRead, x.environ)
	link("exe", x.linkText(x.exe), x.exe)
	subdir("fd", 0o500, fdDir{x}, x.mayRead)
	subdir("fdinfo", 0o555, fdInfoDir{x}, x.alive)
	rwFile("gid_map", 0o644, idMap, nil)
	file("io", 0o400, x.mayRead, x.io)
	file("limits", 0o444, nil, x.limits)
	rwFile("loginuid", 0o644, func(context.Context) ([]byte, error) { return []byte("4294967295"), nil }, nil)
	file("maps", 0o444, x.mayRead, func(ctx context.Context) ([]byte, error) { return x.maps(ctx, false), nil })
	file("mountinfo", 0o444, nil, x.mountinfo)
	file("mounts", 0o444, nil, x.mounts)
	x.addNS(subdir("ns", 0o511, nil, x.alive))
	file("oom_score", 0o444, nil, x.oomScore)
	rwFile("oom_score_adj", 0o644, x.oomScoreAdj, x.setOOMScoreAdj)
	file("personality", 0o400, x.mayRead, func(context.Context) ([]byte, error) { return []byte("00000000\n"), nil })
	link("root", x.linkText(x.root), x.root)
	file("sessionid", 0o444, nil, func(context.Context) ([]byte, error) { return []byte("4294967295"), nil })
	rwFile("setgroups", 0o644, func(context.Context) ([]byte, error) { return []byte("allow\n"), nil }, nil)
	file("smaps", 0o444, x.mayRead, func(ctx context.Context) ([]byte, error) { return x.maps(ctx, true), nil })
	file("smaps_rollup", 0o444, x.mayRead, x.smapsRollup)
	file("stat", 0o444, nil, x.stat)
	file("statm", 0o444, nil, x.statm)
	file("status", 0o444, nil, x.status)
	if x.whole {
		subdir("task", 0o555, taskDir{x}, x.alive)
	}
	rwFile("uid_map", 0o644, idMap, nil)
	file("wchan", 0o444, nil, x.wchan)
	return d
}

// taskDir supplies /proc/[pid]/task/[tid].
type taskDir struct{ x *target }

// Lookup implements synth.Dynamic.Lookup.
func (d taskDir) Lookup(ctx context.Context, parent *synth.Dir, name string) (vfs.Dentry, error) {
	tid, ok := parseID(name)
	if !ok {
		return nil, unix.ENOENT
	}
	t := d.x.tg.TaskInGroup(tid)
	if t == nil && tid == d.x.tg.ID() {
		t = d.x.tg.Leader() // a zombie's
	}
	if t == nil {
		return nil, unix.ENOENT
	}
	return d.x.p.dir(parent, name, dirKey{tg: d.x.tg, t: t, thread: true}), nil
}

// List implements synth.Dynamic.List: the live threads, or a zombie's
// leader.
func (d taskDir) List(ctx context.Context, parent *synth.Dir) ([]vfs.Dirent, error) {
	var out []vfs.Dirent
	tasks := d.x.tg.Tasks()
	if len(tasks) == 0 {
		if l := d.x.tg.Leader(); l != nil && d.x.alive(ctx) == nil {
			tasks = append(tasks, l)
		}
	}
	for _, t := range tasks {
		name := strconv.Itoa(int(t.ThreadID()))
		dir := d.x.p.dir(parent, name, dirKey{tg: d.x.tg, t: t, thread: true})
		out = append(out, vfs.Dirent{Name: name, Ino: dir.Ino(), Type: vfs.DirentType(vfs.S_IFDIR)})
	}
	return out, nil
}

// live returns the task if it has not exited (zombies have no memory,
// files or directories to show).
func (x *target) live() *kernel.Task {
	t := x.task()
	if t == nil || !t.Alive() {
		return nil
	}
	return t
}

// readMem reads [start, end) of the task's memory, as much as is mapped.
func readMem(t *kernel.Task, start, end uintptr) []byte {
	if end <= start || t.MemoryManager() == nil {
		return nil
	}
	b := make([]byte, end-start)
	n, _ := t.MemoryManager().CopyIn(start, b)
	return b[:n]
}

// cmdline reads the arguments from the process's memory, between
// arg_start and arg_end, as Linux does: if the process overwrote the
// terminating NUL of its last argument (setproctitle), the string goes on
// into the environment area up to its first NUL.
func (x *target) cmdline(context.Context) ([]byte, error) {
	t := x.live()
	if t == nil {
		return nil, nil
	}
	l := t.MemoryManager().Layout()
	b := readMem(t, l.Argv.Start, l.Argv.End)
	if len(b) > 0 && b[len(b)-1] != 0 && l.Envv.Start == l.Argv.End {
		more := readMem(t, l.Envv.Start, l.Envv.End)
		if i := bytes.IndexByte(more, 0); i >= 0 {
			more = more[:i]
		}
		b = append(b, more...)
	}
	return b, nil
}

func (x *target) environ(context.Context) ([]byte, error) {
	t := x.live()
	if t == nil {
		return nil, nil
	}
	l := t.MemoryManager().Layout()
	return readMem(t, l.Envv.Start, l.Envv.End), nil
}

// auxv is the auxiliary vector as the process got it, in its binary form.
func (x *target) auxv(context.Context) ([]byte, error) {
	t := x.live()
	if t == nil {
		return nil, nil
	}
	v := t.MemoryManager().Auxv()
	b := make([]byte, 0, 8*len(v)+16)
	for _, w := range v {
		b = appendUint64(b, w)
	}
	if len(v) < 2 || v[len(v)-2] != 0 {
		b = appendUint64(appendUint64(b, 0), 0) // AT_NULL
	}
	return b, nil
}

func appendUint64(b []byte, v uint64) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24), byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
}

func (x *target) comm(context.Context) ([]byte, error) {
	return []byte(x.task().Comm() + "\n"), nil
}

// setComm renames the task: only a task of the same process may, and the
// name is taken as written (a trailing newline included), up to 15 bytes.
func (x *target) setComm(ctx context.Context, src []byte) (int, error) {
	if err := x.alive(ctx); err != nil {
		return 0, err
	}
	caller := kernel.TaskFromContext(ctx)
	if caller == nil || caller.ThreadGroup() != x.tg {
		return 0, unix.EINVAL
	}
	name := src
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	x.task().SetComm(string(name))
	return len(src), nil
}

// linkText returns the readlink text of a magic link: the path of where
// it leads, as the reader sees it.
func (x *target) linkText(follow func(context.Context) (vfs.VirtualDentry, error)) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		vd, err := follow(ctx)
		if err != nil {
			return "", err
		}
		return x.p.pathOf(x.p.readerRoot(ctx), vd), nil
	}
}

func (x *target) cwd(context.Context) (vfs.VirtualDentry, error) {
	t := x.live()
	if t == nil {
		return vfs.VirtualDentry{}, unix.ENOENT
	}
	return t.FSContext().Cwd(), nil
}

func (x *target) root(context.Context) (vfs.VirtualDentry, error) {
	t := x.live()
	if t == nil {
		return vfs.VirtualDentry{}, unix.ENOENT
	}
	return t.FSContext().Root(), nil
}

func (x *target) exe(context.Context) (vfs.VirtualDentry, error) {
	t := x.live()
	if t == nil || t.MemoryManager() == nil {
		return vfs.VirtualDentry{}, unix.ENOENT
	}
	f, ok := t.MemoryManager().Executable().(*vfs.FileDescription)
	if !ok || f == nil {
		return vfs.VirtualDentry{}, unix.ENOENT
	}
	return f.VirtualDentry(), nil
}

// limits renders the resource limits in Linux's table.
func (x *target) limits(context.Context) ([]byte, error) {
	rows := []struct {
		name, unit string
		r          int
	}{
		{"Max cpu time", "seconds", kernel.RLIMIT_CPU},
		{"Max file size", "bytes", kernel.RLIMIT_FSIZE},
		{"Max data size", "bytes", kernel.RLIMIT_DATA},
		{"Max stack size", "bytes", kernel.RLIMIT_STACK},
		{"Max core file size", "bytes", kernel.RLIMIT_CORE},
		{"Max resident set", "bytes", kernel.RLIMIT_RSS},
		{"Max processes", "processes", kernel.RLIMIT_NPROC},
		{"Max open files", "files", kernel.RLIMIT_NOFILE},
		{"Max locked memory", "bytes", kernel.RLIMIT_MEMLOCK},
		{"Max address space", "bytes", kernel.RLIMIT_AS},
		{"Max file locks", "locks", kernel.RLIMIT_LOCKS},
		{"Max pending signals", "signals", kernel.RLIMIT_SIGPENDING},
		{"Max msgqueue size", "bytes", kernel.RLIMIT_MSGQUEUE},
		{"Max nice priority", "", kernel.RLIMIT_NICE},
		{"Max realtime priority", "", kernel.RLIMIT_RTPRIO},
		{"Max realtime timeout", "us", kernel.RLIMIT_RTTIME},
	}
	val := func(v uint64) string {
		if v == kernel.Infinity {
			return "unlimited"
		}
		return strconv.FormatUint(v, 10)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-25s %-20s %-20s %-10s\n", "Limit", "Soft Limit", "Hard Limit", "Units")
	lim := x.tg.Limits()
	for _, r := range rows {
		l := lim.Get(r.r)
		if r.unit != "" {
			fmt.Fprintf(&b, "%-25s %-20s %-20s %-10s\n", r.name, val(l.Cur), val(l.Max), r.unit)
		} else {
			fmt.Fprintf(&b, "%-25s %-20s %-20s \n", r.name, val(l.Cur), val(l.Max))
		}
	}
	return []byte(b.String()), nil
}

// io reports the task's I/O counters. The sentry does not count them
// yet: every counter is zero.
func (x *target) io(context.Context) ([]byte, error) {
	return []byte("rchar: 0\nwchar: 0\nsyscr: 0\nsyscw: 0\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n"), nil
}

// wchan is 0 for a running task and 1 for a sleeping one, as Linux shows
// it to those who may see it (the symbol is never shown).
func (x *target) wchan(ctx context.Context) ([]byte, error) {
	t := x.task()
	if t != nil && mayPtrace(ctx, t) && t.Status().State == 'S' {
		return []byte("1"), nil
	}
	return []byte("0"), nil
}

func (x *target) oomScoreAdj(context.Context) ([]byte, error) {
	return []byte(fmt.Sprintf("%d\n", x.tg.OOMScoreAdj())), nil
}

// setOOMScoreAdj parses a write to oom_score_adj: a decimal number in
// [-1000, 1000], surrounding white space allowed.
func (x *target) setOOMScoreAdj(ctx context.Context, src []byte) (int, error) {
	if err := x.alive(ctx); err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(src))
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, unix.EINVAL
	}
	privileged := false
	if caller := kernel.TaskFromContext(ctx); caller == nil || caller.Credentials().HasCapability(unix.CAP_SYS_RESOURCE) {
		privileged = true
	}
	if err := x.tg.SetOOMScoreAdj(int32(v), privileged); err != nil {
		return 0, err
	}
	return len(src), nil
}

// oomScore computes the OOM killer's badness as Linux shows it: the
// process's memory as a share of the sandbox's, in thousandths, moved by
// oom_score_adj, scaled into [0, 2000] and then by 2/3.
func (x *target) oomScore(context.Context) ([]byte, error) {
	adj := int64(x.tg.OOMScoreAdj())
	total := int64(x.p.memTotal / pageSize)
	if total <= 0 {
		total = 1
	}
	var points int64
	if adj == kernel.OOMScoreAdjMin {
		return []byte("0\n"), nil
	}
	if t := x.live(); t != nil {
		points = int64(t.MemoryManager().RSS() / pageSize)
	}
	points += adj * total / 1000
	score := (1000 + points*1000/total) * 2 / 3
	score = max(score, 0)
	return []byte(fmt.Sprintf("%d\n", score)), nil
}

// idMap is uid_map and gid_map: the sandbox has one user namespace, the
// identity map of every ID.
func idMap(context.Context) ([]byte, error) {
	return []byte(fmt.Sprintf("%10d %10d %10d\n", 0, 0, uint32(4294967295))), nil
}

const pageSize = 4096
