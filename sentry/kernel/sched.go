package kernel

import "golang.org/x/sys/unix"

// schedState is a task's scheduling parameters. The sentry models them:
// the host schedules all stub threads alike.
type schedState struct {
	policy   int32
	priority int32
	nice     int32
	affinity []int // nil: every CPU of the sandbox
}

// Scheduling policies.
const (
	SCHED_OTHER    = 0
	SCHED_FIFO     = 1
	SCHED_RR       = 2
	SCHED_BATCH    = 3
	SCHED_IDLE     = 5
	SCHED_DEADLINE = 6
)

// SchedPolicy returns the task's policy and real-time priority.
func (t *Task) SchedPolicy() (int32, int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sched.policy, t.sched.priority
}

// SetSchedPolicy sets them (validated by the caller).
func (t *Task) SetSchedPolicy(policy, priority int32) {
	t.mu.Lock()
	t.sched.policy, t.sched.priority = policy, priority
	t.mu.Unlock()
}

// Nice returns the task's nice value.
func (t *Task) Nice() int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sched.nice
}

// SetNice sets the nice value (clamped to [-20, 19]).
func (t *Task) SetNice(n int32) {
	n = max(-20, min(19, n))
	t.mu.Lock()
	t.sched.nice = n
	t.mu.Unlock()
}

// Affinity returns the CPUs the task may run on.
func (t *Task) Affinity() []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sched.affinity == nil {
		return t.k.cpus
	}
	return t.sched.affinity
}

// SetAffinity restricts the task to cpus, which must include one of the
// sandbox's CPUs (EINVAL otherwise).
func (t *Task) SetAffinity(cpus []int) error {
	var ok []int
	for _, c := range cpus {
		for _, k := range t.k.cpus {
			if c == k {
				ok = append(ok, c)
			}
		}
	}
	if len(ok) == 0 {
		return unix.EINVAL
	}
	t.mu.Lock()
	t.sched.affinity = ok
	t.mu.Unlock()
	return nil
}
