// Package protocol is the wire format spoken between the sentry and a gofer,
// and the client the sentry uses to speak it.
//
// A gofer serves one directory tree. The sentry names nodes of that tree by
// FIDs, handles the gofer allocates and holds; every request is relative to a
// FID the gofer already holds, and path strings never cross the wire, only
// single path components.
//
// # Transport
//
// The transport is a connected AF_UNIX SOCK_SEQPACKET socket pair, so the
// socket keeps message boundaries and no length prefix is needed on the wire.
// Each request is one packet and each response is one packet, at most
// MaxMessageSize bytes. Host file descriptors travel as SCM_RIGHTS control
// messages on responses (Ropen, Rcreate); requests never carry descriptors.
//
// # Framing
//
// Every message starts with an 8-byte little-endian header:
//
//	type  uint16  MsgType: T* for requests, R* for responses
//	flags uint16  zero; reserved for later extensions
//	tag   uint32  chosen by the client, echoed by the server
//
// followed by the payload of that type. Payload fields are little-endian
// fixed-size integers; strings and lists are a uint32 count followed by the
// elements. A response is either the R* type matching the request or Rerror
// carrying a Linux errno. The operations that change the tree (create,
// mkdir, mknod, symlink, link, unlink, rename, setattr, fsync, xattrs; see
// write.go) are T/R pairs like the others; a server serving its tree
// read-only answers them with EROFS, and says which it does in Rattach.
// Trevalidate (revalidate.go) lets a client that shares the tree with the
// host check that a cached name still leads to the same file.
// New operations are added as new T/R pairs with new type numbers; the
// framing does not change. A server answers an unknown type with ENOSYS and
// a malformed payload with EINVAL.
//
// # Imports
//
// This package imports only the standard library and golang.org/x/sys/unix.
// The gofer server (gofer/server) and the sentry's gofer filesystem
// (sentry/fs/gofer) import it; it imports neither.
//
// # Lock order
//
// Client.mu is a leaf lock, held for one request/response round trip. Conn
// has no locks of its own; its callers serialise reads.
package protocol
