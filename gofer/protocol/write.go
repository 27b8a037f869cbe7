package protocol

// Messages of the operations that change a tree. A server that serves its
// tree read-only answers every one of them with EROFS (Tgetxattr and
// Tlistxattr, which change nothing, excepted).
//
// Names are single path components, checked by the server as Twalk's are.
// Operations that make a node answer with a new FID for it and its
// attributes, so the client need not walk to it.

// Tcreate makes the regular file Name in Dir, as open(2) with
// O_CREAT|O_EXCL does, owned by UID:GID with permission bits Mode, and
// opens it with the access mode of Flags (O_RDONLY, O_WRONLY or O_RDWR).
type Tcreate struct {
	Dir   FID
	Name  string
	Flags uint32
	// Mode is the permission bits (umask already applied).
	Mode     uint32
	UID, GID uint32
}

// Type implements Message.
func (*Tcreate) Type() MsgType { return MsgTcreate }

func (m *Tcreate) encode(e *encoder) {
	e.fid(m.Dir)
	e.str(m.Name)
	e.u32(m.Flags)
	e.u32(m.Mode)
	e.u32(m.UID)
	e.u32(m.GID)
}

func (m *Tcreate) decode(d *decoder) {
	m.Dir = d.fid()
	m.Name = d.str()
	m.Flags = d.u32()
	m.Mode = d.u32()
	m.UID = d.u32()
	m.GID = d.u32()
}

// Rcreate answers Tcreate. The opened host file descriptor travels with it
// as Ropen's does.
type Rcreate struct {
	FID  FID
	Attr Attr
}

// Type implements Message.
func (*Rcreate) Type() MsgType { return MsgRcreate }

func (m *Rcreate) encode(e *encoder) { e.fid(m.FID); e.attr(&m.Attr) }
func (m *Rcreate) decode(d *decoder) { m.FID = d.newFID(); d.attr(&m.Attr) }

// Tmkdir makes the directory Name in Dir.
type Tmkdir struct {
	Dir      FID
	Name     string
	Mode     uint32
	UID, GID uint32
}

// Type implements Message.
func (*Tmkdir) Type() MsgType { return MsgTmkdir }

func (m *Tmkdir) encode(e *encoder) {
	e.fid(m.Dir)
	e.str(m.Name)
	e.u32(m.Mode)
	e.u32(m.UID)
	e.u32(m.GID)
}

func (m *Tmkdir) decode(d *decoder) {
	m.Dir = d.fid()
	m.Name = d.str()
	m.Mode = d.u32()
	m.UID = d.u32()
	m.GID = d.u32()
}

// Rnode answers the requests that make a node (Tmkdir, Tmknod, Tsymlink,
// Tlink) with a FID for it.
type Rnode struct {
	typ  MsgType
	FID  FID
	Attr Attr
}

// Type implements Message.
func (m *Rnode) Type() MsgType { return m.typ }

func (m *Rnode) encode(e *encoder) { e.fid(m.FID); e.attr(&m.Attr) }
func (m *Rnode) decode(d *decoder) { m.FID = d.newFID(); d.attr(&m.Attr) }

// NewRnode returns the answer to a node-making request of type req.
func NewRnode(req MsgType, fid FID, attr Attr) *Rnode {
	return &Rnode{typ: req + 1, FID: fid, Attr: attr}
}

// Tmknod makes the FIFO, socket, or character or block device Name in Dir;
// Mode holds the S_IFMT bits of the type, and Rdev the device number.
type Tmknod struct {
	Dir      FID
	Name     string
	Mode     uint32
	Rdev     uint64
	UID, GID uint32
}

// Type implements Message.
func (*Tmknod) Type() MsgType { return MsgTmknod }

func (m *Tmknod) encode(e *encoder) {
	e.fid(m.Dir)
	e.str(m.Name)
	e.u32(m.Mode)
	e.u64(m.Rdev)
	e.u32(m.UID)
	e.u32(m.GID)
}

func (m *Tmknod) decode(d *decoder) {
	m.Dir = d.fid()
	m.Name = d.str()
	m.Mode = d.u32()
	m.Rdev = d.u64()
	m.UID = d.u32()
	m.GID = d.u32()
}

// Tsymlink makes Name in Dir a symbolic link to Target. The target is
// stored as given and never resolved by the server.
type Tsymlink struct {
	Dir      FID
	Name     string
	Target   string
	UID, GID uint32
}

// Type implements Message.
func (*Tsymlink) Type() MsgType { return MsgTsymlink }

func (m *Tsymlink) encode(e *encoder) {
	e.fid(m.Dir)
	e.str(m.Name)
	e.str(m.Target)
	e.u32(m.UID)
	e.u32(m.GID)
}

func (m *Tsymlink) decode(d *decoder) {
	m.Dir = d.fid()
	m.Name = d.str()
	m.Target = d.str()
	m.UID = d.u32()
	m.GID = d.u32()
}

