// Package specutils loads and checks OCI runtime specs.
package specutils

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ReadSpec reads and validates bundleDir/config.json. The root path is
// made absolute relative to the bundle.
func ReadSpec(bundleDir string) (*specs.Spec, error) {
	p := filepath.Join(bundleDir, "config.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parse %s: %w", p, err)
	}
	if err := Validate(&s); err != nil {
		return nil, fmt.Errorf("invalid spec %s: %w", p, err)
	}
	if !filepath.IsAbs(s.Root.Path) {
		s.Root.Path = filepath.Join(bundleDir, s.Root.Path)
	}
	// The runtime spec takes a bind mount's relative source from the
	// bundle too.
	for i, m := range s.Mounts {
		if IsBindMount(m) && m.Source != "" && !filepath.IsAbs(m.Source) {
			s.Mounts[i].Source = filepath.Join(bundleDir, m.Source)
		}
	}
	return &s, nil
}

// Validate checks the parts of the spec Palisade relies on.
func Validate(s *specs.Spec) error {
	if s.Process == nil {
		return fmt.Errorf("process is missing")
	}
	if len(s.Process.Args) == 0 {
		return fmt.Errorf("process.args is empty")
	}
	if s.Root == nil || s.Root.Path == "" {
		return fmt.Errorf("root.path is missing")
	}
	if s.Process.Cwd == "" || !filepath.IsAbs(s.Process.Cwd) {
		return fmt.Errorf("process.cwd %q must be an absolute path", s.Process.Cwd)
	}
	for i, m := range s.Mounts {
		if !filepath.IsAbs(m.Destination) {
			return fmt.Errorf("mounts[%d].destination %q must be an absolute path", i, m.Destination)
		}
		if IsBindMount(m) && m.Source == "" {
			return fmt.Errorf("mounts[%d]: bind mount on %q has no source", i, m.Destination)
		}
	}
	return nil
}

// CheckRoot checks that the spec's root is a directory.
func CheckRoot(s *specs.Spec) error {
	st, err := os.Stat(s.Root.Path)
	if err != nil {
		return fmt.Errorf("root.path: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("root.path %q is not a directory", s.Root.Path)
	}
	return nil
}

// DefaultCapabilities is the capability set Docker gives containers.
var DefaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

var capNumbers = map[string]int{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3, "CAP_FSETID": 4,
	"CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_LINUX_IMMUTABLE": 9,
	"CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13,
	"CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15, "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17,
	"CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19, "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21,
	"CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23, "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25,
	"CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27, "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29,
	"CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31, "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33,
	"CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35, "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37,
	"CAP_PERFMON": 38, "CAP_BPF": 39, "CAP_CHECKPOINT_RESTORE": 40,
}

// CapMask converts capability names to a bit mask.
func CapMask(names []string) (uint64, error) {
	var m uint64
	for _, n := range names {
		c, ok := capNumbers[n]
		if !ok {
			return 0, fmt.Errorf("unknown capability %q", n)
		}
		m |= 1 << uint(c)
	}
	return m, nil
}

// AllCapabilities returns every capability name, in number order.
func AllCapabilities() []string {
	out := make([]string, len(capNumbers))
	for n, c := range capNumbers {
		out[c] = n
	}
	return out
}
