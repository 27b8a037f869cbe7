package boot

import (
	"fmt"

	"palisade.dev/sentry/fs/dev"
	"palisade.dev/sentry/fs/overlay"
	"palisade.dev/sentry/fs/tmpfs"
	"palisade.dev/sentry/memfile"
	"palisade.dev/sentry/vfs"
)

// memoryOverlay layers a memory-backed upper filesystem (a tmpfs in mf,
// without a size limit beyond the memory file's) over lower, so that the
// root is writable and writes stay in the sandbox's memory. The mount is
// read-only if the spec's root is.
func memoryOverlay(lower vfs.Filesystem, mf *memfile.MemoryFile, readOnly bool) (vfs.Filesystem, bool, error) {
	fs, err := overlay.New(lower, tmpfs.New(mf, tmpfs.Options{Devices: dev.Opener(mf)}))
	if err != nil {
		return nil, false, fmt.Errorf("root overlay: %w", err)
	}
	return fs, readOnly, nil
}
