package protocol

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestWriteMessagesRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		m     Message
		empty func() Message
	}{
		{&Rattach{FID: 1, Attr: testAttr, Writable: true}, nil},
		{&Tcreate{Dir: 1, Name: "new", Flags: unix.O_RDWR, Mode: 0o644, UID: 1000, GID: 100}, nil},
		{&Rcreate{FID: 2, Attr: testAttr}, nil},
		{&Tmkdir{Dir: 1, Name: "d", Mode: 0o2755, UID: 1, GID: 2}, nil},
		{NewRnode(MsgTmkdir, 3, testAttr), func() Message { return &Rnode{typ: MsgRmkdir} }},
		{&Tmknod{Dir: 1, Name: "null", Mode: unix.S_IFCHR | 0o666, Rdev: unix.Mkdev(1, 3), UID: 3, GID: 4}, nil},
		{NewRnode(MsgTmknod, 4, testAttr), func() Message { return &Rnode{typ: MsgRmknod} }},
		{&Tsymlink{Dir: 1, Name: "l", Target: "../../etc/passwd", UID: 5, GID: 6}, nil},
		{NewRnode(MsgTsymlink, 5, testAttr), func() Message { return &Rnode{typ: MsgRsymlink} }},
		{&Tlink{Dir: 1, Name: "h", Target: 9}, nil},
		{NewRnode(MsgTlink, 6, testAttr), func() Message { return &Rnode{typ: MsgRlink} }},
		{&Tunlink{Dir: 1, Name: "x", Flags: unix.AT_REMOVEDIR}, nil},
		{NewRempty(MsgTunlink), func() Message { return &Rempty{typ: MsgRunlink} }},
		{&Trename{OldDir: 1, OldName: "a", NewDir: 2, NewName: "b", Flags: unix.RENAME_EXCHANGE}, nil},
		{NewRempty(MsgTrename), func() Message { return &Rempty{typ: MsgRrename} }},
		{&Tsetattr{FID: 7, Mask: SetattrMode | SetattrSize | SetattrAtime | SetattrMtime, Mode: 0o4755, Size: 1 << 40,
			Atime: Timespec{Sec: 1, Nsec: UtimeNow}, Mtime: Timespec{Nsec: UtimeOmit}}, nil},
		{&Rsetattr{Attr: testAttr}, nil},
		{&Tfsync{FID: 8}, nil},
		{&Tgetxattr{FID: 8, Name: "user.a", Size: 10}, nil},
		{&Rgetxattr{Value: "v\x00binary"}, nil},
		{&Tsetxattr{FID: 8, Name: "user.a", Value: strings.Repeat("v", 1000), Flags: unix.XATTR_CREATE}, nil},
		{&Tlistxattr{FID: 8, Size: 100}, nil},
		{&Rlistxattr{Names: []string{"user.a", "user.b"}}, nil},
		{&Rlistxattr{Names: []string{}}, nil},
		{&Tremovexattr{FID: 8, Name: "user.a"}, nil},
	} {
		t.Run(reflect.TypeOf(tc.m).Elem().Name(), func(t *testing.T) {
			b, err := Marshal(nil, 5, tc.m)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			h, payload, err := ParseHeader(b)
			if err != nil || h.Type != tc.m.Type() {
				t.Fatalf("ParseHeader: got %+v, %v; want type %d", h, err, tc.m.Type())
			}
			var got Message
			if tc.empty != nil {
				got = tc.empty()
			} else {
				got = reflect.New(reflect.TypeOf(tc.m).Elem()).Interface().(Message)
			}
			if err := Unmarshal(payload, got); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !reflect.DeepEqual(got, tc.m) {
				t.Errorf("round trip: got %+v, want %+v", got, tc.m)
			}
			if h.Type%2 == 0 {
				// Requests decode as requests.
				if _, m, err := DecodeRequest(b); err != nil || !reflect.DeepEqual(m, tc.m) {
					t.Errorf("DecodeRequest: got %+v, %v", m, err)
				}
			}
		})
	}
}

func TestWriteMessagesReject(t *testing.T) {
	// Unknown Tsetattr mask bits, and a list longer than its payload.
	b, _ := Marshal(nil, 1, &Tsetattr{FID: 1, Mask: 1 << 10})
	if _, _, err := DecodeRequest(b); err != unix.EINVAL {
		t.Errorf("Tsetattr with unknown mask bits: got %v, want EINVAL", err)
	}
	var r Rlistxattr
	if err := Unmarshal([]byte{0xff, 0xff, 0xff, 0x0f}, &r); err != unix.EINVAL {
		t.Errorf("Rlistxattr with a huge count: got %v, want EINVAL", err)
	}
	// A new-FID response with FID 0 is malformed.
	b, _ = Marshal(nil, 1, &Rcreate{FID: 0})
	_, payload, _ := ParseHeader(b)
	if err := Unmarshal(payload, &Rcreate{}); err != unix.EINVAL {
		t.Errorf("Rcreate with FID 0: got %v, want EINVAL", err)
	}
}
