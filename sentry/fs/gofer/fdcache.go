package gofer

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Host descriptors of regular files.
//
// Opening a regular file through the gofer is a round trip that donates a
// host descriptor, which costs far more than the system call itself. So an
// inode keeps the descriptors the gofer gave it and every open file of the
// inode shares them: readFD, opened read-only by the first read-only open,
// and writeFD, opened read-write (write-only if the gofer may not read the
// file) by the first open for writing on a writable tree. Each open file
// keeps its own offset and reads and writes with pread and pwrite, so one
// descriptor serves all of them; they all see the host file as it is now,
// since it is one host file. A later open of the inode, through any of its
// names, needs no round trip, nor does a close.
//
// When the last open file of an inode is closed, its descriptors stay
// open, idle, in an fdCache: a later open finds them there. The cache
// bounds how many idle descriptors are kept (maxIdleFDs, less if the
// sentry's RLIMIT_NOFILE is small), closing those of the inodes idle the
// longest, and closes descriptors idle for longer than idleTimeout. An
// inode the sandbox unlinked the last name of gives its descriptors back
// as soon as no file uses them, so that the host frees the file.

const (
	// maxIdleFDs bounds the idle descriptors a cache keeps.
	maxIdleFDs = 4096
	// idleTimeout is how long a descriptor no file uses stays open.
	idleTimeout = 60 * time.Second
)

// fdCache holds the inodes whose host descriptors no open file uses, the
// most recently used first. Its lock comes after inode.fdMu, and no other
// lock is taken while it is held.
type fdCache struct {
	mu sync.Mutex
	// max bounds n; 0 keeps nothing idle. It is set by the first add if
	// it is negative.
	max int
	// timeout is how long a descriptor stays idle.
	timeout time.Duration
	// lru holds *inode, the most recently idle at the front.
	lru list.List
	// n counts the descriptors of the inodes in lru.
	n int
	// timer closes descriptors idle too long; armed while lru is not
	// empty.
	timer *time.Timer
}

// defaultFDCache is the cache of every Filesystem: the bound is on the
// sentry's descriptors, whichever trees they belong to.
var defaultFDCache = newFDCache(-1, idleTimeout)

// newFDCache returns a cache that keeps at most max idle descriptors (a
// bound of its own choosing if max is negative) for at most timeout.
func newFDCache(max int, timeout time.Duration) *fdCache {
	return &fdCache{max: max, timeout: timeout}
}

// limitLocked returns the bound on idle descriptors: maxIdleFDs, or an
// eighth of the descriptors the sentry may open if that is less.
//
// Preconditions: c.mu is held.
func (c *fdCache) limitLocked() int {
	if c.max < 0 {
		c.max = maxIdleFDs
		var r unix.Rlimit
		if unix.Getrlimit(unix.RLIMIT_NOFILE, &r) == nil && r.Cur/8 < uint64(c.max) {
			c.max = int(r.Cur / 8)
		}
	}
	return c.max
}

// add puts the idle inode in at the front and returns the inodes whose
// descriptors must go to keep the bound, which the caller evicts once it
// holds no inode lock.
//
// Preconditions: in.fdMu is held; in.users == 0; in is not in c.
func (c *fdCache) add(in *inode) []*inode {
	c.mu.Lock()
	defer c.mu.Unlock()
	in.idleSince = time.Now()
	in.lruElem = c.lru.PushFront(in)
	c.n += in.fdCount()
	var victims []*inode
	for max := c.limitLocked(); c.n > max && c.lru.Len() > 0; {
		victims = append(victims, c.removeLocked(c.lru.Back().Value.(*inode)))
	}
	if c.lru.Len() > 0 && c.timer == nil {
		c.timer = time.AfterFunc(c.timeout, c.expire)
	}
	return victims
}

// remove takes in out of c, if it is there.
//
// Preconditions: in.fdMu is held.
func (c *fdCache) remove(in *inode) {
	c.mu.Lock()
	if in.lruElem != nil {
		c.removeLocked(in)
	}
	c.mu.Unlock()
}

// removeLocked takes in, which is in c, out of it, and returns it.
//
// Preconditions: c.mu is held; in.lruElem != nil; in's descriptors have
// not changed since it was added.
func (c *fdCache) removeLocked(in *inode) *inode {
	c.lru.Remove(in.lruElem)
	in.lruElem = nil
	c.n -= in.fdCount()
	return in
}