// Tlink makes Name in Dir a new hard link to the node Target (not a
// directory; a symlink itself, never what it points to).
type Tlink struct {
	Dir    FID
	Name   string
	Target FID
}

// Type implements Message.
func (*Tlink) Type() MsgType { return MsgTlink }

func (m *Tlink) encode(e *encoder) {
	e.fid(m.Dir)
	e.str(m.Name)
	e.fid(m.Target)
}

func (m *Tlink) decode(d *decoder) {
	m.Dir = d.fid()
	m.Name = d.str()
	m.Target = d.fid()
}

// Tunlink removes the entry Name of Dir, as unlinkat(2) does: with
// AT_REMOVEDIR in Flags an empty directory, otherwise anything but a
// directory.
type Tunlink struct {
	Dir   FID
	Name  string
	Flags uint32
}

// Type implements Message.
func (*Tunlink) Type() MsgType { return MsgTunlink }

func (m *Tunlink) encode(e *encoder) {
	e.fid(m.Dir)
	e.str(m.Name)
	e.u32(m.Flags)
}

func (m *Tunlink) decode(d *decoder) {
	m.Dir = d.fid()
	m.Name = d.str()
	m.Flags = d.u32()
}

// Rempty answers the requests that return nothing but success (Tunlink,
// Trename, Tfsync, Tsetxattr, Tremovexattr).
type Rempty struct {
	typ MsgType
}

// Type implements Message.
func (m *Rempty) Type() MsgType { return m.typ }

func (*Rempty) encode(*encoder) {}
func (*Rempty) decode(*decoder) {}

// NewRempty returns the empty answer to a request of type req.
func NewRempty(req MsgType) *Rempty { return &Rempty{typ: req + 1} }

// Trename moves the entry OldName of OldDir to NewName of NewDir, as
// renameat2(2) does with Flags (RENAME_NOREPLACE, RENAME_EXCHANGE).
type Trename struct {
	OldDir  FID
	OldName string
	NewDir  FID
	NewName string
	Flags   uint32
}

// Type implements Message.
func (*Trename) Type() MsgType { return MsgTrename }

func (m *Trename) encode(e *encoder) {
	e.fid(m.OldDir)
	e.str(m.OldName)
	e.fid(m.NewDir)
	e.str(m.NewName)
	e.u32(m.Flags)
}

func (m *Trename) decode(d *decoder) {
	m.OldDir = d.fid()
	m.OldName = d.str()
	m.NewDir = d.fid()
	m.NewName = d.str()
	m.Flags = d.u32()
}

// Bits of Tsetattr.Mask: which attributes to change.
const (
	SetattrMode  = 1 << 0
	SetattrUID   = 1 << 1
	SetattrGID   = 1 << 2
	SetattrSize  = 1 << 3
	SetattrAtime = 1 << 4
	SetattrMtime = 1 << 5

	setattrKnown = SetattrMode | SetattrUID | SetattrGID | SetattrSize | SetattrAtime | SetattrMtime
)

// Special Timespec.Nsec values, as utimensat(2) takes them.
const (
	UtimeNow  = (1 << 30) - 1
	UtimeOmit = (1 << 30) - 2
)

// Tsetattr changes the attributes of a node that Mask names, never
// following a symlink: the permission bits (Mode, without S_IFMT), the
// owner, the size of a regular file, and the access and modification
// times (whose Nsec may be UtimeNow or UtimeOmit).
type Tsetattr struct {
	FID          FID
	Mask         uint32
	Mode         uint32
	UID, GID     uint32
	Size         uint64
	Atime, Mtime Timespec
}

// Type implements Message.
func (*Tsetattr) Type() MsgType { return MsgTsetattr }

func (m *Tsetattr) encode(e *encoder) {
	e.fid(m.FID)
	e.u32(m.Mask)
	e.u32(m.Mode)
	e.u32(m.UID)
	e.u32(m.GID)
	e.u64(m.Size)
	e.timespec(m.Atime)
	e.timespec(m.Mtime)
}

func (m *Tsetattr) decode(d *decoder) {
	m.FID = d.fid()
	m.Mask = d.u32()
	m.Mode = d.u32()
	m.UID = d.u32()
	m.GID = d.u32()
	m.Size = d.u64()
	m.Atime = d.timespec()
	m.Mtime = d.timespec()
	if m.Mask&^setattrKnown != 0 {
		d.bad = true
	}
}

// Rsetattr answers Tsetattr with the node's attributes afterwards.
type Rsetattr struct {
	Attr Attr
}

// Type implements Message.
func (*Rsetattr) Type() MsgType { return MsgRsetattr }

func (m *Rsetattr) encode(e *encoder) { e.attr(&m.Attr) }
func (m *Rsetattr) decode(d *decoder) { d.attr(&m.Attr) }

