package protocol

import "golang.org/x/sys/unix"

// Trevalidate asks whether the entry Name of the directory Dir still
// refers to the node whose host device and inode numbers are Dev and Ino,
// the node a client cached for it. It lets a client that shares the tree
// with others (the host changes it while the sandbox runs) check a cached
// name in one round trip, as Twalk would, but without a new FID when
// nothing changed.
//
// With an empty Name, Dir is the node asked about itself. A server that
// serves a single file as the entry of a directory (a bind mount of a
// file) then makes the root follow its name: if the entry now names
// another file of the root's type, not a directory, the root (every FID
// of it) is that file from then on. For any other node an empty Name
// only reads its attributes, as Tstat does.
type Trevalidate struct {
	Dir      FID
	Name     string
	Dev, Ino uint64
}

// Type implements Message.
func (*Trevalidate) Type() MsgType { return MsgTrevalidate }

func (m *Trevalidate) encode(e *encoder) {
	e.fid(m.Dir)
	e.str(m.Name)
	e.u64(m.Dev)
	e.u64(m.Ino)
}

func (m *Trevalidate) decode(d *decoder) {
	m.Dir = d.fid()
	m.Name = d.str()
	m.Dev = d.u64()
	m.Ino = d.u64()
}

// Rrevalidate answers Trevalidate with the attributes of what the name
// refers to now. FID is 0 if that is the node asked about (always, for an
// empty Name); otherwise it is a new FID for the file that replaced it, as
// Twalk would have returned. An entry that no longer exists is ENOENT.
type Rrevalidate struct {
	FID  FID
	Attr Attr
}

// Type implements Message.
func (*Rrevalidate) Type() MsgType { return MsgRrevalidate }

func (m *Rrevalidate) encode(e *encoder) {
	e.fid(m.FID)
	e.attr(&m.Attr)
}

func (m *Rrevalidate) decode(d *decoder) {
	m.FID = d.fid()
	d.attr(&m.Attr)
}

// Revalidate checks that the entry name of the directory dir still refers
// to the host file (dev, ino), and returns its attributes now. fid is 0 if
// it does; otherwise it is a new FID, which the caller owns, for the file
// that replaced it. An empty name asks about dir itself (see Trevalidate).
// A server older than this call answers ENOSYS.
func (c *Client) Revalidate(dir FID, name string, dev, ino uint64) (fid FID, attr Attr, err error) {
	if len(name) > MaxNameLen {
		return 0, Attr{}, unix.ENAMETOOLONG
	}
	var r Rrevalidate
	if err := c.call("revalidate", &Trevalidate{Dir: dir, Name: name, Dev: dev, Ino: ino}, &r); err != nil {
		return 0, Attr{}, err
	}
	return r.FID, r.Attr, nil
}
