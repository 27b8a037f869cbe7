// Package auth holds task credentials: user and group IDs and capability
// sets. Credentials are immutable once shared; changing them makes a copy.
package auth

// Credentials are a task's identity.
type Credentials struct {
	RealUID, EffectiveUID, SavedUID, FSUID uint32
	RealGID, EffectiveGID, SavedGID, FSGID uint32
	Groups                                 []uint32

	PermittedCaps, EffectiveCaps, InheritableCaps, BoundingCaps, AmbientCaps uint64
}

// CapLastCap is the highest capability number the sentry knows
// (CAP_CHECKPOINT_RESTORE).
const CapLastCap = 40

// AllCaps is the full capability set.
const AllCaps = uint64(1)<<(CapLastCap+1) - 1

// NewRoot returns credentials for uid 0 with the given capabilities.
func NewRoot(caps uint64) *Credentials {
	return &Credentials{PermittedCaps: caps, EffectiveCaps: caps, BoundingCaps: caps}
}

// New returns credentials for uid/gid with supplementary groups and caps.
func New(uid, gid uint32, groups []uint32, caps uint64) *Credentials {
	return &Credentials{
		RealUID: uid, EffectiveUID: uid, SavedUID: uid, FSUID: uid,
		RealGID: gid, EffectiveGID: gid, SavedGID: gid, FSGID: gid,
		Groups:        append([]uint32(nil), groups...),
		PermittedCaps: caps, EffectiveCaps: caps, BoundingCaps: caps,
	}
}

// HasCapability reports whether cap is in the effective set.
func (c *Credentials) HasCapability(cap int) bool {
	return c.EffectiveCaps&(1<<uint(cap)) != 0
}

// InGroup reports whether gid is the effective or a supplementary group.
func (c *Credentials) InGroup(gid uint32) bool {
	if c.EffectiveGID == gid {
		return true
	}
	for _, g := range c.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

// File mode bits that change credentials on exec.
const (
	modeSetUID = 0o4000
	modeSetGID = 0o2000
)

// ForExec returns the credentials a task has after executing a file with
// the given mode and owner, as Linux computes them for a file without
// file capabilities: the set-user-ID and set-group-ID bits (ignored under
// no_new_privs) change the effective IDs, and the saved and filesystem
// IDs follow them; root (real or effective) gets its bounding set as
// permitted capabilities, effective too when the effective UID is 0;
// others keep only their ambient set, which a set-ID exec clears. secure
// says AT_SECURE: the IDs differ or privilege was gained.
func (c *Credentials) ForExec(mode, uid, gid uint32, noNewPrivs bool) (n *Credentials, secure bool) {
	n = c.Copy()
	if !noNewPrivs {
		if mode&modeSetUID != 0 {
			n.EffectiveUID = uid
		}
		// Set-group-ID without group execute marks mandatory locking,
		// not a set-group-ID program.
		if mode&(modeSetGID|0o010) == modeSetGID|0o010 {
			n.EffectiveGID = gid
		}
	}
	setID := n.EffectiveUID != c.EffectiveUID || n.EffectiveGID != c.EffectiveGID
	n.SavedUID, n.FSUID = n.EffectiveUID, n.EffectiveUID
	n.SavedGID, n.FSGID = n.EffectiveGID, n.EffectiveGID
	if setID {
		n.AmbientCaps = 0
	}
	if n.EffectiveUID == 0 || n.RealUID == 0 {
		n.PermittedCaps = c.InheritableCaps | c.BoundingCaps | n.AmbientCaps
	} else {
		n.PermittedCaps = n.AmbientCaps
	}
	if noNewPrivs {
		// Privilege can't grow under no_new_privs.
		n.PermittedCaps &= c.PermittedCaps
	}
	if n.EffectiveUID == 0 {
		n.EffectiveCaps = n.PermittedCaps
	} else {
		n.EffectiveCaps = n.AmbientCaps
	}
	secure = n.EffectiveUID != n.RealUID || n.EffectiveGID != n.RealGID ||
		n.PermittedCaps&^c.PermittedCaps != 0 && n.RealUID != 0
	return n, secure
}

// MayExecute reports whether c may execute a regular file with the given
// mode and owner: the owner, group or other execute bit that applies to
// the filesystem IDs, or any execute bit with CAP_DAC_OVERRIDE.
func (c *Credentials) MayExecute(mode, uid, gid uint32) bool {
	const capDACOverride = 1
	if c.HasCapability(capDACOverride) {
		return mode&0o111 != 0
	}
	switch {
	case c.FSUID == uid:
		return mode&0o100 != 0
	case c.FSGID == gid || c.InGroup(gid):
		return mode&0o010 != 0
	}
	return mode&0o001 != 0
}
