// Package pipe implements anonymous pipes (pipe(2), pipe(7)).
//
// A Pipe is a bounded queue of page-sized buffers, as Linux's is: its
// capacity is a number of slots (16 by default, 65536 bytes), a write fills
// whole pages except that a write whose size isn't a multiple of the page
// size first tries to append its remainder to the last, partly filled
// buffer. Modelling slots rather than bytes gives Linux's answers where
// they are subtle: the pipe is writable (POLLOUT) while a slot is free,
// which is also exactly when a write of up to PIPE_BUF bytes is sure to
// succeed whole; F_SETPIPE_SZ is EBUSY when fewer slots than are in use
// are asked for; and packet mode (O_DIRECT) keeps one packet per slot.
//
// Reads and writes never block here: an empty pipe with writers, or a full
// pipe, answers EAGAIN, and the system call layer waits on the pipe's
// queue (the ends are waiter.Waitables) when the description is blocking.
//
// Lock order: Pipe.mu, then waiter.Queue.mu (the pipe notifies its queue
// after dropping Pipe.mu).
package pipe

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/vfs"
	"palisade.dev/sentry/waiter"
)

const (
	// PageSize is the size of one pipe buffer.
	PageSize = 4096
	// PipeBuf is PIPE_BUF: writes of at most this many bytes are atomic.
	PipeBuf = 4096
	// DefaultSize is a new pipe's capacity in bytes.
	DefaultSize = 16 * PageSize
	// MaxSize is /proc/sys/fs/pipe-max-size: the most an unprivileged
	// process may raise a pipe's capacity to with F_SETPIPE_SZ.
	MaxSize = 1 << 20
	// maxSetSize is the largest F_SETPIPE_SZ argument Linux accepts.
	maxSetSize = 1 << 31
)

// buffer is one slot's contents: data[off:off+n] is unread.
type buffer struct {
	data []byte
	off  int
	n    int
	// packet marks a buffer written in packet mode (O_DIRECT): a read
	// consumes at most one packet and discards what it doesn't take.
	// Stream data is never appended to a packet.
	packet bool
}

var pagePool = sync.Pool{New: func() any { return new([PageSize]byte) }}

// ring is a FIFO of buffers whose storage grows to the most slots ever
// in use at once, not to the pipe's capacity.
type ring struct {
	b       []buffer
	head, n int
}

func (r *ring) len() int { return r.n }

// at returns the i'th oldest buffer.
func (r *ring) at(i int) *buffer { return &r.b[(r.head+i)%len(r.b)] }

func (r *ring) push(x buffer) {
	if r.n == len(r.b) {
		nb := make([]buffer, max(4, 2*len(r.b)))
		for i := 0; i < r.n; i++ {
			nb[i] = *r.at(i)
		}
		r.b, r.head = nb, 0
	}
	r.b[(r.head+r.n)%len(r.b)] = x
	r.n++
}

// pop frees the oldest buffer.
func (r *ring) pop() {
	pagePool.Put((*[PageSize]byte)(r.b[r.head].data))
	r.b[r.head] = buffer{}
	r.head = (r.head + 1) % len(r.b)
	r.n--
}

// Pipe is the state both ends of a pipe share.
type Pipe struct {
	ino      uint64
	uid, gid uint32
	queue    waiter.Queue

	// readMu serialises readers, so that a splice's Peek and Consume see
	// the same bytes.
	readMu sync.Mutex

	// mu protects the fields below it.
	mu sync.Mutex
	// bufs are the slots in use, oldest first; bufs.len() <= slots.
	bufs ring
	// slots is the capacity in buffers (F_GETPIPE_SZ is slots*PageSize).
	slots int
	// size is the number of unread bytes (FIONREAD).
	size             int
	readers, writers int
	atime, mtime     vfs.Timespec
	ctime            vfs.Timespec
}

var (
	nextIno   atomic.Uint64
	devOnce   sync.Once
	pipeMinor uint32
)

// Inode 1 is pipefs's root; pipes are numbered from 2.
func init() { nextIno.Store(1) }

// dev returns the anonymous device number pipes report (major 0).
func dev() uint32 {
	devOnce.Do(func() { pipeMinor = vfs.NewAnonDev() })
	return pipeMinor
}

