package server

import (
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
	"palisade.dev/gofer/protocol"
)

// node is a node of the served tree that at least one FID refers to.
type node struct {
	// fd is an O_PATH|O_NOFOLLOW descriptor of the node.
	fd int
	// parent is the directory the node was walked from, and name the entry
	// in it, used to re-open the node. The root has no parent.
	parent *node
	name   string
	// typ holds the S_IFMT bits of the node; dev and ino identify it.
	typ      uint32
	dev, ino uint64
	// refs counts FIDs and child nodes that refer to the node.
	refs int
	// children indexes the nodes walked from (or made in) this directory
	// whose name there still refers to them, so that a rename or unlink
	// done here can keep their parent and name right. A node whose name
	// was taken away is in no index: it can no longer be re-opened.
	children map[string]*node
}

// Options say how a tree is served.
type Options struct {
	// Writable serves the tree read-write: the operations that change it
	// are carried out instead of answered with EROFS.
	Writable bool
}

// server is the state of one connection.
type server struct {
	conn     *protocol.Conn
	root     *node
	writable bool
	fids     map[protocol.FID]*node
	// next is the next FID to hand out; FIDs are never reused.
	next protocol.FID

	in    []byte // received request
	out   []byte // response being sent
	dents []byte // getdents64 buffer
}

// Serve serves the tree rooted at rootFD (an O_PATH or O_DIRECTORY fd)
// read-only on the connected socket sockFD until the peer closes it. It
// returns nil on a clean EOF.
//
// rootFD must refer to a directory. Serve neither closes nor keeps sockFD and
// rootFD; it works on duplicates, which it closes with every FID's
// descriptor when it returns. sockFD is left in non-blocking mode.
func Serve(sockFD int, rootFD int) error {
	return ServeWith(sockFD, rootFD, Options{})
}

// ServeWith is Serve with options.
func ServeWith(sockFD int, rootFD int, o Options) error {
	rfd, err := openat(rootFD, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return fmt.Errorf("gofer: open root: %w", err)
	}
	var st unix.Stat_t
	if err := fstat(rfd, &st); err != nil {
		unix.Close(rfd)
		return fmt.Errorf("gofer: stat root: %w", err)
	}
	return serveRoot(sockFD, newNode(rfd, nil, "", &st), o)
}

// serveRoot serves the tree whose root is root, which it takes over (and
// releases, with the nodes above it, when it returns), on sockFD.
func serveRoot(sockFD int, root *node, o Options) error {
	sfd, err := unix.FcntlInt(uintptr(sockFD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		releaseNode(root)
		return fmt.Errorf("gofer: dup socket: %w", err)
	}
	conn, err := protocol.NewConn(sfd)
	if err != nil {
		releaseNode(root)
		return err
	}
	s := &server{
		conn:     conn,
		root:     root,
		writable: o.Writable,
		fids:     make(map[protocol.FID]*node),
		next:     1,
		in:       make([]byte, protocol.MaxMessageSize),
		out:      make([]byte, 0, protocol.MaxMessageSize),
		dents:    make([]byte, 32<<10),
	}
	defer s.release()
	return s.serve()
}

// serve receives requests and answers them one at a time until the peer
// hangs up.
func (s *server) serve() error {
	for {
		n, fds, err := s.conn.ReadMessage(s.in)
		// Requests never carry descriptors; do not keep any.
		for _, fd := range fds {
			unix.Close(fd)
		}
		var (
			h    protocol.Header
			resp protocol.Message
			fd   = -1
		)
		switch {
		case err == io.EOF:
			return nil
		case errors.Is(err, protocol.ErrTruncated):
			h, _, _ = protocol.ParseHeader(s.in[:n])
			resp = &protocol.Rerror{Errno: unix.EINVAL}
		case err != nil:
			return fmt.Errorf("gofer: receive: %w", err)
		default:
			h, resp, fd = s.handle(s.in[:n])
		}
		out, err := protocol.Marshal(s.out[:0], h.Tag, resp)
		if err != nil {
			out, _ = protocol.Marshal(s.out[:0], h.Tag, &protocol.Rerror{Errno: unix.EIO})
		}
		s.out = out[:0]
		err = s.conn.WriteMessage(out, fd)
		if fd >= 0 {
			unix.Close(fd)
		}
		switch {
		case errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET):
			// The peer hung up without waiting for the response.
			return nil
		case err != nil:
			return fmt.Errorf("gofer: send: %w", err)
		}
	}
}

