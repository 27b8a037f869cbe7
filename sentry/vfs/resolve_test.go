package vfs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// tree is the namespace most resolution tests use:
//
//	/file
//	/a/b/file
//	/a/b/sub/
//	/a/rel       -> b/file
//	/a/abs       -> /a/b
//	/a/chain1    -> chain2
//	/a/chain2    -> b
//	/a/dangling  -> nope
//	/a/loop1     -> loop2
//	/a/loop2     -> loop1
//	/a/self      -> self
//	/a/dirslash  -> b/
//	/a/fileslash -> b/file/
//	/a/empty     -> ""
//	/a/up        -> ../..
//	/a/toroot    -> /
//	/a/viafile   -> /file/x
//	/linkfile    -> a/b/file
type tree struct {
	ns                         *MountNamespace
	fs                         *fakeFS
	root, a, b, bfile, sub     *fakeNode
	file, rel, loop1, dangling *fakeNode
	fileslash, linkfile        *fakeNode
}

func newTree() *tree {
	t := &tree{fs: newFakeFS("fake")}
	t.root = t.fs.root
	t.file = t.root.file("file")
	t.a = t.root.dir("a")
	t.b = t.a.dir("b")
	t.bfile = t.b.file("file")
	t.sub = t.b.dir("sub")
	t.rel = t.a.link("rel", "b/file")
	t.a.link("abs", "/a/b")
	t.a.link("chain1", "chain2")
	t.a.link("chain2", "b")
	t.dangling = t.a.link("dangling", "nope")
	t.loop1 = t.a.link("loop1", "loop2")
	t.a.link("loop2", "loop1")
	t.a.link("self", "self")
	t.a.link("dirslash", "b/")
	t.fileslash = t.a.link("fileslash", "b/file/")
	t.a.link("empty", "")
	t.a.link("up", "../..")
	t.a.link("toroot", "/")
	t.a.link("viafile", "/file/x")
	t.linkfile = t.root.link("linkfile", "a/b/file")
	t.ns = NewMountNamespace(t.fs, "none", false)
	return t
}

func (t *tree) vd(d *fakeNode) VirtualDentry { return VirtualDentry{t.ns.root, d} }

func describe(vd VirtualDentry) string {
	if !vd.Ok() {
		return "<none>"
	}
	p, _ := (&MountNamespace{}).PathOf(VirtualDentry{}, vd)
	return fmt.Sprintf("mount %d %s", vd.Mount.ID, p)
}