func now() vfs.Timespec {
	t := time.Now()
	return vfs.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// New returns a pipe with no ends open, owned by uid and gid (the
// creator's filesystem IDs, which fstat reports).
func New(uid, gid uint32) *Pipe {
	ts := now()
	return &Pipe{
		ino:   nextIno.Add(1),
		uid:   uid,
		gid:   gid,
		slots: DefaultSize / PageSize,
		atime: ts, mtime: ts, ctime: ts,
	}
}

// Ino returns the pipe's inode number, unique among pipes.
func (p *Pipe) Ino() uint64 { return p.ino }

// Name returns the name /proc/[pid]/fd shows for the pipe: "pipe:[ino]".
func (p *Pipe) Name() string { return fmt.Sprintf("pipe:[%d]", p.ino) }

// Size returns the pipe's capacity in bytes (F_GETPIPE_SZ).
func (p *Pipe) Size() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int64(p.slots) * PageSize
}

// SetSize implements F_SETPIPE_SZ: it sets the capacity to size rounded up
// to a power-of-two number of pages (at least one) and returns the new
// capacity. Beyond MaxSize a growing pipe needs privileged
// (CAP_SYS_RESOURCE); fewer slots than are in use is EBUSY.
func (p *Pipe) SetSize(size uint64, privileged bool) (int64, error) {
	if size > maxSetSize {
		return 0, unix.EINVAL
	}
	rounded := uint64(PageSize)
	for rounded < size {
		rounded <<= 1
	}
	slots := int(rounded / PageSize)
	p.mu.Lock()
	if slots > p.slots && rounded > MaxSize && !privileged {
		p.mu.Unlock()
		return 0, unix.EPERM
	}
	if slots < p.bufs.len() {
		p.mu.Unlock()
		return 0, unix.EBUSY
	}
	grew := slots > p.slots
	p.slots = slots
	p.mu.Unlock()
	if grew {
		p.queue.Notify(waiter.WritableEvents)
	}
	return int64(rounded), nil
}

// Unread returns the number of bytes waiting to be read (FIONREAD).
func (p *Pipe) Unread() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.size
}

// read moves up to len(dst) bytes out of the pipe: 0 with no error is end
// of file (empty, no writers); EAGAIN means empty with writers.
func (p *Pipe) read(dst []byte) (int, error) {
	p.readMu.Lock()
	defer p.readMu.Unlock()
	return p.take(dst, true)
}

// take copies up to len(dst) bytes from the front of the pipe, removing
// them if consume is set. A read stops at the end of a packet and, when
// consuming, discards the rest of it.
func (p *Pipe) take(dst []byte, consume bool) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	p.mu.Lock()
	if p.bufs.len() == 0 {
		w := p.writers
		p.mu.Unlock()
		if w == 0 {
			return 0, nil
		}
		return 0, unix.EAGAIN
	}
	total := 0
	for i := 0; total < len(dst) && i < p.bufs.len(); {
		b := p.bufs.at(i)
		n := copy(dst[total:], b.data[b.off:b.off+b.n])
		total += n
		packet := b.packet
		if !consume {
			i++
			if packet {
				break
			}
			continue
		}
		b.off += n
		b.n -= n
		p.size -= n
		if packet {
			// The rest of the packet is discarded.
			p.size -= b.n
			b.n = 0
		}
		if b.n == 0 {
			p.bufs.pop()
		}
		if packet {
			break
		}
	}
	if !consume {
		p.mu.Unlock()
		return total, nil
	}
	p.atime = now()
	p.mu.Unlock()
	p.queue.Notify(waiter.WritableEvents)
	return total, nil
}

// Splicing (splice, tee, sendfile) reads a pipe in two steps, Peek then
// Consume, so that bytes the destination didn't take stay in the pipe.
// LockRead holds off other readers between the two.

// LockRead keeps other readers out until UnlockRead.
func (p *Pipe) LockRead() { p.readMu.Lock() }

// UnlockRead ends LockRead.
func (p *Pipe) UnlockRead() { p.readMu.Unlock() }

// Peek copies up to len(dst) unread bytes without removing them, with
// read's end-of-file and EAGAIN answers. The caller holds LockRead.
func (p *Pipe) Peek(dst []byte) (int, error) { return p.take(dst, false) }

// Consume removes the first n unread bytes, which the caller peeked
// holding LockRead.
func (p *Pipe) Consume(n int) {
	for n > 0 {
		var buf [PageSize]byte
		k, _ := p.take(buf[:min(n, len(buf))], true)
		if k == 0 {
			return
		}
		n -= k
	}
}