// expire evicts the inodes idle for longer than c.timeout, and arms the
// timer again for the next one that will be.
func (c *fdCache) expire() {
	now := time.Now()
	var victims []*inode
	c.mu.Lock()
	for c.lru.Len() > 0 {
		in := c.lru.Back().Value.(*inode)
		if wait := in.idleSince.Add(c.timeout).Sub(now); wait > 0 {
			c.timer = time.AfterFunc(wait, c.expire)
			break
		}
		victims = append(victims, c.removeLocked(in))
	}
	if c.lru.Len() == 0 {
		c.timer = nil
	}
	c.mu.Unlock()
	for _, in := range victims {
		in.evict()
	}
}

// size returns the number of idle inodes and of their descriptors.
func (c *fdCache) size() (inodes, fds int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.n
}

// fdCount returns how many cached descriptors in has. Reading readFD and
// writeFD under fdMu (or c.mu, while in is in c) is safe: they change
// with fdMu held, and not while in is in c.
func (in *inode) fdCount() int {
	n := 0
	if in.readFD >= 0 {
		n++
	}
	if in.writeFD >= 0 {
		n++
	}
	return n
}

// evict closes the descriptors of in, which the cache gave up, unless a
// file uses them again or the inode went back into the cache meanwhile.
func (in *inode) evict() {
	in.fdMu.Lock()
	defer in.fdMu.Unlock()
	if in.users > 0 {
		return
	}
	c := in.fs.cache
	c.mu.Lock()
	back := in.lruElem != nil
	c.mu.Unlock()
	if !back {
		in.dropFDsLocked()
	}
}

// dropFDsLocked closes the cached descriptors of in.
//
// Preconditions: in.fdMu is held; in.users == 0; in is not in the cache.
func (in *inode) dropFDsLocked() {
	in.mu.Lock()
	r, w := in.readFD, in.writeFD
	in.readFD, in.writeFD, in.writeReadable = -1, -1, false
	in.mu.Unlock()
	if r < 0 && w < 0 {
		return
	}
	if r >= 0 {
		unix.Close(r)
	}
	if w >= 0 {
		unix.Close(w)
	}
	// The descriptors pinned the host inode.
	in.decRef()
}

// setFDLocked makes fd the cached read-only descriptor, or the writable
// one (readable too if readable) if write.
//
// Preconditions: in.fdMu is held; the slot is empty.
func (in *inode) setFDLocked(fd int, write, readable bool) {
	if in.readFD < 0 && in.writeFD < 0 {
		// The descriptors pin the host inode.
		in.incRef()
	}
	in.mu.Lock()
	if write {
		in.writeFD, in.writeReadable = fd, readable
	} else {
		in.readFD = fd
	}
	in.mu.Unlock()
}

// settleLocked decides, once no file uses in's descriptors, whether they
// stay idle in the cache or are closed now: they go at once if the cache
// keeps nothing or the sandbox unlinked the file. It returns the inodes
// the caller must evict once it holds no inode lock.
//
// Preconditions: in.fdMu is held; in is not in the cache.
func (in *inode) settleLocked() []*inode {
	if in.users > 0 || in.fdCount() == 0 {
		return nil
	}
	in.mu.Lock()
	gone := in.attr.Nlink == 0
	in.mu.Unlock()
	c := in.fs.cache
	c.mu.Lock()
	keep := c.limitLocked() > 0
	c.mu.Unlock()
	if gone || !keep {
		in.dropFDsLocked()
		return nil
	}
	return c.add(in)
}

// evictAll evicts every inode of victims.
func evictAll(victims []*inode) {
	for _, v := range victims {
		v.evict()
	}
}

// isPermission reports whether err is a refusal to open for lack of
// permission.
func isPermission(err error) bool {
	return err == unix.EACCES || err == unix.EPERM
}

