// Package sandbox starts a sandbox's processes — the gofer and the sentry
// — and talks to the sentry over its control socket.
package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/rpc"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"palisade.dev/runsc/config"
	"palisade.dev/runsc/specutils"
	"palisade.dev/sentry/control"
)

// Sandbox is a running sentry and its gofer.
type Sandbox struct {
	ID string `json:"id"`
	// Pid is the sentry's host PID.
	Pid int `json:"pid"`
	// GoferPid is the gofer's host PID.
	GoferPid int `json:"goferPid"`
	// ControlSocket is the path of the control socket.
	ControlSocket string `json:"controlSocket"`

	sentryCmd *exec.Cmd
	goferCmd  *exec.Cmd
}

// CreateArgs are the inputs of Create.
type CreateArgs struct {
	ID       string
	Spec     *specs.Spec
	Conf     *config.Config
	StateDir string
	// Stdio are the container's stdin, stdout and stderr.
	Stdio [3]*os.File
	// DieWithParent kills the sandbox when the calling runsc dies (for
	// "runsc do", which owns its sandbox; "runsc create" exits and leaves
	// it running).
	DieWithParent bool
}

// Create starts the gofer and the sentry. On failure nothing is left
// running.
func Create(a CreateArgs) (s *Sandbox, retErr error) {
	if a.DieWithParent {
		// The parent-death signal fires when the thread that forked
		// exits: fork from a thread that lives as long as runsc does.
		runtime.LockOSThread()
	}
	s = &Sandbox{ID: a.ID, ControlSocket: filepath.Join(a.StateDir, "control.sock")}
	defer func() {
		if retErr != nil {
			s.Destroy()
		}
	}()
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}

	// The gofer serves the root and each bind mount's source on a
	// connection of its own to the sentry: a socket pair each.
	binds, err := bindSources(a.Spec)
	if err != nil {
		return nil, err
	}
	goferEnds, sentryEnds, err := socketPairs(1 + len(binds))
	defer closeAll(goferEnds)
	defer closeAll(sentryEnds)
	if err != nil {
		return nil, fmt.Errorf("gofer socket pair: %w", err)
	}

	// The control socket listens before the sentry starts, so clients
	// can connect at once.
	os.Remove(s.ControlSocket)
	ln, err := net.Listen("unix", s.ControlSocket)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	lnFile, err := ln.(*net.UnixListener).File()
	ln.Close()
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	defer lnFile.Close()

	specFile, err := specToFile(a.Spec)
	if err != nil {
		return nil, err
	}
	defer specFile.Close()

	// Gofer: fd 3 is its end of the root's socket pair; fd 4 the debug
	// log; then the ends of the bind mounts', in the spec's order.
	goferLog, err := a.Conf.OpenDebugLog(a.ID, "gofer")
	if err != nil {
		return nil, err
	}
	goferArgs := append(a.Conf.ToFlags(), "gofer", "--root", a.Spec.Root.Path, "--io-fd=3", logFDFlag(goferLog, 4))
	if a.Conf.Overlay == "none" && !a.Spec.Root.Readonly {
		// Writes to the root go through the gofer to the host; with the
		// memory overlay they stay in the sandbox and the gofer only reads.
		goferArgs = append(goferArgs, "--rw")
	}
	goferFiles := []*os.File{goferEnds[0], logOrNull(goferLog)}
	for i, b := range binds {
		// Bind mounts are not overlaid: unless read-only, writes reach
		// the host, as with Docker volumes.
		mode := "rw"
		if b.readOnly {
			mode = "ro"
		}
		goferArgs = append(goferArgs, fmt.Sprintf("--bind=%d:%s:%s", 3+len(goferFiles), mode, b.source))
		goferFiles = append(goferFiles, goferEnds[1+i])
	}
	g := exec.Command(self, goferArgs...)
	g.Args[0] = "runsc-gofer"
	g.ExtraFiles = goferFiles
	g.Stderr = os.Stderr
	// Its own mount namespace: it chroots into the tree it serves.
	g.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS | syscall.CLONE_NEWNET,
		Setsid:     true,
	}
	if a.DieWithParent {
		g.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := g.Start(); err != nil {
		closeLog(goferLog)
		return nil, fmt.Errorf("start gofer: %w", err)
	}
	closeLog(goferLog)
	s.goferCmd = g
	s.GoferPid = g.Process.Pid

	// Sentry: stdio, then fd 3 the spec, 4 the root's gofer socket, 5 the
	// control socket, 6 the debug log, then the bind mounts' gofer
	// sockets in the spec's order.
	sentryLog, err := a.Conf.OpenDebugLog(a.ID, "boot")
	if err != nil {
		return nil, err
	}
	sentryFiles := []*os.File{specFile, sentryEnds[0], lnFile, logOrNull(sentryLog)}
	bootArgs := append(a.Conf.ToFlags(), "boot", "--spec-fd=3", "--gofer-fd=4", "--controller-fd=5", logFDFlag(sentryLog, 6))
	if len(binds) > 0 {
		var fds []string
		for i := range binds {
			fds = append(fds, strconv.Itoa(3+len(sentryFiles)))
			sentryFiles = append(sentryFiles, sentryEnds[1+i])
		}
		bootArgs = append(bootArgs, "--mount-fds="+strings.Join(fds, ","))
	}
	b := exec.Command(self, append(bootArgs, a.ID)...)
	b.Args[0] = "runsc-sandbox"
	b.Stdin, b.Stdout, b.Stderr = a.Stdio[0], a.Stdio[1], a.Stdio[2]
	b.ExtraFiles = sentryFiles
	// Its own PID namespace: when the sentry dies, every stub dies with it.
	// No network yet: an empty network namespace.
	b.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS | syscall.CLONE_NEWNET,
		Setsid:     true,
	}
	if a.DieWithParent {
		b.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := b.Start(); err != nil {
		closeLog(sentryLog)
		return nil, fmt.Errorf("start sentry: %w", err)
	}
	closeLog(sentryLog)
	s.sentryCmd = b
	s.Pid = b.Process.Pid
	return s, nil
}

