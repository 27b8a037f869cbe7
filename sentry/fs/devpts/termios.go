package devpts

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Sizes of the terminal structures ioctls copy (x86-64).
const (
	termiosSize  = 36 // struct termios, the kernel's (no speed fields)
	termios2Size = 44 // struct termios2
	winsizeSize  = 8  // struct winsize
	nccs         = 19 // NCCS of the kernel's struct termios
)

// Termios is a terminal's settings, struct termios2 as the kernel keeps
// it.
type Termios struct {
	Iflag, Oflag, Cflag, Lflag uint32
	Line                       uint8
	CC                         [nccs]uint8
	Ispeed, Ospeed             uint32
}

// defaultTermios is what a new pseudo-terminal starts with, as Linux sets
// it up: ICRNL|IXON in, OPOST|ONLCR out, B38400|CS8|CREAD, and
// ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|ECHOKE|IEXTEN with the usual
// control characters (^C ^\ DEL ^U ^D, VMIN 1, ^Q ^S ^Z, ^R ^O ^W ^V).
func defaultTermios() Termios {
	t := Termios{
		Iflag:  unix.ICRNL | unix.IXON,
		Oflag:  unix.OPOST | unix.ONLCR,
		Cflag:  unix.B38400 | unix.CS8 | unix.CREAD,
		Lflag:  unix.ISIG | unix.ICANON | unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHOCTL | unix.ECHOKE | unix.IEXTEN,
		Ispeed: 38400,
		Ospeed: 38400,
	}
	cc := &t.CC
	cc[unix.VINTR] = ctrl('C')
	cc[unix.VQUIT] = ctrl('\\')
	cc[unix.VERASE] = 0x7f
	cc[unix.VKILL] = ctrl('U')
	cc[unix.VEOF] = ctrl('D')
	cc[unix.VTIME] = 0
	cc[unix.VMIN] = 1
	cc[unix.VSTART] = ctrl('Q')
	cc[unix.VSTOP] = ctrl('S')
	cc[unix.VSUSP] = ctrl('Z')
	cc[unix.VREPRINT] = ctrl('R')
	cc[unix.VDISCARD] = ctrl('O')
	cc[unix.VWERASE] = ctrl('W')
	cc[unix.VLNEXT] = ctrl('V')
	return t
}

// ctrl returns the control character typed as ^c.
func ctrl(c byte) byte { return c & 0x1f }

// marshal encodes t as struct termios (size termiosSize) or struct
// termios2 (termios2Size).
func (t *Termios) marshal(size int) []byte {
	b := make([]byte, size)
	le := binary.LittleEndian
	le.PutUint32(b[0:], t.Iflag)
	le.PutUint32(b[4:], t.Oflag)
	le.PutUint32(b[8:], t.Cflag)
	le.PutUint32(b[12:], t.Lflag)
	b[16] = t.Line
	copy(b[17:17+nccs], t.CC[:])
	if size >= termios2Size {
		le.PutUint32(b[36:], t.Ispeed)
		le.PutUint32(b[40:], t.Ospeed)
	}
	return b
}

// unmarshalTermios decodes struct termios or termios2 (by len(b)); old
// supplies the speeds struct termios doesn't carry.
func unmarshalTermios(b []byte, old Termios) Termios {
	le := binary.LittleEndian
	t := Termios{
		Iflag: le.Uint32(b[0:]), Oflag: le.Uint32(b[4:]), Cflag: le.Uint32(b[8:]), Lflag: le.Uint32(b[12:]),
		Line: b[16], Ispeed: old.Ispeed, Ospeed: old.Ospeed,
	}
	copy(t.CC[:], b[17:17+nccs])
	if len(b) >= termios2Size {
		t.Ispeed, t.Ospeed = le.Uint32(b[36:]), le.Uint32(b[40:])
	}
	return t
}

func (t *Termios) iflag(f uint32) bool { return t.Iflag&f != 0 }
func (t *Termios) oflag(f uint32) bool { return t.Oflag&f != 0 }
func (t *Termios) lflag(f uint32) bool { return t.Lflag&f != 0 }

// is reports whether c is the control character at index i of c_cc; a
// zero entry is disabled (_POSIX_VDISABLE).
func (t *Termios) is(c byte, i int) bool { return t.CC[i] != 0 && t.CC[i] == c }

// Winsize is struct winsize.
type Winsize struct {
	Row, Col, Xpixel, Ypixel uint16
}

func (w Winsize) marshal() []byte {
	b := make([]byte, winsizeSize)
	le := binary.LittleEndian
	le.PutUint16(b[0:], w.Row)
	le.PutUint16(b[2:], w.Col)
	le.PutUint16(b[4:], w.Xpixel)
	le.PutUint16(b[6:], w.Ypixel)
	return b
}

func unmarshalWinsize(b []byte) Winsize {
	le := binary.LittleEndian
	return Winsize{Row: le.Uint16(b[0:]), Col: le.Uint16(b[2:]), Xpixel: le.Uint16(b[4:]), Ypixel: le.Uint16(b[6:])}
}