// openHost asks the gofer, through d, for a new host descriptor of in's
// file with the access mode acc. On a revalidating tree, the descriptor is
// checked to be of in's host file: the root of a single file follows the
// file the host replaced it with, and may have done so since in was
// known (ESTALE then).
func (in *inode) openHost(d *dentry, acc int) (int, error) {
	fid := d.getFID()
	if fid == 0 {
		return -1, unix.ENOENT
	}
	d.fs.hostOpens.Add(1)
	fd, err := d.fs.client.Open(fid, acc)
	if err != nil || !d.fs.revalidate {
		return fd, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || (inoKey{uint64(st.Dev), st.Ino}) != in.key {
		unix.Close(fd)
		if err == nil {
			err = unix.ESTALE
		}
		return -1, err
	}
	return fd, nil
}

// readableFDLocked returns a cached host descriptor of in that reads,
// asking the gofer for one through d if there is none.
//
// Preconditions: in.fdMu is held.
func (in *inode) readableFDLocked(d *dentry) (int, error) {
	if in.readFD >= 0 {
		return in.readFD, nil
	}
	if in.writeFD >= 0 && in.writeReadable {
		return in.writeFD, nil
	}
	fd, err := in.openHost(d, unix.O_RDONLY)
	if err != nil {
		return -1, err
	}
	in.setFDLocked(fd, false, false)
	return fd, nil
}

// writableFDLocked returns a host descriptor of in that writes, and reads
// too if read, asking the gofer for one through d if none is cached. It
// asks for a read-write one, which later opens of either kind can share,
// and for a write-only one if the gofer may not read the file and read is
// not needed. private reports a descriptor that is not cached: the caller
// owns it (an open for reading and writing when only a write-only one is
// cached, which open files may be using).
//
// Preconditions: in.fdMu is held.
func (in *inode) writableFDLocked(d *dentry, read bool) (fd int, private bool, err error) {
	if in.writeFD >= 0 && (in.writeReadable || !read) {
		return in.writeFD, false, nil
	}
	readable := true
	fd, err = in.openHost(d, unix.O_RDWR)
	if isPermission(err) && !read {
		readable = false
		fd, err = in.openHost(d, unix.O_WRONLY)
	}
	if err != nil {
		return -1, false, err
	}
	if in.writeFD >= 0 {
		return fd, true, nil
	}
	in.setFDLocked(fd, true, readable)
	return fd, false, nil
}

// getFD returns the host descriptor a new open file of in with the access
// mode acc uses, truncating the file first if trunc. pending, if not -1,
// is a read-write descriptor of the file that Create got, which getFD
// takes over. Descriptors in lacks are asked of the gofer through d. The
// file counts as a user of the cached descriptor it gets, which it gives
// back with putFD; private reports one that is the file's own.
func (in *inode) getFD(d *dentry, acc int, trunc bool, pending int) (fd int, private bool, err error) {
	in.fdMu.Lock()
	var victims []*inode
	defer func() {
		in.fdMu.Unlock()
		evictAll(victims)
	}()
	in.fs.cache.remove(in)
	if pending >= 0 {
		if in.writeFD < 0 {
			in.setFDLocked(pending, true, true)
		} else {
			unix.Close(pending)
		}
	}
	if trunc {
		// Linux truncates whatever the access mode (the caller checked
		// that the caller may write).
		tfd, tprivate, err := in.writableFDLocked(d, false)
		if err == nil {
			err = ftruncate(tfd, 0)
			if tprivate {
				unix.Close(tfd)
			}
		}
		if err != nil {
			victims = in.settleLocked()
			return -1, false, err
		}
	}
	if acc == unix.O_RDONLY {
		fd, err = in.readableFDLocked(d)
	} else {
		fd, private, err = in.writableFDLocked(d, acc == unix.O_RDWR)
	}
	if err != nil {
		victims = in.settleLocked()
		return -1, false, err
	}
	if !private {
		in.users++
	}
	return fd, private, nil
}

// putFD gives back a cached descriptor a closed file used. With the last
// user, the descriptors stay cached idle, or go.
func (in *inode) putFD() {
	in.fdMu.Lock()
	in.users--
	if in.users < 0 {
		in.fdMu.Unlock()
		panic("gofer: descriptor users below zero")
	}
	victims := in.settleLocked()
	in.fdMu.Unlock()
	evictAll(victims)
}

// settle lets go of in's idle descriptors if the sandbox unlinked the last
// name of the file, so that the host can free it.
func (in *inode) settle() {
	in.mu.Lock()
	gone := in.attr.Nlink == 0
	in.mu.Unlock()
	if !gone {
		return
	}
	in.fdMu.Lock()
	if in.users > 0 {
		in.fdMu.Unlock()
		return
	}
	in.fs.cache.remove(in)
	victims := in.settleLocked()
	in.fdMu.Unlock()
	evictAll(victims)
}
