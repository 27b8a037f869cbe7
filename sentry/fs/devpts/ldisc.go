package devpts

import (
	"golang.org/x/sys/unix"
)

// Queue sizes.
const (
	// readBufSize is the line discipline's input buffer (Linux's
	// N_TTY_BUF_SIZE): at most readBufSize-1 bytes wait for the slave's
	// reader, one more when a full canonical line gets its terminator.
	readBufSize = 4096
	// pendingSize bounds what the master wrote that the line discipline
	// hasn't taken yet because the slave's reader is behind.
	pendingSize = 16384
	// outSize bounds the output waiting for the master's reader.
	outSize = 20480
	// maxExpansion is the most bytes output processing makes of one (a
	// tab expanded to spaces).
	maxExpansion = 8
	// maxEcho bounds the output queue for echoes, which are never refused
	// (they are dropped past it).
	maxEcho = 2 * outSize
)

// Packet mode status bits (TIOCPKT_*), reported to the master's reader.
const (
	pktFlushRead  = 0x01
	pktFlushWrite = 0x02
	pktStop       = 0x04
	pktStart      = 0x08
	pktNoStop     = 0x10
	pktDoStop     = 0x20
)

// ldisc is one pseudo-terminal's line discipline and queues, without
// locking or waiting (Terminal adds those). Input flows from the master
// through pending (raw bytes not yet taken) into buf (what the slave
// reads); output flows from the slave, and echoes from the input, into
// out (what the master reads).
//
// In canonical mode buf holds the committed lines, whose ends lineEnds
// records, followed by the line being edited; a line ended by VEOF has no
// terminator (an empty one is end of file). In noncanonical mode all of
// buf is readable and lineEnds is empty.
type ldisc struct {
	termios Termios

	pending  []byte
	buf      []byte
	lineEnds []int
	// lnext is set after VLNEXT: the next character is taken literally.
	lnext bool

	out []byte
	// column is the output column (for tabs and erasing); canonColumn
	// is the column where the line being edited started.
	column, canonColumn int

	// stopped is set while output is stopped, by VSTOP (IXON) or by
	// TCOOFF (tcoStopped, which only TCOON undoes).
	stopped, tcoStopped bool

	// packet is TIOCPKT mode on the master; pktStatus the status byte
	// its next read reports.
	packet    bool
	pktStatus byte

	// signals are the signals input characters raised (ISIG), in order,
	// for the caller to send to the foreground process group.
	signals []int
}

func newLdisc() ldisc { return ldisc{termios: defaultTermios()} }

func (l *ldisc) canonical() bool { return l.termios.lflag(unix.ICANON) }

// lineStart returns where the line being edited starts in buf.
func (l *ldisc) lineStart() int {
	if n := len(l.lineEnds); n > 0 {
		return l.lineEnds[n-1]
	}
	return 0
}

// masterWrite queues src as input and processes what fits; it returns
// how much of src was taken (0: the queue is full).
func (l *ldisc) masterWrite(src []byte) int {
	n := min(len(src), pendingSize-len(l.pending))
	l.pending = append(l.pending, src[:n]...)
	l.process()
	return n
}

// process feeds pending input through the line discipline while it has
// room.
func (l *ldisc) process() {
	i := 0
	for i < len(l.pending) && l.receive(l.pending[i]) {
		i++
	}
	l.pending = l.pending[:copy(l.pending, l.pending[i:])]
}

