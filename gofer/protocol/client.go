package protocol

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"golang.org/x/sys/unix"
)

// Client is the sentry's end of a gofer connection. It is safe for
// concurrent use; requests are sent one at a time.
//
// Errors reported by the gofer are returned as plain unix.Errno values.
// Failures of the connection itself satisfy errors.Is(err, unix.EIO); after
// the first one the Client is broken and every later call fails the same
// way.
type Client struct {
	conn *Conn

	// mu serialises round trips and protects the fields below.
	mu     sync.Mutex
	tag    uint32
	out    []byte
	in     []byte
	broken error
	// writable is what the last Rattach said.
	writable bool
}

// NewClient returns a Client speaking on the connected SOCK_SEQPACKET
// socket fd. It takes ownership of fd, which is closed on error too.
func NewClient(fd int) (*Client, error) {
	conn, err := NewConn(fd)
	if err != nil {
		return nil, err
	}
	return &Client{
		conn: conn,
		out:  make([]byte, 0, 512),
		in:   make([]byte, MaxMessageSize),
	}, nil
}

// Close closes the connection. Calls in progress and later calls fail with
// an error that satisfies errors.Is(err, unix.EIO). The gofer releases all
// FIDs of the connection when it sees it closed.
func (c *Client) Close() error {
	return c.conn.Close()
}

// Attach returns a new FID for the root of the served tree.
func (c *Client) Attach() (FID, Attr, error) {
	var r Rattach
	if err := c.call("attach", &Tattach{}, &r); err != nil {
		return 0, Attr{}, err
	}
	c.mu.Lock()
	c.writable = r.Writable
	c.mu.Unlock()
	return r.FID, r.Attr, nil
}

// Writable reports whether the server said, when last attached to, that
// it serves its tree read-write.
func (c *Client) Writable() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writable
}

// Walk returns a new FID for the entry name of the directory dir. name is a
// single path component; "", ".", ".." and names holding "/" or NUL are
// refused with EINVAL. A final symlink is not followed: the new FID may be a
// symlink, and resolving it is the caller's job.
func (c *Client) Walk(dir FID, name string) (FID, Attr, error) {
	if len(name) > MaxNameLen {
		return 0, Attr{}, unix.ENAMETOOLONG
	}
	var r Rwalk
	if err := c.call("walk", &Twalk{Dir: dir, Name: name}, &r); err != nil {
		return 0, Attr{}, err
	}
	return r.FID, r.Attr, nil
}

// Stat returns the attributes of f.
func (c *Client) Stat(f FID) (Attr, error) {
	var r Rstat
	if err := c.call("stat", &Tstat{FID: f}, &r); err != nil {
		return Attr{}, err
	}
	return r.Attr, nil
}

// Open opens f with the open(2) flags flags and returns a new host file
// descriptor, with O_CLOEXEC set, that the caller owns. Only regular files
// and directories can be opened.
func (c *Client) Open(f FID, flags int) (int, error) {
	if flags < 0 || flags > math.MaxUint32 {
		return -1, unix.EINVAL
	}
	var r Ropen
	fd, err := c.roundTrip("open", &Topen{FID: f, Flags: uint32(flags)}, &r, true)
	if err != nil {
		return -1, err
	}
	return fd, nil
}

// ReadDir returns the entries of the directory dir, except "." and "..".
// Large directories take several round trips; entries added or removed
// meanwhile may or may not be seen, as with getdents(2).
func (c *Client) ReadDir(dir FID) ([]Dirent, error) {
	var ents []Dirent
	var off uint64
	for {
		var r Rreaddir
		if err := c.call("readdir", &Treaddir{Dir: dir, Offset: off}, &r); err != nil {
			return nil, err
		}
		ents = append(ents, r.Entries...)
		if r.EOF {
			return ents, nil
		}
		if len(r.Entries) == 0 && r.Next == off {
			return nil, &transportError{op: "readdir", err: errors.New("server made no progress")}
		}
		off = r.Next
	}
}

// Readlink returns the target of the symlink f. It returns EINVAL if f is
// not a symlink.
func (c *Client) Readlink(f FID) (string, error) {
	var r Rreadlink
	if err := c.call("readlink", &Treadlink{FID: f}, &r); err != nil {
		return "", err
	}
	return r.Target, nil
}

// Statfs returns statistics of the filesystem holding f.
func (c *Client) Statfs(f FID) (Statfs, error) {
	var r Rstatfs
	if err := c.call("statfs", &Tstatfs{FID: f}, &r); err != nil {
		return Statfs{}, err
	}
	return r.Statfs, nil
}

// Clunk releases f. f is invalid afterwards, whatever the result.
func (c *Client) Clunk(f FID) error {
	return c.call("clunk", &Tclunk{FID: f}, &Rclunk{})
}

// call is roundTrip for responses without a descriptor.
func (c *Client) call(op string, req, resp Message) error {
	_, err := c.roundTrip(op, req, resp, false)
	return err
}

// roundTrip sends req, waits for its response and decodes it into resp. If
// wantFD, the response must carry one host descriptor, which is returned;
// otherwise it must carry none and -1 is returned.
func (c *Client) roundTrip(op string, req, resp Message, wantFD bool) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return -1, &transportError{op: op, err: c.broken}
	}
	c.tag++
	out, err := Marshal(c.out[:0], c.tag, req)
	if err != nil {
		return -1, err
	}
	c.out = out[:0]
	if err := c.conn.WriteMessage(out, -1); err != nil {
		return -1, c.fail(op, err)
	}
	n, fds, err := c.conn.WaitReadMessage(c.in)
	if err != nil {
		return -1, c.fail(op, err)
	}
	wantFDs := 0
	if wantFD {
		wantFDs = 1
	}
	h, payload, err := ParseHeader(c.in[:n])
	switch {
	case err != nil:
		err = fmt.Errorf("bad header: %w", err)
	case h.Tag != c.tag:
		err = fmt.Errorf("response tag %d, want %d", h.Tag, c.tag)
	case h.Type == MsgRerror:
		var r Rerror
		if err = Unmarshal(payload, &r); err != nil {
			err = fmt.Errorf("bad Rerror: %w", err)
		} else if len(fds) != 0 {
			err = fmt.Errorf("Rerror carries %d descriptors", len(fds))
		} else {
			return -1, r.Errno
		}
	case h.Type != resp.Type():
		err = fmt.Errorf("response type %d, want %d", h.Type, resp.Type())
	case len(fds) != wantFDs:
		err = fmt.Errorf("response type %d carries %d descriptors, want %d", h.Type, len(fds), wantFDs)
	default:
		if err = Unmarshal(payload, resp); err == nil {
			if wantFD {
				return fds[0], nil
			}
			return -1, nil
		}
		err = fmt.Errorf("bad response type %d: %w", h.Type, err)
	}
	closeFDs(fds)
	return -1, c.fail(op, err)
}

// fail marks c broken with cause err and closes the connection, since the
// stream of responses can no longer be trusted to match requests.
//
// Preconditions: c.mu is held.
func (c *Client) fail(op string, err error) error {
	if c.broken == nil {
		c.broken = err
		c.conn.Close()
	}
	return &transportError{op: op, err: err}
}

// transportError reports a failure of the connection to the gofer, not of
// the operation. It is unix.EIO under errors.Is and errors.As, and nothing
// else: the cause, which may hold an errno of the socket, is only described.
type transportError struct {
	op  string
	err error
}

func (e *transportError) Error() string {
	return fmt.Sprintf("gofer %s: connection failed: %v", e.op, e.err)
}

// Unwrap returns unix.EIO.
func (e *transportError) Unwrap() error { return unix.EIO }
