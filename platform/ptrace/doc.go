// Package ptrace is the platform that runs application threads in stub
// processes under PTRACE_SYSEMU.
//
// The stubs. At start the platform execs a one-page static ELF built in
// memory (stub.go) with PTRACE_TRACEME: the master stub. The tracer then
// injects system calls into it that unmap everything but the stub page
// (stack, vDSO, vvar), ignore SIGCHLD, and install a seccomp filter that
// kills the process on any system call other than the few the platform
// injects (mmap, munmap, mprotect, clone, exit, pause). Because PTRACE_SYSEMU
// stops a system call before seccomp runs, an application's system calls
// never reach that filter; if a platform bug ever let one execute on the
// host, the filter would kill the stub. Every address space is a process
// forked from the master by an injected clone, so it starts with exactly
// the stub page and the memory file as fd 3.
//
// Threads. A stub thread is traced by exactly one host thread, and only that
// host thread may issue ptrace requests for it. Each address space
// (subprocess) has an owner goroutine, locked to its OS thread, that traces
// the process's first thread and uses it to inject system calls on behalf
// of goroutines that have no thread of their own there. A task goroutine
// (locked to its OS thread) gets its own stub thread in each address space
// it runs in: the owner injects a thread clone, and the task's OS thread
// seizes the new thread (PTRACE_SEIZE + PTRACE_INTERRUPT) while it waits in
// pause(2). Map and unmap requests from a task goroutine use its own stopped
// stub thread directly, without a round trip to the owner.
//
// Lock order: subprocess.mu is a leaf lock.
package ptrace