// receive processes one input character. It returns false, without
// taking c, when the reader must make room first.
func (l *ldisc) receive(c byte) bool {
	t := &l.termios
	canon := t.lflag(unix.ICANON)
	// Committed input waits for the reader; a canonical line being edited
	// past the limit loses its ordinary characters but can still be
	// edited and ended.
	full := len(l.buf) >= readBufSize-1
	if full && !(canon && len(l.lineEnds) == 0) {
		return false
	}
	if t.iflag(unix.ISTRIP) {
		c &= 0x7f
	}
	if l.lnext {
		l.lnext = false
		l.store(c, full)
		return true
	}
	if t.iflag(unix.IUCLC) && t.lflag(unix.IEXTEN) && 'A' <= c && c <= 'Z' {
		c += 'a' - 'A'
	}
	if t.iflag(unix.IXON) {
		if t.is(c, unix.VSTART) {
			l.startOutput()
			return true
		}
		if t.is(c, unix.VSTOP) {
			l.stopOutput()
			return true
		}
	}
	if t.lflag(unix.ISIG) {
		sig := 0
		switch {
		case t.is(c, unix.VINTR):
			sig = sigINT
		case t.is(c, unix.VQUIT):
			sig = sigQUIT
		case t.is(c, unix.VSUSP):
			sig = sigTSTP
		}
		if sig != 0 {
			if !t.lflag(unix.NOFLSH) {
				l.flushInput()
				l.flushOutput()
			}
			l.signals = append(l.signals, sig)
			if t.iflag(unix.IXON) {
				l.startOutput()
			}
			if t.lflag(unix.ECHO) {
				l.echoChar(c)
			}
			return true
		}
	}
	if l.stopped && !l.tcoStopped && t.iflag(unix.IXON) && t.iflag(unix.IXANY) {
		l.startOutput()
	}
	if c == '\r' {
		if t.iflag(unix.IGNCR) {
			return true
		}
		if t.iflag(unix.ICRNL) {
			c = '\n'
		}
	} else if c == '\n' && t.iflag(unix.INLCR) {
		c = '\r'
	}
	if canon {
		echo := t.lflag(unix.ECHO)
		switch {
		case t.is(c, unix.VERASE), t.is(c, unix.VKILL), t.is(c, unix.VWERASE) && t.lflag(unix.IEXTEN):
			l.erase(c)
			return true
		case t.is(c, unix.VLNEXT) && t.lflag(unix.IEXTEN):
			l.lnext = true
			if echo && t.lflag(unix.ECHOCTL) {
				// Show ^ where the next character will go.
				l.echoRaw('^')
				l.echoRaw('\b')
			}
			return true
		case t.is(c, unix.VREPRINT) && echo && t.lflag(unix.IEXTEN):
			l.echoChar(c)
			l.echoRaw('\n')
			for _, ch := range l.buf[l.lineStart():] {
				l.echoChar(ch)
			}
			return true
		case c == '\n':
			if echo || t.lflag(unix.ECHONL) {
				l.echoRaw('\n')
			}
			l.buf = append(l.buf, c)
			l.commit()
			return true
		case t.is(c, unix.VEOF):
			// The line ends without the EOF character, unechoed.
			l.commit()
			return true
		case t.is(c, unix.VEOL), t.is(c, unix.VEOL2) && t.lflag(unix.IEXTEN):
			if echo {
				l.markCanonColumn()
				l.echoChar(c)
			}
			l.buf = append(l.buf, c)
			l.commit()
			return true
		}
	}
	l.store(c, full)
	return true
}

// store adds an ordinary character to the input, echoing it.
func (l *ldisc) store(c byte, full bool) {
	if full {
		return // the line is too long: dropped
	}
	if l.termios.lflag(unix.ECHO) {
		if c == '\n' {
			l.echoRaw('\n')
		} else {
			l.markCanonColumn()
			l.echoChar(c)
		}
	}
	l.buf = append(l.buf, c)
}

func (l *ldisc) commit() { l.lineEnds = append(l.lineEnds, len(l.buf)) }

// markCanonColumn records the column a new line starts at.
func (l *ldisc) markCanonColumn() {
	if len(l.buf) == l.lineStart() {
		l.canonColumn = l.column
	}
}

// erase implements VERASE, VWERASE and VKILL (c says which) on the line
// being edited, echoing the erasure as termios asks.
func (l *ldisc) erase(c byte) {
	t := &l.termios
	start := l.lineStart()
	if len(l.buf) == start {
		return
	}
	echo := t.lflag(unix.ECHO)
	kill := t.is(c, unix.VKILL)
	word := !kill && !t.is(c, unix.VERASE)
	if kill && (!echo || !t.lflag(unix.ECHOK) || !t.lflag(unix.ECHOKE) || !t.lflag(unix.ECHOE)) {
		// Without ECHOKE the line isn't erased on the screen: the kill
		// character is echoed, then a newline under ECHOK.
		l.buf = l.buf[:start]
		if echo {
			l.echoChar(c)
			if t.lflag(unix.ECHOK) {
				l.echoRaw('\n')
			}
		}
		return
	}
	utf8 := t.iflag(unix.IUTF8)
	alnums := 0
	for len(l.buf) > start {
		// The last character, all of a UTF-8 sequence under IUTF8.
		i := len(l.buf) - 1
		for utf8 && i > start && isContinuation(l.buf[i]) {
			i--
		}
		ch := l.buf[i]
		if word {
			// A word is letters, digits and underscores; what follows
			// the last word goes with it.
			if isWordChar(ch) {
				alnums++
			} else if alnums > 0 {
				break
			}
		}
		l.buf = l.buf[:i]
		if echo {
			switch {
			case !kill && !word && !t.lflag(unix.ECHOE):
				l.echoChar(c)
			case ch == '\t':
				l.eraseTab(start)
			default:
				if isCntrl(ch) && t.lflag(unix.ECHOCTL) {
					l.echoErase()
				}
				if !isCntrl(ch) || t.lflag(unix.ECHOCTL) {
					l.echoErase()
				}
			}
		}
		if !kill && !word {
			break
		}
	}
}

