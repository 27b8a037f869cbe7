package protocol

import (
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// handler answers one request of a fake server with a raw response message
// and a descriptor to send with it, or -1.
type handler func(h Header, req Message) ([]byte, int)

// reply marshals resp with the tag of h.
func reply(h Header, resp Message) []byte {
	b, err := Marshal(nil, h.Tag, resp)
	if err != nil {
		panic(err)
	}
	return b
}

// newFakeServer returns a client connected to a fake server that answers
// requests with handle. The test ends with both closed.
func newFakeServer(t *testing.T, handle handler) (*Client, *Conn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	c, err := NewClient(fds[0])
	if err != nil {
		t.Fatalf("NewClient: got %v, want nil", err)
	}
	srv, err := NewConn(fds[1])
	if err != nil {
		t.Fatalf("NewConn: got %v, want nil", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, MaxMessageSize)
		for {
			n, fds, err := srv.ReadMessage(buf)
			if err != nil {
				return
			}
			closeFDs(fds)
			h, req, err := DecodeRequest(buf[:n])
			if err != nil {
				t.Errorf("fake server: DecodeRequest: %v", err)
				return
			}
			out, fd := handle(h, req)
			if out == nil {
				continue // no answer
			}
			if err := srv.WriteMessage(out, fd); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		c.Close()
		srv.Close()
		<-done
	})
	return c, srv
}

// isEIO reports whether err is a transport error: EIO and no other errno.
func isEIO(err error) bool {
	var errno unix.Errno
	return errors.Is(err, unix.EIO) && errors.As(err, &errno) && errno == unix.EIO &&
		!errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPIPE)
}

func TestClientErrno(t *testing.T) {
	for _, want := range []unix.Errno{unix.ENOENT, unix.ELOOP, unix.EACCES, unix.ENOTDIR, unix.EBADF} {
		t.Run(want.Error(), func(t *testing.T) {
			c, _ := newFakeServer(t, func(h Header, _ Message) ([]byte, int) {
				return reply(h, &Rerror{Errno: want}), -1
			})
			_, _, err := c.Walk(1, "x")
			got, ok := err.(unix.Errno)
			if !ok || got != want {
				t.Errorf("Walk: got %#v, want unix.Errno %v", err, want)
			}
			// A server error leaves the connection usable.
			if _, err := c.Stat(1); err != want {
				t.Errorf("Stat after error: got %v, want %v", err, want)
			}
		})
	}
}

func TestClientOpenReceivesFD(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatalf("pipe2: %v", err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	c, _ := newFakeServer(t, func(h Header, req Message) ([]byte, int) {
		if got, want := req, (&Topen{FID: 4, Flags: unix.O_RDONLY}); *got.(*Topen) != *want {
			t.Errorf("request: got %+v, want %+v", got, want)
		}
		return reply(h, &Ropen{}), p[0]
	})
	fd, err := c.Open(4, unix.O_RDONLY)
	if err != nil {
		t.Fatalf("Open: got %v, want nil", err)
	}
	f := os.NewFile(uintptr(fd), "donated")
	defer f.Close()
	if fd == p[0] {
		t.Fatalf("Open: got the sender's fd %d, want a new one", fd)
	}
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
		t.Errorf("F_GETFD: got %#x, %v, want FD_CLOEXEC set", fl, err)
	}
	if _, err := unix.Write(p[1], []byte("through the pipe")); err != nil {
		t.Fatalf("write: %v", err)
	}
	buf := make([]byte, 64)
	n, err := f.Read(buf)
	if got, want := string(buf[:n]), "through the pipe"; err != nil || got != want {
		t.Errorf("read donated fd: got %q, %v, want %q", got, err, want)
	}
}

func TestClientReadDirChunks(t *testing.T) {
	// The fake server sends one entry per response, and a first response
	// with none, to check that the client follows Next until EOF.
	names := []string{"a", "b", "c", "d"}
	c, _ := newFakeServer(t, func(h Header, req Message) ([]byte, int) {
		off := req.(*Treaddir).Offset
		switch {
		case off == 0:
			return reply(h, &Rreaddir{Next: 100}), -1
		case off-100 < uint64(len(names)):
			i := off - 100
			return reply(h, &Rreaddir{
				Entries: []Dirent{{Name: names[i], Ino: i, Type: unix.DT_REG}},
				Next:    off + 1,
			}), -1
		}
		return reply(h, &Rreaddir{Next: off, EOF: true}), -1
	})
	ents, err := c.ReadDir(1)
	if err != nil {
		t.Fatalf("ReadDir: got %v, want nil", err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name)
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("ReadDir: got %q, want %q", got, names)
	}
}

func TestClientReadDirNoProgress(t *testing.T) {
	c, _ := newFakeServer(t, func(h Header, req Message) ([]byte, int) {
		return reply(h, &Rreaddir{Next: req.(*Treaddir).Offset}), -1
	})
	if _, err := c.ReadDir(1); !isEIO(err) {
		t.Errorf("ReadDir: got %v, want EIO", err)
	}
}

