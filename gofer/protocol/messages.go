package protocol

import "golang.org/x/sys/unix"

// FID is a handle to a node of the served tree. The server allocates FIDs
// and holds one host file descriptor for each; 0 is never a valid FID.
type FID uint64

// Timespec is a time as seconds and nanoseconds since the Unix epoch.
type Timespec struct {
	Sec, Nsec int64
}

// Attr holds the attributes of a node, as stat(2) reports them.
type Attr struct {
	// Mode includes the S_IFMT file type bits.
	Mode     uint32
	UID, GID uint32
	Nlink    uint64
	Size     int64
	Blocks   int64
	Blksize  int64
	Ino      uint64
	Dev      uint64
	Rdev     uint64
	Atime    Timespec
	Mtime    Timespec
	Ctime    Timespec
}

// Dirent is one directory entry.
type Dirent struct {
	Name string
	Ino  uint64
	// Type is a DT_* constant (unix.DT_REG, unix.DT_DIR, ...).
	Type uint8
}

// Statfs holds filesystem statistics, as statfs(2) reports them.
type Statfs struct {
	Type    int64
	Bsize   int64
	Blocks  uint64
	Bfree   uint64
	Bavail  uint64
	Files   uint64
	Ffree   uint64
	Namelen int64
	Frsize  int64
}

// Rerror answers any request that failed.
type Rerror struct {
	// Errno is the Linux error number; never 0.
	Errno unix.Errno
}

// Type implements Message.
func (*Rerror) Type() MsgType { return MsgRerror }

func (m *Rerror) encode(e *encoder) { e.u32(uint32(m.Errno)) }

func (m *Rerror) decode(d *decoder) {
	m.Errno = unix.Errno(d.u32())
	if m.Errno == 0 {
		d.bad = true
	}
}

// Tattach asks for a FID for the root of the served tree.
type Tattach struct{}

// Type implements Message.
func (*Tattach) Type() MsgType { return MsgTattach }

func (*Tattach) encode(*encoder) {}
func (*Tattach) decode(*decoder) {}

// Rattach answers Tattach.
type Rattach struct {
	FID  FID
	Attr Attr
	// Writable reports that the server serves the tree read-write: it
	// carries out the operations of write.go instead of answering EROFS.
	Writable bool
}

// Type implements Message.
func (*Rattach) Type() MsgType { return MsgRattach }

func (m *Rattach) encode(e *encoder) {
	e.fid(m.FID)
	e.attr(&m.Attr)
	e.boolean(m.Writable)
}

func (m *Rattach) decode(d *decoder) {
	m.FID = d.newFID()
	d.attr(&m.Attr)
	m.Writable = d.boolean()
}

// Twalk asks for a new FID for the entry Name of the directory Dir. Name is
// one path component; a final symlink is not followed.
type Twalk struct {
	Dir  FID
	Name string
}

// Type implements Message.
func (*Twalk) Type() MsgType { return MsgTwalk }

func (m *Twalk) encode(e *encoder) {
	e.fid(m.Dir)
	e.str(m.Name)
}

func (m *Twalk) decode(d *decoder) {
	m.Dir = d.fid()
	m.Name = d.str()
}

// Rwalk answers Twalk.
type Rwalk struct {
	FID  FID
	Attr Attr
}

// Type implements Message.
func (*Rwalk) Type() MsgType { return MsgRwalk }

func (m *Rwalk) encode(e *encoder) {
	e.fid(m.FID)
	e.attr(&m.Attr)
}

func (m *Rwalk) decode(d *decoder) {
	m.FID = d.newFID()
	d.attr(&m.Attr)
}

// Tstat asks for the attributes of a node.
type Tstat struct {
	FID FID
}

// Type implements Message.
func (*Tstat) Type() MsgType { return MsgTstat }

func (m *Tstat) encode(e *encoder) { e.fid(m.FID) }
func (m *Tstat) decode(d *decoder) { m.FID = d.fid() }

// Rstat answers Tstat.
type Rstat struct {
	Attr Attr
}

// Type implements Message.
func (*Rstat) Type() MsgType { return MsgRstat }

func (m *Rstat) encode(e *encoder) { e.attr(&m.Attr) }
func (m *Rstat) decode(d *decoder) { d.attr(&m.Attr) }

// Topen asks the server to open a node and donate the host file descriptor.
type Topen struct {
	FID FID
	// Flags are open(2) flags of the host.
	Flags uint32
}

// Type implements Message.
func (*Topen) Type() MsgType { return MsgTopen }

func (m *Topen) encode(e *encoder) {
	e.fid(m.FID)
	e.u32(m.Flags)
}

func (m *Topen) decode(d *decoder) {
	m.FID = d.fid()
	m.Flags = d.u32()
}

// Ropen answers Topen. The opened host file descriptor travels with it as
// an SCM_RIGHTS control message; the payload is empty.
type Ropen struct{}

// Type implements Message.
func (*Ropen) Type() MsgType { return MsgRopen }

