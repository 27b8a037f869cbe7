// Package linux holds Linux ABI constants and structures shared by every
// part of Palisade: the sentry, the syscall table, the platforms and runsc.
//
// It imports only the standard library and golang.org/x/sys/unix; nothing
// in Palisade may be imported from here.
//
// Errors: the one errno type of the whole sentry is Errno (an alias of
// syscall.Errno, the same type as unix.Errno), so an error coming from the
// host, from the gofer or from a sentry subsystem can be handed to the
// application unchanged. Translation to a syscall return value happens in
// one place, the dispatcher in package syscalls.
package linux
