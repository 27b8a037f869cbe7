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
	"sync"
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
	Options    string
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
