package e2e

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns a pseudo-terminal pair with the given window size.
func openPTY(t *testing.T, rows, cols uint16) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty slave: %v", err)
	}
	if err := unix.IoctlSetWinsize(int(m.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatalf("set window size: %v", err)
	}
	return m, s
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// TestTerminalStdio runs programs whose stdio is a terminal: stty reads the
// termios (TCGETS) and window size (TIOCGWINSZ) through the sentry, and
// Python sees a TTY of the right size.
func TestTerminalStdio(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"stty", "size"}, "37 101"},
		{[]string{"/usr/bin/python3", "-c", "import os,sys; print(sys.stdout.isatty(), os.get_terminal_size())"}, "True os.terminal_size(columns=101, lines=37)"},
	} {
		t.Run(tc.args[0], func(t *testing.T) {
			master, slave := openPTY(t, 37, 101)
			defer master.Close()
			c := execCommand(runsc, append([]string{"do"}, tc.args...)...)
			c.Stdin, c.Stdout, c.Stderr = slave, slave, slave
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			slave.Close()
			var out bytes.Buffer
			done := make(chan struct{})
			go func() {
				buf := make([]byte, 4096)
				for {
					n, err := master.Read(buf)
					out.Write(buf[:n])
					if err != nil {
						break
					}
				}
				close(done)
			}()
			waitErr := c.Wait()
			select {
			case <-done:
			case <-time.After(2 * time.Second):
			}
			got := strings.TrimSpace(strings.ReplaceAll(out.String(), "\r", ""))
			if waitErr != nil || got != tc.want {
				t.Errorf("%v on a terminal: %q (%v), want %q", tc.args, got, waitErr, tc.want)
			}
		})
	}
}