func TestClientBadResponse(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatalf("pipe2: %v", err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	for _, tc := range []struct {
		name   string
		handle handler
		call   func(c *Client) error
	}{
		{
			name: "wrong tag",
			handle: func(h Header, _ Message) ([]byte, int) {
				return reply(Header{Tag: h.Tag + 1}, &Rstat{}), -1
			},
			call: func(c *Client) error { _, err := c.Stat(1); return err },
		},
		{
			name: "wrong type",
			handle: func(h Header, _ Message) ([]byte, int) {
				return reply(h, &Rclunk{}), -1
			},
			call: func(c *Client) error { _, err := c.Stat(1); return err },
		},
		{
			name: "truncated payload",
			handle: func(h Header, _ Message) ([]byte, int) {
				b := reply(h, &Rstat{})
				return b[:len(b)-1], -1
			},
			call: func(c *Client) error { _, err := c.Stat(1); return err },
		},
		{
			name: "short header",
			handle: func(Header, Message) ([]byte, int) {
				return []byte{7}, -1
			},
			call: func(c *Client) error { _, err := c.Stat(1); return err },
		},
		{
			name: "Rerror errno 0",
			handle: func(h Header, _ Message) ([]byte, int) {
				b := reply(h, &Rerror{Errno: unix.EPERM})
				copy(b[HeaderSize:], le32(0))
				return b, -1
			},
			call: func(c *Client) error { return c.Clunk(1) },
		},
		{
			name: "Ropen without fd",
			handle: func(h Header, _ Message) ([]byte, int) {
				return reply(h, &Ropen{}), -1
			},
			call: func(c *Client) error { _, err := c.Open(1, 0); return err },
		},
		{
			name: "Rstat with fd",
			handle: func(h Header, _ Message) ([]byte, int) {
				return reply(h, &Rstat{}), p[0]
			},
			call: func(c *Client) error { _, err := c.Stat(1); return err },
		},
		{
			name: "Rerror with fd",
			handle: func(h Header, _ Message) ([]byte, int) {
				return reply(h, &Rerror{Errno: unix.ENOENT}), p[0]
			},
			call: func(c *Client) error { _, err := c.Stat(1); return err },
		},
		{
			name: "Rwalk fid 0",
			handle: func(h Header, _ Message) ([]byte, int) {
				return reply(h, &Rwalk{FID: 0}), -1
			},
			call: func(c *Client) error { _, _, err := c.Walk(1, "x"); return err },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newFakeServer(t, tc.handle)
			if err := tc.call(c); !isEIO(err) {
				t.Errorf("first call: got %v, want EIO", err)
			}
			// The client is broken from now on.
			if _, _, err := c.Attach(); !isEIO(err) {
				t.Errorf("later call: got %v, want EIO", err)
			}
		})
	}
}

func TestClientPeerClosed(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	c, err := NewClient(fds[0])
	if err != nil {
		t.Fatalf("NewClient: got %v, want nil", err)
	}
	defer c.Close()
	unix.Close(fds[1])
	for i := 0; i < 2; i++ {
		if _, _, err := c.Attach(); !isEIO(err) {
			t.Errorf("Attach #%d: got %v, want EIO", i, err)
		}
	}
}

func TestClientCloseUnblocks(t *testing.T) {
	received := make(chan struct{}, 1)
	c, _ := newFakeServer(t, func(Header, Message) ([]byte, int) {
		received <- struct{}{}
		return nil, -1 // never answer
	})
	errc := make(chan error, 1)
	go func() {
		_, err := c.Stat(1)
		errc <- err
	}()
	<-received
	if err := c.Close(); err != nil {
		t.Errorf("Close: got %v, want nil", err)
	}
	select {
	case err := <-errc:
		if !isEIO(err) {
			t.Errorf("pending Stat: got %v, want EIO", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pending Stat did not return after Close")
	}
	if _, err := c.Stat(1); !isEIO(err) {
		t.Errorf("Stat after Close: got %v, want EIO", err)
	}
}

func TestClientConcurrent(t *testing.T) {
	// Each response echoes the FID asked about, so a mix-up of responses
	// between goroutines shows.
	c, _ := newFakeServer(t, func(h Header, req Message) ([]byte, int) {
		return reply(h, &Rstat{Attr: Attr{Ino: uint64(req.(*Tstat).FID)}}), -1
	})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				fid := FID(g*1000 + i + 1)
				a, err := c.Stat(fid)
				if err != nil || a.Ino != uint64(fid) {
					t.Errorf("Stat(%d): got ino %d, %v, want %d, nil", fid, a.Ino, err, fid)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestClientWalkNameTooLong(t *testing.T) {
	c, _ := newFakeServer(t, func(h Header, _ Message) ([]byte, int) {
		t.Error("request sent for an over-long name")
		return reply(h, &Rerror{Errno: unix.EIO}), -1
	})
	if _, _, err := c.Walk(1, strings.Repeat("a", MaxNameLen+1)); err != unix.ENAMETOOLONG {
		t.Errorf("Walk: got %v, want ENAMETOOLONG", err)
	}
}

func TestNewClientRejects(t *testing.T) {
	stream, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	defer unix.Close(stream[1])
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatalf("pipe2: %v", err)
	}
	defer unix.Close(p[1])
	for _, tc := range []struct {
		name string
		fd   int
		want error
	}{
		{"stream socket", stream[0], unix.EINVAL},
		{"pipe", p[0], unix.ENOTSOCK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewClient(tc.fd); !errors.Is(err, tc.want) {
				t.Errorf("NewClient: got %v, want %v", err, tc.want)
			}
			// NewClient owns the fd even on error.
			if _, err := unix.FcntlInt(uintptr(tc.fd), unix.F_GETFD, 0); err != unix.EBADF {
				t.Errorf("fd after failed NewClient: got %v, want EBADF (closed)", err)
			}
		})
	}
}
