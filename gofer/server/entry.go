package server

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// ServeEntry serves, on the connected socket sockFD until the peer closes
// it, the tree whose root is the entry name of the directory dirFD: a bind
// mount of a single file (a regular file, or a FIFO the sentry makes its
// own pipe of), or of a directory. The entry is taken as it is, never
// followed if it is a symlink (ELOOP).
//
// The directory itself is not served: no FID ever refers to it, and the
// only use made of it is to open the root again by its name, as every node
// is opened again by its parent's descriptor and its name (see reopen). So
// if the name is later removed or made to refer to another file, opening
// the root fails with ESTALE; the node itself, held by an O_PATH
// descriptor, can still be stat'ed. A client that shares the file with the
// host (a revalidating mount) asks instead, with a Trevalidate of the root
// and an empty name, that a root that is not a directory follow its name:
// from then on the root is the file that replaced it (followEntry), which
// is what a program inside sees when the host rewrites a bind-mounted file
// by renaming a new one over it.
//
// Like Serve, ServeEntry neither closes nor keeps sockFD and dirFD. It
// returns nil on a clean EOF.
func ServeEntry(sockFD, dirFD int, name string, o Options) error {
	if !validName(name) {
		return fmt.Errorf("gofer: serve entry %q: %w", name, unix.EINVAL)
	}
	dfd, err := openat(dirFD, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return fmt.Errorf("gofer: open directory of %q: %w", name, err)
	}
	var st unix.Stat_t
	if err := fstat(dfd, &st); err != nil {
		unix.Close(dfd)
		return fmt.Errorf("gofer: stat directory of %q: %w", name, err)
	}
	holder := newNode(dfd, nil, "", &st)
	fd, err := openat(dfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		releaseNode(holder)
		return fmt.Errorf("gofer: open %q: %w", name, err)
	}
	if err := fstat(fd, &st); err != nil {
		unix.Close(fd)
		releaseNode(holder)
		return fmt.Errorf("gofer: stat %q: %w", name, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		unix.Close(fd)
		releaseNode(holder)
		return fmt.Errorf("gofer: serve %q: a symlink: %w", name, unix.ELOOP)
	}
	// The root holds the only reference to the directory, which goes
	// with it.
	root := newNode(fd, holder, name, &st)
	indexChild(holder, name, root)
	return serveRoot(sockFD, root, o)
}
