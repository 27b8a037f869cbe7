package protocol

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

const (
	// MaxMessageSize is the largest message, header included, that either
	// side sends or accepts. It stays below the default socket send buffer
	// (net.core.wmem_default), which bounds a SOCK_SEQPACKET message.
	MaxMessageSize = 128 << 10

	// HeaderSize is the size of the header that starts every message.
	HeaderSize = 8

	// MaxNameLen is the longest path component a Walk may name (NAME_MAX).
	MaxNameLen = 255
)

// MsgType identifies a message. Requests (T*) have even numbers and their
// responses (R*) the next odd number; Rerror may answer any request.
type MsgType uint16

// Message types. New operations take the next free T/R pair.
const (
	MsgRerror    MsgType = 1
	MsgTattach   MsgType = 2
	MsgRattach   MsgType = 3
	MsgTwalk     MsgType = 4
	MsgRwalk     MsgType = 5
	MsgTstat     MsgType = 6
	MsgRstat     MsgType = 7
	MsgTopen     MsgType = 8
	MsgRopen     MsgType = 9
	MsgTreaddir  MsgType = 10
	MsgRreaddir  MsgType = 11
	MsgTreadlink MsgType = 12
	MsgRreadlink MsgType = 13
	MsgTstatfs   MsgType = 14
	MsgRstatfs   MsgType = 15
	MsgTclunk    MsgType = 16
	MsgRclunk    MsgType = 17

	// Operations of a writable tree (write.go).
	MsgTcreate      MsgType = 18
	MsgRcreate      MsgType = 19
	MsgTmkdir       MsgType = 20
	MsgRmkdir       MsgType = 21
	MsgTmknod       MsgType = 22
	MsgRmknod       MsgType = 23
	MsgTsymlink     MsgType = 24
	MsgRsymlink     MsgType = 25
	MsgTlink        MsgType = 26
	MsgRlink        MsgType = 27
	MsgTunlink      MsgType = 28
	MsgRunlink      MsgType = 29
	MsgTrename      MsgType = 30
	MsgRrename      MsgType = 31
	MsgTsetattr     MsgType = 32
	MsgRsetattr     MsgType = 33
	MsgTfsync       MsgType = 34
	MsgRfsync       MsgType = 35
	MsgTgetxattr    MsgType = 36
	MsgRgetxattr    MsgType = 37
	MsgTsetxattr    MsgType = 38
	MsgRsetxattr    MsgType = 39
	MsgTlistxattr   MsgType = 40
	MsgRlistxattr   MsgType = 41
	MsgTremovexattr MsgType = 42
	MsgRremovexattr MsgType = 43

	// Revalidation of a cached node (revalidate.go).
	MsgTrevalidate MsgType = 44
	MsgRrevalidate MsgType = 45
)

// Header is the fixed part that starts every message.
type Header struct {
	Type MsgType
	// Tag is chosen by the client and echoed in the response, so a client
	// can match responses to requests.
	Tag uint32
}

// Message is a request or response payload. Only this package implements it.
type Message interface {
	// Type returns the message type written in the header.
	Type() MsgType
	encode(e *encoder)
	decode(d *decoder)
}

// Marshal appends the header and payload of m to dst and returns the
// extended slice. It returns unix.EMSGSIZE if the message would be larger
// than MaxMessageSize.
func Marshal(dst []byte, tag uint32, m Message) ([]byte, error) {
	start := len(dst)
	e := encoder{b: dst}
	e.u16(uint16(m.Type()))
	e.u16(0)
	e.u32(tag)
	m.encode(&e)
	if len(e.b)-start > MaxMessageSize {
		return dst, unix.EMSGSIZE
	}
	return e.b, nil
}

// ParseHeader splits a received message into its header and payload. It
// returns unix.EINVAL if b is shorter than a header or a reserved header
// field is set.
func ParseHeader(b []byte) (Header, []byte, error) {
	if len(b) < HeaderSize {
		return Header{}, nil, unix.EINVAL
	}
	h := Header{
		Type: MsgType(binary.LittleEndian.Uint16(b[0:])),
		Tag:  binary.LittleEndian.Uint32(b[4:]),
	}
	if binary.LittleEndian.Uint16(b[2:]) != 0 {
		return h, nil, unix.EINVAL
	}
	return h, b[HeaderSize:], nil
}

