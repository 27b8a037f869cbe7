package boot

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"palisade.dev/gofer/protocol"
	"palisade.dev/runsc/config"
	"palisade.dev/sentry/fs/gofer"
	"palisade.dev/sentry/memfile"
	"palisade.dev/sentry/vfs"
)

// rootFilesystem builds the container's root filesystem as --overlay
// and --file-access ask, and says whether its mount is read-only.
func rootFilesystem(conf *config.Config, spec *specs.Spec, client *protocol.Client, mf *memfile.MemoryFile) (vfs.Filesystem, bool, error) {
	lower, err := gofer.NewWithOptions(client, mf, goferOptions(conf.FileAccess))
	if err != nil {
		return nil, false, fmt.Errorf("attach to gofer: %w", err)
	}
	readOnly := spec.Root != nil && spec.Root.Readonly
	switch conf.Overlay {
	case "none":
		return lower, readOnly, nil
	default:
		return memoryOverlay(lower, mf, readOnly)
	}
}
