// Package vfs is the sentry's virtual filesystem layer: mounts, path
// resolution, open file descriptions and FD tables. Filesystem
// implementations (package sentry/fs/...) provide Dentries and FileImpls.
//
// Dentries are cached by their filesystems for the life of the mount (no
// eviction yet). File descriptions are reference counted because they may
// own host resources (donated host FDs).
//
// Lock order: MountNamespace.mu, then FDTable.mu, then FileDescription.mu,
// then filesystem locks.
package vfs

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Dentry is a node in a filesystem's name tree.
type Dentry interface {
	// Name returns the node's name in its parent ("" for a root).
	Name() string
	// Parent returns the parent, or nil for the filesystem's root.
	Parent() Dentry
	// Mode returns the node's file type and permission bits.
	Mode() uint32
	// Lookup returns the child called name; name is never "", "." or "..".
	Lookup(ctx context.Context, name string) (Dentry, error)
	// Stat returns the node's attributes.
	Stat(ctx context.Context) (Statx, error)
	// Readlink returns a symlink's target (EINVAL for other types).
	Readlink(ctx context.Context) (string, error)
	// Open opens the node. vd is the path it was reached by.
	Open(ctx context.Context, vd VirtualDentry, flags uint32) (*FileDescription, error)
}

// Filesystem is a mounted filesystem instance.
type Filesystem interface {
	// Name is the filesystem type, as /proc/mounts shows it.
	Name() string
	// Root returns the filesystem's root.
	Root() Dentry
	// Statfs describes the filesystem.
	Statfs(ctx context.Context) (Statfs, error)
}

// Mount is a filesystem mounted somewhere in a namespace.
type Mount struct {
	ID         int
	FS         Filesystem
	Root       Dentry
	parent     *Mount
	mountpoint Dentry
	ReadOnly   bool
	Source     string
	// flags are the mount's MountNo* flags.
	flags atomic.Uint32
}

// Per-mount flags (mount(2)'s MS_NOSUID, MS_NODEV and MS_NOEXEC).
const (
	// MountNoSuid: exec ignores set-user-ID and set-group-ID bits.
	MountNoSuid = 1 << iota
	// MountNoDev: device nodes can't be opened (EACCES).
	MountNoDev
	// MountNoExec: files can't be executed (EACCES) or mapped
	// executable (EPERM).
	MountNoExec
)

// Flags returns the mount's MountNo* flags.
func (m *Mount) Flags() uint32 { return m.flags.Load() }

// SetFlags replaces the mount's MountNo* flags.
func (m *Mount) SetFlags(f uint32) { m.flags.Store(f) }

// FlagsString renders flags as /proc/mounts shows them after the rw/ro
// field ("nosuid,nodev,noexec" or less).
func FlagsString(f uint32) string {
	var o []string
	for _, x := range []struct {
		bit  uint32
		name string
	}{{MountNoSuid, "nosuid"}, {MountNoDev, "nodev"}, {MountNoExec, "noexec"}} {
		if f&x.bit != 0 {
			o = append(o, x.name)
		}
	}
	return strings.Join(o, ",")
}

// Parent returns the mount this one is mounted on and the dentry it
// covers, or nil for the root mount.
func (m *Mount) Parent() (*Mount, Dentry) { return m.parent, m.mountpoint }

// VirtualDentry is a dentry as reached through a mount.
type VirtualDentry struct {
	Mount  *Mount
	Dentry Dentry
}

// Ok reports whether vd is set.
func (vd VirtualDentry) Ok() bool { return vd.Mount != nil }

type mountKey struct {
	parent *Mount
	point  Dentry
}

// MountNamespace is a tree of mounts.
type MountNamespace struct {
	mu     sync.RWMutex
	root   *Mount
	mounts map[mountKey]*Mount
	all    []*Mount
	nextID int
}

// NewMountNamespace returns a namespace whose root is fs.
func NewMountNamespace(fs Filesystem, source string, readOnly bool) *MountNamespace {
	ns := &MountNamespace{mounts: make(map[mountKey]*Mount), nextID: 1}
	ns.root = ns.newMount(fs, source, readOnly)
	return ns
}

func (ns *MountNamespace) newMount(fs Filesystem, source string, readOnly bool) *Mount {
	m := &Mount{ID: ns.nextID, FS: fs, Root: fs.Root(), ReadOnly: readOnly, Source: source}
	ns.nextID++
	ns.all = append(ns.all, m)
	return m
}

