// Package proc is the sandbox's /proc. Only the sandbox's tasks appear.
//
// This first slice has self, thread-self, and per process exe, cwd, root,
// fd/, cmdline, environ, comm and maps, plus version and uptime; the
// filesystems issue completes it.
package proc

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/synth"
	"palisade.dev/sentry/kernel"
	"palisade.dev/sentry/vfs"
)

const procMagic = 0x9fa0

// New returns a /proc for k.
func New(k *kernel.Kernel) *synth.FS {
	fs := synth.NewFSDynamic("proc", procMagic, 0o555, pids{k})
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
	root.Add("version", fs.NewDataFile(root, "version", 0o444, func(context.Context) ([]byte, error) {
		return []byte(fmt.Sprintf("Linux version %s (palisade@palisade) %s\n", k.Release, k.Version)), nil
	}))
	root.Add("uptime", fs.NewDataFile(root, "uptime", 0o444, func(context.Context) ([]byte, error) {
		up := k.Uptime().Seconds()
		return []byte(fmt.Sprintf("%.2f %.2f\n", up, up)), nil
	}))
	root.Add("mounts", fs.NewSymlink(root, "mounts", synth.StaticTarget("self/mounts")))
	return fs
}

// mounts renders /proc/[pid]/mounts.
func mounts(k *kernel.Kernel, t *kernel.Task, path func(vfs.VirtualDentry) (string, error)) []byte {
	var b strings.Builder
	for _, m := range k.MountNS.Mounts() {
		p, err := path(vfs.VirtualDentry{Mount: m, Dentry: m.Root})
		if err != nil {
			continue
		}
		opt := "rw"
		if m.ReadOnly {
			opt = "ro"
		}
		src := m.Source
		if src == "" {
			src = "none"
		}
		fmt.Fprintf(&b, "%s %s %s %s 0 0\n", src, p, m.FS.Name(), opt)
	}
	return []byte(b.String())
}

// mountinfo renders /proc/[pid]/mountinfo.
func mountinfo(k *kernel.Kernel, t *kernel.Task, path func(vfs.VirtualDentry) (string, error)) []byte {
	var b strings.Builder
	for _, m := range k.MountNS.Mounts() {
		p, err := path(vfs.VirtualDentry{Mount: m, Dentry: m.Root})
		if err != nil {
			continue
		}
		parent := m.ID
		if pm, _ := m.Parent(); pm != nil {
			parent = pm.ID
		}
		opt := "rw"
		if m.ReadOnly {
			opt = "ro"
		}
		src := m.Source
		if src == "" {
			src = "none"
		}
		st, _ := m.Root.Stat(context.Background())
		fmt.Fprintf(&b, "%d %d %d:%d / %s %s - %s %s %s\n", m.ID, parent, st.DevMajor, st.DevMinor, p, opt, m.FS.Name(), src, opt)
	}
	return []byte(b.String())
}

type pids struct{ k *kernel.Kernel }

// Lookup finds /proc/[pid].
func (p pids) Lookup(ctx context.Context, parent *synth.Dir, name string) (vfs.Dentry, error) {
	pid, err := strconv.Atoi(name)
	if err != nil {
		return nil, unix.ENOENT
	}
	tg := p.k.ThreadGroupByID(int32(pid))
	if tg == nil {
		return nil, unix.ENOENT
	}
	return newPIDDir(parent, name, tg.Leader()), nil
}

// List lists the processes.
func (p pids) List(ctx context.Context, parent *synth.Dir) ([]vfs.Dirent, error) {
	var out []vfs.Dirent
	for _, tg := range p.k.ThreadGroups() {
		out = append(out, vfs.Dirent{Name: strconv.Itoa(int(tg.ID())), Ino: uint64(tg.ID()) << 16, Type: vfs.DirentType(vfs.S_IFDIR)})
	}
	return out, nil
}