// Room returns how many bytes a write could take now (0 when full), or
// EPIPE if no reader is left.
func (p *Pipe) Room() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.readers == 0 {
		return 0, unix.EPIPE
	}
	room := (p.slots - p.bufs.len()) * PageSize
	if p.bufs.len() > 0 {
		if last := p.bufs.at(p.bufs.len() - 1); !last.packet {
			room += PageSize - (last.off + last.n)
		}
	}
	return room, nil
}

// write moves src into the pipe. It fails with EPIPE when there is no
// reader. A write of at most PipeBuf bytes is all or nothing; a larger one
// transfers what fits. Nothing fitting is EAGAIN.
func (p *Pipe) write(src []byte, packet bool) (int, error) {
	if len(src) == 0 {
		return 0, nil
	}
	p.mu.Lock()
	if p.readers == 0 {
		p.mu.Unlock()
		return 0, unix.EPIPE
	}
	total := 0
	// Try to append the part of the write that doesn't fill whole pages
	// to the last buffer; it goes there whole or not at all.
	if rem := len(src) % PageSize; rem != 0 && !packet && p.bufs.len() > 0 {
		last := p.bufs.at(p.bufs.len() - 1)
		if end := last.off + last.n; !last.packet && end+rem <= PageSize {
			copy(last.data[end:], src[:rem])
			last.n += rem
			total = rem
		}
	}
	for total < len(src) && p.bufs.len() < p.slots {
		page := pagePool.Get().(*[PageSize]byte)
		n := copy(page[:], src[total:])
		p.bufs.push(buffer{data: page[:], n: n, packet: packet})
		total += n
	}
	if total == 0 {
		p.mu.Unlock()
		return 0, unix.EAGAIN
	}
	p.size += total
	p.mtime = now()
	p.ctime = p.mtime
	p.mu.Unlock()
	p.queue.Notify(waiter.ReadableEvents)
	return total, nil
}

// readiness returns the events ready on an end that reads and/or writes,
// as Linux's pipe_poll computes them: readable while there is data, hung
// up once no writer is left; writable while a slot is free, an error once
// no reader is left.
func (p *Pipe) readiness(read, write bool) waiter.EventMask {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ev waiter.EventMask
	if read {
		if p.bufs.len() > 0 {
			ev |= waiter.ReadableEvents
		}
		if p.writers == 0 {
			ev |= waiter.EventHUp
		}
	}
	if write {
		if p.bufs.len() < p.slots {
			ev |= waiter.WritableEvents
		}
		if p.readers == 0 {
			ev |= waiter.EventErr
		}
	}
	return ev
}

// open counts a new end.
func (p *Pipe) open(read, write bool) {
	p.mu.Lock()
	if read {
		p.readers++
	}
	if write {
		p.writers++
	}
	p.mu.Unlock()
}

// release uncounts an end and wakes whoever the change concerns: readers
// see end of file once the last writer goes, writers EPIPE once the last
// reader goes.
func (p *Pipe) release(read, write bool) {
	var ev waiter.EventMask
	p.mu.Lock()
	if read {
		p.readers--
		if p.readers == 0 {
			ev |= waiter.EventErr | waiter.WritableEvents
		}
	}
	if write {
		p.writers--
		if p.writers == 0 {
			ev |= waiter.EventHUp | waiter.ReadableEvents
		}
	}
	if p.readers == 0 && p.writers == 0 {
		for p.bufs.len() > 0 {
			p.bufs.pop()
		}
		p.size = 0
	}
	p.mu.Unlock()
	if ev != 0 {
		p.queue.Notify(ev)
	}
}

// stat returns the pipe's attributes as fstat(2) reports them.
func (p *Pipe) stat() vfs.Statx {
	p.mu.Lock()
	defer p.mu.Unlock()
	return vfs.Statx{
		Mask:     vfs.STATX_BASIC_STATS,
		Blksize:  PageSize,
		Nlink:    1,
		UID:      p.uid,
		GID:      p.gid,
		Mode:     vfs.S_IFIFO | 0o600,
		Ino:      p.ino,
		Atime:    p.atime,
		Mtime:    p.mtime,
		Ctime:    p.ctime,
		DevMinor: dev(),
	}
}
