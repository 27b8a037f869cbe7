package proc

import (
	"context"
	"fmt"
	"strings"

	"palisade.dev/sentry/mm"
	"palisade.dev/sentry/vfs"
)

// areaHeader renders an area's line of maps (and header of smaps):
// range, permissions, offset, device, inode and name, the name padded to
// column 74 as Linux does.
func (p *procFS) areaHeader(ctx context.Context, root vfs.VirtualDentry, a *mm.Area) string {
	perm := func(ok bool, c byte) byte {
		if ok {
			return c
		}
		return '-'
	}
	share := byte('p')
	if !a.Private {
		share = 's'
	}
	var major, minor uint32
	var ino, off uint64
	name := a.Hint
	if vd, ok := a.File.(vfs.VirtualDentry); ok && vd.Ok() {
		if st, err := vd.Dentry.Stat(ctx); err == nil {
			major, minor, ino = st.DevMajor, st.DevMinor, st.Ino
		}
		off = a.Offset
		name = p.pathOf(root, vd)
	} else if a.SharedAnon {
		// Shared anonymous memory is a deleted file of shmem, as in Linux.
		name = "/dev/zero (deleted)"
		off = a.Offset
	}
	line := fmt.Sprintf("%08x-%08x %c%c%c%c %08x %02x:%02x %d ", a.Start, a.End,
		perm(a.Perms.Read, 'r'), perm(a.Perms.Write, 'w'), perm(a.Perms.Execute, 'x'), share,
		off, major, minor, ino)
	if name == "" {
		return line
	}
	if len(line) < 73 {
		line += strings.Repeat(" ", 73-len(line))
	}
	return line + name
}

// maps renders /proc/[pid]/maps, or smaps with details.
func (x *target) maps(ctx context.Context, details bool) []byte {
	t := x.live()
	if t == nil || t.MemoryManager() == nil {
		return nil
	}
	root := x.p.readerRoot(ctx)
	var b strings.Builder
	for _, a := range t.MemoryManager().Areas(details) {
		b.WriteString(x.p.areaHeader(ctx, root, &a))
		b.WriteByte('\n')
		if details {
			writeUsage(&b, uint64(a.End-a.Start), a.Usage)
			b.WriteString("THPeligible:    0\n")
			b.WriteString("VmFlags: " + vmFlags(&a) + "\n")
		}
	}
	return []byte(b.String())
}

// writeUsage writes the memory lines of an smaps entry.
func writeUsage(b *strings.Builder, size uint64, u mm.AreaUsage) {
	kb := func(name string, v uint64) { fmt.Fprintf(b, "%-16s%8d kB\n", name+":", v/1024) }
	kb("Size", size)
	kb("KernelPageSize", pageSize)
	kb("MMUPageSize", pageSize)
	kb("Rss", u.RSS)
	kb("Pss", u.PSS)
	kb("Pss_Dirty", u.PrivateDirty+u.SharedDirty*u.PSS/max(u.RSS, 1))
	kb("Shared_Clean", u.SharedClean)
	kb("Shared_Dirty", u.SharedDirty)
	kb("Private_Clean", u.PrivateClean)
	kb("Private_Dirty", u.PrivateDirty)
	kb("Referenced", u.RSS)
	kb("Anonymous", u.Anonymous)
	kb("LazyFree", 0)
	kb("AnonHugePages", 0)
	kb("ShmemPmdMapped", 0)
	kb("FilePmdMapped", 0)
	kb("Shared_Hugetlb", 0)
	kb("Private_Hugetlb", 0)
	kb("Swap", 0)
	kb("SwapPss", 0)
	kb("Locked", 0)
}

// vmFlags renders an area's flags as smaps's VmFlags line names them.
func vmFlags(a *mm.Area) string {
	var f []string
	add := func(ok bool, name string) {
		if ok {
			f = append(f, name)
		}
	}
	add(a.Perms.Read, "rd")
	add(a.Perms.Write, "wr")
	add(a.Perms.Execute, "ex")
	add(!a.Private, "sh")
	add(a.MaxPerms.Read, "mr")
	add(a.MaxPerms.Write, "mw")
	add(a.MaxPerms.Execute, "me")
	add(!a.Private, "ms")
	add(a.GrowsDown, "gd")
	// Private writable memory is charged to the commit limit.
	add(a.Private && a.Perms.Write, "ac")
	return strings.Join(f, " ") + " "
}

// smapsRollup renders /proc/[pid]/smaps_rollup: the sums of smaps.
func (x *target) smapsRollup(ctx context.Context) ([]byte, error) {
	t := x.live()
	if t == nil || t.MemoryManager() == nil {
		return nil, nil
	}
	areas := t.MemoryManager().Areas(true)
	if len(areas) == 0 {
		return nil, nil
	}
	var u mm.AreaUsage
	for _, a := range areas {
		u.RSS += a.Usage.RSS
		u.PSS += a.Usage.PSS
		u.SharedClean += a.Usage.SharedClean
		u.SharedDirty += a.Usage.SharedDirty
		u.PrivateClean += a.Usage.PrivateClean
		u.PrivateDirty += a.Usage.PrivateDirty
		u.Anonymous += a.Usage.Anonymous
	}
	var b strings.Builder
	header := fmt.Sprintf("%08x-%08x ---p 00000000 00:00 0 ", areas[0].Start, areas[len(areas)-1].End)
	header += strings.Repeat(" ", max(0, 73-len(header)))
	b.WriteString(header + "[rollup]\n")
	// The rollup has the lines of an entry after Rss, without Size and
	// the page sizes.
	var e strings.Builder
	writeUsage(&e, 0, u)
	lines := strings.SplitAfter(e.String(), "\n")
	for _, l := range lines[3:] {
		b.WriteString(l)
	}
	return []byte(b.String()), nil
}
