package kernel

import "palisade.dev/sentry/kernel/auth"

// Owners of a file's I/O signals, as F_SETOWN_EX names them.
const (
	OwnerTID  = 0
	OwnerPID  = 1
	OwnerPGRP = 2
)

// SendIOSignal sends info, the I/O signal of a file with O_ASYNC set, to
// its owner: the thread, process or process group id (typ is one of
// Owner*). creds are those of the task that set the owner; a target they
// may not signal, as fcntl(2) describes for F_SETOWN (root, or a real or
// effective UID matching the target's real or saved UID), is skipped.
func (k *Kernel) SendIOSignal(typ, id int32, creds *auth.Credentials, info SigInfo) {
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	switch typ {
	case OwnerTID:
		if t := k.tasks[id]; t != nil && t.exitState == taskRunning && mayIOSignal(creds, t.Credentials()) {
			t.tg.sendSignalLocked(info, t)
		}
	case OwnerPID:
		if tg := k.tgs[id]; tg != nil && !tg.exited && tg.leader != nil && mayIOSignal(creds, tg.leader.Credentials()) {
			tg.sendSignalLocked(info, nil)
		}
	case OwnerPGRP:
		for _, tg := range k.tgs {
			if tg.pgid == id && !tg.exited && tg.leader != nil && mayIOSignal(creds, tg.leader.Credentials()) {
				tg.sendSignalLocked(info, nil)
			}
		}
	}
}

// mayIOSignal is Linux's sigio_perm.
func mayIOSignal(c, target *auth.Credentials) bool {
	if c == nil {
		return false
	}
	return c.EffectiveUID == 0 || c.EffectiveUID == target.SavedUID || c.EffectiveUID == target.RealUID ||
		c.RealUID == target.SavedUID || c.RealUID == target.RealUID
}
