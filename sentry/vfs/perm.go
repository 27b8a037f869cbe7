package vfs

import (
	"context"
	"slices"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/kernel/auth"
)

// Permission bits as MayAccess's want takes them.
const (
	MayExec  = 1
	MayWrite = 2
	MayRead  = 4
)

// MayAccess applies the classic Unix permission check for want (a mask
// of MayRead, MayWrite and MayExec) to a file with attributes st, for a
// caller with the given user and group (inGroup: st.GID is one of the
// caller's supplementary groups) and capabilities.
func MayAccess(st Statx, uid, gid uint32, inGroup, dacOverride, readSearch bool, want uint32) bool {
	isDir := st.Mode&S_IFMT == S_IFDIR
	// CAP_DAC_READ_SEARCH: read any file, read and search any directory.
	if readSearch && want&MayWrite == 0 && (want&MayExec == 0 || isDir) {
		return true
	}
	if dacOverride {
		// Root may do anything, except execute a file nobody may execute.
		return want&MayExec == 0 || isDir || st.Mode&0o111 != 0
	}
	perm := st.Mode & 7
	switch {
	case uid == st.UID:
		perm = (st.Mode >> 6) & 7
	case gid == st.GID || inGroup:
		perm = (st.Mode >> 3) & 7
	}
	return perm&want == want
}

// credentialed is a context that carries the caller's credentials (a
// task does).
type credentialed interface {
	Credentials() *auth.Credentials
}

// CredentialsFromContext returns the credentials of the caller ctx
// stands for, or nil when ctx is the sentry itself (boot, mounts made
// from the spec), which no permission check applies to.
func CredentialsFromContext(ctx context.Context) *auth.Credentials {
	if c, ok := ctx.(credentialed); ok {
		return c.Credentials()
	}
	return nil
}

// MaySearch checks that the caller may search directory d (look names
// up in it): EACCES if not, as path_resolution(7) describes. The caller's
// filesystem IDs and supplementary groups are matched against the
// directory's owner; CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH grant
// search on any directory.
func MaySearch(ctx context.Context, d Dentry) error {
	if d.Mode()&0o111 == 0o111 {
		return nil
	}
	return maySearchAs(ctx, CredentialsFromContext(ctx), d)
}

// maySearchAs is MaySearch for credentials c (nil: the sentry itself).
func maySearchAs(ctx context.Context, c *auth.Credentials, d Dentry) error {
	if c == nil || c.HasCapability(auth.CAP_DAC_OVERRIDE) || c.HasCapability(auth.CAP_DAC_READ_SEARCH) {
		return nil
	}
	st, err := d.Stat(ctx)
	if err != nil {
		return err
	}
	if !MayAccess(st, c.FSUID, c.FSGID, slices.Contains(c.Groups, st.GID), false, false, MayExec) {
		return unix.EACCES
	}
	return nil
}

// searchChecker checks search permission on the directories of one path
// walk, fetching the caller's credentials at most once and only when a
// directory's mode does not already let everyone search it.
type searchChecker struct {
	creds  *auth.Credentials
	loaded bool
}

// check returns EACCES if the caller may not search d, whose mode is
// mode.
func (s *searchChecker) check(ctx context.Context, d Dentry, mode uint32) error {
	if mode&0o111 == 0o111 {
		return nil
	}
	if !s.loaded {
		s.creds, s.loaded = CredentialsFromContext(ctx), true
	}
	return maySearchAs(ctx, s.creds, d)
}
