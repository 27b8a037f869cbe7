package vfs

import "sync/atomic"

// File change notification (inotify). The system calls report what
// happened to which dentry; a Notifier (package sentry/fs/inotify)
// delivers it to watches. Until a watch exists, reporting costs one
// atomic load.

// Events, as inotify(7) numbers them.
const (
	InAccess     = 0x1
	InModify     = 0x2
	InAttrib     = 0x4
	InCloseWrite = 0x8
	InCloseNo    = 0x10
	InOpen       = 0x20
	InMovedFrom  = 0x40
	InMovedTo    = 0x80
	InCreate     = 0x100
	InDelete     = 0x200
	InDeleteSelf = 0x400
	InMoveSelf   = 0x800
	InIsDir      = 0x40000000
)

// Notifier receives events: mask happened to d itself (name == "") or to
// its child called name, with cookie tying a rename's two halves.
type Notifier interface {
	Event(d Dentry, mask, cookie uint32, name string)
	// Gone says d was deleted: its watches end.
	Gone(d Dentry)
}

var (
	notifier atomic.Pointer[Notifier]
	watching atomic.Bool
	cookies  atomic.Uint32
)

// SetNotifier installs n; Watching(true) then turns reporting on.
func SetNotifier(n Notifier) { notifier.Store(&n) }

// Watching turns event reporting on once some watch exists.
func Watching() { watching.Store(true) }

func deliver(d Dentry, mask, cookie uint32, name string) {
	if n := notifier.Load(); n != nil && d != nil {
		(*n).Event(d, mask, cookie, name)
	}
}

func dirBit(d Dentry) uint32 {
	if d != nil && d.Mode()&S_IFMT == S_IFDIR {
		return InIsDir
	}
	return 0
}

// NotifyFile reports mask on d, to watches of d and of its parent
// directory.
func NotifyFile(d Dentry, mask uint32) {
	if !watching.Load() || d == nil {
		return
	}
	mask |= dirBit(d)
	deliver(d, mask, 0, "")
	if p := d.Parent(); p != nil {
		deliver(p, mask, 0, d.Name())
	}
}

// NotifySelf reports mask to d's own watches only.
func NotifySelf(d Dentry, mask uint32) {
	if !watching.Load() || d == nil {
		return
	}
	deliver(d, mask|dirBit(d), 0, "")
}

// NotifyChild reports mask about dir's entry name (created or deleted);
// child, if known, says whether it is a directory.
func NotifyChild(dir Dentry, mask uint32, name string, child Dentry) {
	if !watching.Load() {
		return
	}
	deliver(dir, mask|dirBit(child), 0, name)
}

// NotifyDeleted reports that d was deleted (its last link went): its own
// watches see IN_DELETE_SELF and end.
func NotifyDeleted(d Dentry) {
	if !watching.Load() || d == nil {
		return
	}
	deliver(d, InDeleteSelf, 0, "")
	if n := notifier.Load(); n != nil {
		(*n).Gone(d)
	}
}

// NotifyRename reports a move of moved from oldDir/oldName to
// newDir/newName.
func NotifyRename(oldDir Dentry, oldName string, newDir Dentry, newName string, moved Dentry) {
	if !watching.Load() {
		return
	}
	cookie := cookies.Add(1)
	isDir := dirBit(moved)
	deliver(oldDir, InMovedFrom|isDir, cookie, oldName)
	deliver(newDir, InMovedTo|isDir, cookie, newName)
	deliver(moved, InMoveSelf, 0, "")
}
