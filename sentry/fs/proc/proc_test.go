package proc

import (
	"math"
	"testing"
	"time"
)

func TestParseID(t *testing.T) {
	for _, tc := range []struct {
		name string
		id   int32
		ok   bool
	}{
		{"1", 1, true},
		{"4194304", 4194304, true},
		{"0", 0, false},
		{"01", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"1a", 0, false},
		{"", 0, false},
		{"self", 0, false},
		{"99999999999", 0, false},
	} {
		id, ok := parseID(tc.name)
		if id != tc.id || ok != tc.ok {
			t.Errorf("parseID(%q) = %d, %v; want %d, %v", tc.name, id, ok, tc.id, tc.ok)
		}
	}
	if n, ok := parseFD("0"); !ok || n != 0 {
		t.Errorf("parseFD(0) = %d, %v", n, ok)
	}
	if _, ok := parseFD("007"); ok {
		t.Errorf("parseFD(007) accepted")
	}
}

func TestMangle(t *testing.T) {
	if got := mangle(`/a b	c\d`); got != `/a\040b\011c\134d` {
		t.Errorf("mangle: got %q", got)
	}
	if got := mangle("/plain"); got != "/plain" {
		t.Errorf("mangle plain: got %q", got)
	}
	if got := escapeName("a\nb\\"); got != `a\nb\\` {
		t.Errorf("escapeName: got %q", got)
	}
}

// TestLoadAvg checks the exponential averages: a constant load converges
// to it, fastest over one minute, and nothing moves within five seconds.
func TestLoadAvg(t *testing.T) {
	start := time.Unix(1000, 0)
	l := loadAvg{last: start}
	if a := l.sample(start.Add(4*time.Second), 3); a != [3]float64{} {
		t.Errorf("before the first period: %v", a)
	}
	a := l.sample(start.Add(time.Minute), 2)
	want1 := 2 * (1 - math.Exp(-1))
	if math.Abs(a[0]-want1) > 1e-9 {
		t.Errorf("1-minute average after a minute of 2: got %f, want %f", a[0], want1)
	}
	if !(a[0] > a[1] && a[1] > a[2] && a[2] > 0) {
		t.Errorf("averages not ordered: %v", a)
	}
	a = l.sample(start.Add(24*time.Hour), 2)
	for i, v := range a {
		if math.Abs(v-2) > 1e-6 {
			t.Errorf("average %d after a day of 2: %f", i, v)
		}
	}
}

func TestNewUUID(t *testing.T) {
	a, b := newUUID(), newUUID()
	if len(a) != 36 || a[14] != '4' || a == b {
		t.Errorf("uuids %q %q: want distinct version 4 UUIDs", a, b)
	}
}

func TestCPUInfo(t *testing.T) {
	c := cpuInfo()
	if c.vendor == "" || c.family == 0 || len(c.flags) == 0 {
		t.Fatalf("cpu facts: %+v", c)
	}
	has := map[string]bool{}
	for _, f := range c.flags {
		has[f] = true
	}
	// Every x86-64 CPU has these.
	for _, f := range []string{"fpu", "sse2", "lm", "syscall", "cx8"} {
		if !has[f] {
			t.Errorf("flag %s missing from %v", f, c.flags)
		}
	}
	if c.mhz <= 0 {
		t.Errorf("cpu MHz %f", c.mhz)
	}
}
