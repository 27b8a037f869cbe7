package auth

import "golang.org/x/sys/unix"

// Capability numbers used by the ID-changing rules.
const (
	CAP_CHOWN           = 0
	CAP_DAC_OVERRIDE    = 1
	CAP_DAC_READ_SEARCH = 2
	CAP_FOWNER          = 3
	CAP_KILL            = 5
	CAP_SETGID          = 6
	CAP_SETUID          = 7
	CAP_SETPCAP         = 8
	CAP_SYS_CHROOT      = 18
	CAP_SYS_ADMIN       = 21
	CAP_SYS_NICE        = 23
	CAP_SYS_RESOURCE    = 24
)

// Copy returns a modifiable copy.
func (c *Credentials) Copy() *Credentials {
	n := *c
	n.Groups = append([]uint32(nil), c.Groups...)
	return &n
}

// KeepCaps is PR_SET_KEEPCAPS's flag; it lives with the credentials.
// (Stored in a field of its own to keep Credentials comparable.)

// unchanged is the "leave this ID alone" value of set*id calls.
const unchanged = ^uint32(0)

// SetResUID implements setresuid(2): r, e and s are the new real,
// effective and saved UIDs (unchanged if -1). Unprivileged callers may
// only pick among their current three.
func (c *Credentials) SetResUID(r, e, s uint32, keepCaps bool) (*Credentials, error) {
	if !c.HasCapability(CAP_SETUID) {
		ok := func(id uint32) bool {
			return id == unchanged || id == c.RealUID || id == c.EffectiveUID || id == c.SavedUID
		}
		if !ok(r) || !ok(e) || !ok(s) {
			return nil, unix.EPERM
		}
	}
	n := c.Copy()
	if r != unchanged {
		n.RealUID = r
	}
	if e != unchanged {
		n.EffectiveUID = e
	}
	if s != unchanged {
		n.SavedUID = s
	}
	n.FSUID = n.EffectiveUID
	n.fixCapsAfterUIDChange(c, keepCaps)
	return n, nil
}

// SetResGID implements setresgid(2).
func (c *Credentials) SetResGID(r, e, s uint32) (*Credentials, error) {
	if !c.HasCapability(CAP_SETGID) {
		ok := func(id uint32) bool {
			return id == unchanged || id == c.RealGID || id == c.EffectiveGID || id == c.SavedGID
		}
		if !ok(r) || !ok(e) || !ok(s) {
			return nil, unix.EPERM
		}
	}
	n := c.Copy()
	if r != unchanged {
		n.RealGID = r
	}
	if e != unchanged {
		n.EffectiveGID = e
	}
	if s != unchanged {
		n.SavedGID = s
	}
	n.FSGID = n.EffectiveGID
	return n, nil
}

// SetUID implements setuid(2): privileged, all three IDs; otherwise only
// the effective one, to the real or saved UID.
func (c *Credentials) SetUID(uid uint32, keepCaps bool) (*Credentials, error) {
	if c.HasCapability(CAP_SETUID) {
		return c.SetResUID(uid, uid, uid, keepCaps)
	}
	if uid != c.RealUID && uid != c.SavedUID {
		return nil, unix.EPERM
	}
	return c.SetResUID(unchanged, uid, unchanged, keepCaps)
}

// SetGID implements setgid(2).
func (c *Credentials) SetGID(gid uint32) (*Credentials, error) {
	if c.HasCapability(CAP_SETGID) {
		return c.SetResGID(gid, gid, gid)
	}
	if gid != c.RealGID && gid != c.SavedGID {
		return nil, unix.EPERM
	}
	return c.SetResGID(unchanged, gid, unchanged)
}

// SetReUID implements setreuid(2).
func (c *Credentials) SetReUID(r, e uint32, keepCaps bool) (*Credentials, error) {
	if !c.HasCapability(CAP_SETUID) {
		if r != unchanged && r != c.RealUID && r != c.EffectiveUID {
			return nil, unix.EPERM
		}
		if e != unchanged && e != c.RealUID && e != c.EffectiveUID && e != c.SavedUID {
			return nil, unix.EPERM
		}
	}
	s := unchanged
	// The saved UID follows the effective one when the real UID is set,
	// or the effective UID is set to something other than the old real.
	if r != unchanged || (e != unchanged && e != c.RealUID) {
		if e != unchanged {
			s = e
		} else {
			s = c.EffectiveUID
		}
	}
	n := c.Copy()
	if r != unchanged {
		n.RealUID = r
	}
	if e != unchanged {
		n.EffectiveUID = e
	}
	if s != unchanged {
		n.SavedUID = s
	}
	n.FSUID = n.EffectiveUID
	n.fixCapsAfterUIDChange(c, keepCaps)
	return n, nil
}

// SetReGID implements setregid(2).
func (c *Credentials) SetReGID(r, e uint32) (*Credentials, error) {
	if !c.HasCapability(CAP_SETGID) {
		if r != unchanged && r != c.RealGID && r != c.EffectiveGID {
			return nil, unix.EPERM
		}
		if e != unchanged && e != c.RealGID && e != c.EffectiveGID && e != c.SavedGID {
			return nil, unix.EPERM
		}
	}
	n := c.Copy()
	if r != unchanged || (e != unchanged && e != c.RealGID) {
		if e != unchanged {
			n.SavedGID = e
		} else {
			n.SavedGID = c.EffectiveGID
		}
	}
	if r != unchanged {
		n.RealGID = r
	}
	if e != unchanged {
		n.EffectiveGID = e
	}
	n.FSGID = n.EffectiveGID
	return n, nil
}

// fixCapsAfterUIDChange applies capabilities(7)'s effect of UID changes:
// losing UID 0 from all three IDs clears permitted and effective (unless
// keepcaps, which keeps permitted); an effective UID going from 0 to
// non-zero clears the effective set; going back to 0 restores effective
// from permitted.
func (n *Credentials) fixCapsAfterUIDChange(old *Credentials, keepCaps bool) {
	wasRoot := old.RealUID == 0 || old.EffectiveUID == 0 || old.SavedUID == 0
	isRoot := n.RealUID == 0 || n.EffectiveUID == 0 || n.SavedUID == 0
	if wasRoot && !isRoot {
		if !keepCaps {
			n.PermittedCaps = 0
		}
		n.EffectiveCaps = 0
		n.AmbientCaps = 0
	}
	if old.EffectiveUID == 0 && n.EffectiveUID != 0 {
		n.EffectiveCaps = 0
	}
	if old.EffectiveUID != 0 && n.EffectiveUID == 0 {
		n.EffectiveCaps = n.PermittedCaps
	}
}
