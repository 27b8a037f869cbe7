package devpts

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// readAll reads everything the slave could read now, line by line in
// canonical mode.
func readAll(l *ldisc) []string {
	var out []string
	for l.slaveReadable(false) {
		b := make([]byte, 8192)
		n := l.slaveRead(b)
		out = append(out, string(b[:n]))
		if n == 0 && !l.canonical() {
			break
		}
	}
	return out
}

func takeOut(l *ldisc) string {
	b := make([]byte, 65536)
	n := l.masterRead(b)
	return string(b[:n])
}

func TestCanonicalEditing(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		lines []string
		echo  string
	}{
		{"line", "hello\n", []string{"hello\n"}, "hello\r\n"},
		{"CR becomes NL", "hi\r", []string{"hi\n"}, "hi\r\n"},
		{"erase", "abx\x7fc\n", []string{"abc\n"}, "abx\b \bc\r\n"},
		{"erase on empty line", "\x7f\x7fa\n", []string{"a\n"}, "a\r\n"},
		{"erase control char", "x\x01\x7fy\n", []string{"xy\n"}, "x^A\b \b\b \by\r\n"},
		{"kill", "junk\x15ok\n", []string{"ok\n"}, "junk\b \b\b \b\b \b\b \bok\r\n"},
		{"word erase", "one two\x17three\n", []string{"one three\n"}, "one two\b \b\b \b\b \bthree\r\n"},
		{"word erase with trailing blanks", "one two  \x17x\n", []string{"one x\n"}, "one two  \b \b\b \b\b \b\b \b\b \bx\r\n"},
		{"word erase stops at punctuation", "foo-bar\x17\n", []string{"foo-\n"}, "foo-bar\b \b\b \b\b \b\r\n"},
		{"EOF ends a line without itself", "xyz\x04", []string{"xyz"}, "xyz"},
		{"EOF on empty line", "\x04", []string{""}, ""},
		{"two lines", "a\nb\n", []string{"a\n", "b\n"}, "a\r\nb\r\n"},
		{"control char echo", "a\x01\n", []string{"a\x01\n"}, "a^A\r\n"},
		{"literal next", "\x16\x03\x16\x7f\n", []string{"\x03\x7f\n"}, "^\b^C^\b^?\r\n"},
		{"reprint", "ab\x12c\n", []string{"abc\n"}, "ab^R\r\nabc\r\n"},
		{"tab erase", "ab\t\x7fc\n", []string{"abc\n"}, "ab\t\b\b\b\b\b\bc\r\n"},
		{"tab erase after tab", "\tab\t\x7f\n", []string{"\tab\n"}, "\tab\t\b\b\b\b\b\b\r\n"},
		{"unfinished line", "abc", nil, "abc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLdisc()
			if n := l.masterWrite([]byte(tc.in)); n != len(tc.in) {
				t.Fatalf("masterWrite took %d of %d", n, len(tc.in))
			}
			if got := readAll(&l); strings.Join(got, "|") != strings.Join(tc.lines, "|") || len(got) != len(tc.lines) {
				t.Errorf("lines %q, want %q", got, tc.lines)
			}
			if got := takeOut(&l); got != tc.echo {
				t.Errorf("echo %q, want %q", got, tc.echo)
			}
		})
	}
}

func TestEchoFlags(t *testing.T) {
	tests := []struct {
		name     string
		on, off  uint32
		in, echo string
	}{
		{"no echo", 0, unix.ECHO, "secret\n", ""},
		{"ECHONL alone", unix.ECHONL, unix.ECHO, "secret\n", "\r\n"},
		{"no ECHOCTL", 0, unix.ECHOCTL, "a\x01\n", "a\x01\r\n"},
		{"no ECHOE: erase echoes the erase char", 0, unix.ECHOE, "ab\x7f\n", "ab^?\r\n"},
		{"ECHOK without ECHOKE", 0, unix.ECHOKE, "ab\x15c\n", "ab^U\r\nc\r\n"},
		{"neither ECHOK nor ECHOKE", 0, unix.ECHOK | unix.ECHOKE, "ab\x15c\n", "ab^Uc\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLdisc()
			tt := l.termios
			tt.Lflag = tt.Lflag&^tc.off | tc.on
			l.setTermios(tt)
			l.masterWrite([]byte(tc.in))
			readAll(&l)
			if got := takeOut(&l); got != tc.echo {
				t.Errorf("echo %q, want %q", got, tc.echo)
			}
		})
	}
}

