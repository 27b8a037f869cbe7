package protocol

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// maxFDs is how many descriptors ReadMessage accepts with one message.
// Responses carry at most one; room for more lets a reader see, and close,
// descriptors it did not expect instead of having them truncated.
const maxFDs = 4

// ErrTruncated is returned by Conn.ReadMessage for a message, or its
// descriptors, that did not fit the buffers.
var ErrTruncated = errors.New("gofer: message truncated")

// Conn is one end of a gofer connection: a connected AF_UNIX SOCK_SEQPACKET
// socket that carries one message per packet and host descriptors as
// SCM_RIGHTS. Close may be called from any goroutine and makes a pending
// ReadMessage return.
type Conn struct {
	uc *net.UnixConn
	// closed is set by Close, for WaitReadMessage to see.
	closed atomic.Bool

	// oob receives control messages. It belongs to the single reader.
	oob []byte
}

// NewConn returns a Conn for the connected SOCK_SEQPACKET socket fd. It
// takes ownership of fd, which is closed on error too. The socket is put in
// non-blocking mode and served by the Go runtime's poller.
func NewConn(fd int) (*Conn, error) {
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("gofer: socket %d: %w", fd, err)
	}
	if typ != unix.SOCK_SEQPACKET {
		unix.Close(fd)
		return nil, fmt.Errorf("gofer: socket %d: type %d, want SOCK_SEQPACKET: %w", fd, typ, unix.EINVAL)
	}
	// A SOCK_SEQPACKET message must fit the sender's buffer; raise it if
	// the host's default is too small. The kernel doubles the value and caps
	// it at net.core.wmem_max, so this is best effort.
	if sz, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF); err == nil && sz < 2*MaxMessageSize {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 2*MaxMessageSize)
	}
	f := os.NewFile(uintptr(fd), "gofer")
	c, err := net.FileConn(f) // dups fd
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("gofer: socket %d: %w", fd, err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("gofer: socket %d: not a unix socket: %w", fd, unix.EINVAL)
	}
	return &Conn{uc: uc, oob: make([]byte, unix.CmsgSpace(maxFDs*4))}, nil
}

// WriteMessage sends b as one message, with the host descriptor fd attached
// if fd >= 0. The caller keeps ownership of fd.
func (c *Conn) WriteMessage(b []byte, fd int) error {
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	n, oobn, err := c.uc.WriteMsgUnix(b, oob, nil)
	if err != nil {
		return err
	}
	if n != len(b) || oobn != len(oob) {
		return io.ErrShortWrite
	}
	return nil
}

// ReadMessage receives one message into b and returns its length and the
// descriptors that came with it, now owned by the caller (with O_CLOEXEC
// set). It returns io.EOF when the peer has closed the connection. For a
// message larger than b, it returns ErrTruncated with the length of the
// part that fit in b. On any error it returns no descriptors.
//
// Preconditions: no other ReadMessage is in progress on c.
func (c *Conn) ReadMessage(b []byte) (int, []int, error) {
	// On Linux the net package receives with MSG_CMSG_CLOEXEC.
	n, oobn, flags, _, err := c.uc.ReadMsgUnix(b, c.oob)
	return c.received(n, oobn, flags, err)
}

// received returns what ReadMessage returns for a receive of n bytes and
// oobn bytes of control messages, with flags, that ended with err.
func (c *Conn) received(n, oobn, flags int, err error) (int, []int, error) {
	var fds []int
	if oobn > 0 {
		fds = parseRights(c.oob[:oobn])
	}
	switch {
	case errors.Is(err, io.EOF):
		err = io.EOF
	case err != nil:
	case n == 0:
		// Every message has a header, so an empty read is the end.
		err = io.EOF
	case flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0:
		err = ErrTruncated
	}
	if err != nil {
		closeFDs(fds)
		return n, nil, err
	}
	return n, fds, nil
}

// waitPollMillis bounds, in milliseconds, each wait of WaitReadMessage in
// the kernel: how long a Close may take to make it return.
const waitPollMillis = 100

// WaitReadMessage is ReadMessage for a caller that would rather block its
// thread in the kernel until the message comes than park its goroutine in
// the Go runtime's poller. A goroutine locked to its thread (the sentry's
// task goroutines, which the ptrace platform locks) pays tens of
// microseconds for a park and wake-up there, several times what a round
// trip to the gofer costs otherwise; blocked in poll(2), the thread is
// woken by the kernel itself. A Close makes it return within
// waitPollMillis.
//
// Preconditions: no other read is in progress on c.
func (c *Conn) WaitReadMessage(b []byte) (int, []int, error) {
	rc, err := c.uc.SyscallConn()
	if err != nil {
		return 0, nil, err
	}
	var (
		n, oobn, flags int
		rerr           error
	)
	err = rc.Read(func(fd uintptr) bool {
		for {
			n, oobn, flags, _, rerr = unix.Recvmsg(int(fd), b, c.oob, unix.MSG_CMSG_CLOEXEC|unix.MSG_DONTWAIT)
			if rerr != unix.EAGAIN && rerr != unix.EINTR {
				return true
			}
			if c.closed.Load() {
				rerr = net.ErrClosed
				return true
			}
			unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, waitPollMillis)
		}
	})
	if err == nil {
		err = rerr
	}
	return c.received(n, oobn, flags, err)
}

// Close closes the connection.
func (c *Conn) Close() error {
	c.closed.Store(true)
	return c.uc.Close()
}

// parseRights returns the descriptors in the SCM_RIGHTS messages of oob.
func parseRights(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for i := range msgs {
		if msgs[i].Header.Level != unix.SOL_SOCKET || msgs[i].Header.Type != unix.SCM_RIGHTS {
			continue
		}
		more, err := unix.ParseUnixRights(&msgs[i])
		if err == nil {
			fds = append(fds, more...)
		}
	}
	return fds
}

// closeFDs closes every descriptor in fds.
func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
