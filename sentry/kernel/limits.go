package kernel

import (
	"sync"

	"golang.org/x/sys/unix"
)

// Resource numbers (RLIMIT_*).
const (
	RLIMIT_CPU        = 0
	RLIMIT_FSIZE      = 1
	RLIMIT_DATA       = 2
	RLIMIT_STACK      = 3
	RLIMIT_CORE       = 4
	RLIMIT_RSS        = 5
	RLIMIT_NPROC      = 6
	RLIMIT_NOFILE     = 7
	RLIMIT_MEMLOCK    = 8
	RLIMIT_AS         = 9
	RLIMIT_LOCKS      = 10
	RLIMIT_SIGPENDING = 11
	RLIMIT_MSGQUEUE   = 12
	RLIMIT_NICE       = 13
	RLIMIT_RTPRIO     = 14
	RLIMIT_RTTIME     = 15
	RLIM_NLIMITS      = 16
)

// Infinity is RLIM_INFINITY.
const Infinity = ^uint64(0)

// Limit is one resource limit.
type Limit struct {
	Cur, Max uint64
}

// Limits are a thread group's resource limits.
type Limits struct {
	mu sync.Mutex
	l  [RLIM_NLIMITS]Limit
}

// DefaultLimits returns the limits a container's init starts with.
func DefaultLimits() *Limits {
	l := &Limits{}
	for i := range l.l {
		l.l[i] = Limit{Infinity, Infinity}
	}
	l.l[RLIMIT_STACK] = Limit{8 << 20, Infinity}
	l.l[RLIMIT_CORE] = Limit{0, Infinity}
	l.l[RLIMIT_NPROC] = Limit{1 << 16, 1 << 16}
	l.l[RLIMIT_NOFILE] = Limit{1024, 1 << 20}
	l.l[RLIMIT_MEMLOCK] = Limit{8 << 20, 8 << 20}
	l.l[RLIMIT_SIGPENDING] = Limit{1 << 16, 1 << 16}
	l.l[RLIMIT_MSGQUEUE] = Limit{819200, 819200}
	l.l[RLIMIT_NICE] = Limit{0, 0}
	l.l[RLIMIT_RTPRIO] = Limit{0, 0}
	return l
}

// Copy returns an independent copy (fork).
func (l *Limits) Copy() *Limits {
	l.mu.Lock()
	defer l.mu.Unlock()
	return &Limits{l: l.l}
}

// Get returns a limit.
func (l *Limits) Get(r int) Limit {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.l[r]
}

// Set replaces a limit and returns the old one. Raising the hard limit
// needs CAP_SYS_RESOURCE (privileged).
func (l *Limits) Set(r int, n Limit, privileged bool) (Limit, error) {
	if n.Cur > n.Max {
		return Limit{}, unix.EINVAL
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.l[r]
	if n.Max > old.Max && !privileged {
		return Limit{}, unix.EPERM
	}
	if r == RLIMIT_NOFILE && n.Max > 1<<20 {
		// fs.nr_open.
		return Limit{}, unix.EPERM
	}
	l.l[r] = n
	return old, nil
}
