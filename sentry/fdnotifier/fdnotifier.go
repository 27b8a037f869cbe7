// Package fdnotifier tells waiter queues when host file descriptors the
// sentry owns (the container's stdio) become ready, using one
// edge-triggered epoll instance and a goroutine. With it, a task waiting
// for a host file blocks in the sentry, interruptibly, rather than in a
// host read(2).
//
// Lock order: notifier.mu is a leaf lock (Notify is called without it).
package fdnotifier

import (
	"sync"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/waiter"
)

type notifier struct {
	epfd int
	mu   sync.Mutex
	fds  map[int32]*waiter.Queue
}

var (
	once    sync.Once
	n       *notifier
	initErr error
)

func get() (*notifier, error) {
	once.Do(func() {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			initErr = err
			return
		}
		n = &notifier{epfd: fd, fds: make(map[int32]*waiter.Queue)}
		go n.run()
	})
	return n, initErr
}

// AddFD starts notifying q of events on fd. Files epoll can't watch
// (regular files, which are always ready) return EPERM.
func AddFD(fd int32, q *waiter.Queue) error {
	n, err := get()
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLPRI | unix.EPOLLET, Fd: fd}
	if err := unix.EpollCtl(n.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev); err != nil {
		return err
	}
	n.fds[fd] = q
	return nil
}

// RemoveFD stops watching fd (call before closing it).
func RemoveFD(fd int32) {
	n, err := get()
	if err != nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.fds[fd]; ok {
		unix.EpollCtl(n.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
		delete(n.fds, fd)
	}
}

func (n *notifier) run() {
	events := make([]unix.EpollEvent, 64)
	for {
		k, err := unix.EpollWait(n.epfd, events, -1)
		if err != nil {
			continue // EINTR
		}
		for _, ev := range events[:k] {
			n.mu.Lock()
			q := n.fds[ev.Fd]
			n.mu.Unlock()
			if q != nil {
				q.Notify(waiter.EventMask(ev.Events) & (waiter.EventIn | waiter.EventOut | waiter.EventErr | waiter.EventHUp | waiter.EventPri | waiter.EventRdHUp))
			}
		}
	}
}

// Readiness polls fd without blocking and returns the events in mask that
// are ready.
func Readiness(fd int32, mask waiter.EventMask) waiter.EventMask {
	pfd := []unix.PollFd{{Fd: fd, Events: int16(mask)}}
	if k, err := unix.Poll(pfd, 0); err != nil || k == 0 {
		return 0
	}
	return waiter.EventMask(uint16(pfd[0].Revents)) & (mask | waiter.EventErr | waiter.EventHUp)
}
