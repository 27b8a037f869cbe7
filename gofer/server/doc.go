// Package server is the gofer: it serves a directory tree, given as a root
// file descriptor (ServeWith), or a single file, given as an entry of a
// directory (ServeEntry), to the sentry over the protocol of
// gofer/protocol, and donates opened host file descriptors for regular
// files and directories.
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
//   - Changes (write.go) name one component in a directory the server
//     holds and use calls that never follow a final symlink: O_CREAT|O_EXCL,
//     mkdirat, mknodat, symlinkat, linkat, unlinkat, renameat2; attributes
//     change on the node's own O_PATH descriptor (fchownat, fchmodat2,
//     utimensat with AT_EMPTY_PATH), or on a descriptor re-opened with
//     O_NOFOLLOW and checked to be the node (truncate, fsync). Only user.*
//     extended attributes are served. New nodes get the owner the sentry
//     names (the caller's filesystem IDs).
//   - Renames and unlinks done here keep each node's parent and name right,
//     so a FID follows its file; a node whose name was taken away (from
//     here or outside) can't be re-opened (ESTALE). A client that shares
//     the tree with the host checks its cached names with Trevalidate
//     (revalidate.go), which walks again to a file that replaced one; the
//     root of a single served file follows its name when asked that way.
//   - By default the tree is served read-only: every change, and opening
//     for writing, gets EROFS. ServeWith with Options.Writable serves it
//     read-write (runsc --overlay=none with a writable root, or a bind
//     mount that is not read-only).
//
// # Imports
//
// This package imports gofer/protocol, the standard library and
// golang.org/x/sys/unix, and nothing from the sentry.
//
// # Lock order
//
// None: one goroutine serves a connection and handles its requests one at a
// time, so the FID table has no lock. A process may serve several trees
// (a container's root and its bind mounts), one connection and goroutine
// each; connections share no state.
package server
