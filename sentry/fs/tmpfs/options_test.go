package tmpfs

import (
	"reflect"
	"testing"
)

func TestParseOptions(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want Options
		rest []string
		bad  bool
	}{
		{in: nil},
		{in: []string{"nosuid", "size=65536k", "mode=755", "nodev"}, want: Options{Size: 64 << 20, Mode: 0o755, ModeSet: true}, rest: []string{"nosuid", "nodev"}},
		{in: []string{"size=1G", "nr_inodes=1m", "uid=1000", "gid=100"}, want: Options{Size: 1 << 30, NrInodes: 1 << 20, UID: 1000, GID: 100}},
		{in: []string{"size=4096", "mode=0"}, want: Options{Size: 4096, ModeSet: true}},
		{in: []string{"size=50%"}, bad: true},
		{in: []string{"size"}, bad: true},
		{in: []string{"mode=999"}, bad: true},
		{in: []string{"mode=17777"}, bad: true},
		{in: []string{"uid=-1"}, bad: true},
		{in: []string{"size=16777216t"}, bad: true},
	} {
		got, rest, err := ParseOptions(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("ParseOptions(%q) = %+v, want an error", c.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) || !reflect.DeepEqual(rest, c.rest) {
			t.Errorf("ParseOptions(%q) = %+v, %q, %v; want %+v, %q", c.in, got, rest, err, c.want, c.rest)
		}
	}
	e := newEnv(t, Options{ModeSet: true})
	if m := e.root().Mode(); m != 0o40000 {
		t.Errorf("root with mode 0: %#o", m)
	}
}