// Tfsync flushes a regular file or directory to stable storage.
type Tfsync struct {
	FID FID
}

// Type implements Message.
func (*Tfsync) Type() MsgType { return MsgTfsync }

func (m *Tfsync) encode(e *encoder) { e.fid(m.FID) }
func (m *Tfsync) decode(d *decoder) { m.FID = d.fid() }

// Tgetxattr asks for the value of the extended attribute Name of a node.
// With Size 0 it asks only for the value (whose length the client
// returns); otherwise a value longer than Size is ERANGE.
type Tgetxattr struct {
	FID  FID
	Name string
	Size uint32
}

// Type implements Message.
func (*Tgetxattr) Type() MsgType { return MsgTgetxattr }

func (m *Tgetxattr) encode(e *encoder) {
	e.fid(m.FID)
	e.str(m.Name)
	e.u32(m.Size)
}

func (m *Tgetxattr) decode(d *decoder) {
	m.FID = d.fid()
	m.Name = d.str()
	m.Size = d.u32()
}

// Rgetxattr answers Tgetxattr.
type Rgetxattr struct {
	Value string
}

// Type implements Message.
func (*Rgetxattr) Type() MsgType { return MsgRgetxattr }

func (m *Rgetxattr) encode(e *encoder) { e.str(m.Value) }
func (m *Rgetxattr) decode(d *decoder) { m.Value = d.str() }

// Tsetxattr sets the extended attribute Name of a node, with setxattr(2)'s
// Flags (XATTR_CREATE, XATTR_REPLACE).
type Tsetxattr struct {
	FID   FID
	Name  string
	Value string
	Flags uint32
}

// Type implements Message.
func (*Tsetxattr) Type() MsgType { return MsgTsetxattr }

func (m *Tsetxattr) encode(e *encoder) {
	e.fid(m.FID)
	e.str(m.Name)
	e.str(m.Value)
	e.u32(m.Flags)
}

func (m *Tsetxattr) decode(d *decoder) {
	m.FID = d.fid()
	m.Name = d.str()
	m.Value = d.str()
	m.Flags = d.u32()
}

// Tlistxattr asks for the names of a node's extended attributes; a list
// longer than Size (NUL-terminated names, as listxattr(2) counts it) is
// ERANGE, unless Size is 0.
type Tlistxattr struct {
	FID  FID
	Size uint32
}

// Type implements Message.
func (*Tlistxattr) Type() MsgType { return MsgTlistxattr }

func (m *Tlistxattr) encode(e *encoder) { e.fid(m.FID); e.u32(m.Size) }
func (m *Tlistxattr) decode(d *decoder) { m.FID = d.fid(); m.Size = d.u32() }

// Rlistxattr answers Tlistxattr.
type Rlistxattr struct {
	Names []string
}

// Type implements Message.
func (*Rlistxattr) Type() MsgType { return MsgRlistxattr }

func (m *Rlistxattr) encode(e *encoder) {
	e.u32(uint32(len(m.Names)))
	for _, n := range m.Names {
		e.str(n)
	}
}

func (m *Rlistxattr) decode(d *decoder) {
	n := d.u32()
	// Each name takes at least its 4-byte length.
	if uint64(n) > uint64(len(d.b)/4) {
		d.bad = true
		return
	}
	m.Names = make([]string, n)
	for i := range m.Names {
		m.Names[i] = d.str()
	}
}

// Tremovexattr removes the extended attribute Name of a node.
type Tremovexattr struct {
	FID  FID
	Name string
}

// Type implements Message.
func (*Tremovexattr) Type() MsgType { return MsgTremovexattr }

func (m *Tremovexattr) encode(e *encoder) { e.fid(m.FID); e.str(m.Name) }
func (m *Tremovexattr) decode(d *decoder) { m.FID = d.fid(); m.Name = d.str() }

// newWriteRequest returns an empty request of type t, or nil if t is not
// one of this file's requests.
func newWriteRequest(t MsgType) Message {
	switch t {
	case MsgTcreate:
		return &Tcreate{}
	case MsgTmkdir:
		return &Tmkdir{}
	case MsgTmknod:
		return &Tmknod{}
	case MsgTsymlink:
		return &Tsymlink{}
	case MsgTlink:
		return &Tlink{}
	case MsgTunlink:
		return &Tunlink{}
	case MsgTrename:
		return &Trename{}
	case MsgTsetattr:
		return &Tsetattr{}
	case MsgTfsync:
		return &Tfsync{}
	case MsgTgetxattr:
		return &Tgetxattr{}
	case MsgTsetxattr:
		return &Tsetxattr{}
	case MsgTlistxattr:
		return &Tlistxattr{}
	case MsgTremovexattr:
		return &Tremovexattr{}
	}
	return nil
}