// echoErase moves back over one column, blanking it.
func (l *ldisc) echoErase() {
	l.echoRaw('\b')
	l.echoRaw(' ')
	l.echoRaw('\b')
}

// eraseTab moves the cursor back over a tab just erased from the line
// (which started at start in buf): to the column the tab started at,
// found from the characters before it.
func (l *ldisc) eraseTab(start int) {
	t := &l.termios
	cols, afterTab := 0, false
	for j := len(l.buf) - 1; j >= start; j-- {
		ch := l.buf[j]
		if ch == '\t' {
			afterTab = true
			break
		}
		switch {
		case isCntrl(ch):
			if t.lflag(unix.ECHOCTL) {
				cols += 2
			}
		case t.iflag(unix.IUTF8) && isContinuation(ch):
		default:
			cols++
		}
	}
	if !afterTab {
		cols += l.canonColumn
	}
	for n := 8 - cols&7; n > 0; n-- {
		l.echoRaw('\b')
	}
}

// echoChar echoes an input character: a control character other than tab
// as ^X under ECHOCTL, anything else through output processing.
func (l *ldisc) echoChar(c byte) {
	if len(l.out) >= maxEcho {
		return
	}
	if l.termios.lflag(unix.ECHOCTL) && isCntrl(c) && c != '\t' {
		l.out = append(l.out, '^', c^0x40)
		l.column += 2
		return
	}
	l.outputChar(c)
}

// echoRaw echoes c through output processing.
func (l *ldisc) echoRaw(c byte) {
	if len(l.out) < maxEcho {
		l.outputChar(c)
	}
}

// outputChar appends c to the output with output processing (OPOST),
// keeping track of the column.
func (l *ldisc) outputChar(c byte) {
	t := &l.termios
	if !t.oflag(unix.OPOST) {
		l.out = append(l.out, c)
		return
	}
	switch c {
	case '\n':
		if t.oflag(unix.ONLRET) {
			l.column = 0
		}
		if t.oflag(unix.ONLCR) {
			l.out = append(l.out, '\r', '\n')
			l.column, l.canonColumn = 0, 0
			return
		}
		l.canonColumn = l.column
	case '\r':
		if t.oflag(unix.ONOCR) && l.column == 0 {
			return
		}
		if t.oflag(unix.OCRNL) {
			c = '\n'
			if t.oflag(unix.ONLRET) {
				l.column, l.canonColumn = 0, 0
			}
			break
		}
		l.column, l.canonColumn = 0, 0
	case '\t':
		spaces := 8 - l.column&7
		l.column += spaces
		if t.Oflag&unix.TABDLY == unix.XTABS {
			for ; spaces > 0; spaces-- {
				l.out = append(l.out, ' ')
			}
			return
		}
	case '\b':
		if l.column > 0 {
			l.column--
		}
	default:
		if !isCntrl(c) {
			if t.oflag(unix.OLCUC) && 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			if !(t.iflag(unix.IUTF8) && isContinuation(c)) {
				l.column++
			}
		}
	}
	l.out = append(l.out, c)
}

// slaveWrite processes src as output while there is room, returning how
// much was taken.
func (l *ldisc) slaveWrite(src []byte) int {
	if !l.termios.oflag(unix.OPOST) {
		n := min(len(src), max(0, outSize-len(l.out)))
		l.out = append(l.out, src[:n]...)
		return n
	}
	n := 0
	for n < len(src) && len(l.out)+maxExpansion <= outSize {
		l.outputChar(src[n])
		n++
	}
	return n
}

// slaveReadable reports whether a slave read would find input: a
// committed line in canonical mode, else any byte — or, for poll, VMIN
// bytes when VMIN is set without VTIME.
func (l *ldisc) slaveReadable(poll bool) bool {
	if l.canonical() {
		return len(l.lineEnds) > 0
	}
	want := 1
	if vmin := int(l.termios.CC[unix.VMIN]); poll && vmin > 0 && l.termios.CC[unix.VTIME] == 0 {
		want = vmin
	}
	return len(l.buf) >= want
}

// slaveRead moves input to dst: at most one line in canonical mode (0
// for an end-of-file line), else whatever there is. The caller has
// checked slaveReadable(false).
func (l *ldisc) slaveRead(dst []byte) int {
	var n int
	if l.canonical() {
		if len(l.lineEnds) == 0 {
			return 0
		}
		n = copy(dst, l.buf[:l.lineEnds[0]])
	} else {
		n = copy(dst, l.buf)
	}
	l.buf = l.buf[:copy(l.buf, l.buf[n:])]
	for i := range l.lineEnds {
		l.lineEnds[i] -= n
	}
	if len(l.lineEnds) > 0 && l.lineEnds[0] == 0 {
		l.lineEnds = l.lineEnds[:copy(l.lineEnds, l.lineEnds[1:])]
	}
	l.process()
	return n
}

