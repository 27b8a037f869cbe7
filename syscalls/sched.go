package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/kernel"
	"palisade.dev/sentry/kernel/auth"
	. "palisade.dev/sentry/strace"
)

// Scheduling is modelled: policies, priorities, nice values and affinity
// are kept and reported, while the host schedules every stub thread alike.
func init() {
	const note = "modelled: values are kept and reported, the host schedules all threads alike"
	partial(unix.SYS_SCHED_SETAFFINITY, SchedSetaffinity, note, Int, Int, Ptr)
	partial(unix.SYS_SCHED_GETSCHEDULER, SchedGetscheduler, note, Int)
	partial(unix.SYS_SCHED_SETSCHEDULER, SchedSetscheduler, note, Int, Int, Ptr)
	partial(unix.SYS_SCHED_GETPARAM, SchedGetparam, note, Int, Ptr)
	partial(unix.SYS_SCHED_SETPARAM, SchedSetparam, note, Int, Ptr)
	full(unix.SYS_SCHED_GET_PRIORITY_MAX, SchedGetPriorityMax, Int)
	full(unix.SYS_SCHED_GET_PRIORITY_MIN, SchedGetPriorityMin, Int)
	partial(unix.SYS_SCHED_RR_GET_INTERVAL, SchedRRGetInterval, note, Int, Ptr)
	partial(unix.SYS_GETPRIORITY, Getpriority, note, Int, Int)
	partial(unix.SYS_SETPRIORITY, Setpriority, note, Int, Int, Int)
}

func schedTarget(t *kernel.Task, pid int32) (*kernel.Task, error) {
	if pid < 0 {
		return nil, unix.EINVAL
	}
	if pid == 0 {
		return t, nil
	}
	if o := t.Kernel().TaskByTID(pid); o != nil {
		return o, nil
	}
	return nil, unix.ESRCH
}

