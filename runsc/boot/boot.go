// Package boot runs inside the sentry process ("runsc boot"): it turns the
// OCI spec into a kernel (memory file, platform, mounts) and serves the
// control RPCs that start and wait for the container's process.
//
// Once booted, the sentry opens no host paths: files come from the gofer
// as FDs, stdio and sockets are FDs runsc passed in.
package boot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"palisade.dev/gofer/protocol"
	"palisade.dev/platform/ptrace"
	"palisade.dev/runsc/config"
	"palisade.dev/runsc/specutils"
	"palisade.dev/sentry/control"
	"palisade.dev/sentry/fs/host"
	"palisade.dev/sentry/kernel"
	"palisade.dev/sentry/kernel/auth"
	"palisade.dev/sentry/memfile"
	"palisade.dev/sentry/vfs"
	"palisade.dev/syscalls"
)

// Args are the inputs of Run.
type Args struct {
	ID      string
	Spec    *specs.Spec
	Conf    *config.Config
	GoferFD int
	// MountFDs are the gofer connections of the spec's bind mounts, in
	// the spec's order.
	MountFDs     []int
	ControllerFD int
	StdioFDs     []int
	Log          *slog.Logger
}

// Run boots the kernel and serves control RPCs until the sandbox is
// destroyed. It returns only on failure.
func Run(a Args) error {
	raiseNoFile()
	mf, err := memfile.New("palisade-memory")
	if err != nil {
		return err
	}
	p, err := ptrace.New(mf.FD())
	if err != nil {
		return err
	}
	if err := confine(); err != nil {
		return fmt.Errorf("confine sentry: %w", err)
	}
	client, err := protocol.NewClient(a.GoferFD)
	if err != nil {
		return fmt.Errorf("gofer connection: %w", err)
	}
	rootFS, rootRO, err := rootFilesystem(a.Conf, a.Spec, client, mf)
	if err != nil {
		return err
	}
	ns := vfs.NewMountNamespace(rootFS, "none", rootRO)
	k := kernel.New(p, mf, ns, syscalls.Table(), a.Log)
	k.Strace = a.Conf.Strace
	if a.Spec.Hostname != "" {
		k.Hostname = a.Spec.Hostname
	}
	l := &loader{k: k, spec: a.Spec, stdio: a.StdioFDs, id: a.ID, log: a.Log}
	if err := mountAll(k, a.Conf, a.Spec, mf, a.MountFDs, a.Log); err != nil {
		// A mount the spec asks for that can't be made (a missing
		// mount point on a read-only root, a bad option) fails the
		// container's start, so that runsc reports it once, rather than
		// on the container's stderr.
		a.Log.Info("mounts failed", "err", err)
		l.bootErr = errors.New(err.Error())
	}
	ln, err := net.FileListener(os.NewFile(uintptr(a.ControllerFD), "control"))
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	a.Log.Debug("sentry booted", "id", a.ID, "release", k.Release)
	return control.Serve(ln, l)
}

// raiseNoFile lifts the sentry's own descriptor limit: it holds a host FD
// per open regular file of the application.
func raiseNoFile() {
	var r unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &r) == nil {
		r.Cur = r.Max
		unix.Setrlimit(unix.RLIMIT_NOFILE, &r)
	}
}

// loader starts the container's process on request.
type loader struct {
	k     *kernel.Kernel
	spec  *specs.Spec
	stdio []int
	id    string
	log   *slog.Logger

	// bootErr, if set, is why the container can't start.
	bootErr error

	mu      sync.Mutex
	started bool
	tg      *kernel.ThreadGroup
}

// StartContainer implements control.Loader.StartContainer.
func (l *loader) StartContainer(id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if id != l.id {
		return fmt.Errorf("no container %q in this sandbox", id)
	}
	if l.started {
		return fmt.Errorf("container %q already started", id)
	}
	if l.bootErr != nil {
		return l.bootErr
	}
	args, err := l.initArgs()
	if err != nil {
		return err
	}
	tg, err := l.k.CreateInit(context.Background(), *args)
	if err != nil {
		return err
	}
	l.started, l.tg = true, tg
	return nil
}

