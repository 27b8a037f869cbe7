// Package server is the gofer: it serves one directory tree, given as a root
// file descriptor, to the sentry over the protocol of gofer/protocol, and
// donates opened host file descriptors for regular files and directories.
//
// The gofer is the only process of a sandbox that opens host files, so it is
// written to keep the sentry inside the tree:
//
//   - Every operation is relative to a FID, and each FID holds its own
//     O_PATH|O_NOFOLLOW descriptor. Walks take one path component at a time
//     with openat(O_NOFOLLOW); "", ".", ".." and names holding "/" or NUL are
//     refused. Symlinks are never followed here: the sentry resolves them.
//   - Open re-opens a node by its parent's descriptor and its name (or "."
//     for the root), never by an absolute path or /proc/self/fd, checks that
//     the same inode was opened, and only for regular files and directories:
//     device nodes, FIFOs and sockets get EACCES, symlinks ELOOP.
//   - The tree is served read-only: opening for writing gets EROFS.
//
// # Imports
//
// This package imports gofer/protocol, the standard library and
// golang.org/x/sys/unix, and nothing from the sentry.
//
// # Lock order
//
// None: one goroutine serves a connection and handles its requests one at a
// time, so the FID table has no lock.
package server