// Root returns the namespace's root.
func (ns *MountNamespace) Root() VirtualDentry {
	return VirtualDentry{ns.root, ns.root.Root}
}

// Mount mounts fs on top of the directory at.
func (ns *MountNamespace) Mount(at VirtualDentry, fs Filesystem, source string, readOnly bool) *Mount {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	// Mount on top of whatever is already mounted there.
	for {
		top, ok := ns.mounts[mountKey{at.Mount, at.Dentry}]
		if !ok {
			break
		}
		at = VirtualDentry{top, top.Root}
	}
	m := ns.newMount(fs, source, readOnly)
	m.parent, m.mountpoint = at.Mount, at.Dentry
	ns.mounts[mountKey{at.Mount, at.Dentry}] = m
	return m
}

// Mounts returns every mount, in mount order.
func (ns *MountNamespace) Mounts() []*Mount {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	return append([]*Mount(nil), ns.all...)
}

// followMounts returns the topmost mount's root if vd is a mountpoint.
func (ns *MountNamespace) followMounts(vd VirtualDentry) VirtualDentry {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	for {
		m, ok := ns.mounts[mountKey{vd.Mount, vd.Dentry}]
		if !ok {
			return vd
		}
		vd = VirtualDentry{m, m.Root}
	}
}

// BindMount mounts the tree at src again on top of at (mount --bind).
func (ns *MountNamespace) BindMount(at, src VirtualDentry, readOnly bool) *Mount {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	for {
		top, ok := ns.mounts[mountKey{at.Mount, at.Dentry}]
		if !ok {
			break
		}
		at = VirtualDentry{top, top.Root}
	}
	m := ns.newMount(src.Mount.FS, src.Mount.Source, readOnly)
	m.Root = src.Dentry
	m.SetFlags(src.Mount.Flags())
	m.parent, m.mountpoint = at.Mount, at.Dentry
	ns.mounts[mountKey{at.Mount, at.Dentry}] = m
	return m
}

// IsMountRoot reports whether vd is the root of its mount (a mount
// point as umount(2) and remount want it).
func (vd VirtualDentry) IsMountRoot() bool { return vd.Mount != nil && vd.Dentry == vd.Mount.Root }

// IsMountpoint reports whether a mount covers vd (rmdir and rename of it
// are EBUSY).
func (ns *MountNamespace) IsMountpoint(vd VirtualDentry) bool {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	_, ok := ns.mounts[mountKey{vd.Mount, vd.Dentry}]
	return ok
}

// IsRoot reports whether m is the namespace's root mount.
func (ns *MountNamespace) IsRoot(m *Mount) bool {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	return m == ns.root
}

// Unmount removes m: EINVAL for the root mount, EBUSY while other mounts
// sit on it unless detach is set, which takes them away too (umount2
// with MNT_DETACH).
func (ns *MountNamespace) Unmount(m *Mount, detach bool) error {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if m == ns.root || m.parent == nil {
		return unix.EINVAL
	}
	if _, ok := ns.mounts[mountKey{m.parent, m.mountpoint}]; !ok {
		return unix.EINVAL
	}
	var children []*Mount
	for _, c := range ns.all {
		if c.parent == m {
			children = append(children, c)
		}
	}
	if len(children) > 0 && !detach {
		return unix.EBUSY
	}
	ns.removeLocked(m)
	return nil
}

// removeLocked takes m and every mount on it out of the namespace.
func (ns *MountNamespace) removeLocked(m *Mount) {
	for _, c := range append([]*Mount(nil), ns.all...) {
		if c.parent == m {
			ns.removeLocked(c)
		}
	}
	key := mountKey{m.parent, m.mountpoint}
	if ns.mounts[key] == m {
		delete(ns.mounts, key)
	}
	for i, x := range ns.all {
		if x == m {
			ns.all = append(ns.all[:i:i], ns.all[i+1:]...)
			break
		}
	}
}

// SetReadOnly changes a mount's read-only flag (remount).
func (ns *MountNamespace) SetReadOnly(m *Mount, ro bool) {
	ns.mu.Lock()
	m.ReadOnly = ro
	ns.mu.Unlock()
}
