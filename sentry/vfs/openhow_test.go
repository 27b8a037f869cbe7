package vfs

import (
	"context"
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseOpenHow(t *testing.T) {
	how := func(size int, tail byte) []byte {
		b := make([]byte, size)
		binary.LittleEndian.PutUint64(b[0:], unix.O_RDWR)
		binary.LittleEndian.PutUint64(b[8:], 0)
		binary.LittleEndian.PutUint64(b[16:], unix.RESOLVE_BENEATH)
		if size > OpenHowSizeVer0 {
			b[size-1] = tail
		}
		return b
	}
	for _, tc := range []struct {
		name string
		b    []byte
		err  error
	}{
		{"version 0", how(24, 0), nil},
		{"larger with a zero tail", how(32, 0), nil},
		{"a page with a zero tail", how(4096, 0), nil},
		{"larger with a non-zero tail", how(32, 1), unix.E2BIG},
	} {
		h, err := ParseOpenHow(tc.b)
		if err != tc.err {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.err)
			continue
		}
		if err == nil && (h != OpenHow{Flags: unix.O_RDWR, Resolve: unix.RESOLVE_BENEATH}) {
			t.Errorf("%s: got %+v", tc.name, h)
		}
	}
	for _, tc := range []struct {
		size uint64
		err  error
	}{{0, unix.EINVAL}, {23, unix.EINVAL}, {24, nil}, {4096, nil}, {4097, unix.E2BIG}, {1 << 40, unix.E2BIG}} {
		if err := CheckOpenHowSize(tc.size); err != tc.err {
			t.Errorf("CheckOpenHowSize(%d): got %v, want %v", tc.size, err, tc.err)
		}
	}
}

func TestOpenHowValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		how  OpenHow
		err  error
	}{
		{"plain read", OpenHow{Flags: unix.O_RDONLY}, nil},
		{"every known flag that goes together", OpenHow{Flags: unix.O_RDWR | unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_TRUNC | unix.O_APPEND | unix.O_NONBLOCK | unix.O_SYNC | unix.O_ASYNC | unix.O_DIRECT | oLargefile | unix.O_NOFOLLOW | unix.O_NOATIME | unix.O_CLOEXEC, Mode: 0o7777}, nil},
		{"unknown flag", OpenHow{Flags: 1 << 30}, unix.EINVAL},
		{"flag above 32 bits", OpenHow{Flags: 1 << 32}, unix.EINVAL},
		{"unknown resolve bit", OpenHow{Resolve: 0x40}, unix.EINVAL},
		{"every resolve flag but one scope", OpenHow{Resolve: unix.RESOLVE_NO_XDEV | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_IN_ROOT}, nil},
		{"both scopes", OpenHow{Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_IN_ROOT}, unix.EINVAL},
		{"mode without O_CREAT", OpenHow{Mode: 0o644}, unix.EINVAL},
		{"mode with O_TMPFILE", OpenHow{Flags: unix.O_TMPFILE | unix.O_RDWR, Mode: 0o600}, nil},
		{"mode beyond 07777", OpenHow{Flags: unix.O_CREAT, Mode: 0o10000}, unix.EINVAL},
		{"O_CREAT|O_DIRECTORY", OpenHow{Flags: unix.O_CREAT | unix.O_DIRECTORY}, unix.EINVAL},
		{"read-only O_TMPFILE", OpenHow{Flags: unix.O_TMPFILE}, unix.EINVAL},
		{"O_TMPFILE without O_DIRECTORY", OpenHow{Flags: oTmpfileBit | unix.O_RDWR}, unix.EINVAL},
		{"O_PATH with its flags", OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC}, nil},
		{"O_PATH with O_RDWR", OpenHow{Flags: unix.O_PATH | unix.O_RDWR}, unix.EINVAL},
		{"O_PATH with O_CREAT", OpenHow{Flags: unix.O_PATH | unix.O_CREAT}, unix.EINVAL},
		{"RESOLVE_CACHED", OpenHow{Resolve: ResolveCached}, nil},
		{"RESOLVE_CACHED with O_CREAT", OpenHow{Flags: unix.O_CREAT | unix.O_WRONLY, Resolve: ResolveCached}, unix.EAGAIN},
		{"RESOLVE_CACHED with O_TRUNC", OpenHow{Flags: unix.O_TRUNC | unix.O_WRONLY, Resolve: ResolveCached}, unix.EAGAIN},
	} {
		if err := tc.how.Validate(); err != tc.err {
			t.Errorf("%s: Validate(%+v) = %v, want %v", tc.name, tc.how, err, tc.err)
		}
	}
}

