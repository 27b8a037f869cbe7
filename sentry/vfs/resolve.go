package vfs

import (
	"context"
	"strings"

	"golang.org/x/sys/unix"
)

// Limits of path resolution, as in Linux.
const (
	MaxSymlinks = 40
	NameMax     = 255
	PathMax     = 4096
)

// ResolveOpts says how to resolve a path.
type ResolveOpts struct {
	// Root is the process's root: ".." never climbs above it and absolute
	// paths and symlinks start from it.
	Root VirtualDentry
	// Start is where relative paths start (cwd or a dirfd).
	Start VirtualDentry
	// FollowFinal follows a symlink in the last component.
	FollowFinal bool
	// Resolve holds openat2(2)'s RESOLVE_* flags, which restrict the
	// walk: RESOLVE_NO_XDEV, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS,
	// and RESOLVE_BENEATH or RESOLVE_IN_ROOT, which make Start the root.
	// RESOLVE_CACHED is the caller's business (see OpenHow.Validate).
	Resolve uint64
}

// Resolve returns the dentry path names.
//
// Every directory the walk looks a name up in (including "." and "..")
// must be searchable by the caller that ctx stands for, or the walk fails
// with EACCES (path_resolution(7)). Directories everyone may search cost
// nothing extra; otherwise the caller's credentials are fetched once per
// walk.
func (ns *MountNamespace) Resolve(ctx context.Context, path string, o ResolveOpts) (VirtualDentry, error) {
	vd, _, _, err := ns.walk(ctx, path, o, false)
	return vd, err
}

// ResolveCreate resolves path as open(2) with O_CREAT does. If the file
// exists it is returned (a final symlink followed if o.FollowFinal says
// so). If the walk reaches the last component, of path or of the target
// of a final symlink it follows, and that name does not exist, it fails
// with ENOENT and also returns the directory the name would be created
// in and the name. A last component followed by a slash gives EISDIR
// (O_CREAT never creates a directory).
func (ns *MountNamespace) ResolveCreate(ctx context.Context, path string, o ResolveOpts) (vd, parent VirtualDentry, name string, err error) {
	return ns.walk(ctx, path, o, true)
}

// walk implements Resolve and ResolveCreate.
func (ns *MountNamespace) walk(ctx context.Context, path string, o ResolveOpts, create bool) (VirtualDentry, VirtualDentry, string, error) {
	var none VirtualDentry
	if path == "" {
		return none, none, "", unix.ENOENT
	}
	if len(path) >= PathMax {
		return none, none, "", unix.ENAMETOOLONG
	}
	root := o.Root
	beneath := o.Resolve&unix.RESOLVE_BENEATH != 0
	scoped := beneath || o.Resolve&unix.RESOLVE_IN_ROOT != 0
	noXdev := o.Resolve&unix.RESOLVE_NO_XDEV != 0
	if scoped {
		root = o.Start
	}
	cur := o.Start
	if path[0] == '/' {
		if beneath {
			return none, none, "", unix.EXDEV
		}
		// An absolute path may start on another mount than Start,
		// even with RESOLVE_NO_XDEV.
		cur = root
	}
	comps := splitPath(path)
	// A trailing slash requires the result to be a directory (and so
	// follows a final symlink).
	lastSlash := strings.HasSuffix(path, "/")
	mustBeDir := lastSlash
	follow := o.FollowFinal || mustBeDir
	links := 0
	var search searchChecker
	for len(comps) > 0 {
		name := comps[0]
		comps = comps[1:]
		last := len(comps) == 0
		mode := cur.Dentry.Mode()
		if mode&S_IFMT != S_IFDIR {
			return none, none, "", unix.ENOTDIR
		}
		if mode&0o111 != 0o111 {
			if err := search.check(ctx, cur.Dentry, mode); err != nil {
				return none, none, "", err
			}
		}
		switch name {
		case ".":
			continue
		case "..":
			next := ns.parentOf(root, cur)
			if beneath && (cur == root || next == cur) {
				return none, none, "", unix.EXDEV
			}
			if noXdev && next.Mount != cur.Mount {
				return none, none, "", unix.EXDEV
			}
			cur = next
			continue
		}
		if create && last && lastSlash {
			return none, none, "", unix.EISDIR
		}
		if len(name) > NameMax {
			return none, none, "", unix.ENAMETOOLONG
		}
		child, err := cur.Dentry.Lookup(ctx, name)
		if err != nil {
			if create && last && err == unix.ENOENT {
				return none, cur, name, err
			}
			return none, none, "", err
		}
		next := ns.followMounts(VirtualDentry{cur.Mount, child})
		if noXdev && next.Mount != cur.Mount {
			return none, none, "", unix.EXDEV
		}
		if next.Dentry.Mode()&S_IFMT != S_IFLNK || last && !follow {
			cur = next
			continue
		}
		if o.Resolve&unix.RESOLVE_NO_SYMLINKS != 0 {
			return none, none, "", unix.ELOOP
		}
		links++
		if links > MaxSymlinks {
			return none, none, "", unix.ELOOP
		}
		if to, ok, err := followMagic(ctx, next.Dentry); ok {
			if err != nil {
				return none, none, "", err
			}
			switch {
			case o.Resolve&unix.RESOLVE_NO_MAGICLINKS != 0:
				return none, none, "", unix.ELOOP
			case noXdev && to.Mount != cur.Mount, scoped:
				// A jump may land anywhere: outside the root,
				// on another mount.
				return none, none, "", unix.EXDEV
			}
			cur = to
			continue
		}
		target, err := next.Dentry.Readlink(ctx)
		if err != nil {
			return none, none, "", err
		}
		if target == "" {
			return none, none, "", unix.ENOENT
		}
		if target[0] == '/' {
			if beneath {
				return none, none, "", unix.EXDEV
			}
			if noXdev && root.Mount != cur.Mount {
				return none, none, "", unix.EXDEV
			}
			cur = root
		}
		if last {
			// The target's last component is now the walk's: a
			// slash after it means a directory, as a trailing
			// slash does.
			lastSlash = strings.HasSuffix(target, "/")
			mustBeDir = mustBeDir || lastSlash
		}
		comps = append(splitPath(target), comps...)
	}
	if mustBeDir && cur.Dentry.Mode()&S_IFMT != S_IFDIR {
		return none, none, "", unix.ENOTDIR
	}
	return cur, none, "", nil
}

