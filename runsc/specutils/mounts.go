package specutils

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// IsBindMount reports whether m is a bind mount: of type "bind", or with
// a "bind" or "rbind" option whatever its type says (runc and Docker
// write `-v /host:/ctr` as type "bind" or "none" with option "rbind").
func IsBindMount(m specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// BindMounts returns the spec's bind mounts, in the spec's order.
func BindMounts(s *specs.Spec) []specs.Mount {
	var out []specs.Mount
	for _, m := range s.Mounts {
		if IsBindMount(m) {
			out = append(out, m)
		}
	}
	return out
}

// MountReadOnly reports whether m's options make it read-only: the last
// of "ro" and "rw" wins, as with mount(8).
func MountReadOnly(m specs.Mount) bool {
	ro := false
	for _, o := range m.Options {
		switch o {
		case "ro":
			ro = true
		case "rw":
			ro = false
		}
	}
	return ro
}

// MountFlag reports whether m's options set the per-mount flag flag
// ("nosuid", "nodev" or "noexec"): the last of it and its opposite
// ("suid", "dev", "exec") wins, as with mount(8).
func MountFlag(m specs.Mount, flag string) bool {
	on := false
	for _, o := range m.Options {
		switch o {
		case flag:
			on = true
		case flag[2:]:
			on = false
		}
	}
	return on
}
