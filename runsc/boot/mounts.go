package boot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"palisade.dev/gofer/protocol"
	"palisade.dev/runsc/config"
	"palisade.dev/runsc/specutils"
	"palisade.dev/sentry/fs/dev"
	"palisade.dev/sentry/fs/devpts"
	"palisade.dev/sentry/fs/gofer"
	"palisade.dev/sentry/fs/proc"
	"palisade.dev/sentry/fs/synth"
	sysfs "palisade.dev/sentry/fs/sys"
	"palisade.dev/sentry/fs/tmpfs"
	"palisade.dev/sentry/kernel"
	"palisade.dev/sentry/kernel/auth"
	"palisade.dev/sentry/memfile"
	"palisade.dev/sentry/vfs"
)

// mountAll mounts the spec's filesystems that the sentry implements, in
// the spec's order. A bind mount is the tree the gofer serves on the next
// of mountFDs (runsc passes one per bind mount, in the same order), shared
// with the host as --file-access-mounts says (shared by default: changes
// the host makes while the sandbox runs are seen; see goferOptions).
// Missing mount points are made, as runc makes them: directories, or an
// empty file for a bind mount of a file.
func mountAll(k *kernel.Kernel, conf *config.Config, spec *specs.Spec, mf *memfile.MemoryFile, mountFDs []int, log *slog.Logger) error {
	access := "shared"
	if conf != nil && conf.FileAccessMounts != "" {
		access = conf.FileAccessMounts
	}
	ns := k.MountNS
	ctx := context.Background()
	var devFS *synth.FS
	for _, m := range spec.Mounts {
		var fs vfs.Filesystem
		switch {
		case specutils.IsBindMount(m):
			if len(mountFDs) == 0 {
				return fmt.Errorf("bind mount on %s: no gofer connection for it", m.Destination)
			}
			client, err := protocol.NewClient(mountFDs[0])
			mountFDs = mountFDs[1:]
			if err != nil {
				return fmt.Errorf("bind mount on %s: gofer connection: %w", m.Destination, err)
			}
			gfs, err := gofer.NewWithOptions(client, mf, goferOptions(access))
			if err != nil {
				return fmt.Errorf("bind mount on %s: attach to gofer: %w", m.Destination, err)
			}
			fs = gfs
		case m.Type == "proc":
			fs = proc.New(k)
		case m.Destination == "/dev" && (m.Type == "tmpfs" || m.Type == "devtmpfs"):
			devFS = dev.New(mf)
			fs = devFS
		case m.Type == "devpts":
			opts, err := devpts.ParseOptions(m.Options)
			if err != nil {
				return fmt.Errorf("mount %s: %w", m.Destination, err)
			}
			fs = devpts.New(opts)
		case m.Type == "sysfs":
			// The sentry's own /sys; the host's must not show through.
			fs = sysfs.New(k)
		case m.Type == "tmpfs":
			opts, _, err := tmpfs.ParseOptions(m.Options)
			if err != nil {
				return fmt.Errorf("mount %s: %w", m.Destination, err)
			}
			opts.Devices = dev.Opener(mf)
			fs = tmpfs.New(mf, opts)
		default:
			log.Warn("mount not supported yet: skipped", "destination", m.Destination, "type", m.Type, "source", m.Source)
			continue
		}
		dir := fs.Root().Mode()&vfs.S_IFMT == vfs.S_IFDIR
		at, err := mountPoint(ctx, ns, devFS, m.Destination, dir)
		if err != nil {
			return fmt.Errorf("mount %s: mount point: %w", m.Destination, err)
		}
		// As mount(2): a directory goes on a directory, anything else on
		// anything but a directory.
		switch atDir := at.Dentry.Mode()&vfs.S_IFMT == vfs.S_IFDIR; {
		case dir && !atDir:
			return fmt.Errorf("mount %s: destination is not a directory", m.Destination)
		case !dir && atDir:
			return fmt.Errorf("mount %s: source %s is not a directory, destination is", m.Destination, m.Source)
		}
		nm := ns.Mount(at, fs, m.Source, specutils.MountReadOnly(m))
		var flags uint32
		for _, f := range []struct {
			opt  string
			flag uint32
		}{{"nosuid", vfs.MountNoSuid}, {"nodev", vfs.MountNoDev}, {"noexec", vfs.MountNoExec}} {
			if specutils.MountFlag(m, f.opt) {
				flags |= f.flag
			}
		}
		nm.SetFlags(flags)
	}
	if len(mountFDs) != 0 {
		return fmt.Errorf("%d gofer connections for bind mounts left over", len(mountFDs))
	}
	return addDevices(spec, devFS, mf, log)
}

// goferOptions returns the options of a gofer filesystem whose file access
// (--file-access for the root, --file-access-mounts for bind mounts) is
// access: "shared" revalidates what the sentry caches with the host on
// each use, "exclusive" trusts it.
func goferOptions(access string) gofer.Options {
	return gofer.Options{Revalidate: access == "shared"}
}