// WaitContainer implements control.Loader.WaitContainer.
func (l *loader) WaitContainer(id string) (uint32, error) {
	l.mu.Lock()
	tg := l.tg
	l.mu.Unlock()
	if id != l.id {
		return 0, fmt.Errorf("no container %q in this sandbox", id)
	}
	if tg == nil {
		return 0, fmt.Errorf("container %q not started", id)
	}
	status := uint32(tg.Wait())
	// Shared mappings of host files may hold changes not yet written
	// back; the sandbox may be torn down as soon as this returns.
	syncAll(l.k)
	return status, nil
}

// syncAll writes back every filesystem that holds changes in memory for
// somewhere else (the gofer's host files), as sync(2) does.
func syncAll(k *kernel.Kernel) {
	for _, m := range k.MountNS.Mounts() {
		if s, ok := m.FS.(interface{ Sync(context.Context) error }); ok {
			s.Sync(context.Background())
		}
	}
}

func (l *loader) initArgs() (*kernel.InitArgs, error) {
	p := l.spec.Process
	var caps [5]uint64
	if c := p.Capabilities; c != nil {
		for i, set := range [][]string{c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
			m, err := specutils.CapMask(set)
			if err != nil {
				return nil, err
			}
			caps[i] = m
		}
	}
	creds := auth.New(p.User.UID, p.User.GID, p.User.AdditionalGids, 0)
	creds.BoundingCaps, creds.EffectiveCaps, creds.PermittedCaps, creds.InheritableCaps, creds.AmbientCaps =
		caps[0], caps[1], caps[2], caps[3], caps[4]
	limits := kernel.DefaultLimits()
	for _, r := range p.Rlimits {
		n, ok := rlimitNames[r.Type]
		if !ok {
			return nil, fmt.Errorf("unknown rlimit %q", r.Type)
		}
		if _, err := limits.Set(n, kernel.Limit{Cur: r.Soft, Max: r.Hard}, true); err != nil {
			return nil, fmt.Errorf("rlimit %s: %w", r.Type, err)
		}
	}
	var stdio []*vfs.FileDescription
	for _, fd := range l.stdio {
		// The application gets its own duplicates, so the sentry's
		// stderr survives the application closing its fd 2.
		nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			return nil, fmt.Errorf("stdio: %w", err)
		}
		f, err := host.NewFileDescription(nfd)
		if err != nil {
			unix.Close(nfd)
			return nil, fmt.Errorf("stdio: %w", err)
		}
		stdio = append(stdio, f)
	}
	umask := uint32(0o022)
	if p.User.Umask != nil {
		umask = *p.User.Umask
	}
	return &kernel.InitArgs{
		Argv: p.Args, Envv: p.Env, Cwd: p.Cwd, Creds: creds, Stdio: stdio, Limits: limits, Umask: umask,
	}, nil
}

var rlimitNames = map[string]int{
	"RLIMIT_CPU": kernel.RLIMIT_CPU, "RLIMIT_FSIZE": kernel.RLIMIT_FSIZE, "RLIMIT_DATA": kernel.RLIMIT_DATA,
	"RLIMIT_STACK": kernel.RLIMIT_STACK, "RLIMIT_CORE": kernel.RLIMIT_CORE, "RLIMIT_RSS": kernel.RLIMIT_RSS,
	"RLIMIT_NPROC": kernel.RLIMIT_NPROC, "RLIMIT_NOFILE": kernel.RLIMIT_NOFILE, "RLIMIT_MEMLOCK": kernel.RLIMIT_MEMLOCK,
	"RLIMIT_AS": kernel.RLIMIT_AS, "RLIMIT_LOCKS": kernel.RLIMIT_LOCKS, "RLIMIT_SIGPENDING": kernel.RLIMIT_SIGPENDING,
	"RLIMIT_MSGQUEUE": kernel.RLIMIT_MSGQUEUE, "RLIMIT_NICE": kernel.RLIMIT_NICE, "RLIMIT_RTPRIO": kernel.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME": kernel.RLIMIT_RTTIME,
}