// bindSource is the host side of a bind mount.
type bindSource struct {
	// source is the spec's source with every symlink resolved on the
	// host, as mount(2) resolves it.
	source   string
	readOnly bool
}

// bindSources resolves the sources of the spec's bind mounts, in the
// spec's order; a source that doesn't exist is an error.
func bindSources(spec *specs.Spec) ([]bindSource, error) {
	var out []bindSource
	for _, m := range specutils.BindMounts(spec) {
		if !filepath.IsAbs(m.Source) {
			return nil, fmt.Errorf("bind mount on %q: source %q is not an absolute path", m.Destination, m.Source)
		}
		src, err := filepath.EvalSymlinks(m.Source)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, fmt.Errorf("bind mount on %q: source %q: %w", m.Destination, m.Source, err)
		}
		out = append(out, bindSource{source: src, readOnly: specutils.MountReadOnly(m)})
	}
	return out, nil
}

// socketPairs returns n connected SOCK_SEQPACKET socket pairs, as the two
// ends of each; on failure, the pairs made so far.
func socketPairs(n int) (a, b []*os.File, err error) {
	for i := 0; i < n; i++ {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return a, b, err
		}
		a = append(a, os.NewFile(uintptr(fds[0]), "gofer-io"))
		b = append(b, os.NewFile(uintptr(fds[1]), "sentry-gofer"))
	}
	return a, b, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// logFDFlag passes the debug log's FD number, or -1 for none.
func logFDFlag(f *os.File, fd int) string {
	if f == nil {
		return "--log-fd=-1"
	}
	return fmt.Sprintf("--log-fd=%d", fd)
}

func logOrNull(f *os.File) *os.File {
	if f != nil {
		return f
	}
	n, _ := os.Open(os.DevNull)
	return n
}

func closeLog(f *os.File) {
	if f != nil {
		f.Close()
	}
}

// specToFile writes the spec to an unlinked temporary file the sentry reads
// through its descriptor.
func specToFile(spec *specs.Spec) (*os.File, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	fd, err := unix.MemfdCreate("spec", 0)
	if err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	f := os.NewFile(uintptr(fd), "spec")
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	f.Seek(0, 0)
	return f, nil
}

func (s *Sandbox) call(method string, args, reply any) error {
	var conn net.Conn
	var err error
	for i := 0; i < 50; i++ {
		if conn, err = net.Dial("unix", s.ControlSocket); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("connect to sandbox: %w", err)
	}
	c := rpc.NewClient(conn)
	defer c.Close()
	if err := c.Call(control.ServiceName+"."+method, args, reply); err != nil {
		if errors.Is(err, rpc.ErrShutdown) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
			return fmt.Errorf("sandbox %s died: %w", s.ID, err)
		}
		return err
	}
	return nil
}

// StartError is a failure to start the container's process, with the
// errno the sentry reported.
type StartError struct {
	Msg   string
	Errno syscall.Errno
}

func (e *StartError) Error() string { return e.Msg }

// Unwrap returns the errno.
func (e *StartError) Unwrap() error { return e.Errno }

// Start starts the container's process.
func (s *Sandbox) Start(cid string) error {
	var r control.Result
	if err := s.call("Start", &control.StartArgs{ContainerID: cid}, &r); err != nil {
		return err
	}
	if r.Err != "" {
		return &StartError{Msg: r.Err, Errno: syscall.Errno(r.Errno)}
	}
	return nil
}

// Wait waits for the container's process and returns its wait status.
func (s *Sandbox) Wait(cid string) (unix.WaitStatus, error) {
	var r control.WaitReply
	if err := s.call("Wait", &control.WaitArgs{ContainerID: cid}, &r); err != nil {
		return 0, err
	}
	return unix.WaitStatus(r.Status), nil
}

// Destroy kills the sentry and the gofer and waits for them to go.
func (s *Sandbox) Destroy() error {
	for _, pid := range []int{s.Pid, s.GoferPid} {
		if pid > 0 {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
	for _, c := range []*exec.Cmd{s.sentryCmd, s.goferCmd} {
		if c != nil {
			c.Wait()
		}
	}
	// Processes started by another runsc invocation are not our
	// children: wait for them to disappear.
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range []int{s.Pid, s.GoferPid} {
		for pid > 0 && time.Now().Before(deadline) && unix.Kill(pid, 0) == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
	os.Remove(s.ControlSocket)
	return nil
}

// IsRunning reports whether the sentry process exists.
func (s *Sandbox) IsRunning() bool {
	return s.Pid > 0 && unix.Kill(s.Pid, 0) == nil
}