func (*Ropen) encode(*encoder) {}
func (*Ropen) decode(*decoder) {}

// Treaddir asks for the entries of a directory from Offset on. Offset is 0
// for the first request and then the Next of the previous response.
type Treaddir struct {
	Dir    FID
	Offset uint64
}

// Type implements Message.
func (*Treaddir) Type() MsgType { return MsgTreaddir }

func (m *Treaddir) encode(e *encoder) {
	e.fid(m.Dir)
	e.u64(m.Offset)
}

func (m *Treaddir) decode(d *decoder) {
	m.Dir = d.fid()
	m.Offset = d.u64()
}

// Rreaddir answers Treaddir with as many entries as fit in one message,
// never "." or "..".
type Rreaddir struct {
	Entries []Dirent
	// Next is the offset to ask for to continue after Entries. It is an
	// opaque directory cookie of the host filesystem.
	Next uint64
	// EOF reports that no entries follow Entries.
	EOF bool
}

// Type implements Message.
func (*Rreaddir) Type() MsgType { return MsgRreaddir }

// direntFixed is the encoded size of a Dirent without its name: Ino, Type
// and the name's length.
const direntFixed = 8 + 1 + 4

// ReaddirSpace is the room for entries in one Rreaddir: the sum of
// DirentSize over the entries of a response must not exceed it.
const ReaddirSpace = MaxMessageSize - HeaderSize - 4 - 8 - 1

// DirentSize returns the encoded size of a directory entry named name.
func DirentSize(name string) int { return direntFixed + len(name) }

func (m *Rreaddir) encode(e *encoder) {
	e.u32(uint32(len(m.Entries)))
	for i := range m.Entries {
		de := &m.Entries[i]
		e.u64(de.Ino)
		e.u8(de.Type)
		e.str(de.Name)
	}
	e.u64(m.Next)
	e.boolean(m.EOF)
}

func (m *Rreaddir) decode(d *decoder) {
	n := d.u32()
	// Bound the allocation by what the payload can hold.
	if uint64(n) > uint64(len(d.b)/direntFixed) {
		d.bad = true
		return
	}
	m.Entries = make([]Dirent, n)
	for i := range m.Entries {
		de := &m.Entries[i]
		de.Ino = d.u64()
		de.Type = d.u8()
		de.Name = d.str()
	}
	m.Next = d.u64()
	m.EOF = d.boolean()
}

// Treadlink asks for the target of a symlink.
type Treadlink struct {
	FID FID
}

// Type implements Message.
func (*Treadlink) Type() MsgType { return MsgTreadlink }

func (m *Treadlink) encode(e *encoder) { e.fid(m.FID) }
func (m *Treadlink) decode(d *decoder) { m.FID = d.fid() }

// Rreadlink answers Treadlink.
type Rreadlink struct {
	Target string
}

// Type implements Message.
func (*Rreadlink) Type() MsgType { return MsgRreadlink }

func (m *Rreadlink) encode(e *encoder) { e.str(m.Target) }
func (m *Rreadlink) decode(d *decoder) { m.Target = d.str() }

// Tstatfs asks for statistics of the filesystem holding a node.
type Tstatfs struct {
	FID FID
}

// Type implements Message.
func (*Tstatfs) Type() MsgType { return MsgTstatfs }

func (m *Tstatfs) encode(e *encoder) { e.fid(m.FID) }
func (m *Tstatfs) decode(d *decoder) { m.FID = d.fid() }

// Rstatfs answers Tstatfs.
type Rstatfs struct {
	Statfs Statfs
}

// Type implements Message.
func (*Rstatfs) Type() MsgType { return MsgRstatfs }

func (m *Rstatfs) encode(e *encoder) {
	s := &m.Statfs
	e.i64(s.Type)
	e.i64(s.Bsize)
	e.u64(s.Blocks)
	e.u64(s.Bfree)
	e.u64(s.Bavail)
	e.u64(s.Files)
	e.u64(s.Ffree)
	e.i64(s.Namelen)
	e.i64(s.Frsize)
}

func (m *Rstatfs) decode(d *decoder) {
	s := &m.Statfs
	s.Type = d.i64()
	s.Bsize = d.i64()
	s.Blocks = d.u64()
	s.Bfree = d.u64()
	s.Bavail = d.u64()
	s.Files = d.u64()
	s.Ffree = d.u64()
	s.Namelen = d.i64()
	s.Frsize = d.i64()
}

// Tclunk releases a FID.
type Tclunk struct {
	FID FID
}

// Type implements Message.
func (*Tclunk) Type() MsgType { return MsgTclunk }

func (m *Tclunk) encode(e *encoder) { e.fid(m.FID) }
func (m *Tclunk) decode(d *decoder) { m.FID = d.fid() }

// Rclunk answers Tclunk.
type Rclunk struct{}

// Type implements Message.
func (*Rclunk) Type() MsgType { return MsgRclunk }

func (*Rclunk) encode(*encoder) {}
func (*Rclunk) decode(*decoder) {}
