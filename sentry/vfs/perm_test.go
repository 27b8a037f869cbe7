package vfs

import (
	"context"
	"testing"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/kernel/auth"
)

// credCtx is a caller with credentials, as a task is. It counts how often
// the walk asks for them.
type credCtx struct {
	context.Context
	c     *auth.Credentials
	calls int
}

func (c *credCtx) Credentials() *auth.Credentials { c.calls++; return c.c }

func caller(uid, gid uint32, groups []uint32, caps ...int) *credCtx {
	var set uint64
	for _, c := range caps {
		set |= 1 << c
	}
	return &credCtx{Context: context.Background(), c: auth.New(uid, gid, groups, set)}
}

// TestResolveSearchPermission checks that a walk needs search permission
// on every directory it looks a name up in (path_resolution(7)). The
// fake tree's files are owned by uid 0, gid 0.
func TestResolveSearchPermission(t *testing.T) {
	tests := []struct {
		name   string
		mode   uint32 // of /a
		ctx    *credCtx
		path   string
		err    error
		lookup bool // whether credentials are needed at all
	}{
		{name: "everyone may search", mode: 0o711, ctx: caller(1000, 1000, nil), path: "/a/b/file"},
		{name: "other x", mode: 0o701, ctx: caller(1000, 1000, nil), path: "/a/b/file", lookup: true},
		{name: "no x for other", mode: 0o770, ctx: caller(1000, 1000, nil), path: "/a/b/file", err: unix.EACCES, lookup: true},
		{name: "no r needed", mode: 0o100, ctx: caller(0, 0, nil), path: "/a/b", lookup: true},
		{name: "owner x", mode: 0o700, ctx: caller(0, 1000, nil), path: "/a/b/file", lookup: true},
		{name: "owner without x, other with", mode: 0o601, ctx: caller(0, 1000, nil), path: "/a/b", err: unix.EACCES, lookup: true},
		{name: "group x", mode: 0o070, ctx: caller(1000, 0, nil), path: "/a/b", lookup: true},
		{name: "supplementary group x", mode: 0o070, ctx: caller(1000, 5, []uint32{7, 0}), path: "/a/b", lookup: true},
		{name: "group without x, other with", mode: 0o601, ctx: caller(1000, 0, nil), path: "/a/b", err: unix.EACCES, lookup: true},
		{name: "CAP_DAC_OVERRIDE", mode: 0o000, ctx: caller(1000, 1000, nil, auth.CAP_DAC_OVERRIDE), path: "/a/b", lookup: true},
		{name: "CAP_DAC_READ_SEARCH", mode: 0o000, ctx: caller(1000, 1000, nil, auth.CAP_DAC_READ_SEARCH), path: "/a/b", lookup: true},
		{name: "root without capabilities", mode: 0o600, ctx: caller(0, 0, nil), path: "/a/b", err: unix.EACCES, lookup: true},
		{name: "missing name in unsearchable dir", mode: 0o600, ctx: caller(1000, 1000, nil), path: "/a/nope", err: unix.EACCES, lookup: true},
		{name: "dot needs search", mode: 0o600, ctx: caller(1000, 1000, nil), path: "/a/.", err: unix.EACCES, lookup: true},
		{name: "dotdot needs search", mode: 0o600, ctx: caller(1000, 1000, nil), path: "/a/..", err: unix.EACCES, lookup: true},
		{name: "the directory itself needs none", mode: 0o600, ctx: caller(1000, 1000, nil), path: "/a"},
		{name: "nor with a trailing slash", mode: 0o600, ctx: caller(1000, 1000, nil), path: "/a/"},
		{name: "through a symlink", mode: 0o600, ctx: caller(1000, 1000, nil), path: "/linkfile", err: unix.EACCES, lookup: true},
		{name: "through an absolute symlink", mode: 0o600, ctx: caller(1000, 1000, nil), path: "/toa", err: unix.EACCES, lookup: true},
		{name: "final absolute symlink to the directory", mode: 0o600, ctx: caller(1000, 1000, nil), path: "/toadir"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTree()
			tr.a.mode = S_IFDIR | tc.mode
			tr.root.link("toa", "/a/b")
			tr.root.link("toadir", "/a")
			root := tr.ns.Root()
			_, err := tr.ns.Resolve(tc.ctx, tc.path, ResolveOpts{Root: root, Start: root, FollowFinal: true})
			if err != tc.err {
				t.Errorf("Resolve(%q) with /a mode %#o: got %v, want %v", tc.path, tc.mode, err, tc.err)
			}
			if got := tc.ctx.calls > 0; got != tc.lookup {
				t.Errorf("Resolve(%q) with /a mode %#o: credentials fetched %d times, want fetched: %v", tc.path, tc.mode, tc.ctx.calls, tc.lookup)
			}
			if tc.ctx.calls > 1 {
				t.Errorf("credentials fetched %d times in one walk, want at most once", tc.ctx.calls)
			}
		})
	}
}

