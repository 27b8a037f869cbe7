package vfs

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeMagic is a magic link whose text is text and which leads to to (or
// fails with err).
type fakeMagic struct {
	*fakeNode
	to   VirtualDentry
	text string
	err  error
}

func (m *fakeMagic) Readlink(context.Context) (string, error) { return m.text, nil }
func (m *fakeMagic) Follow(context.Context) (VirtualDentry, error) {
	return m.to, m.err
}

// magicDir is a directory whose children may be magic links.
type magicDir struct {
	*fakeNode
	links map[string]*fakeMagic
}

func (d *magicDir) Lookup(ctx context.Context, name string) (Dentry, error) {
	if l, ok := d.links[name]; ok {
		return l, nil
	}
	return d.fakeNode.Lookup(ctx, name)
}

// TestResolveMagicLinks checks that following a magic link jumps to the
// object it names, whatever its text says: a file with no name in the
// tree (like an unlinked file or a pipe), a directory (like cwd), with
// the rest of the path resolved from there.
func TestResolveMagicLinks(t *testing.T) {
	tr := newTree()
	ctx := context.Background()

	// An object on a filesystem mounted nowhere, as a pipe is.
	anonFS := newFakeFS("anon")
	anon := newFakeNode("pipe:[7]", nil, S_IFIFO|0o600)
	anonMount := &Mount{FS: anonFS, Root: anonFS.root}
	// A file unlinked from the tree but still open.
	gone := newFakeNode("gone", tr.b, S_IFREG|0o644)

	pd := &magicDir{fakeNode: newFakeNode("fd", tr.root, S_IFDIR|0o500), links: map[string]*fakeMagic{}}
	// The root is wrapped to serve the magic directory.
	root := &magicRoot{fakeNode: tr.root, fd: pd}
	ns := NewMountNamespace(&magicRootFS{fakeFS: tr.fs, root: root}, "none", false)
	rvd := VirtualDentry{ns.root, root}
	vd := func(d *fakeNode) VirtualDentry { return VirtualDentry{ns.root, d} }
	add := func(name string, to VirtualDentry, text string, err error) *fakeMagic {
		m := &fakeMagic{fakeNode: newFakeNode(name, pd.fakeNode, S_IFLNK|0o700), to: to, text: text, err: err}
		pd.links[name] = m
		return m
	}
	pipeLink := add("0", VirtualDentry{anonMount, anon}, "pipe:[7]", nil)
	add("1", vd(gone), "/a/b/gone (deleted)", nil)
	add("2", vd(tr.b), "/nowhere/really", nil)
	add("3", VirtualDentry{}, "/x", unix.EACCES)
	add("4", vd(tr.bfile), "/a/b/file", nil)
	add("5", VirtualDentry{}, "", nil)

	tests := []struct {
		name   string
		path   string
		follow bool
		want   VirtualDentry
		err    error
	}{
		{name: "pipe", path: "/fd/0", follow: true, want: VirtualDentry{anonMount, anon}},
		{name: "not followed", path: "/fd/0", want: VirtualDentry{ns.root, pipeLink}},
		{name: "unlinked file", path: "/fd/1", follow: true, want: vd(gone)},
		{name: "directory, whatever the text", path: "/fd/2", follow: true, want: vd(tr.b)},
		{name: "into a directory", path: "/fd/2/sub", want: vd(tr.sub)},
		{name: "dotdot from the target", path: "/fd/2/..", want: vd(tr.a)},
		{name: "trailing slash on a directory", path: "/fd/2/", want: vd(tr.b)},
		{name: "trailing slash on a file", path: "/fd/4/", err: unix.ENOTDIR},
		{name: "through a file", path: "/fd/4/x", err: unix.ENOTDIR},
		{name: "through a pipe", path: "/fd/0/x", err: unix.ENOTDIR},
		{name: "refused", path: "/fd/3", follow: true, err: unix.EACCES},
		{name: "refused in the middle", path: "/fd/3/x", err: unix.EACCES},
		{name: "gone", path: "/fd/5", follow: true, err: unix.ENOENT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ns.Resolve(ctx, tc.path, ResolveOpts{Root: rvd, Start: rvd, FollowFinal: tc.follow})
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Resolve(%q): got %v, %v; want %v", tc.path, got.Dentry, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tc.path, err)
			}
			want := tc.want
			if got != want {
				t.Errorf("Resolve(%q): got %v on mount %d, want %v on mount %d", tc.path, got.Dentry.Name(), got.Mount.ID, want.Dentry.Name(), want.Mount.ID)
			}
		})
	}
}

// magicRoot is the tree's root with the magic directory "fd" in it.
type magicRoot struct {
	*fakeNode
	fd *magicDir
}

func (r *magicRoot) Lookup(ctx context.Context, name string) (Dentry, error) {
	if name == "fd" {
		return r.fd, nil
	}
	return r.fakeNode.Lookup(ctx, name)
}

type magicRootFS struct {
	*fakeFS
	root *magicRoot
}

func (fs *magicRootFS) Root() Dentry { return fs.root }
