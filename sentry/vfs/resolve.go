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
}

// Resolve returns the dentry path names.
func (ns *MountNamespace) Resolve(ctx context.Context, path string, o ResolveOpts) (VirtualDentry, error) {
	if path == "" {
		return VirtualDentry{}, unix.ENOENT
	}
	if len(path) >= PathMax {
		return VirtualDentry{}, unix.ENAMETOOLONG
	}
	cur := o.Start
	if path[0] == '/' {
		cur = o.Root
	}
	comps := splitPath(path)
	// A trailing slash requires the result to be a directory (and so
	// follows a final symlink).
	mustBeDir := strings.HasSuffix(path, "/")
	follow := o.FollowFinal || mustBeDir
	links := 0
	for len(comps) > 0 {
		name := comps[0]
		comps = comps[1:]
		if cur.Dentry.Mode()&S_IFMT != S_IFDIR {
			return VirtualDentry{}, unix.ENOTDIR
		}
		switch name {
		case ".":
			continue
		case "..":
			cur = ns.parentOf(o.Root, cur)
			continue
		}
		if len(name) > NameMax {
			return VirtualDentry{}, unix.ENAMETOOLONG
		}
		child, err := cur.Dentry.Lookup(ctx, name)
		if err != nil {
			return VirtualDentry{}, err
		}
		next := ns.followMounts(VirtualDentry{cur.Mount, child})
		if next.Dentry.Mode()&S_IFMT == S_IFLNK && (len(comps) > 0 || follow) {
			links++
			if links > MaxSymlinks {
				return VirtualDentry{}, unix.ELOOP
			}
			if to, ok, err := followMagic(ctx, next.Dentry); ok {
				if err != nil {
					return VirtualDentry{}, err
				}
				cur = to
				continue
			}
			target, err := next.Dentry.Readlink(ctx)
			if err != nil {
				return VirtualDentry{}, err
			}
			if target == "" {
				return VirtualDentry{}, unix.ENOENT
			}
			if target[0] == '/' {
				cur = o.Root
			}
			if len(comps) == 0 && strings.HasSuffix(target, "/") {
				// A final symlink whose target ends in a slash must
				// lead to a directory, as a trailing slash does.
				mustBeDir = true
			}
			comps = append(splitPath(target), comps...)
			continue
		}
		cur = next
	}
	if mustBeDir && cur.Dentry.Mode()&S_IFMT != S_IFDIR {
		return VirtualDentry{}, unix.ENOTDIR
	}
	return cur, nil
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