func TestResolve(t *testing.T) {
	tr := newTree()
	ctx := context.Background()
	long := strings.Repeat("x", NameMax+1)
	tests := []struct {
		name   string
		path   string
		start  *fakeNode // default: root
		follow bool
		want   *fakeNode
		err    error
	}{
		{name: "root", path: "/", want: tr.root},
		{name: "absolute", path: "/a/b/file", want: tr.bfile},
		{name: "relative from root", path: "a/b", want: tr.b},
		{name: "relative from subdir", path: "b/file", start: tr.a, want: tr.bfile},
		{name: "absolute ignores start", path: "/a", start: tr.b, want: tr.a},
		{name: "dot", path: ".", start: tr.a, want: tr.a},
		{name: "dots", path: "/a/./b/../b/./file", want: tr.bfile},
		{name: "dotdot relative", path: "../file", start: tr.a, want: tr.file},
		{name: "repeated slashes", path: "//a///b//file", want: tr.bfile},
		{name: "trailing slash on dir", path: "/a/b/", want: tr.b},
		{name: "trailing slashes on dir", path: "/a/b//", want: tr.b},
		{name: "trailing dot on dir", path: "/a/b/.", want: tr.b},
		{name: "trailing slash on file", path: "/a/b/file/", err: unix.ENOTDIR},
		{name: "trailing dot on file", path: "/a/b/file/.", err: unix.ENOTDIR},
		{name: "dotdot through file", path: "/file/..", err: unix.ENOTDIR},
		{name: "through file", path: "/a/b/file/x", err: unix.ENOTDIR},
		{name: "missing", path: "/a/nope", err: unix.ENOENT},
		{name: "missing in the middle", path: "/a/nope/x", err: unix.ENOENT},
		{name: "empty path", path: "", err: unix.ENOENT},
		{name: "dotdot at root", path: "/..", want: tr.root},
		{name: "many dotdots at root", path: "/../../../a", want: tr.a},
		{name: "relative dotdot past root", path: "../../..", start: tr.a, want: tr.root},
		{name: "final link followed", path: "/a/rel", follow: true, want: tr.bfile},
		{name: "final link not followed", path: "/a/rel", want: tr.rel},
		{name: "link in the middle", path: "/a/chain2/file", want: tr.bfile},
		{name: "absolute link in the middle", path: "/a/abs/file", want: tr.bfile},
		{name: "absolute link final", path: "/a/abs", follow: true, want: tr.b},
		{name: "chain", path: "/a/chain1/sub", want: tr.sub},
		{name: "chain final", path: "/a/chain1", follow: true, want: tr.b},
		{name: "link to dotdots", path: "/a/up/file", want: tr.file},
		{name: "link to root", path: "/a/toroot/a/b", want: tr.b},
		{name: "link through file", path: "/a/viafile", follow: true, err: unix.ENOTDIR},
		{name: "relative link from root", path: "linkfile", follow: true, want: tr.bfile},
		{name: "loop", path: "/a/loop1", follow: true, err: unix.ELOOP},
		{name: "loop not followed", path: "/a/loop1", want: tr.loop1},
		{name: "loop in the middle", path: "/a/loop1/x", err: unix.ELOOP},
		{name: "self loop", path: "/a/self/x", err: unix.ELOOP},
		{name: "dangling followed", path: "/a/dangling", follow: true, err: unix.ENOENT},
		{name: "dangling not followed", path: "/a/dangling", want: tr.dangling},
		{name: "trailing slash follows dangling", path: "/a/dangling/", err: unix.ENOENT},
		{name: "trailing slash follows link", path: "/a/chain1/", want: tr.b},
		{name: "trailing slash on link to file", path: "/a/rel/", err: unix.ENOTDIR},
		{name: "empty link", path: "/a/empty", follow: true, err: unix.ENOENT},
		{name: "empty link not followed", path: "/a/empty/x", err: unix.ENOENT},
		{name: "link target with slash to dir", path: "/a/dirslash", follow: true, want: tr.b},
		{name: "link target with slash to file", path: "/a/fileslash", follow: true, err: unix.ENOTDIR},
		{name: "link target with slash not followed", path: "/a/fileslash", want: tr.fileslash},
		{name: "name too long", path: "/a/" + long, err: unix.ENAMETOOLONG},
		{name: "name too long in the middle", path: "/a/" + long + "/x", err: unix.ENAMETOOLONG},
		{name: "name of NameMax", path: "/a/" + long[1:], err: unix.ENOENT},
		{name: "path too long", path: "/" + strings.Repeat("./", (PathMax-1)/2) + "a", err: unix.ENAMETOOLONG},
		{name: "path of PathMax-1", path: strings.Repeat("./", (PathMax-2)/2) + "a", want: tr.a},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := tr.root
			if tc.start != nil {
				start = tc.start
			}
			got, err := tr.ns.Resolve(ctx, tc.path, ResolveOpts{Root: tr.vd(tr.root), Start: tr.vd(start), FollowFinal: tc.follow})
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Resolve(%.40q): got %s, %v; want %v", tc.path, describe(got), err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%.40q): got %v, want %s", tc.path, err, describe(tr.vd(tc.want)))
			}
			if got != tr.vd(tc.want) {
				t.Errorf("Resolve(%.40q): got %s, want %s", tc.path, describe(got), describe(tr.vd(tc.want)))
			}
		})
	}
}

func TestResolvePathLengths(t *testing.T) {
	tr := newTree()
	opts := ResolveOpts{Root: tr.vd(tr.root), Start: tr.vd(tr.root)}
	for _, n := range []int{PathMax - 1, PathMax, PathMax + 1} {
		// A path of n bytes: "./" repeated, then "a" or "/a".
		p := strings.Repeat("./", (n-1)/2)
		if len(p)+1 < n {
			p += "/"
		}
		p += "a"
		if len(p) != n {
			t.Fatalf("built a path of %d bytes, want %d", len(p), n)
		}
		_, err := tr.ns.Resolve(context.Background(), p, opts)
		if n < PathMax && err != nil {
			t.Errorf("path of %d bytes: got %v, want success", n, err)
		}
		if n >= PathMax && err != unix.ENAMETOOLONG {
			t.Errorf("path of %d bytes: got %v, want ENAMETOOLONG", n, err)
		}
	}
}

// TestResolveSymlinkLimit checks Linux's limit of 40 symlinks per lookup.
func TestResolveSymlinkLimit(t *testing.T) {
	fs := newFakeFS("fake")
	d := fs.root.dir("d")
	target := d.file("target")
	// l0 -> l1 -> ... -> l40 -> target: resolving lN follows 41-N links.
	for i := 0; i <= MaxSymlinks; i++ {
		next := fmt.Sprintf("l%d", i+1)
		if i == MaxSymlinks {
			next = "target"
		}
		d.link(fmt.Sprintf("l%d", i), next)
	}
	ns := NewMountNamespace(fs, "none", false)
	root := ns.Root()
	ctx := context.Background()
	opts := ResolveOpts{Root: root, Start: root, FollowFinal: true}
	got, err := ns.Resolve(ctx, "/d/l1", opts)
	if err != nil || got.Dentry != target {
		t.Errorf("40 links: got %v, %v; want the target", got.Dentry, err)
	}
	if _, err := ns.Resolve(ctx, "/d/l0", opts); err != unix.ELOOP {
		t.Errorf("41 links: got %v, want ELOOP", err)
	}
	// Links in the middle of a path count too.
	if _, err := ns.Resolve(ctx, "/d/l0/x", opts); err != unix.ELOOP {
		t.Errorf("41 links in the middle: got %v, want ELOOP", err)
	}
}