func splitPath(p string) []string {
	parts := strings.Split(p, "/")
	out := parts[:0]
	for _, s := range parts {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// parentOf returns where ".." leads from vd: its parent, crossing mounts,
// never above root. As in Linux (follow_dotdot, then step_into), the
// result is always the topmost mount stacked there; and when ".." can't
// climb (vd is root, or only mount roots lie between vd and root or the
// top of the tree), it stays where it was rather than dropping to a
// dentry that a mount covers.
func (ns *MountNamespace) parentOf(root, vd VirtualDentry) VirtualDentry {
	start := vd
	for {
		if vd == root {
			return ns.followMounts(start)
		}
		if vd.Dentry != vd.Mount.Root {
			break
		}
		ns.mu.RLock()
		pm, pd := vd.Mount.parent, vd.Mount.mountpoint
		ns.mu.RUnlock()
		if pm == nil {
			return ns.followMounts(start)
		}
		vd = VirtualDentry{pm, pd}
	}
	p := vd.Dentry.Parent()
	if p == nil {
		return ns.followMounts(start)
	}
	return ns.followMounts(VirtualDentry{vd.Mount, p})
}

// PathOf returns the absolute path of vd as seen from root. The second
// result is false if vd is not reachable from root (Linux then prefixes
// "(unreachable)").
func (ns *MountNamespace) PathOf(root, vd VirtualDentry) (string, bool) {
	var names []string
	for vd != root {
		if vd.Dentry == vd.Mount.Root {
			ns.mu.RLock()
			pm, pd := vd.Mount.parent, vd.Mount.mountpoint
			ns.mu.RUnlock()
			if pm == nil {
				// The namespace's root, above the caller's root: a
				// chroot. An internal mount that was never attached
				// (memfds) names its files from its own root, as
				// Linux's d_path does.
				return "/" + strings.Join(reverse(names), "/"), vd.Mount != ns.root
			}
			vd = VirtualDentry{pm, pd}
			continue
		}
		names = append(names, vd.Dentry.Name())
		p := vd.Dentry.Parent()
		if p == nil {
			return "/" + strings.Join(reverse(names), "/"), false
		}
		vd = VirtualDentry{vd.Mount, p}
	}
	return "/" + strings.Join(reverse(names), "/"), true
}

func reverse(s []string) []string {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
	return s
}
