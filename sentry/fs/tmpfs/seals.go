package tmpfs

import (
	"context"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/kernel/auth"
	"palisade.dev/sentry/mm"
	"palisade.dev/sentry/vfs"
)

// File seals (fcntl(2) F_ADD_SEALS, memfd_create(2)).
const (
	F_SEAL_SEAL         = 0x1
	F_SEAL_SHRINK       = 0x2
	F_SEAL_GROW         = 0x4
	F_SEAL_WRITE        = 0x8
	F_SEAL_FUTURE_WRITE = 0x10
	// allSeals are the seals tmpfs knows.
	allSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | F_SEAL_EXEC
)

// Seals implements F_GET_SEALS.
func (f *regularFile) Seals() uint32 {
	f.i.mu.Lock()
	defer f.i.mu.Unlock()
	return f.i.seals
}

// AddSeals implements F_ADD_SEALS: EPERM once F_SEAL_SEAL is set, EBUSY
// for F_SEAL_WRITE while a shared mapping may write, EINVAL for unknown
// seals. The caller checked the description is writable.
func (f *regularFile) AddSeals(seals uint32) error {
	if seals&^allSeals != 0 {
		return unix.EINVAL
	}
	i := f.i
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.seals&F_SEAL_SEAL != 0 {
		return unix.EPERM
	}
	if seals&F_SEAL_WRITE != 0 && i.seals&F_SEAL_WRITE == 0 && i.writableMappings > 0 {
		return unix.EBUSY
	}
	i.seals |= seals
	return nil
}

// sealsAllowWriteLocked checks a write of n bytes at off.
//
// Preconditions: i.mu is held.
func (i *inode) sealsAllowWriteLocked(off, n uint64) error {
	if i.seals&(F_SEAL_WRITE|F_SEAL_FUTURE_WRITE) != 0 {
		return unix.EPERM
	}
	if i.seals&F_SEAL_GROW != 0 && off+n > i.size {
		return unix.EPERM
	}
	return nil
}

// sealsAllowSizeLocked checks a change of size (truncate, O_TRUNC).
//
// Preconditions: i.mu is held.
func (i *inode) sealsAllowSizeLocked(size uint64) error {
	if (size < i.size && i.seals&F_SEAL_SHRINK != 0) || (size > i.size && i.seals&F_SEAL_GROW != 0) {
		return unix.EPERM
	}
	return nil
}

// sealsAllowAllocateLocked checks fallocate: growing the size, or
// punching a hole into sealed data.
//
// Preconditions: i.mu is held.
func (i *inode) sealsAllowAllocateLocked(mode uint32, end uint64) error {
	if mode&FALLOC_FL_PUNCH_HOLE != 0 {
		if i.seals&(F_SEAL_WRITE|F_SEAL_FUTURE_WRITE) != 0 {
			return unix.EPERM
		}
		return nil
	}
	if mode&FALLOC_FL_KEEP_SIZE == 0 && end > i.size && i.seals&F_SEAL_GROW != 0 {
		return unix.EPERM
	}
	return nil
}

// writableMappable is a regular file as mm maps it shared and writable
// (or able to become so with mprotect): the same pages as mappable, with
// the mappings counted apart so that F_SEAL_WRITE can refuse while any
// exists.
type writableMappable inode

var (
	_ mm.Mappable    = (*writableMappable)(nil)
	_ mm.MappingRefs = (*writableMappable)(nil)
)

// Translate implements mm.Mappable.Translate.
func (m *writableMappable) Translate(start, end, required uint64) ([]mm.Translation, error) {
	return (*mappable)(m).Translate(start, end, required)
}

// IncMappings implements mm.MappingRefs.IncMappings.
func (m *writableMappable) IncMappings() {
	i := (*inode)(m)
	i.mu.Lock()
	i.mappings++
	i.writableMappings++
	i.mu.Unlock()
}

// DecMappings implements mm.MappingRefs.DecMappings.
func (m *writableMappable) DecMappings() {
	i := (*inode)(m)
	i.mu.Lock()
	i.writableMappings--
	i.mu.Unlock()
	(*mappable)(m).DecMappings()
}

// F_SEAL_EXEC keeps the execute bits from changing (memfd_create's
// MFD_NOEXEC_SEAL sets it).
const F_SEAL_EXEC = 0x20

// NewMemfd makes the file memfd_create(2) returns: a regular file with no
// name in any directory, shown as "memfd:"+name, at the root of fs (an
// internal mount, mnt), opened read-write with flags' O_CLOEXEC-free
// status bits. Without allowSealing it carries F_SEAL_SEAL; noExec makes
// it mode 0666 with F_SEAL_EXEC, as MFD_NOEXEC_SEAL does.
func (fs *Filesystem) NewMemfd(ctx context.Context, mnt *vfs.Mount, name string, creds *auth.Credentials, allowSealing, noExec bool) (*vfs.FileDescription, error) {
	if err := fs.reserveInode(); err != nil {
		return nil, err
	}
	mode := uint32(0o777)
	if noExec {
		mode = 0o666
	}
	i := fs.root.newChildInode(vfs.CreateOptions{Creds: creds}, vfs.S_IFREG|mode)
	i.nlink = 0
	switch {
	case noExec:
		i.seals = F_SEAL_EXEC
	case allowSealing:
		i.seals = 0
	}
	d := fs.newDentry(i, "memfd:"+name, fs.root)
	d.deleted.Store(true)
	return d.openRegular(ctx, vfs.VirtualDentry{Mount: mnt, Dentry: d}, unix.O_RDWR|unix.O_LARGEFILE)
}