// Unmarshal decodes payload into m. It returns unix.EINVAL if the payload is
// truncated, has bytes left over, or holds an invalid value.
func Unmarshal(payload []byte, m Message) error {
	d := decoder{b: payload}
	m.decode(&d)
	if d.bad || len(d.b) != 0 {
		return unix.EINVAL
	}
	return nil
}

// DecodeRequest parses a request message. The returned header is valid
// whenever the header itself could be parsed, so a server can still answer
// with the right tag. Errors are unix.EINVAL for a malformed message and
// unix.ENOSYS for a type that is not a known request.
func DecodeRequest(b []byte) (Header, Message, error) {
	h, payload, err := ParseHeader(b)
	if err != nil {
		return h, nil, err
	}
	var m Message
	switch h.Type {
	case MsgTattach:
		m = &Tattach{}
	case MsgTwalk:
		m = &Twalk{}
	case MsgTstat:
		m = &Tstat{}
	case MsgTopen:
		m = &Topen{}
	case MsgTreaddir:
		m = &Treaddir{}
	case MsgTreadlink:
		m = &Treadlink{}
	case MsgTstatfs:
		m = &Tstatfs{}
	case MsgTclunk:
		m = &Tclunk{}
	case MsgTrevalidate:
		m = &Trevalidate{}
	default:
		m = newWriteRequest(h.Type)
	}
	if m == nil {
		return h, nil, unix.ENOSYS
	}
	if err := Unmarshal(payload, m); err != nil {
		return h, nil, err
	}
	return h, m, nil
}

// encoder appends little-endian values to a byte slice.
type encoder struct {
	b []byte
}

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *encoder) i64(v int64)  { e.u64(uint64(v)) }
func (e *encoder) fid(f FID)    { e.u64(uint64(f)) }

func (e *encoder) boolean(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}

func (e *encoder) str(s string) {
	e.u32(uint32(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) timespec(t Timespec) {
	e.i64(t.Sec)
	e.i64(t.Nsec)
}

func (e *encoder) attr(a *Attr) {
	e.u32(a.Mode)
	e.u32(a.UID)
	e.u32(a.GID)
	e.u64(a.Nlink)
	e.i64(a.Size)
	e.i64(a.Blocks)
	e.i64(a.Blksize)
	e.u64(a.Ino)
	e.u64(a.Dev)
	e.u64(a.Rdev)
	e.timespec(a.Atime)
	e.timespec(a.Mtime)
	e.timespec(a.Ctime)
}

// decoder consumes little-endian values from a byte slice. Reading past the
// end sets bad and yields zero values; callers check bad once at the end.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) take(n int) []byte {
	if d.bad || n < 0 || len(d.b) < n {
		d.bad = true
		d.b = nil
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) u8() uint8 {
	if p := d.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if p := d.take(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if p := d.take(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

func (d *decoder) i64() int64 { return int64(d.u64()) }

func (d *decoder) fid() FID { return FID(d.u64()) }

// newFID decodes a FID the server has just allocated; 0 is never one.
func (d *decoder) newFID() FID {
	f := d.fid()
	if f == 0 {
		d.bad = true
	}
	return f
}

func (d *decoder) boolean() bool {
	switch d.u8() {
	case 0:
		return false
	case 1:
		return true
	}
	d.bad = true
	return false
}

func (d *decoder) str() string {
	n := d.u32()
	if uint64(n) > uint64(len(d.b)) {
		d.bad = true
		return ""
	}
	return string(d.take(int(n)))
}

func (d *decoder) timespec() Timespec {
	return Timespec{Sec: d.i64(), Nsec: d.i64()}
}

func (d *decoder) attr(a *Attr) {
	a.Mode = d.u32()
	a.UID = d.u32()
	a.GID = d.u32()
	a.Nlink = d.u64()
	a.Size = d.i64()
	a.Blocks = d.i64()
	a.Blksize = d.i64()
	a.Ino = d.u64()
	a.Dev = d.u64()
	a.Rdev = d.u64()
	a.Atime = d.timespec()
	a.Mtime = d.timespec()
	a.Ctime = d.timespec()
}
