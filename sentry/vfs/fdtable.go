package vfs

import (
	"sync"

	"golang.org/x/sys/unix"
)

type fdEntry struct {
	file    *FileDescription
	cloexec bool
}

// FDTable maps file descriptor numbers to open file descriptions.
type FDTable struct {
	mu    sync.Mutex
	files []fdEntry
	// lowest is a lower bound on the lowest free descriptor.
	lowest int
}

// NewFDTable returns an empty table.
func NewFDTable() *FDTable { return &FDTable{} }

// NewFD installs f at the lowest free descriptor >= minFD and below limit,
// taking a reference.
func (t *FDTable) NewFD(minFD int, f *FileDescription, cloexec bool, limit int) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fd := max(minFD, 0)
	if fd <= t.lowest {
		fd = t.lowest
	}
	for fd < len(t.files) && t.files[fd].file != nil {
		fd++
	}
	if fd >= limit {
		return -1, unix.EMFILE
	}
	if minFD <= t.lowest {
		t.lowest = fd + 1
	}
	t.set(fd, f, cloexec)
	return fd, nil
}

func (t *FDTable) set(fd int, f *FileDescription, cloexec bool) *FileDescription {
	for fd >= len(t.files) {
		t.files = append(t.files, fdEntry{})
	}
	old := t.files[fd].file
	if f != nil {
		f.IncRef()
	}
	t.files[fd] = fdEntry{f, cloexec}
	return old
}

// NewFDAt installs f at fd (dup2), returning the file it replaced, whose
// reference the caller must drop.
func (t *FDTable) NewFDAt(fd int, f *FileDescription, cloexec bool, limit int) (*FileDescription, error) {
	if fd < 0 || fd >= limit {
		return nil, unix.EBADF
	}
	t.mu.Lock()
	old := t.set(fd, f, cloexec)
	if fd == t.lowest {
		t.lowest++
	}
	t.mu.Unlock()
	if old != nil && old != f {
		t.closed(old)
	}
	return old, nil
}

// closed drops the POSIX record locks the table's owner holds on a file
// whose descriptor it closed: closing any descriptor of a file releases
// them all, as POSIX says.
func (t *FDTable) closed(f *FileDescription) {
	ReleaseRecordLocks(f.vd.Dentry, t)
}

// Get returns the file at fd with a new reference, and its close-on-exec
// flag.
func (t *FDTable) Get(fd int) (*FileDescription, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || fd >= len(t.files) || t.files[fd].file == nil {
		return nil, false
	}
	e := t.files[fd]
	e.file.IncRef()
	return e.file, e.cloexec
}

// SetCloexec sets fd's close-on-exec flag.
func (t *FDTable) SetCloexec(fd int, cloexec bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || fd >= len(t.files) || t.files[fd].file == nil {
		return unix.EBADF
	}
	t.files[fd].cloexec = cloexec
	return nil
}

// Remove empties fd and returns its file, whose reference the caller must
// drop.
func (t *FDTable) Remove(fd int) *FileDescription {
	t.mu.Lock()
	if fd < 0 || fd >= len(t.files) || t.files[fd].file == nil {
		t.mu.Unlock()
		return nil
	}
	f := t.files[fd].file
	t.files[fd] = fdEntry{}
	if fd < t.lowest {
		t.lowest = fd
	}
	t.mu.Unlock()
	t.closed(f)
	return f
}

// RemoveCloexec closes every close-on-exec descriptor (execve).
func (t *FDTable) RemoveCloexec() {
	t.mu.Lock()
	var closed []*FileDescription
	for fd, e := range t.files {
		if e.file != nil && e.cloexec {
			closed = append(closed, e.file)
			t.files[fd] = fdEntry{}
			if fd < t.lowest {
				t.lowest = fd
			}
		}
	}
	t.mu.Unlock()
	for _, f := range closed {
		t.closed(f)
		f.DecRef()
	}
}

// RemoveAll closes every descriptor (exit).
func (t *FDTable) RemoveAll() {
	t.mu.Lock()
	files := t.files
	t.files = nil
	t.lowest = 0
	t.mu.Unlock()
	for _, e := range files {
		if e.file != nil {
			t.closed(e.file)
			e.file.DecRef()
		}
	}
}

// Fork returns a copy of the table sharing the same descriptions.
func (t *FDTable) Fork() *FDTable {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := &FDTable{files: make([]fdEntry, len(t.files)), lowest: t.lowest}
	for i, e := range t.files {
		if e.file != nil {
			e.file.IncRef()
			n.files[i] = e
		}
	}
	return n
}

// FDs returns the open descriptor numbers in order.
func (t *FDTable) FDs() []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []int
	for fd, e := range t.files {
		if e.file != nil {
			out = append(out, fd)
		}
	}
	return out
}