// TestResolveFlags checks openat2's RESOLVE_* restrictions. Start is /a;
// fs2 is mounted on /a/b/sub and holds a symlink to /a.
func TestResolveFlags(t *testing.T) {
	tr := newTree()
	ctx := context.Background()
	fs2 := newFakeFS("fs2")
	fs2.root.dir("d")
	fs2.root.link("toa", "/a")
	fs2.root.link("local", "d")
	m2 := tr.ns.Mount(tr.vd(tr.sub), fs2, "fs2", false)
	fs2root := VirtualDentry{m2, fs2.root}
	a := tr.vd(tr.a)
	const (
		noXdev   = unix.RESOLVE_NO_XDEV
		noSyms   = unix.RESOLVE_NO_SYMLINKS
		noMagic  = unix.RESOLVE_NO_MAGICLINKS
		beneath  = unix.RESOLVE_BENEATH
		inRoot   = unix.RESOLVE_IN_ROOT
		followIt = true
	)
	tests := []struct {
		name    string
		resolve uint64
		start   VirtualDentry // default /a
		path    string
		follow  bool
		want    VirtualDentry
		err     error
	}{
		{name: "no-xdev within the mount", resolve: noXdev, path: "b/file", want: tr.vd(tr.bfile)},
		{name: "no-xdev into a mount", resolve: noXdev, path: "b/sub", err: unix.EXDEV},
		{name: "no-xdev through a mount", resolve: noXdev, path: "b/sub/d", err: unix.EXDEV},
		{name: "no-xdev dotdot out of a mount", resolve: noXdev, start: fs2root, path: "..", err: unix.EXDEV},
		{name: "no-xdev within the other mount", resolve: noXdev, start: fs2root, path: "d/..", want: fs2root},
		{name: "no-xdev relative symlink", resolve: noXdev, start: fs2root, path: "local", follow: followIt, want: VirtualDentry{m2, fs2.root.children["d"]}},
		{name: "no-xdev absolute symlink to another mount", resolve: noXdev, start: fs2root, path: "toa", follow: followIt, err: unix.EXDEV},
		{name: "no-xdev absolute path from another mount", resolve: noXdev, start: fs2root, path: "/a", want: a},
		{name: "no-xdev absolute symlink on the root's mount", resolve: noXdev, path: "abs/file", want: tr.vd(tr.bfile)},
		{name: "no-symlinks in the middle", resolve: noSyms, path: "chain2/file", err: unix.ELOOP},
		{name: "no-symlinks final followed", resolve: noSyms, path: "rel", follow: followIt, err: unix.ELOOP},
		{name: "no-symlinks final not followed", resolve: noSyms, path: "rel", want: tr.vd(tr.rel)},
		{name: "no-symlinks trailing slash follows", resolve: noSyms, path: "chain2/", err: unix.ELOOP},
		{name: "no-magiclinks allows symlinks", resolve: noMagic, path: "chain1", follow: followIt, want: tr.vd(tr.b)},
		{name: "beneath", resolve: beneath, path: "b/sub/d/../..", want: tr.vd(tr.b)},
		{name: "beneath absolute path", resolve: beneath, path: "/a", err: unix.EXDEV},
		{name: "beneath dotdot", resolve: beneath, path: "..", err: unix.EXDEV},
		{name: "beneath dotdot back in", resolve: beneath, path: "../a", err: unix.EXDEV},
		{name: "beneath dotdot deeper", resolve: beneath, path: "b/../../a", err: unix.EXDEV},
		{name: "beneath dot dot", resolve: beneath, path: "b/./..", want: a},
		{name: "beneath relative symlink", resolve: beneath, path: "rel", follow: followIt, want: tr.vd(tr.bfile)},
		{name: "beneath absolute symlink", resolve: beneath, path: "abs", follow: followIt, err: unix.EXDEV},
		{name: "beneath absolute symlink not followed", resolve: beneath, path: "abs", want: VirtualDentry{tr.ns.root, tr.a.children["abs"]}},
		{name: "beneath symlink escaping", resolve: beneath, path: "up", follow: followIt, err: unix.EXDEV},
		{name: "beneath symlink in a mount", resolve: beneath, path: "b/sub/toa", follow: followIt, err: unix.EXDEV},
		{name: "in-root slash", resolve: inRoot, path: "/", want: a},
		{name: "in-root absolute", resolve: inRoot, path: "/b/file", want: tr.vd(tr.bfile)},
		{name: "in-root dotdot", resolve: inRoot, path: "../../b", want: tr.vd(tr.b)},
		{name: "in-root absolute symlink", resolve: inRoot, path: "abs", follow: followIt, err: unix.ENOENT}, // /a/a/b
		{name: "in-root symlink to slash", resolve: inRoot, path: "toroot/b", want: tr.vd(tr.b)},
		{name: "in-root symlink escaping", resolve: inRoot, path: "up/b", want: tr.vd(tr.b)},
		{name: "in-root no-xdev absolute symlink from a mount", resolve: inRoot | noXdev, path: "b/sub/toa", follow: followIt, err: unix.EXDEV},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := tc.start
			if !start.Ok() {
				start = a
			}
			got, err := tr.ns.Resolve(ctx, tc.path, ResolveOpts{Root: tr.ns.Root(), Start: start, FollowFinal: tc.follow, Resolve: tc.resolve})
			if err != tc.err || err == nil && got != tc.want {
				t.Errorf("Resolve(%q, resolve %#x): got %s, %v; want %s, %v", tc.path, tc.resolve, describe(got), err, describe(tc.want), tc.err)
			}
		})
	}
}

