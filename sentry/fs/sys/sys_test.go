package sys

import (
	"context"
	"testing"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/vfs"
)

func read(t *testing.T, ns *vfs.MountNamespace, path string) string {
	t.Helper()
	ctx := context.Background()
	root := ns.Root()
	vd, err := ns.Resolve(ctx, path, vfs.ResolveOpts{Root: root, Start: root, FollowFinal: true})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	f, err := vd.Dentry.Open(ctx, vd, unix.O_RDONLY)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.DecRef()
	b := make([]byte, 4096)
	n, err := f.Read(ctx, b)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b[:n])
}

func TestFiles(t *testing.T) {
	tests := []struct {
		cpus                      []int
		online, possible, offline string
	}{
		{[]int{0, 1, 2, 3}, "0-3\n", "0-3\n", "\n"},
		{[]int{0}, "0\n", "0\n", "\n"},
		{[]int{2, 3, 5}, "2-3,5\n", "0-5\n", "0-1,4\n"},
	}
	for _, tc := range tests {
		ns := vfs.NewMountNamespace(newFS(tc.cpus), "sysfs", false)
		if got := read(t, ns, "/devices/system/cpu/online"); got != tc.online {
			t.Errorf("cpus %v: online %q, want %q", tc.cpus, got, tc.online)
		}
		for _, f := range []string{"possible", "present"} {
			if got := read(t, ns, "/devices/system/cpu/"+f); got != tc.possible {
				t.Errorf("cpus %v: %s %q, want %q", tc.cpus, f, got, tc.possible)
			}
		}
		if got := read(t, ns, "/devices/system/cpu/offline"); got != tc.offline {
			t.Errorf("cpus %v: offline %q, want %q", tc.cpus, got, tc.offline)
		}
		for _, c := range tc.cpus {
			if got := read(t, ns, "/devices/system/cpu/cpu"+CPUList([]int{c})+"/online"); got != "1\n" {
				t.Errorf("cpu%d/online: %q", c, got)
			}
		}
	}
	ns := vfs.NewMountNamespace(newFS([]int{0}), "sysfs", false)
	if got := read(t, ns, "/devices/system/node/node0/cpulist"); got != "0\n" {
		t.Errorf("node0/cpulist: %q", got)
	}
	if got := read(t, ns, "/kernel/mm/transparent_hugepage/enabled"); got != "always madvise [never]\n" {
		t.Errorf("THP enabled: %q", got)
	}
	if got := read(t, ns, "/kernel/mm/transparent_hugepage/hpage_pmd_size"); got != "2097152\n" {
		t.Errorf("hpage_pmd_size: %q", got)
	}
	root := ns.Root()
	vd, err := ns.Resolve(context.Background(), "/fs/cgroup", vfs.ResolveOpts{Root: root, Start: root})
	if err != nil || vd.Dentry.Mode()&vfs.S_IFMT != vfs.S_IFDIR {
		t.Errorf("/fs/cgroup: %v, want a directory", err)
	}
	st, _ := vd.Dentry.Stat(context.Background())
	if st.Nlink == 0 {
		t.Errorf("/fs/cgroup nlink 0")
	}
	fs, _ := root.Mount.FS.Statfs(context.Background())
	if fs.Type != sysfsMagic {
		t.Errorf("statfs type %#x, want SYSFS_MAGIC", fs.Type)
	}
}

func TestCPUList(t *testing.T) {
	for _, tc := range []struct {
		cpus []int
		want string
	}{
		{nil, ""},
		{[]int{0}, "0"},
		{[]int{0, 1}, "0-1"},
		{[]int{0, 2, 4, 5, 6, 9}, "0,2,4-6,9"},
	} {
		if got := CPUList(tc.cpus); got != tc.want {
			t.Errorf("CPUList(%v) = %q, want %q", tc.cpus, got, tc.want)
		}
	}
}

func TestCPUMask(t *testing.T) {
	for _, tc := range []struct {
		cpus  []int
		nbits int
		want  string
	}{
		{[]int{0, 1}, 2, "3"},
		{[]int{0}, 8, "01"},
		{[]int{0, 1, 2, 3, 4, 5, 6, 7}, 8, "ff"},
		{[]int{0, 33}, 64, "00000002,00000001"},
		{[]int{1}, 40, "00,00000002"},
		{[]int{3}, 2, "8"},
	} {
		if got := CPUMask(tc.cpus, tc.nbits); got != tc.want {
			t.Errorf("CPUMask(%v, %d) = %q, want %q", tc.cpus, tc.nbits, got, tc.want)
		}
	}
}
