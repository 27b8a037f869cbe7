package boot

import (
	"palisade.dev/sentry/memfile"
	"palisade.dev/sentry/vfs"
)

// memoryOverlay layers a memory-backed upper filesystem over lower.
// TODO(issue 4): there is no overlay yet; the root stays read-only.
func memoryOverlay(lower vfs.Filesystem, mf *memfile.MemoryFile, readOnly bool) (vfs.Filesystem, bool, error) {
	return lower, true, nil
}