// mountPoint resolves dest from the root, making what is missing of it:
// directories (mode 0755, owned by root), and last an empty regular file
// (mode 0644) if dir is false. The root filesystem (the memory overlay, or
// the gofer's tree with --overlay=none) makes them whether the root's
// mount is read-only or not, as runc makes mount points before it makes
// the root read-only; a tree the gofer serves read-only can't (EROFS).
// In the sentry's /dev (devFS), missing mount points are made as its own
// nodes. Symlinks on the way are followed inside the sandbox's root.
func mountPoint(ctx context.Context, ns *vfs.MountNamespace, devFS *synth.FS, dest string, dir bool) (vfs.VirtualDentry, error) {
	root := ns.Root()
	at, err := ns.Resolve(ctx, dest, vfs.ResolveOpts{Root: root, Start: root, FollowFinal: true})
	if !errors.Is(err, unix.ENOENT) {
		return at, err
	}
	cur := root
	comps := strings.FieldsFunc(path.Clean(dest), func(r rune) bool { return r == '/' })
	for i, name := range comps {
		opts := vfs.ResolveOpts{Root: root, Start: cur, FollowFinal: true}
		next, err := ns.Resolve(ctx, name, opts)
		if err == nil {
			cur = next
			continue
		}
		if !errors.Is(err, unix.ENOENT) {
			return vfs.VirtualDentry{}, err
		}
		file := !dir && i == len(comps)-1
		if err := makeNode(ctx, cur, devFS, name, file); err != nil {
			return vfs.VirtualDentry{}, fmt.Errorf("make %s: %w", path.Join(append([]string{"/"}, comps[:i+1]...)...), err)
		}
		if cur, err = ns.Resolve(ctx, name, opts); err != nil {
			return vfs.VirtualDentry{}, err
		}
	}
	return cur, nil
}

// makeNode makes name in the directory at: a directory, or an empty
// regular file if file is set.
func makeNode(ctx context.Context, at vfs.VirtualDentry, devFS *synth.FS, name string, file bool) error {
	if devFS != nil && at.Mount.FS == vfs.Filesystem(devFS) {
		d, ok := at.Dentry.(*synth.Dir)
		if !ok {
			return unix.EROFS
		}
		if file {
			d.Add(name, devFS.NewFile(d, name, vfs.S_IFREG|0o644, func(context.Context, *synth.File, uint32) (vfs.FileImpl, error) {
				return nil, unix.ENXIO
			}))
		} else {
			d.Subdir(name, 0o755, nil)
		}
		return nil
	}
	w, ok := at.Dentry.(vfs.DirWriter)
	if !ok {
		// proc, sysfs: nothing can be made there.
		return unix.EROFS
	}
	creds := auth.NewRoot(auth.AllCaps)
	if !file {
		return w.Mkdir(ctx, name, vfs.CreateOptions{Mode: vfs.S_IFDIR | 0o755, Creds: creds})
	}
	c, err := w.Create(ctx, name, vfs.CreateOptions{Mode: vfs.S_IFREG | 0o644, Creds: creds})
	if err != nil {
		return err
	}
	// Some filesystems keep the new file open for the open that follows
	// creation: open and close it.
	if f, err := c.Open(ctx, vfs.VirtualDentry{Mount: at.Mount, Dentry: c}, unix.O_RDONLY); err == nil {
		f.DecRef()
	}
	return nil
}

// addDevices makes the spec's device nodes (linux.devices) in the
// sentry's /dev. Nodes elsewhere are not made (logged).
func addDevices(spec *specs.Spec, devFS *synth.FS, mf *memfile.MemoryFile, log *slog.Logger) error {
	if spec.Linux == nil || len(spec.Linux.Devices) == 0 {
		return nil
	}
	var devs []dev.Device
	for _, d := range spec.Linux.Devices {
		rel, ok := strings.CutPrefix(path.Clean(d.Path), "/dev/")
		if !ok || devFS == nil {
			log.Warn("device node outside the sandbox's /dev: skipped", "path", d.Path)
			continue
		}
		nd := dev.Device{Path: rel, Major: uint32(d.Major), Minor: uint32(d.Minor), Perm: 0o666}
		switch d.Type {
		case "c", "u":
			nd.Type = vfs.S_IFCHR
		case "b":
			nd.Type = vfs.S_IFBLK
		case "p":
			nd.Type = vfs.S_IFIFO
		default:
			return fmt.Errorf("device %s: unknown type %q (want c, u, b or p)", d.Path, d.Type)
		}
		if d.FileMode != nil {
			// The spec's number is a Unix mode, whatever Go's type says.
			nd.Perm = uint32(*d.FileMode) & 0o7777
		}
		if d.UID != nil {
			nd.UID = *d.UID
		}
		if d.GID != nil {
			nd.GID = *d.GID
		}
		devs = append(devs, nd)
	}
	return dev.AddDevices(devFS, mf, devs)
}
