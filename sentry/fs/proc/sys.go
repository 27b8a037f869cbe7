package proc

import (
	"bytes"
	"context"
	"fmt"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/synth"
	"palisade.dev/sentry/kernel"
	"palisade.dev/sentry/kernel/auth"
)

// maxHostname is the longest hostname (__NEW_UTS_LEN).
const maxHostname = 64

// addSys fills /proc/sys: the sysctls programs read to learn the
// sandbox's limits. Only the hostname can be changed.
func (p *procFS) addSys(sys *synth.Dir) {
	fs := p.fs
	k := p.k
	value := func(d *synth.Dir, name string, gen func() string) {
		d.Add(name, fs.NewDataFile(d, name, 0o444, func(context.Context) ([]byte, error) {
			return []byte(gen() + "\n"), nil
		}))
	}
	fixed := func(d *synth.Dir, name string, v any) {
		s := fmt.Sprint(v)
		value(d, name, func() string { return s })
	}

	kern := sys.Subdir("kernel", 0o555, nil)
	kern.Add("hostname", fs.NewRWFile(kern, "hostname", 0o644,
		func(context.Context) ([]byte, error) { return []byte(k.HostnameNow() + "\n"), nil },
		func(ctx context.Context, src []byte) (int, error) { return p.setHostname(ctx, src) }))
	fixed(kern, "domainname", "(none)")
	fixed(kern, "ostype", "Linux")
	value(kern, "osrelease", func() string { return k.Release })
	value(kern, "version", func() string { return k.Version })
	fixed(kern, "pid_max", 4194304)
	fixed(kern, "threads-max", 1<<20)
	fixed(kern, "ngroups_max", 65536)
	fixed(kern, "cap_last_cap", auth.CapLastCap)
	fixed(kern, "overflowuid", 65534)
	fixed(kern, "overflowgid", 65534)
	fixed(kern, "randomize_va_space", 2)
	fixed(kern, "shmmax", uint64(18446744073692774399))
	fixed(kern, "shmall", uint64(18446744073692774399))
	fixed(kern, "shmmni", 4096)
	fixed(kern, "msgmax", 8192)
	fixed(kern, "msgmnb", 16384)
	fixed(kern, "msgmni", 32000)
	fixed(kern, "sem", "32000\t1024000000\t500\t32000")
	random := kern.Subdir("random", 0o555, nil)
	fixed(random, "boot_id", p.bootID)
	value(random, "uuid", newUUID)
	fixed(random, "entropy_avail", 256)
	fixed(random, "poolsize", 256)

	vm := sys.Subdir("vm", 0o555, nil)
	fixed(vm, "overcommit_memory", 0)
	fixed(vm, "overcommit_ratio", 50)
	fixed(vm, "max_map_count", 65530)
	fixed(vm, "mmap_min_addr", 65536)

	fsd := sys.Subdir("fs", 0o555, nil)
	fixed(fsd, "file-max", uint64(9223372036854775807))
	fixed(fsd, "nr_open", 1<<20)
	fixed(fsd, "pipe-max-size", 1<<20)

	core := sys.Subdir("net", 0o555, nil).Subdir("core", 0o555, nil)
	fixed(core, "somaxconn", 4096)
}

// setHostname implements a write to /proc/sys/kernel/hostname: the text
// up to the first newline or NUL becomes the hostname; it needs
// CAP_SYS_ADMIN.
func (p *procFS) setHostname(ctx context.Context, src []byte) (int, error) {
	if t := kernel.TaskFromContext(ctx); t != nil && !t.Credentials().HasCapability(unix.CAP_SYS_ADMIN) {
		return 0, unix.EPERM
	}
	name := src
	if i := bytes.IndexAny(name, "\n\x00"); i >= 0 {
		name = name[:i]
	}
	if len(name) > maxHostname {
		return 0, unix.EINVAL
	}
	p.k.SetHostname(string(name))
	return len(src), nil
}