// SchedSetaffinity implements sched_setaffinity(2).
func SchedSetaffinity(t *kernel.Task, a args) (uintptr, error) {
	target, err := schedTarget(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	size := min(a[1].SizeT(), 128)
	b := make([]byte, size)
	if _, err := t.CopyIn(a[2].Pointer(), b); err != nil {
		return 0, err
	}
	var cpus []int
	for i := 0; i < len(b)*8; i++ {
		if b[i/8]&(1<<(i%8)) != 0 {
			cpus = append(cpus, i)
		}
	}
	return 0, target.SetAffinity(cpus)
}

func validPolicy(p int32) bool {
	switch p {
	case kernel.SCHED_OTHER, kernel.SCHED_FIFO, kernel.SCHED_RR, kernel.SCHED_BATCH, kernel.SCHED_IDLE:
		return true
	}
	return false
}

func priorityRange2(p int32) int32 {
	_, hi := priorityRange(p &^ 0x40000000)
	return hi
}

func priorityRange(p int32) (int32, int32) {
	if p == kernel.SCHED_FIFO || p == kernel.SCHED_RR {
		return 1, 99
	}
	return 0, 0
}

// SchedGetscheduler implements sched_getscheduler(2).
func SchedGetscheduler(t *kernel.Task, a args) (uintptr, error) {
	target, err := schedTarget(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	p, _ := target.SchedPolicy()
	return uintptr(p), nil // with SCHED_RESET_ON_FORK if set
}

// SchedSetscheduler implements sched_setscheduler(2).
func SchedSetscheduler(t *kernel.Task, a args) (uintptr, error) {
	target, err := schedTarget(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	const resetOnFork = 0x40000000
	policy := a[1].Int() &^ resetOnFork
	if !validPolicy(policy) || a[2].Pointer() == 0 {
		return 0, unix.EINVAL
	}
	prio, err := t.MemoryManager().CopyInUint32(a[2].Pointer())
	if err != nil {
		return 0, err
	}
	lo, hi := priorityRange(policy)
	if int32(prio) < lo || int32(prio) > hi {
		return 0, unix.EINVAL
	}
	if !t.Credentials().HasCapability(auth.CAP_SYS_NICE) {
		lim := t.ThreadGroup().Limits()
		oldPolicy, _ := target.SchedPolicy()
		switch {
		case hi > 0 && uint64(prio) > lim.Get(kernel.RLIMIT_RTPRIO).Cur:
			// Real-time priorities need a high enough RLIMIT_RTPRIO.
			return 0, unix.EPERM
		case oldPolicy&^resetOnFork == kernel.SCHED_IDLE && policy != kernel.SCHED_IDLE &&
			uint64(20-target.Nice()) > lim.Get(kernel.RLIMIT_NICE).Cur:
			// Leaving SCHED_IDLE counts as raising the priority.
			return 0, unix.EPERM
		case oldPolicy&resetOnFork != 0 && a[1].Int()&resetOnFork == 0:
			// SCHED_RESET_ON_FORK can't be cleared without privilege.
			return 0, unix.EPERM
		}
	}
	target.SetSchedPolicy(policy|a[1].Int()&resetOnFork, int32(prio))
	return 0, nil
}

// SchedGetparam implements sched_getparam(2).
func SchedGetparam(t *kernel.Task, a args) (uintptr, error) {
	target, err := schedTarget(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	if a[1].Pointer() == 0 {
		return 0, unix.EINVAL
	}
	_, prio := target.SchedPolicy()
	return 0, t.MemoryManager().CopyOutUint32(a[1].Pointer(), uint32(prio))
}

// SchedSetparam implements sched_setparam(2).
func SchedSetparam(t *kernel.Task, a args) (uintptr, error) {
	target, err := schedTarget(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	if a[1].Pointer() == 0 {
		return 0, unix.EINVAL
	}
	prio, err := t.MemoryManager().CopyInUint32(a[1].Pointer())
	if err == nil {
		if policy, _ := target.SchedPolicy(); priorityRange2(policy) > 0 &&
			!t.Credentials().HasCapability(auth.CAP_SYS_NICE) &&
			uint64(prio) > t.ThreadGroup().Limits().Get(kernel.RLIMIT_RTPRIO).Cur {
			return 0, unix.EPERM
		}
	}
	if err != nil {
		return 0, err
	}
	policy, _ := target.SchedPolicy()
	lo, hi := priorityRange(policy &^ 0x40000000)
	if int32(prio) < lo || int32(prio) > hi {
		return 0, unix.EINVAL
	}
	target.SetSchedPolicy(policy, int32(prio))
	return 0, nil
}

// SchedGetPriorityMax implements sched_get_priority_max(2).
func SchedGetPriorityMax(t *kernel.Task, a args) (uintptr, error) {
	p := a[0].Int()
	if !validPolicy(p) {
		return 0, unix.EINVAL
	}
	_, hi := priorityRange(p)
	return uintptr(hi), nil
}

// SchedGetPriorityMin implements sched_get_priority_min(2).
func SchedGetPriorityMin(t *kernel.Task, a args) (uintptr, error) {
	p := a[0].Int()
	if !validPolicy(p) {
		return 0, unix.EINVAL
	}
	lo, _ := priorityRange(p)
	return uintptr(lo), nil
}

// SchedRRGetInterval implements sched_rr_get_interval(2): a 100 ms slice
// for SCHED_RR, 0 otherwise.
func SchedRRGetInterval(t *kernel.Task, a args) (uintptr, error) {
	target, err := schedTarget(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	var ns int64
	if p, _ := target.SchedPolicy(); p == kernel.SCHED_RR {
		ns = 100e6
	}
	_, err = t.CopyOut(a[1].Pointer(), timespecBytes(ns))
	return 0, err
}

// getpriority/setpriority targets.
const (
	prioProcess = 0
	prioPgrp    = 1
	prioUser    = 2
)

func prioTargets(t *kernel.Task, which, who int32) ([]*kernel.Task, error) {
	var out []*kernel.Task
	switch which {
	case prioProcess:
		target, err := schedTarget(t, who)
		if err != nil {
			return nil, err
		}
		out = []*kernel.Task{target}
	case prioPgrp:
		pg := who
		if pg == 0 {
			pg = t.ThreadGroup().ProcessGroupID()
		}
		for _, o := range t.Kernel().Tasks() {
			if o.ThreadGroup().ProcessGroupID() == pg {
				out = append(out, o)
			}
		}
	case prioUser:
		uid := uint32(who)
		if who == 0 {
			uid = t.Credentials().RealUID
		}
		for _, o := range t.Kernel().Tasks() {
			if o.Credentials().RealUID == uid {
				out = append(out, o)
			}
		}
	default:
		return nil, unix.EINVAL
	}
	if len(out) == 0 {
		return nil, unix.ESRCH
	}
	return out, nil
}

// Getpriority implements getpriority(2): it returns 20 - nice, the
// kernel's form (libc converts).
func Getpriority(t *kernel.Task, a args) (uintptr, error) {
	ts, err := prioTargets(t, a[0].Int(), a[1].Int())
	if err != nil {
		return 0, err
	}
	best := int32(19)
	for _, o := range ts {
		best = min(best, o.Nice())
	}
	return uintptr(20 - best), nil
}

// Setpriority implements setpriority(2).
func Setpriority(t *kernel.Task, a args) (uintptr, error) {
	ts, err := prioTargets(t, a[0].Int(), a[1].Int())
	if err != nil {
		return 0, err
	}
	nice := max(-20, min(19, a[2].Int()))
	c := t.Credentials()
	for _, o := range ts {
		oc := o.Credentials()
		if c.EffectiveUID != oc.RealUID && c.EffectiveUID != oc.EffectiveUID && !c.HasCapability(auth.CAP_SYS_NICE) {
			return 0, unix.EPERM
		}
		// Lowering the nice value needs CAP_SYS_NICE, unless RLIMIT_NICE
		// allows it (the limit is 20 - nice).
		if nice < o.Nice() && !c.HasCapability(auth.CAP_SYS_NICE) &&
			uint64(20-nice) > t.ThreadGroup().Limits().Get(kernel.RLIMIT_NICE).Cur {
			return 0, unix.EACCES
		}
		o.SetNice(nice)
	}
	return 0, nil
}

var _ = binary.LittleEndian