// TestResolveSearchStart checks the start directory (cwd or dirfd): a
// relative path looks its first name up there.
func TestResolveSearchStart(t *testing.T) {
	tr := newTree()
	tr.a.mode = S_IFDIR | 0o700
	ctx := caller(1000, 1000, nil)
	opts := ResolveOpts{Root: tr.ns.Root(), Start: tr.vd(tr.a)}
	if _, err := tr.ns.Resolve(ctx, "b", opts); err != unix.EACCES {
		t.Errorf("relative lookup from an unsearchable start: got %v, want EACCES", err)
	}
	if _, err := tr.ns.Resolve(ctx, "/file", opts); err != nil {
		t.Errorf("absolute lookup from an unsearchable start: got %v, want success", err)
	}
	if err := MaySearch(ctx, tr.a); err != unix.EACCES {
		t.Errorf("MaySearch(/a mode 0700) as uid 1000: got %v, want EACCES", err)
	}
	if err := MaySearch(context.Background(), tr.a); err != nil {
		t.Errorf("MaySearch without a caller: got %v, want success", err)
	}
}

func TestMayAccess(t *testing.T) {
	reg := func(mode uint32) Statx { return Statx{Mode: S_IFREG | mode, UID: 1, GID: 2} }
	dir := func(mode uint32) Statx { return Statx{Mode: S_IFDIR | mode, UID: 1, GID: 2} }
	tests := []struct {
		name                        string
		st                          Statx
		uid, gid                    uint32
		inGroup, override, readSrch bool
		want                        uint32
		ok                          bool
	}{
		{"owner read", reg(0o400), 1, 9, false, false, false, MayRead, true},
		{"owner bits rule the owner", reg(0o044), 1, 2, false, false, false, MayRead, false},
		{"group read", reg(0o040), 5, 2, false, false, false, MayRead, true},
		{"supplementary group", reg(0o040), 5, 9, true, false, false, MayRead, true},
		{"other write", reg(0o002), 5, 9, false, false, false, MayWrite, true},
		{"read and write need both", reg(0o004), 5, 9, false, false, false, MayRead | MayWrite, false},
		{"override writes", reg(0), 5, 9, false, true, false, MayWrite, true},
		{"override can't execute a file without x", reg(0o644), 5, 9, false, true, false, MayExec, false},
		{"override executes a file with any x", reg(0o001), 5, 9, false, true, false, MayExec, true},
		{"override searches any dir", dir(0), 5, 9, false, true, false, MayExec, true},
		{"read-search reads", reg(0), 5, 9, false, false, true, MayRead, true},
		{"read-search doesn't write", reg(0), 5, 9, false, false, true, MayWrite, false},
		{"read-search doesn't execute files", reg(0o644), 5, 9, false, false, true, MayExec, false},
		{"read-search searches dirs", dir(0), 5, 9, false, false, true, MayExec | MayRead, true},
	}
	for _, tc := range tests {
		if got := MayAccess(tc.st, tc.uid, tc.gid, tc.inGroup, tc.override, tc.readSrch, tc.want); got != tc.ok {
			t.Errorf("%s: MayAccess = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

// BenchmarkResolveSearch measures a four-component walk when every
// directory lets everyone search (the fast path), and when the caller
// must be checked against /a's owner or capabilities.
func BenchmarkResolveSearch(b *testing.B) {
	for _, bc := range []struct {
		name string
		mode uint32
		ctx  context.Context
	}{
		{"no-caller", 0o755, context.Background()},
		{"world-searchable", 0o755, caller(1000, 1000, nil)},
		{"owner-only-as-capable", 0o700, caller(1000, 1000, nil, auth.CAP_DAC_OVERRIDE)},
		{"owner-only-as-owner", 0o700, caller(0, 0, nil)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tr := newTree()
			tr.a.mode = S_IFDIR | bc.mode
			root := tr.ns.Root()
			o := ResolveOpts{Root: root, Start: root, FollowFinal: true}
			for b.Loop() {
				if _, err := tr.ns.Resolve(bc.ctx, "/a/b/sub/../file", o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
