package loader

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// echoEnv makes the test binary print its argv as JSON and exit: the
// differential test uses it as a script interpreter.
const echoEnv = "PALISADE_LOADER_TEST_ECHO_ARGV"

func TestMain(m *testing.M) {
	if os.Getenv(echoEnv) == "1" {
		json.NewEncoder(os.Stdout).Encode(os.Args)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestParseShebang(t *testing.T) {
	long := strings.Repeat("a", 300)
	tests := []struct {
		name   string
		in     string
		interp string
		args   []string
		err    error
	}{
		{name: "plain", in: "#!/bin/sh\necho hi\n", interp: "/bin/sh"},
		{name: "no newline, short file", in: "#!/bin/sh", interp: "/bin/sh"},
		{name: "argument", in: "#!/bin/sh -e\n", interp: "/bin/sh", args: []string{"-e"}},
		{name: "leading blanks", in: "#! \t /bin/sh\n", interp: "/bin/sh"},
		{name: "trailing blanks", in: "#!/bin/sh \t \n", interp: "/bin/sh"},
		{name: "one argument with spaces", in: "#!  /usr/bin/env   python3  -u  \t \n", interp: "/usr/bin/env", args: []string{"python3  -u"}},
		{name: "tab separator", in: "#!/bin/echo\tA\n", interp: "/bin/echo", args: []string{"A"}},
		{name: "CR is not trimmed", in: "#!/bin/sh\r\n", interp: "/bin/sh\r"},
		{name: "CR stays in the argument", in: "#!/bin/sh -x\r\n", interp: "/bin/sh", args: []string{"-x\r"}},
		{name: "only the first line", in: "#!/bin/sh\n-x y\n", interp: "/bin/sh"},
		{name: "empty", in: "#!\n", err: unix.ENOEXEC},
		{name: "blanks", in: "#!  \t \n", err: unix.ENOEXEC},
		// A short file reads as NUL-padded: the interpreter name is then
		// empty, not missing (the host fails the exec with EACCES).
		{name: "nothing at all", in: "#!", interp: ""},
		{name: "blanks without newline", in: "#!   ", interp: ""},
		{name: "NUL ends the interpreter", in: "#!/bin/sh\x00 -x\n", interp: "/bin/sh"},
		{name: "NUL ends the argument", in: "#!/bin/echo -a\x00zz b\n", interp: "/bin/echo", args: []string{"-a"}},
		{name: "NUL makes an empty argument", in: "#!/bin/echo \x00zz\n", interp: "/bin/echo", args: []string{""}},
		{name: "NUL first", in: "#! \x00/bin/echo\n", interp: ""},
		{name: "argument cut at the buffer", in: "#!/bin/echo " + long + "\n", interp: "/bin/echo", args: []string{long[:binprmBufSize-1-len("#!/bin/echo ")]}},
		{name: "interpreter cut at the buffer", in: "#!/" + long + "\n", err: unix.ENOEXEC},
		{name: "all blanks to the buffer's end", in: "#!" + strings.Repeat(" ", 300), err: unix.ENOEXEC},
		{name: "blank in the last byte", in: "#!/bin/echo" + strings.Repeat(" ", binprmBufSize-len("#!/bin/echo")-1) + "Z\n", interp: "/bin/echo"},
		{name: "interpreter ends in the last byte", in: "#!/" + long[:binprmBufSize-4] + " \n", interp: "/" + long[:binprmBufSize-4]},
		{name: "newline in the last byte", in: "#!/" + long[:binprmBufSize-4] + "\n", interp: "/" + long[:binprmBufSize-4]},
		{name: "non-ASCII", in: "#!/bin/\xc4\xa0x\xff y\n", interp: "/bin/\xc4\xa0x\xff", args: []string{"y"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte(tc.in)
			if len(b) > binprmBufSize {
				b = b[:binprmBufSize]
			}
			interp, args, err := parseShebang(b)
			if err != tc.err || interp != tc.interp || !reflect.DeepEqual(args, tc.args) {
				t.Errorf("parseShebang(%.60q): got %q, %q, %v; want %q, %q, %v", tc.in, interp, args, err, tc.interp, tc.args, tc.err)
			}
		})
	}
}

// TestParseShebangAgainstHost runs scripts on the host with this test
// binary as their interpreter, and checks that parseShebang reads each
// "#!" line as the host kernel does.
func TestParseShebangAgainstHost(t *testing.T) {
	if raceEnabled {
		// Each run of the race-enabled test binary takes most of a
		// second, and parsing has nothing for the race detector.
		t.Skip("slow with the race detector")
	}
	self, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	if len(self) > 100 {
		t.Skipf("test binary path too long for the buffer-edge cases: %s", self)
	}
	dir := t.TempDir()
	I := self
	pad := func(n int, c string) string { return strings.Repeat(c, max(n, 0)) }
	cases := []string{
		"#!I\n",
		"#!I",
		"#! I -e\n",
		"#!\t I  \t a  b \t \n",
		"#!I\tA\n",
		"#!I\r\n",
		"#!I -x\r\n",
		"#!I\x00 -x\n",
		"#!I -a\x00zz b\n",
		"#!I \x00zz\n",
		"#! \x00I\n",
		"#!I\n-x\n",
		"#!\n",
		"#!  \t \n",
		"#!",
		"#!I " + pad(300, "a") + "\n",
		"#!I" + pad(300, "a") + "\n",
		"#!I" + pad(binprmBufSize-2-len(I)-1, " ") + "Z\n",
		"#!I" + pad(binprmBufSize-2-len(I), " ") + "Z\n",
		"#!I -" + pad(binprmBufSize-2-len(I)-2, "b") + "\n",
		"#!I -" + pad(binprmBufSize-2-len(I)-3, "b") + "\n",
		"#!I -" + pad(binprmBufSize-2-len(I)-1, "b") + "\n",
		"#!I -" + pad(binprmBufSize-2-len(I)-2, "b") + " \n",
		"#!" + pad(binprmBufSize, " "),
		"#!" + pad(binprmBufSize-3, " ") + "I\n",
	}
	for i, c := range cases {
		content := strings.ReplaceAll(c, "I", I)
		t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
			script := filepath.Join(dir, fmt.Sprintf("s%d", i))
			if err := os.WriteFile(script, []byte(content), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(script, "x")
			cmd.Env = append(os.Environ(), echoEnv+"=1")
			out, runErr := cmd.Output()
			var gotErr unix.Errno
			var gotArgv []string
			if runErr != nil {
				if !errors.As(runErr, &gotErr) {
					t.Fatalf("running %q: %v", content, runErr)
				}
			} else if err := json.Unmarshal(out, &gotArgv); err != nil {
				t.Fatalf("interpreter output %q: %v", out, err)
			}
			if i == 0 && gotErr == unix.EACCES {
				t.Skip("cannot execute scripts in the temporary directory")
			}

			b := []byte(content)
			if len(b) > binprmBufSize {
				b = b[:binprmBufSize]
			}
			interp, args, err := parseShebang(b)
			var wantErr unix.Errno
			var wantArgv []string
			switch {
			case err != nil:
				wantErr = err.(unix.Errno)
			case interp == "":
				wantErr = unix.EACCES // what Load returns, as the host does
			case interp != I:
				if _, err := os.Stat(interp); err == nil {
					t.Fatalf("parsed interpreter %q unexpectedly exists", interp)
				}
				wantErr = unix.ENOENT
			default:
				wantArgv = append(append([]string{interp}, args...), script, "x")
			}
			if gotErr != wantErr || !reflect.DeepEqual(gotArgv, wantArgv) {
				t.Errorf("script %.80q:\n host: argv %q, err %v\n ours: argv %q, err %v", content, gotArgv, gotErr, wantArgv, wantErr)
			}
		})
	}
}
