package vfs

import (
	"context"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// fakeFS is an in-memory filesystem for tests: directories, regular files
// and symlinks with fixed targets.
type fakeFS struct {
	name string
	root *fakeNode
}

var fakeIno atomic.Uint64

func newFakeFS(name string) *fakeFS {
	return &fakeFS{name: name, root: newFakeNode("", nil, S_IFDIR|0o755)}
}

func (fs *fakeFS) Name() string                           { return fs.name }
func (fs *fakeFS) Root() Dentry                           { return fs.root }
func (fs *fakeFS) Statfs(context.Context) (Statfs, error) { return Statfs{}, nil }

type fakeNode struct {
	name     string
	parent   *fakeNode
	mode     uint32
	ino      uint64
	target   string
	children map[string]*fakeNode
	lookups  atomic.Int64
}

func newFakeNode(name string, parent *fakeNode, mode uint32) *fakeNode {
	return &fakeNode{name: name, parent: parent, mode: mode, ino: fakeIno.Add(1), children: map[string]*fakeNode{}}
}

func (n *fakeNode) add(name string, mode uint32) *fakeNode {
	c := newFakeNode(name, n, mode)
	n.children[name] = c
	return c
}

func (n *fakeNode) dir(name string) *fakeNode  { return n.add(name, S_IFDIR|0o755) }
func (n *fakeNode) file(name string) *fakeNode { return n.add(name, S_IFREG|0o644) }
func (n *fakeNode) link(name, target string) *fakeNode {
	c := n.add(name, S_IFLNK|0o777)
	c.target = target
	return c
}

func (n *fakeNode) Name() string { return n.name }
func (n *fakeNode) Parent() Dentry {
	if n.parent == nil {
		return nil
	}
	return n.parent
}
func (n *fakeNode) Mode() uint32 { return n.mode }
func (n *fakeNode) Lookup(_ context.Context, name string) (Dentry, error) {
	n.lookups.Add(1)
	if name == "" || name == "." || name == ".." {
		panic("Lookup of " + name)
	}
	if n.mode&S_IFMT != S_IFDIR {
		return nil, unix.ENOTDIR
	}
	c, ok := n.children[name]
	if !ok {
		return nil, unix.ENOENT
	}
	return c, nil
}
func (n *fakeNode) Stat(context.Context) (Statx, error) {
	return Statx{Mode: n.mode, Ino: n.ino}, nil
}
func (n *fakeNode) Readlink(context.Context) (string, error) {
	if n.mode&S_IFMT != S_IFLNK {
		return "", unix.EINVAL
	}
	return n.target, nil
}
func (n *fakeNode) Open(_ context.Context, vd VirtualDentry, flags uint32) (*FileDescription, error) {
	return NewFileDescription(&countingFile{}, vd, flags), nil
}

// countingFile counts its releases.
type countingFile struct {
	FileDefaults
	released atomic.Int32
}

func (f *countingFile) Release() { f.released.Add(1) }
