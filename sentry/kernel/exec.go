package kernel

import (
	"context"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/loader"
	"palisade.dev/sentry/mm"
	"palisade.dev/sentry/vfs"
)

// Execve implements execve(2) for the task.
func (t *Task) Execve(filename string, argv, envv []string) error {
	if err := t.execve(filename, argv, envv); err != nil {
		return err
	}
	return ErrNoReturn
}

// execve replaces the task's program. The new image is loaded into a new
// address space first, so a failure leaves the process as it was; then
// the other threads die and the caller takes over the process.
func (t *Task) execve(filename string, argv, envv []string) error {
	newMM, err := mm.New(t.k.Platform, t.k.MemoryFile)
	if err != nil {
		return err
	}
	newMM.SetStackLimit(t.tg.limits.Get(RLIMIT_STACK).Cur)
	creds := t.Credentials()
	newCreds, secure := creds, false
	res, err := loader.Load(t, loader.Args{
		MM: newMM, Open: t.openExecutable, Filename: filename, Argv: argv, Envv: envv,
		Credentials: func(ctx context.Context, exe *vfs.FileDescription) (uint32, uint32, uint32, uint32, bool, error) {
			st, err := exe.Stat(ctx)
			if err != nil {
				return 0, 0, 0, 0, false, err
			}
			mode := st.Mode
			if m := exe.VirtualDentry().Mount; m != nil && m.Flags()&vfs.MountNoSuid != 0 {
				// A nosuid mount's set-ID bits don't count.
				mode &^= unix.S_ISUID | unix.S_ISGID
			}
			newCreds, secure = creds.ForExec(mode, st.UID, st.GID, t.NoNewPrivs())
			return newCreds.RealUID, newCreds.EffectiveUID, newCreds.RealGID, newCreds.EffectiveGID, secure, nil
		},
	})
	if err != nil {
		newMM.DecUsers()
		return err
	}
	av, ev := newMM.ArgvEnv()
	newMM.SetImageInfo(av, ev, newMM.Auxv(), res.Executable)

	// The point of no return: other threads die.
	if !t.deThread() {
		newMM.DecUsers()
		return unix.EINTR // killed meanwhile: the task is dying anyway
	}
	old := t.mm
	t.mm = newMM
	if old != nil {
		rss := old.MaxRSS()
		t.k.taskMu.Lock()
		t.tg.maxRSS = max(t.tg.maxRSS, rss)
		t.k.taskMu.Unlock()
		// The platform's stub thread in the old address space goes with it.
		old.DecUsers()
	}
	// The descriptor table is unshared, then close-on-exec descriptors close.
	if t.fdTable.users.Load() > 1 {
		n := &FDTable{FDTable: t.fdTable.Fork()}
		n.users.Store(1)
		t.fdTable.DecUsers()
		t.fdTable = n
	}
	t.fdTable.RemoveCloexec()

	k := t.k
	k.taskMu.Lock()
	tg := t.tg
	// Handled signals return to their default; ignored ones stay ignored.
	h := tg.handlers.copy()
	for i := range h.actions {
		if h.actions[i].Handler > sigIgn {
			h.actions[i] = SigAction{}
		}
		h.actions[i].Flags &^= saOnStack | saRestorer
	}
	tg.handlers = h
	tg.execing = nil
	tg.execed = true
	k.taskMu.Unlock()

	t.mu.Lock()
	t.altStack = AltStack{}
	t.mu.Unlock()
	t.SetComm(res.Comm)
	t.SetCredentials(newCreds)
	if secure {
		t.SetDumpable(0)
	}
	t.clearTID = 0
	t.robustList, t.robustLen = 0, 0
	t.arch.ResetForExec(res.Entry, res.Stack)
	t.releaseVforkParent()
	return nil
}

// deThread kills the group's other tasks and waits until they are gone;
// a non-leader caller then takes over the leader's thread ID, as Linux's
// de_thread does. It returns false if the caller was killed meanwhile.
func (t *Task) deThread() bool {
	k := t.k
	k.taskMu.Lock()
	tg := t.tg
	if len(tg.tasks) == 1 {
		k.taskMu.Unlock()
		return true
	}
	tg.execing = t
	for o := range tg.tasks {
		if o != t {
			o.killed.Store(true)
			o.interruptLocked()
		}
	}
	for len(tg.tasks) > 1 {
		if t.killed.Load() {
			k.taskMu.Unlock()
			return false
		}
		k.taskMu.Unlock()
		<-t.interruptCh
		k.taskMu.Lock()
	}
	if t != tg.leader {
		delete(k.tasks, t.tid)
		t.tid = tg.tgid
		k.tasks[t.tid] = t
		tg.leader = t
	}
	k.taskMu.Unlock()
	return true
}

// openExecutable opens a file for execve: it must be a regular file with an
// execute bit, readable by the sentry, on a mount without noexec.
func (t *Task) openExecutable(ctx context.Context, path string) (*vfs.FileDescription, error) {
	vd, err := t.resolve(unix.AT_FDCWD, path, true)
	if err != nil {
		return nil, err
	}
	if vd.Dentry.Mode()&vfs.S_IFMT != vfs.S_IFREG || vd.Mount.Flags()&vfs.MountNoExec != 0 {
		return nil, unix.EACCES
	}
	st, err := vd.Dentry.Stat(ctx)
	if err != nil {
		return nil, err
	}
	if !t.Credentials().MayExecute(st.Mode, st.UID, st.GID) {
		return nil, unix.EACCES
	}
	return vd.Dentry.Open(t, vd, unix.O_RDONLY)
}