// TestResolveFlagsMagicLinks checks the restrictions on magic links: a
// jump is ELOOP under RESOLVE_NO_MAGICLINKS or RESOLVE_NO_SYMLINKS,
// EXDEV under RESOLVE_BENEATH or RESOLVE_IN_ROOT, and EXDEV under
// RESOLVE_NO_XDEV when it lands on another mount.
func TestResolveFlagsMagicLinks(t *testing.T) {
	tr := newTree()
	ctx := context.Background()
	pd := &magicDir{fakeNode: newFakeNode("fd", tr.root, S_IFDIR|0o500), links: map[string]*fakeMagic{}}
	root := &magicRoot{fakeNode: tr.root, fd: pd}
	ns := NewMountNamespace(&magicRootFS{fakeFS: tr.fs, root: root}, "none", false)
	rvd := VirtualDentry{ns.root, root}
	other := newFakeFS("other")
	om := ns.Mount(VirtualDentry{ns.root, tr.b}, other, "other", false)
	link := func(name string, to VirtualDentry) *fakeMagic {
		m := &fakeMagic{fakeNode: newFakeNode(name, pd.fakeNode, S_IFLNK|0o700), to: to, text: "whatever"}
		pd.links[name] = m
		return m
	}
	same := link("0", VirtualDentry{ns.root, tr.a})
	link("1", VirtualDentry{om, other.root})
	for _, tc := range []struct {
		name    string
		resolve uint64
		path    string
		follow  bool
		want    VirtualDentry
		err     error
	}{
		{name: "followed", path: "/fd/0", follow: true, want: VirtualDentry{ns.root, tr.a}},
		{name: "no-magiclinks", resolve: unix.RESOLVE_NO_MAGICLINKS, path: "/fd/0", follow: true, err: unix.ELOOP},
		{name: "no-magiclinks in the middle", resolve: unix.RESOLVE_NO_MAGICLINKS, path: "/fd/0/b", err: unix.ELOOP},
		{name: "no-magiclinks not followed", resolve: unix.RESOLVE_NO_MAGICLINKS, path: "/fd/0", want: VirtualDentry{ns.root, same}},
		{name: "no-symlinks", resolve: unix.RESOLVE_NO_SYMLINKS, path: "/fd/0", follow: true, err: unix.ELOOP},
		{name: "no-xdev same mount", resolve: unix.RESOLVE_NO_XDEV, path: "/fd/0", follow: true, want: VirtualDentry{ns.root, tr.a}},
		{name: "no-xdev other mount", resolve: unix.RESOLVE_NO_XDEV, path: "/fd/1", follow: true, err: unix.EXDEV},
		{name: "beneath", resolve: unix.RESOLVE_BENEATH, path: "fd/0", follow: true, err: unix.EXDEV},
		{name: "in-root", resolve: unix.RESOLVE_IN_ROOT, path: "/fd/0", follow: true, err: unix.EXDEV},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ns.Resolve(ctx, tc.path, ResolveOpts{Root: rvd, Start: rvd, FollowFinal: tc.follow, Resolve: tc.resolve})
			if err != tc.err || err == nil && got != tc.want {
				t.Errorf("Resolve(%q, resolve %#x): got %v, %v; want %v, %v", tc.path, tc.resolve, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestResolveCreate(t *testing.T) {
	tr := newTree()
	ctx := context.Background()
	root := tr.ns.Root()
	for _, tc := range []struct {
		path    string
		follow  bool
		resolve uint64
		want    *fakeNode // the file, when it exists
		parent  *fakeNode // where a missing name would be created
		name    string
		err     error
	}{
		{path: "/a/b/file", want: tr.bfile},
		{path: "/a/b/new", parent: tr.b, name: "new", err: unix.ENOENT},
		{path: "b/new", parent: tr.b, name: "new", err: unix.ENOENT}, // relative to /a
		{path: "/a/nope/new", err: unix.ENOENT},
		{path: "/a/dangling", follow: true, parent: tr.a, name: "nope", err: unix.ENOENT},
		{path: "/a/dangling", want: tr.dangling},
		{path: "/a/dangling", follow: true, resolve: unix.RESOLVE_NO_SYMLINKS, err: unix.ELOOP},
		{path: "/a/b/new/", err: unix.EISDIR},
		{path: "/a/b/", err: unix.EISDIR},
		{path: "/a/b/file/", err: unix.EISDIR},
		{path: "/a/nope/new/", err: unix.ENOENT},
		{path: "/a/dirslash", follow: true, err: unix.EISDIR},
		{path: "/a/b/file/new", err: unix.ENOTDIR},
	} {
		got, parent, name, err := tr.ns.ResolveCreate(ctx, tc.path, ResolveOpts{Root: root, Start: tr.vd(tr.a), FollowFinal: tc.follow, Resolve: tc.resolve})
		wantParent := VirtualDentry{}
		if tc.parent != nil {
			wantParent = tr.vd(tc.parent)
		}
		wantVD := VirtualDentry{}
		if tc.want != nil {
			wantVD = tr.vd(tc.want)
		}
		if err != tc.err || got != wantVD || parent != wantParent || name != tc.name {
			t.Errorf("ResolveCreate(%q, follow %v): got %s, parent %s, %q, %v; want %s, parent %s, %q, %v",
				tc.path, tc.follow, describe(got), describe(parent), name, err, describe(wantVD), describe(wantParent), tc.name, tc.err)
		}
	}
}
