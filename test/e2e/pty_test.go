package e2e

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Pseudo-terminals made inside the sandbox: the sentry's devpts and line
// discipline, controlling terminals and job control. The host's terminal,
// if any, only carries bytes to and from the program that made the pty.

var ptsPath = regexp.MustCompile(`^/dev/pts/[0-9]+$`)

// TestPTYTTYName runs tty(1) on a pty made in the sandbox, by script(1)
// and by Python's pty module, and checks it names a /dev/pts node.
func TestPTYTTYName(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"script", []string{"script", "-qc", "tty", "/dev/null"}},
		{"python", []string{"/usr/bin/python3", "-c", "import pty; pty.spawn(['tty'])"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, nil, tc.args...)
			got := strings.TrimSpace(strings.ReplaceAll(r.stdout, "\r", ""))
			if r.code != 0 || !ptsPath.MatchString(got) {
				t.Errorf("%v: exit %d, stdout %q, stderr %q; want a /dev/pts/N path", tc.args, r.code, r.stdout, r.stderr)
			}
		})
	}
}

// transcript collects what a terminal's master side reads.
type transcript struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
}

func readTranscript(master *os.File) *transcript {
	tr := &transcript{done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			tr.mu.Lock()
			tr.buf.Write(b[:n])
			tr.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return tr
}

func (tr *transcript) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.buf.String()
}

// waitFor waits until the transcript, from byte from on, matches re.
func (tr *transcript) waitFor(t *testing.T, from int, re *regexp.Regexp, what string) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		s := tr.String()
		if loc := re.FindStringIndex(s[from:]); loc != nil {
			return from + loc[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; transcript:\n%q", what, tr.String())
	return 0
}

var prompt = regexp.MustCompile(`[$#] $`)

// TestPTYInteractiveShell drives an interactive sh through a pty the
// sandbox makes (with script(1), and with Python's pty.spawn): the line
// discipline erases a typo, ^C interrupts a foreground sleep through job
// control, and the shell survives to run the next command.
func TestPTYInteractiveShell(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"script", []string{"script", "-qc", "sh -i", "/dev/null"}},
		{"python", []string{"/usr/bin/python3", "-c", "import pty; pty.spawn(['sh', '-i'])"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			master, slave := openPTY(t, 24, 80)
			defer master.Close()
			c := execCommand(runsc, append([]string{"do"}, tc.args...)...)
			c.Stdin, c.Stdout, c.Stderr = slave, slave, slave
			c.Env = append(os.Environ(), "PS1=$ ", "ENV=")
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			slave.Close()
			tr := readTranscript(master)
			waited := make(chan error, 1)
			go func() { waited <- c.Wait() }()
			defer func() {
				if c.ProcessState == nil {
					c.Process.Kill()
				}
			}()
			type_ := func(s string) {
				if _, err := master.Write([]byte(s)); err != nil {
					t.Fatalf("typing %q: %v", s, err)
				}
			}

			pos := tr.waitFor(t, 0, prompt, "the first prompt")
			// A typo erased with DEL, as a terminal sends backspace.
			type_("echo hellp\x7fo\r")
			pos = tr.waitFor(t, pos, regexp.MustCompile(`\r\nhello\r\n`), "the output of the corrected command")
			pos = tr.waitFor(t, pos, prompt, "a prompt")

			type_("sleep 10\r")
			time.Sleep(time.Second)
			start := time.Now()
			type_("\x03")
			pos = tr.waitFor(t, pos, regexp.MustCompile(`\^C`), "^C echoed")
			pos = tr.waitFor(t, pos, prompt, "a prompt after ^C")
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("^C took %v to end sleep 10", el)
			}
			type_("echo after $((6*7))\r")
			pos = tr.waitFor(t, pos, regexp.MustCompile(`\r\nafter 42\r\n`), "the shell running a command after ^C")
			tr.waitFor(t, pos, prompt, "a prompt")
			type_("exit 3\r")
			select {
			case <-waited:
			case <-time.After(20 * time.Second):
				t.Fatalf("the sandbox didn't exit; transcript:\n%q", tr.String())
			}
			select {
			case <-tr.done:
			case <-time.After(2 * time.Second):
			}
			if code := c.ProcessState.ExitCode(); code != 0 && code != 3 {
				t.Errorf("runsc exit status %d; transcript:\n%q", code, tr.String())
			}
			if strings.Contains(tr.String(), "job control turned off") || strings.Contains(tr.String(), "can't access tty") {
				t.Errorf("the shell found no job control:\n%q", tr.String())
			}
		})
	}
}
