//go:build cgo

package main

// runsc must be built with CGO_ENABLED=0 (as `make build` does): the
// sentry drops its capabilities on every thread with
// syscall.AllThreadsSyscall, which the Go runtime refuses when cgo is
// linked in. This declaration fails the build to say so.
var _ int = "build runsc with CGO_ENABLED=0 (see runsc/cgo_guard.go)"