func newPIDDir(parent *synth.Dir, name string, t *kernel.Task) *synth.Dir {
	fs := parent.FS()
	d := fs.NewDir(parent, name, 0o555, nil)
	k := t.Kernel()
	path := func(vd vfs.VirtualDentry) (string, error) {
		if !vd.Ok() {
			return "", unix.ENOENT
		}
		p, ok := k.MountNS.PathOf(t.FSContext().Root(), vd)
		if !ok {
			// Not under the task's root: Linux shows the name alone.
			if m := vd.Dentry.Name(); m != "" && !strings.Contains(m, "/") {
				return m, nil
			}
			return vd.Dentry.Name(), nil
		}
		return p, nil
	}
	d.Add("exe", fs.NewSymlink(d, "exe", func(ctx context.Context) (string, error) {
		m := t.MemoryManager()
		if m == nil {
			return "", unix.ENOENT
		}
		f, ok := m.Executable().(*vfs.FileDescription)
		if !ok || f == nil {
			return "", unix.ENOENT
		}
		return path(f.VirtualDentry())
	}))
	d.Add("cwd", fs.NewSymlink(d, "cwd", func(ctx context.Context) (string, error) { return path(t.FSContext().Cwd()) }))
	d.Add("root", fs.NewSymlink(d, "root", func(ctx context.Context) (string, error) { return path(t.FSContext().Root()) }))
	d.Add("comm", fs.NewDataFile(d, "comm", 0o644, func(context.Context) ([]byte, error) { return []byte(t.Comm() + "\n"), nil }))
	d.Add("cmdline", fs.NewDataFile(d, "cmdline", 0o444, func(context.Context) ([]byte, error) {
		av, _ := t.MemoryManager().ArgvEnv()
		return readRange(t, av.Start, av.End), nil
	}))
	d.Add("environ", fs.NewDataFile(d, "environ", 0o400, func(context.Context) ([]byte, error) {
		_, ev := t.MemoryManager().ArgvEnv()
		return readRange(t, ev.Start, ev.End), nil
	}))
	d.Add("maps", fs.NewDataFile(d, "maps", 0o444, func(ctx context.Context) ([]byte, error) {
		return maps(t, path), nil
	}))
	d.Add("mounts", fs.NewDataFile(d, "mounts", 0o444, func(context.Context) ([]byte, error) { return mounts(k, t, path), nil }))
	d.Add("mountinfo", fs.NewDataFile(d, "mountinfo", 0o444, func(context.Context) ([]byte, error) { return mountinfo(k, t, path), nil }))
	d.Subdir("fd", 0o500, fds{t: t, path: path})
	return d
}

func readRange(t *kernel.Task, start, end uintptr) []byte {
	if end <= start {
		return nil
	}
	b := make([]byte, end-start)
	n, _ := t.MemoryManager().CopyIn(start, b)
	return b[:n]
}

func maps(t *kernel.Task, path func(vfs.VirtualDentry) (string, error)) []byte {
	var b strings.Builder
	for _, v := range t.MemoryManager().VMAs() {
		shared := "p"
		if !v.Private {
			shared = "s"
		}
		name := v.Hint
		var ino uint64
		if f, ok := v.Mappable.(interface{ Name() string }); ok && name == "" {
			name = f.Name()
		}
		line := fmt.Sprintf("%08x-%08x %s%s %08x 00:00 %d", v.Start, v.End, v.Perms, shared, v.Offset, ino)
		if name != "" {
			line = fmt.Sprintf("%-72s %s", line, name)
		}
		b.WriteString(line + "\n")
	}
	return []byte(b.String())
}

type fds struct {
	t    *kernel.Task
	path func(vfs.VirtualDentry) (string, error)
}

func (f fds) Lookup(ctx context.Context, parent *synth.Dir, name string) (vfs.Dentry, error) {
	n, err := strconv.Atoi(name)
	if err != nil {
		return nil, unix.ENOENT
	}
	file, _ := f.t.FDTable().Get(n)
	if file == nil {
		return nil, unix.ENOENT
	}
	vd := file.VirtualDentry()
	file.DecRef()
	return parent.FS().NewSymlink(parent, name, func(context.Context) (string, error) { return f.path(vd) }), nil
}

func (f fds) List(ctx context.Context, parent *synth.Dir) ([]vfs.Dirent, error) {
	var out []vfs.Dirent
	for _, n := range f.t.FDTable().FDs() {
		out = append(out, vfs.Dirent{Name: strconv.Itoa(n), Ino: uint64(n) + 1<<32, Type: vfs.DirentType(vfs.S_IFLNK)})
	}
	return out, nil
}