// inq returns how many bytes a slave could read (FIONREAD): those of
// committed lines in canonical mode.
func (l *ldisc) inq() int {
	if l.canonical() {
		return l.lineStart()
	}
	return len(l.buf)
}

// slaveWritable reports whether a slave write could take a byte.
func (l *ldisc) slaveWritable() bool {
	return !l.stopped && len(l.out)+maxExpansion <= outSize
}

// masterReadable reports whether the master has something to read.
func (l *ldisc) masterReadable() bool {
	return len(l.out) > 0 || (l.packet && l.pktStatus != 0)
}

// masterRead moves output to dst; in packet mode a pending status byte
// comes alone, and data is preceded by a zero byte (TIOCPKT_DATA).
func (l *ldisc) masterRead(dst []byte) int {
	if len(dst) == 0 {
		return 0
	}
	off := 0
	if l.packet {
		if l.pktStatus != 0 {
			dst[0] = l.pktStatus
			l.pktStatus = 0
			return 1
		}
		if len(l.out) == 0 {
			return 0
		}
		dst[0] = 0
		off = 1
	}
	n := copy(dst[off:], l.out)
	l.out = l.out[:copy(l.out, l.out[n:])]
	if n == 0 && off == 0 {
		return 0
	}
	return n + off
}

// masterWritable reports whether the master's input queue has room.
func (l *ldisc) masterWritable() bool { return len(l.pending) < pendingSize }

// setTermios installs new settings. Switching canonical mode off makes all
// input readable; switching it on makes waiting input one line.
func (l *ldisc) setTermios(nt Termios) {
	old := l.termios
	// A pseudo-terminal is always 8 bits, no parity, receiving.
	nt.Cflag = nt.Cflag&^(unix.CSIZE|unix.PARENB) | unix.CS8 | unix.CREAD
	l.termios = nt
	if (old.Lflag^nt.Lflag)&unix.ICANON != 0 {
		l.lineEnds = l.lineEnds[:0]
		if nt.lflag(unix.ICANON) && len(l.buf) > 0 {
			l.lineEnds = append(l.lineEnds, len(l.buf))
		}
		l.lnext = false
	}
	if old.iflag(unix.IXON) && !nt.iflag(unix.IXON) && !l.tcoStopped {
		l.startOutput()
	}
	if l.packet {
		flow := func(t *Termios) bool {
			return t.iflag(unix.IXON) && t.CC[unix.VSTOP] == ctrl('S') && t.CC[unix.VSTART] == ctrl('Q')
		}
		if o, n := flow(&old), flow(&nt); o != n {
			l.pktStatus &^= pktDoStop | pktNoStop
			if n {
				l.pktStatus |= pktDoStop
			} else {
				l.pktStatus |= pktNoStop
			}
		}
	}
	l.process()
}

// flushInput discards input the slave hasn't read.
func (l *ldisc) flushInput() {
	l.buf = l.buf[:0]
	l.lineEnds = l.lineEnds[:0]
	l.lnext = false
	if l.packet {
		l.pktStatus |= pktFlushRead
	}
}

// flushOutput discards output the master hasn't read.
func (l *ldisc) flushOutput() {
	l.out = l.out[:0]
	if l.packet {
		l.pktStatus |= pktFlushWrite
	}
}

// stopOutput stops output (VSTOP, TCOOFF).
func (l *ldisc) stopOutput() {
	if l.stopped {
		return
	}
	l.stopped = true
	l.pktStatus = l.pktStatus&^pktStart | pktStop
}

// startOutput restarts output stopped by VSTOP.
func (l *ldisc) startOutput() {
	if !l.stopped || l.tcoStopped {
		return
	}
	l.stopped = false
	l.pktStatus = l.pktStatus&^pktStop | pktStart
}

// takeSignals returns and clears the signals input raised.
func (l *ldisc) takeSignals() []int {
	s := l.signals
	l.signals = nil
	return s
}

// isCntrl reports whether c is an ASCII control character.
func isCntrl(c byte) bool { return c < 0x20 || c == 0x7f }

// isContinuation reports whether c continues a UTF-8 sequence.
func isContinuation(c byte) bool { return c&0xc0 == 0x80 }

// isWordChar reports whether c belongs to a word for VWERASE: a letter,
// digit or underscore (bytes of non-ASCII characters count as letters).
func isWordChar(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c >= 0x80
}

// The signals input characters raise.
const (
	sigINT  = 2
	sigQUIT = 3
	sigTSTP = 20
)