func TestResolveMounts(t *testing.T) {
	tr := newTree()
	ctx := context.Background()
	root := tr.ns.Root()
	opts := ResolveOpts{Root: root, Start: root, FollowFinal: true}
	resolve := func(p string) (VirtualDentry, error) { return tr.ns.Resolve(ctx, p, opts) }

	// fs2 on /a/b, then fs3 on top of it.
	fs2 := newFakeFS("fs2")
	fs2.root.file("only2")
	sub2 := fs2.root.dir("sub2")
	sub2.link("abs", "/a/chain1")
	m2 := tr.ns.Mount(tr.vd(tr.b), fs2, "fs2", false)
	vd, err := resolve("/a/b")
	if err != nil || vd != (VirtualDentry{m2, fs2.root}) {
		t.Fatalf("/a/b after one mount: got %s, %v; want fs2's root", describe(vd), err)
	}
	if _, err := resolve("/a/b/file"); err != unix.ENOENT {
		t.Errorf("/a/b/file (covered): got %v, want ENOENT", err)
	}
	if vd, err := resolve("/a/b/sub2/.."); err != nil || vd != (VirtualDentry{m2, fs2.root}) {
		t.Errorf("/a/b/sub2/..: got %s, %v; want fs2's root", describe(vd), err)
	}
	if vd, err := resolve("/a/b/.."); err != nil || vd != tr.vd(tr.a) {
		t.Errorf("/a/b/..: got %s, %v; want /a", describe(vd), err)
	}
	if vd, err := resolve("/a/b/sub2/../../b/only2"); err != nil || vd.Mount != m2 {
		t.Errorf("/a/b/sub2/../../b/only2: got %s, %v; want a file of fs2", describe(vd), err)
	}
	// An absolute symlink in a mount starts from the process root; its
	// target leads back into the same mount (chain1 -> chain2 -> b).
	if vd, err := resolve("/a/b/sub2/abs"); err != nil || vd != (VirtualDentry{m2, fs2.root}) {
		t.Errorf("/a/b/sub2/abs: got %s, %v; want fs2's root", describe(vd), err)
	}

	fs3 := newFakeFS("fs3")
	fs3.root.file("only3")
	m3 := tr.ns.Mount(tr.vd(tr.b), fs3, "fs3", false)
	if p, _ := m3.Parent(); p != m2 {
		t.Errorf("second mount on /a/b: parent mount %v, want the first (stacked)", p)
	}
	top := VirtualDentry{m3, fs3.root}
	for _, p := range []string{"/a/b", "/a/b/", "/a/chain1", "/a/b/."} {
		if vd, err := resolve(p); err != nil || vd != top {
			t.Errorf("%s with stacked mounts: got %s, %v; want fs3's root", p, describe(vd), err)
		}
	}
	if _, err := resolve("/a/b/only2"); err != unix.ENOENT {
		t.Errorf("/a/b/only2 (covered by fs3): got %v, want ENOENT", err)
	}
	if vd, err := resolve("/a/b/.."); err != nil || vd != tr.vd(tr.a) {
		t.Errorf("/a/b/.. with stacked mounts: got %s, %v; want /a", describe(vd), err)
	}
	// ".." from /a/b/sub/.. style paths in the parent lead to the top.
	if vd, err := resolve("/a/b/../b"); err != nil || vd != top {
		t.Errorf("/a/b/../b: got %s, %v; want fs3's root", describe(vd), err)
	}
	if p, ok := tr.ns.PathOf(root, top); p != "/a/b" || !ok {
		t.Errorf("PathOf(fs3's root): got %q, %v; want /a/b, true", p, ok)
	}
	if p, ok := tr.ns.PathOf(root, VirtualDentry{m2, sub2}); p != "/a/b/sub2" || !ok {
		t.Errorf("PathOf(covered fs2/sub2): got %q, %v; want /a/b/sub2, true", p, ok)
	}
	if got := tr.ns.Mounts(); len(got) != 3 || got[0] != root.Mount || got[1] != m2 || got[2] != m3 {
		t.Errorf("Mounts: got %v, want root, fs2, fs3", got)
	}
}