func TestInputMapping(t *testing.T) {
	tests := []struct {
		name    string
		on, off uint32
		in      string
		want    string
	}{
		{"IGNCR", unix.IGNCR, 0, "a\rb\n", "ab\n"},
		{"no ICRNL", 0, unix.ICRNL, "a\rb\n", "a\rb\n"},
		{"INLCR", unix.INLCR, unix.ICRNL, "ab\ncd\r", "ab\rcd\r"},
		{"ISTRIP", unix.ISTRIP, 0, "\xe1\n", "a\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLdisc()
			tt := l.termios
			tt.Iflag = tt.Iflag&^tc.off | tc.on
			tt.Lflag &^= unix.ICANON
			tt.CC[unix.VMIN] = 1
			l.setTermios(tt)
			l.masterWrite([]byte(tc.in))
			if got := strings.Join(readAll(&l), ""); got != tc.want {
				t.Errorf("read %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSignalCharacters(t *testing.T) {
	for _, tc := range []struct {
		c   byte
		sig int
	}{{0x03, sigINT}, {0x1c, sigQUIT}, {0x1a, sigTSTP}} {
		l := newLdisc()
		l.masterWrite([]byte("partial"))
		takeOut(&l)
		l.masterWrite([]byte{tc.c})
		if s := l.takeSignals(); len(s) != 1 || s[0] != tc.sig {
			t.Errorf("%#x raised %v, want [%d]", tc.c, s, tc.sig)
		}
		want := "^" + string(rune(tc.c^0x40))
		if got := takeOut(&l); got != want {
			t.Errorf("%#x echoed %q, want %q", tc.c, got, want)
		}
		l.masterWrite([]byte("x\n"))
		if got := readAll(&l); len(got) != 1 || got[0] != "x\n" {
			t.Errorf("after %#x read %q: the unfinished line should be flushed", tc.c, got)
		}
	}

	// NOFLSH keeps the input; without ISIG ^C is data.
	l := newLdisc()
	tt := l.termios
	tt.Lflag |= unix.NOFLSH
	l.setTermios(tt)
	l.masterWrite([]byte("keep\x03\n"))
	if s := l.takeSignals(); len(s) != 1 {
		t.Errorf("NOFLSH: signals %v", s)
	}
	if got := readAll(&l); len(got) != 1 || got[0] != "keep\n" {
		t.Errorf("NOFLSH: read %q, want [keep\\n]", got)
	}
	tt.Lflag &^= unix.ISIG
	l.setTermios(tt)
	l.masterWrite([]byte("a\x03\n"))
	if s := l.takeSignals(); len(s) != 0 {
		t.Errorf("without ISIG: signals %v", s)
	}
	if got := readAll(&l); len(got) != 1 || got[0] != "a\x03\n" {
		t.Errorf("without ISIG: read %q", got)
	}

	// A disabled (zero) character never matches.
	l = newLdisc()
	tt = l.termios
	tt.CC[unix.VINTR] = 0
	l.setTermios(tt)
	l.masterWrite([]byte("\x00\x03\n"))
	if s := l.takeSignals(); len(s) != 0 {
		t.Errorf("VINTR disabled: signals %v", s)
	}
}

func TestNoncanonical(t *testing.T) {
	l := newLdisc()
	tt := l.termios
	tt.Lflag &^= unix.ICANON | unix.ECHO
	tt.CC[unix.VMIN] = 3
	tt.CC[unix.VTIME] = 0
	l.setTermios(tt)
	l.masterWrite([]byte("ab"))
	if l.slaveReadable(true) {
		t.Error("VMIN=3: two bytes poll readable")
	}
	if !l.slaveReadable(false) {
		t.Error("two bytes are there to read")
	}
	l.masterWrite([]byte("c"))
	if !l.slaveReadable(true) {
		t.Error("VMIN=3: three bytes don't poll readable")
	}
	tt.CC[unix.VTIME] = 1
	l.setTermios(tt)
	l.masterWrite([]byte("d"))
	if got := strings.Join(readAll(&l), ""); got != "abcd" {
		t.Errorf("read %q, want abcd", got)
	}
	if n := l.inq(); n != 0 {
		t.Errorf("inq after reading everything: %d", n)
	}
}

func TestModeSwitch(t *testing.T) {
	l := newLdisc()
	tt := l.termios
	l.masterWrite([]byte("done\nhalf"))
	if n := l.inq(); n != 5 {
		t.Errorf("canonical inq %d, want 5 (the finished line)", n)
	}
	tt.Lflag &^= unix.ICANON
	l.setTermios(tt)
	if n := l.inq(); n != 9 {
		t.Errorf("noncanonical inq %d, want 9", n)
	}
	b := make([]byte, 100)
	if n := l.slaveRead(b); string(b[:n]) != "done\nhalf" {
		t.Errorf("noncanonical read %q", b[:n])
	}
	l.masterWrite([]byte("raw"))
	tt.Lflag |= unix.ICANON
	l.setTermios(tt)
	if got := readAll(&l); len(got) != 1 || got[0] != "raw" {
		t.Errorf("waiting input after switching to canonical: %q, want one line \"raw\"", got)
	}
}

func TestOutputProcessing(t *testing.T) {
	tests := []struct {
		name    string
		on, off uint32
		in      string
		want    string
	}{
		{"ONLCR", 0, 0, "a\nb", "a\r\nb"},
		{"no OPOST", 0, unix.OPOST, "a\nb\t", "a\nb\t"},
		{"no ONLCR", 0, unix.ONLCR, "a\nb", "a\nb"},
		{"OCRNL", unix.OCRNL, unix.ONLCR, "a\rb", "a\nb"},
		{"ONOCR", unix.ONOCR, 0, "\rab\r", "ab\r"},
		{"XTABS", unix.XTABS, 0, "ab\tc", "ab      c"},
		{"OLCUC", unix.OLCUC, 0, "abC1", "ABC1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLdisc()
			tt := l.termios
			tt.Oflag = tt.Oflag&^tc.off | tc.on
			l.setTermios(tt)
			if n := l.slaveWrite([]byte(tc.in)); n != len(tc.in) {
				t.Fatalf("slaveWrite took %d of %d", n, len(tc.in))
			}
			if got := takeOut(&l); got != tc.want {
				t.Errorf("output %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFlowControl(t *testing.T) {
	l := newLdisc()
	l.masterWrite([]byte{0x13}) // ^S
	if l.slaveWritable() {
		t.Error("output still writable after ^S")
	}
	if l.inq() != 0 || len(l.buf) != 0 {
		t.Error("^S was stored as input")
	}
	l.masterWrite([]byte{0x11}) // ^Q
	if !l.slaveWritable() {
		t.Error("output not writable after ^Q")
	}
	// Turning IXON off restarts output.
	l.masterWrite([]byte{0x13})
	tt := l.termios
	tt.Iflag &^= unix.IXON
	l.setTermios(tt)
	if !l.slaveWritable() {
		t.Error("output not restarted when IXON went off")
	}
}

func TestBufferLimits(t *testing.T) {
	// Noncanonical: the reader's buffer holds readBufSize-1 bytes; the
	// rest waits in pending, and reading lets it in.
	l := newLdisc()
	tt := l.termios
	tt.Lflag &^= unix.ICANON | unix.ECHO
	l.setTermios(tt)
	in := bytes.Repeat([]byte("x"), 6000)
	if n := l.masterWrite(in); n != len(in) {
		t.Fatalf("masterWrite took %d", n)
	}
	if len(l.buf) != readBufSize-1 || len(l.pending) != 6000-(readBufSize-1) {
		t.Errorf("buf %d pending %d", len(l.buf), len(l.pending))
	}
	total := 0
	for l.slaveReadable(false) {
		total += l.slaveRead(make([]byte, 1000))
	}
	if total != 6000 {
		t.Errorf("read %d bytes, want 6000", total)
	}
	// The pending queue is bounded.
	big := bytes.Repeat([]byte("y"), pendingSize+readBufSize+100)
	took := 0
	for n := 1; n > 0; took += n {
		n = l.masterWrite(big)
	}
	if took != pendingSize+readBufSize-1 {
		t.Errorf("the input queues took %d bytes, want %d", took, pendingSize+readBufSize-1)
	}
	if l.masterWritable() {
		t.Error("a full input queue is writable")
	}

	// Canonical: an overlong line keeps its first readBufSize-1 bytes
	// and can still be ended.
	l = newLdisc()
	tt = l.termios
	tt.Lflag &^= unix.ECHO
	l.setTermios(tt)
	l.masterWrite(bytes.Repeat([]byte("z"), 5000))
	l.masterWrite([]byte("\n"))
	got := readAll(&l)
	if len(got) != 1 || len(got[0]) != readBufSize || !strings.HasSuffix(got[0], "z\n") {
		t.Errorf("overlong line: %d lines, first %d bytes", len(got), len(got[0]))
	}

	// Output: the slave's writes stop when the master's queue is full.
	l = newLdisc()
	n := l.slaveWrite(bytes.Repeat([]byte("o"), 2*outSize))
	if n <= 0 || n > outSize || l.slaveWritable() {
		t.Errorf("slaveWrite took %d of %d (writable %v)", n, 2*outSize, l.slaveWritable())
	}
}

func TestUTF8Erase(t *testing.T) {
	l := newLdisc()
	tt := l.termios
	tt.Iflag |= unix.IUTF8
	l.setTermios(tt)
	l.masterWrite([]byte("aé\x7f\n"))
	if got := readAll(&l); len(got) != 1 || got[0] != "a\n" {
		t.Errorf("read %q: erase should take the whole UTF-8 character", got)
	}
	if got := takeOut(&l); got != "aé\b \b\r\n" {
		t.Errorf("echo %q: one column erased", got)
	}
}

func TestPacketMode(t *testing.T) {
	l := newLdisc()
	l.packet = true
	l.slaveWrite([]byte("hi"))
	b := make([]byte, 10)
	if n := l.masterRead(b); string(b[:n]) != "\x00hi" {
		t.Errorf("data packet %q", b[:n])
	}
	l.masterWrite([]byte("x\n"))
	takeOut(&l)
	l.flushInput()
	if !l.masterReadable() {
		t.Error("a flush isn't readable by the master")
	}
	if n := l.masterRead(b); n != 1 || b[0] != pktFlushRead {
		t.Errorf("status packet %q", b[:n])
	}
	l.masterWrite([]byte{0x13})
	if n := l.masterRead(b); n != 1 || b[0]&pktStop == 0 {
		t.Errorf("^S status packet %q", b[:n])
	}
	tt := l.termios
	tt.Iflag &^= unix.IXON
	l.setTermios(tt)
	if n := l.masterRead(b); n != 1 || b[0]&pktNoStop == 0 || b[0]&pktStart == 0 {
		t.Errorf("IXON off status packet %#x", b[:n])
	}
}

func TestTermiosMarshal(t *testing.T) {
	tt := defaultTermios()
	b := tt.marshal(termios2Size)
	got := unmarshalTermios(b, Termios{})
	if got != tt {
		t.Errorf("round trip: %+v, want %+v", got, tt)
	}
	b = tt.marshal(termiosSize)
	if len(b) != 36 || b[17+unix.VINTR] != 3 || b[17+unix.VMIN] != 1 {
		t.Errorf("struct termios bytes %v", b)
	}
	got = unmarshalTermios(b, Termios{Ispeed: 9600, Ospeed: 9600})
	if got.Ispeed != 9600 || got.Lflag != tt.Lflag {
		t.Errorf("termios without speeds keeps the old ones: %+v", got)
	}
	// A pty is always CS8 without parity.
	l := newLdisc()
	tt.Cflag = tt.Cflag&^unix.CSIZE | unix.CS7 | unix.PARENB
	l.setTermios(tt)
	if l.termios.Cflag&(unix.CSIZE|unix.PARENB) != unix.CS8 {
		t.Errorf("cflag %#x", l.termios.Cflag)
	}
}