// handle decodes and executes one request. It returns the header to answer
// and the response, with a descriptor to donate or -1.
func (s *server) handle(b []byte) (protocol.Header, protocol.Message, int) {
	h, req, err := protocol.DecodeRequest(b)
	if err != nil {
		return h, errorResponse(err), -1
	}
	resp, fd, err := s.dispatch(req)
	if err != nil {
		return h, errorResponse(err), -1
	}
	return h, resp, fd
}

// dispatch executes req and returns its response and a descriptor to donate
// or -1.
func (s *server) dispatch(req protocol.Message) (protocol.Message, int, error) {
	switch req := req.(type) {
	case *protocol.Tattach:
		fid, attr, err := s.attach()
		return &protocol.Rattach{FID: fid, Attr: attr, Writable: s.writable}, -1, err
	case *protocol.Twalk:
		fid, attr, err := s.walk(req.Dir, req.Name)
		return &protocol.Rwalk{FID: fid, Attr: attr}, -1, err
	case *protocol.Tstat:
		attr, err := s.stat(req.FID)
		return &protocol.Rstat{Attr: attr}, -1, err
	case *protocol.Topen:
		fd, err := s.open(req.FID, int(req.Flags))
		return &protocol.Ropen{}, fd, err
	case *protocol.Treaddir:
		resp, err := s.readdir(req.Dir, req.Offset)
		return resp, -1, err
	case *protocol.Treadlink:
		target, err := s.readlink(req.FID)
		return &protocol.Rreadlink{Target: target}, -1, err
	case *protocol.Tstatfs:
		st, err := s.statfs(req.FID)
		return &protocol.Rstatfs{Statfs: st}, -1, err
	case *protocol.Tclunk:
		return &protocol.Rclunk{}, -1, s.clunk(req.FID)
	case *protocol.Trevalidate:
		fid, attr, err := s.revalidate(req.Dir, req.Name, req.Dev, req.Ino)
		return &protocol.Rrevalidate{FID: fid, Attr: attr}, -1, err
	}
	return s.dispatchWrite(req)
}

// errorResponse returns the Rerror for err: its errno, or EIO for an error
// that carries none.
func errorResponse(err error) *protocol.Rerror {
	var errno unix.Errno
	if !errors.As(err, &errno) || errno == 0 {
		errno = unix.EIO
	}
	return &protocol.Rerror{Errno: errno}
}

// release drops every FID of the connection and closes it.
func (s *server) release() {
	for fid, n := range s.fids {
		delete(s.fids, fid)
		s.decRef(n)
	}
	s.decRef(s.root)
	s.conn.Close()
}

// newNode returns a node with one reference for the O_PATH descriptor fd,
// whose stat is st, walked from parent by name. It does not take a
// reference on parent.
func newNode(fd int, parent *node, name string, st *unix.Stat_t) *node {
	return &node{
		fd:     fd,
		parent: parent,
		name:   name,
		typ:    st.Mode & unix.S_IFMT,
		dev:    uint64(st.Dev),
		ino:    st.Ino,
		refs:   1,
	}
}

// decRef drops a reference to n, closing it and dropping its reference to
// its parent when it was the last.
func (s *server) decRef(n *node) { releaseNode(n) }

// releaseNode is decRef for a node no server holds yet.
func releaseNode(n *node) {
	for n != nil {
		n.refs--
		if n.refs > 0 {
			return
		}
		unix.Close(n.fd)
		n.fd = -1
		if p := n.parent; p != nil && p.children[n.name] == n {
			delete(p.children, n.name)
		}
		n = n.parent
	}
}

// indexChild records c as the node that name in dir refers to, in place
// of any node recorded there before.
func indexChild(dir *node, name string, c *node) {
	if dir.children == nil {
		dir.children = make(map[string]*node)
	}
	dir.children[name] = c
}

// detachChild forgets the node recorded for name in dir, whose name no
// longer refers to it.
func detachChild(dir *node, name string) {
	delete(dir.children, name)
}

// moveNode makes n the node at name in dir (its new place after a rename),
// moving its reference from its old parent.
func (s *server) moveNode(n *node, dir *node, name string) {
	old := n.parent
	dir.refs++
	n.parent, n.name = dir, name
	indexChild(dir, name, n)
	s.decRef(old)
}

// newFID returns a new FID for n, which takes over one reference to n.
func (s *server) newFID(n *node) protocol.FID {
	fid := s.next
	s.next++
	s.fids[fid] = n
	return fid
}

// lookup returns the node of fid, or EBADF.
func (s *server) lookup(fid protocol.FID) (*node, error) {
	n, ok := s.fids[fid]
	if !ok {
		return nil, unix.EBADF
	}
	return n, nil
}