// TestResolveChroot resolves with the process root set to /a.
func TestResolveChroot(t *testing.T) {
	tr := newTree()
	ctx := context.Background()
	chroot := tr.vd(tr.a)
	tests := []struct {
		path   string
		start  *fakeNode
		follow bool
		want   *fakeNode
		err    error
	}{
		{path: "/", want: tr.a},
		{path: "/..", want: tr.a},
		{path: "/../../..", want: tr.a},
		{path: "/b/file", want: tr.bfile},
		{path: "../../../b", start: tr.b, want: tr.b},
		{path: "/b/sub/../../..", want: tr.a},
		// Absolute symlinks start from the new root.
		{path: "/abs", follow: true, err: unix.ENOENT}, // /a/b is now /a/a/b
		{path: "/toroot", follow: true, want: tr.a},
		{path: "/up", follow: true, want: tr.a},
		{path: "/up/../up/b", want: tr.b},
		{path: "/viafile", follow: true, err: unix.ENOENT},
		{path: "/rel", follow: true, want: tr.bfile},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			start := tr.a
			if tc.start != nil {
				start = tc.start
			}
			got, err := tr.ns.Resolve(ctx, tc.path, ResolveOpts{Root: chroot, Start: tr.vd(start), FollowFinal: tc.follow})
			if tc.err != nil {
				if err != tc.err {
					t.Fatalf("Resolve(%q): got %s, %v; want %v", tc.path, describe(got), err, tc.err)
				}
				return
			}
			if err != nil || got != tr.vd(tc.want) {
				t.Fatalf("Resolve(%q): got %s, %v; want %s", tc.path, describe(got), err, describe(tr.vd(tc.want)))
			}
		})
	}

	// A mount inside the new root: ".." from its root comes back to /a/b's
	// parent, still inside.
	fs2 := newFakeFS("fs2")
	fs2.root.dir("d")
	m2 := tr.ns.Mount(tr.vd(tr.b), fs2, "fs2", false)
	if vd, err := tr.ns.Resolve(ctx, "/b/d/../../../..", ResolveOpts{Root: chroot, Start: chroot}); err != nil || vd != chroot {
		t.Errorf("/b/d/../../../.. under chroot: got %s, %v; want the chroot", describe(vd), err)
	}

	// PathOf, inside and outside the root.
	for _, tc := range []struct {
		vd   VirtualDentry
		want string
		ok   bool
	}{
		{chroot, "/", true},
		{tr.vd(tr.bfile), "/b/file", true},
		{VirtualDentry{m2, fs2.root}, "/b", true},
		{tr.vd(tr.file), "/file", false},
		{tr.vd(tr.root), "/", false},
	} {
		if p, ok := tr.ns.PathOf(chroot, tc.vd); p != tc.want || ok != tc.ok {
			t.Errorf("PathOf(chroot /a, %s): got %q, %v; want %q, %v", describe(tc.vd), p, ok, tc.want, tc.ok)
		}
	}
	if p, ok := tr.ns.PathOf(tr.ns.Root(), tr.vd(tr.bfile)); p != "/a/b/file" || !ok {
		t.Errorf("PathOf(/, /a/b/file): got %q, %v; want /a/b/file, true", p, ok)
	}
}

// TestDotDotStackedOnRoot checks ".." where mounts are stacked on the
// process root: it stays on the topmost mount, never falling to a dentry
// a mount covers, as Linux's follow_dotdot and step_into do.
func TestDotDotStackedOnRoot(t *testing.T) {
	tr := newTree()
	ctx := context.Background()
	chroot := tr.vd(tr.a)
	fs2 := newFakeFS("fs2")
	m2 := tr.ns.Mount(chroot, fs2, "fs2", false)
	fs3 := newFakeFS("fs3")
	m3 := tr.ns.Mount(chroot, fs3, "fs3", false)
	top := VirtualDentry{m3, fs3.root}
	if p, _ := m3.Parent(); p != m2 {
		t.Fatalf("fs3 is mounted on mount %v, want fs2's", p)
	}
	for _, start := range []VirtualDentry{chroot, top} {
		got, err := tr.ns.Resolve(ctx, "..", ResolveOpts{Root: chroot, Start: start})
		if err != nil || got != top {
			t.Errorf(".. from %s with mounts stacked on the root: got %s, %v; want fs3's root", describe(start), describe(got), err)
		}
	}
	// With the namespace root as the process root, ".." from the top of
	// the stack on /a climbs to /.
	root := tr.ns.Root()
	if got, err := tr.ns.Resolve(ctx, "..", ResolveOpts{Root: root, Start: top}); err != nil || got != root {
		t.Errorf(".. from fs3's root: got %s, %v; want /", describe(got), err)
	}
	if p, ok := tr.ns.PathOf(chroot, top); p != "/" || !ok {
		t.Errorf("PathOf(chroot, top of the stack on it): got %q, %v; want /, true", p, ok)
	}
}
