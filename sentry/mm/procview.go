package mm

import (
	"palisade.dev/platform"
)

// This file holds what /proc (package sentry/fs/proc) reads of an address
// space.

// Area describes one virtual memory area and the memory backing it now,
// for /proc/[pid]/maps, smaps and status.
type Area struct {
	Start, End      uintptr
	Perms, MaxPerms platform.AccessType
	Private         bool
	GrowsDown       bool
	// Offset is the mapped object's offset at Start.
	Offset uint64
	// Mappable backs the area; nil for anonymous private memory.
	Mappable Mappable
	// SharedAnon is set for MAP_SHARED|MAP_ANONYMOUS memory.
	SharedAnon bool
	// Hint is the area's name ("[heap]", "[stack]"), File what identifies
	// the mapped file (see MMapOpts.File).
	Hint string
	File any

	// Usage is the memory backing the area, in bytes; filled only when
	// asked for.
	Usage AreaUsage
}

// AreaUsage is how much memory backs an area and how it is shared, in
// bytes, in the terms of /proc/[pid]/smaps.
type AreaUsage struct {
	RSS, PSS                   uint64
	SharedClean, SharedDirty   uint64
	PrivateClean, PrivateDirty uint64
	// Anonymous is memory that belongs to the address space (anonymous
	// pages and private copies), not borrowed from a mapped object;
	// AnonPSS its proportional share.
	Anonymous, AnonPSS uint64
}

// Areas returns the address space's areas in address order, with their
// memory usage if usage is set.
func (mm *MemoryManager) Areas(usage bool) []Area {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	out := make([]Area, 0, mm.vmas.Len())
	for i := 0; i < mm.vmas.Len(); i++ {
		s := mm.vmas.At(i)
		v := &s.Val
		a := Area{
			Start: uintptr(s.Start), End: uintptr(s.End), Perms: v.perms, MaxPerms: v.maxPerms,
			Private: v.private, GrowsDown: v.growsDown, Offset: v.off, Mappable: v.mappable,
			SharedAnon: isSharedAnon(v.mappable), Hint: v.hint, File: v.file,
		}
		if usage {
			a.Usage = mm.usageLocked(s.Start, s.End, a.SharedAnon)
		}
		out = append(out, a)
	}
	return out
}

func isSharedAnon(m Mappable) bool {
	c, ok := m.(*PageCache)
	if !ok {
		return false
	}
	_, ok = c.src.(zeroSource)
	return ok
}

// usageLocked measures the memory backing [start, end). A page is shared
// when other address spaces (or a page cache and another mapping) hold it
// too: the memory file's reference count says how many hold it, and the
// proportional share (PSS) divides it among them. Private pages and the
// pages of shared anonymous memory (shmem) are dirty; a file's are clean.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) usageLocked(start, end uint64, shmem bool) AreaUsage {
	var u AreaUsage
	for pi := mm.pmas.LowerBound(start); pi < mm.pmas.Len() && mm.pmas.At(pi).Start < end; pi++ {
		p := mm.pmas.At(pi)
		s, e := max(p.Start, start), min(p.End, end)
		if s >= e {
			continue
		}
		n := e - s
		refs := uint64(max(mm.mf.MaxRefs(p.Val.memOff+(s-p.Start), n), 1))
		users := refs
		if !p.Val.private {
			// The object (page cache) holds a reference of its own.
			users = max(refs-1, 1)
		}
		u.RSS += n
		u.PSS += n / users
		dirty := p.Val.private || shmem
		switch {
		case users > 1 && dirty:
			u.SharedDirty += n
		case users > 1:
			u.SharedClean += n
		case dirty:
			u.PrivateDirty += n
		default:
			u.PrivateClean += n
		}
		if p.Val.private {
			u.Anonymous += n
			u.AnonPSS += n / users
		}
	}
	return u
}

// RSS returns the memory backing the address space now, in bytes.
func (mm *MemoryManager) RSS() uint64 {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	return mm.rss
}

// Layout is where the loader and brk put things in an address space.
type Layout struct {
	// BrkStart is the initial program break, Brk the current one.
	BrkStart, Brk uintptr
	// StackTop is the top of the initial stack.
	StackTop uintptr
	// Argv and Envv hold the argument and environment strings.
	Argv, Envv Range
}

// Layout returns the address space's layout.
func (mm *MemoryManager) Layout() Layout {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	return Layout{BrkStart: mm.brkStart, Brk: mm.brk, StackTop: mm.stackTop, Argv: mm.argv, Envv: mm.envv}
}
