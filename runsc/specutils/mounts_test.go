package specutils

import (
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestBindMountOptions(t *testing.T) {
	for _, tc := range []struct {
		m        specs.Mount
		bind, ro bool
	}{
		{specs.Mount{Type: "bind"}, true, false},
		{specs.Mount{Type: "none", Options: []string{"rbind", "rprivate", "ro"}}, true, true},
		{specs.Mount{Options: []string{"bind", "ro", "rw"}}, true, false},
		{specs.Mount{Type: "tmpfs", Options: []string{"nosuid", "rw", "ro"}}, false, true},
		{specs.Mount{Type: "proc"}, false, false},
		// Not an option of its own: part of another word.
		{specs.Mount{Type: "tmpfs", Options: []string{"robind"}}, false, false},
	} {
		if got := IsBindMount(tc.m); got != tc.bind {
			t.Errorf("IsBindMount(%+v): got %v, want %v", tc.m, got, tc.bind)
		}
		if got := MountReadOnly(tc.m); got != tc.ro {
			t.Errorf("MountReadOnly(%+v): got %v, want %v", tc.m, got, tc.ro)
		}
	}
}

// TestReadSpecBindSource checks that a relative bind mount source is
// taken from the bundle, as the runtime spec says, and other sources are
// left alone.
func TestReadSpecBindSource(t *testing.T) {
	bundle := t.TempDir()
	config := `{"ociVersion": "1.0.2", "process": {"args": ["/bin/true"], "cwd": "/"}, "root": {"path": "rootfs"},
	"mounts": [{"destination": "/a", "type": "bind", "source": "vol"}, {"destination": "/b", "type": "none", "source": "/abs", "options": ["rbind"]},
	{"destination": "/c", "type": "tmpfs", "source": "tmpfs"}]}`
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ReadSpec(bundle)
	if err != nil {
		t.Fatalf("ReadSpec: %v", err)
	}
	for i, want := range []string{filepath.Join(bundle, "vol"), "/abs", "tmpfs"} {
		if s.Mounts[i].Source != want {
			t.Errorf("mounts[%d].source: got %q, want %q", i, s.Mounts[i].Source, want)
		}
	}
	// A bind mount needs a source.
	config = `{"ociVersion": "1.0.2", "process": {"args": ["/bin/true"], "cwd": "/"}, "root": {"path": "rootfs"},
	"mounts": [{"destination": "/a", "type": "bind"}]}`
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSpec(bundle); err == nil {
		t.Errorf("ReadSpec of a bind mount without a source: got nil, want an error")
	}
}
