package proc

import (
	"context"
	"fmt"
	"strings"

	"palisade.dev/sentry/vfs"
)

// mountView is one mount as the process sees it.
type mountView struct {
	m            *vfs.Mount
	point        string // where, from the process's root
	opts         string // per-mount options
	superOpts    string // the filesystem's options
	major, minor uint32
	parentID     int
	source       string
}

// SuperOptions is implemented by filesystems with options of their own
// to show in /proc/[pid]/mounts and mountinfo ("size=...,mode=...").
type SuperOptions interface {
	SuperOptions() string
}

// mountsOf returns the mounts the process can see: those under its root,
// with paths from there, as Linux shows them.
func (x *target) mountsOf(ctx context.Context) []mountView {
	t := x.live()
	if t == nil {
		return nil
	}
	ns := x.p.k.MountNS
	root := t.FSContext().Root()
	var out []mountView
	for _, m := range ns.Mounts() {
		point, ok := ns.PathOf(root, vfs.VirtualDentry{Mount: m, Dentry: m.Root})
		if !ok {
			continue
		}
		v := mountView{m: m, point: point, parentID: m.ID, source: m.Source}
		if pm, _ := m.Parent(); pm != nil {
			v.parentID = pm.ID
		}
		rw := "rw"
		if m.ReadOnly {
			rw = "ro"
		}
		v.opts = rw
		if f := vfs.FlagsString(m.Flags()); f != "" {
			v.opts += "," + f
		}
		v.superOpts = rw
		if so, ok := m.FS.(SuperOptions); ok {
			if s := so.SuperOptions(); s != "" {
				v.superOpts += "," + s
			}
		}
		if v.source == "" {
			v.source = "none"
		}
		if st, err := m.Root.Stat(ctx); err == nil {
			v.major, v.minor = st.DevMajor, st.DevMinor
		}
		out = append(out, v)
	}
	return out
}

// mounts renders /proc/[pid]/mounts.
func (x *target) mounts(ctx context.Context) ([]byte, error) {
	var b strings.Builder
	for _, v := range x.mountsOf(ctx) {
		fmt.Fprintf(&b, "%s %s %s %s 0 0\n", mangle(v.source), mangle(v.point), v.m.FS.Name(), v.superOptsOrOpts())
	}
	return []byte(b.String()), nil
}

// superOptsOrOpts is the options field of /proc/mounts: the mount's flags
// and the filesystem's options together.
func (v mountView) superOptsOrOpts() string {
	o := v.opts
	if i := strings.IndexByte(v.superOpts, ','); i >= 0 {
		o += v.superOpts[i:]
	}
	return o
}

// mountinfo renders /proc/[pid]/mountinfo:
// ID PARENT MAJOR:MINOR ROOT POINT OPTIONS - TYPE SOURCE SUPER-OPTIONS.
func (x *target) mountinfo(ctx context.Context) ([]byte, error) {
	var b strings.Builder
	for _, v := range x.mountsOf(ctx) {
		fmt.Fprintf(&b, "%d %d %d:%d / %s %s - %s %s %s\n", v.m.ID, v.parentID, v.major, v.minor,
			mangle(v.point), v.opts, v.m.FS.Name(), mangle(v.source), v.superOpts)
	}
	return []byte(b.String()), nil
}

// mangle escapes the characters that would break a mounts line, as
// Linux's mangle does: space, tab, newline and backslash in octal.
func mangle(s string) string {
	if !strings.ContainsAny(s, " \t\n\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\\':
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
