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
