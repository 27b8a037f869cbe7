package mm

// Syncer is a Mappable whose shared mappings can be written back to
// where the data lives (a host file), as msync(2) asks.
type Syncer interface {
	Sync(start, end uint64) error
}

type pendingSync struct {
	s          Syncer
	start, end uint64
}

// sharedSyncsLocked lists the write-backs msync of [start, end) needs: the
// mappable ranges of shared mappings whose mappable is a Syncer.
func (mm *MemoryManager) sharedSyncsLocked(start, end uint64) []pendingSync {
	var out []pendingSync
	for i := mm.vmas.LowerBound(start); i < mm.vmas.Len() && mm.vmas.At(i).Start < end; i++ {
		seg := mm.vmas.At(i)
		v := seg.Val
		if v.private || v.mappable == nil {
			continue
		}
		s, ok := v.mappable.(Syncer)
		if !ok {
			continue
		}
		a, b := max(seg.Start, start), min(seg.End, end)
		out = append(out, pendingSync{s, v.off + (a - seg.Start), v.off + (b - seg.Start)})
	}
	return out
}

// runSyncs performs write-backs without mm's lock held (a mappable may
// take its own locks, which nest outside mm's on faults).
func runSyncs(syncs []pendingSync) error {
	var first error
	for _, p := range syncs {
		if err := p.s.Sync(p.start, p.end); err != nil && first == nil {
			first = err
		}
	}
	return first
}
