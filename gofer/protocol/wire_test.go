package protocol

import (
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

var testAttr = Attr{
	Mode: unix.S_IFREG | 0o644, UID: 1000, GID: 100, Nlink: 2, Size: 1 << 40,
	Blocks: 8, Blksize: 4096, Ino: 1<<63 + 5, Dev: 0x803, Rdev: 0,
	Atime: Timespec{Sec: 1, Nsec: 2}, Mtime: Timespec{Sec: -3, Nsec: 4},
	Ctime: Timespec{Sec: 1 << 40, Nsec: 999999999},
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, m := range []Message{
		&Rerror{Errno: unix.ENOENT},
		&Tattach{},
		&Rattach{FID: 1, Attr: testAttr},
		&Twalk{Dir: 7, Name: "usr"},
		&Twalk{Dir: 7, Name: "ünïcode name with spaces"},
		&Rwalk{FID: 1<<64 - 1, Attr: testAttr},
		&Tstat{FID: 3},
		&Rstat{Attr: testAttr},
		&Topen{FID: 3, Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NONBLOCK},
		&Ropen{},
		&Treaddir{Dir: 9, Offset: 1<<63 - 1},
		&Rreaddir{Entries: []Dirent{
			{Name: "a", Ino: 1, Type: unix.DT_REG},
			{Name: strings.Repeat("x", 255), Ino: 2, Type: unix.DT_DIR},
		}, Next: 42, EOF: true},
		&Rreaddir{Entries: []Dirent{}, Next: 0, EOF: false},
		&Treadlink{FID: 4},
		&Rreadlink{Target: "../../etc"},
		&Rreadlink{Target: ""},
		&Tstatfs{FID: 5},
		&Rstatfs{Statfs: Statfs{Type: 0xef53, Bsize: 4096, Blocks: 1, Bfree: 2, Bavail: 3, Files: 4, Ffree: 5, Namelen: 255, Frsize: 4096}},
		&Tclunk{FID: 6},
		&Rclunk{},
		&Trevalidate{Dir: 7, Name: "file", Dev: 0x803, Ino: 1<<63 + 5},
		&Trevalidate{Dir: 1},
		&Rrevalidate{FID: 0, Attr: testAttr},
		&Rrevalidate{FID: 9, Attr: testAttr},
	} {
		t.Run(reflect.TypeOf(m).Elem().Name(), func(t *testing.T) {
			b, err := Marshal([]byte("prefix"), 77, m)
			if err != nil {
				t.Fatalf("Marshal: got %v, want nil", err)
			}
			if got, want := string(b[:6]), "prefix"; got != want {
				t.Fatalf("Marshal dropped dst: got %q, want %q", got, want)
			}
			h, payload, err := ParseHeader(b[6:])
			if err != nil {
				t.Fatalf("ParseHeader: got %v, want nil", err)
			}
			if want := (Header{Type: m.Type(), Tag: 77}); h != want {
				t.Errorf("header: got %+v, want %+v", h, want)
			}
			got := reflect.New(reflect.TypeOf(m).Elem()).Interface().(Message)
			if err := Unmarshal(payload, got); err != nil {
				t.Fatalf("Unmarshal: got %v, want nil", err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Errorf("round trip: got %+v, want %+v", got, m)
			}
		})
	}
}

// header returns a message header.
func header(typ MsgType, flags uint16, tag uint32) []byte {
	b := binary.LittleEndian.AppendUint16(nil, uint16(typ))
	b = binary.LittleEndian.AppendUint16(b, flags)
	return binary.LittleEndian.AppendUint32(b, tag)
}

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func TestDecodeRequest(t *testing.T) {
	for _, tc := range []struct {
		name    string
		msg     []byte
		wantErr error
		wantTag uint32
		want    Message
	}{
		{"empty", nil, unix.EINVAL, 0, nil},
		{"short header", []byte{2, 0, 0}, unix.EINVAL, 0, nil},
		{"reserved flags", header(MsgTattach, 1, 5), unix.EINVAL, 5, nil},
		{"unknown type", header(200, 0, 6), unix.ENOSYS, 6, nil},
		{"response type", cat(header(MsgRwalk, 0, 7), le64(1)), unix.ENOSYS, 7, nil},
		{"Rerror as request", cat(header(MsgRerror, 0, 7), le32(2)), unix.ENOSYS, 7, nil},
		{"attach", header(MsgTattach, 0, 8), nil, 8, &Tattach{}},
		{"attach trailing", cat(header(MsgTattach, 0, 8), []byte{0}), unix.EINVAL, 8, nil},
		{"walk", cat(header(MsgTwalk, 0, 9), le64(3), le32(3), []byte("bin")), nil, 9, &Twalk{Dir: 3, Name: "bin"}},
		{"walk fid 0 decodes", cat(header(MsgTwalk, 0, 9), le64(0), le32(1), []byte("x")), nil, 9, &Twalk{Dir: 0, Name: "x"}},
		{"walk truncated fid", cat(header(MsgTwalk, 0, 10), le32(3)), unix.EINVAL, 10, nil},
		{"walk no name", cat(header(MsgTwalk, 0, 10), le64(3)), unix.EINVAL, 10, nil},
		{"walk name too long", cat(header(MsgTwalk, 0, 11), le64(3), le32(4), []byte("bin")), unix.EINVAL, 11, nil},
		{"walk huge name length", cat(header(MsgTwalk, 0, 11), le64(3), le32(1<<32-1), []byte("bin")), unix.EINVAL, 11, nil},
		{"walk trailing", cat(header(MsgTwalk, 0, 12), le64(3), le32(1), []byte("ab")), unix.EINVAL, 12, nil},
		{"open", cat(header(MsgTopen, 0, 13), le64(3), le32(unix.O_DIRECTORY)), nil, 13, &Topen{FID: 3, Flags: unix.O_DIRECTORY}},
		{"open no flags", cat(header(MsgTopen, 0, 13), le64(3)), unix.EINVAL, 13, nil},
		{"clunk trailing", cat(header(MsgTclunk, 0, 14), le64(3), []byte{0}), unix.EINVAL, 14, nil},
		{"readdir", cat(header(MsgTreaddir, 0, 15), le64(3), le64(99)), nil, 15, &Treaddir{Dir: 3, Offset: 99}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, m, err := DecodeRequest(tc.msg)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("DecodeRequest: got error %v, want %v", err, tc.wantErr)
			}
			if h.Tag != tc.wantTag {
				t.Errorf("tag: got %d, want %d", h.Tag, tc.wantTag)
			}
			if !reflect.DeepEqual(m, tc.want) {
				t.Errorf("message: got %#v, want %#v", m, tc.want)
			}
		})
	}
}

func TestUnmarshalRejects(t *testing.T) {
	okAttr := func() []byte {
		b, _ := Marshal(nil, 0, &Rstat{Attr: testAttr})
		return b[HeaderSize:]
	}()
	for _, tc := range []struct {
		name    string
		payload []byte
		m       Message
	}{
		{"Rerror errno 0", le32(0), &Rerror{}},
		{"Rerror short", []byte{2, 0}, &Rerror{}},
		{"Rwalk fid 0", cat(le64(0), okAttr), &Rwalk{}},
		{"Rattach fid 0", cat(le64(0), okAttr), &Rattach{}},
		{"Rwalk short attr", cat(le64(1), okAttr[:len(okAttr)-1]), &Rwalk{}},
		{"Rreaddir huge count", cat(le32(1<<31), le64(0), []byte{1}), &Rreaddir{}},
		{"Rreaddir bad bool", cat(le32(0), le64(0), []byte{2}), &Rreaddir{}},
		{"Rreaddir missing entry", cat(le32(1), le64(0), []byte{1}), &Rreaddir{}},
		{"Rstatfs short", le64(1), &Rstatfs{}},
		{"Ropen trailing", []byte{0}, &Ropen{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Unmarshal(tc.payload, tc.m); err != unix.EINVAL {
				t.Errorf("Unmarshal: got %v, want EINVAL", err)
			}
		})
	}
}

func TestMarshalTooLarge(t *testing.T) {
	dst := []byte("keep")
	got, err := Marshal(dst, 1, &Twalk{Dir: 1, Name: strings.Repeat("a", MaxMessageSize)})
	if err != unix.EMSGSIZE {
		t.Errorf("Marshal: got error %v, want EMSGSIZE", err)
	}
	if string(got) != "keep" {
		t.Errorf("Marshal on error: got %q, want dst unchanged %q", got, "keep")
	}
	if _, err := Marshal(nil, 1, &Rreadlink{Target: strings.Repeat("a", MaxMessageSize-HeaderSize-4)}); err != nil {
		t.Errorf("Marshal of exactly MaxMessageSize: got %v, want nil", err)
	}
}

func TestReaddirSpace(t *testing.T) {
	// Entries filling ReaddirSpace exactly must make a MaxMessageSize message.
	name := strings.Repeat("n", 100)
	var r Rreaddir
	used := 0
	for used+DirentSize(name) <= ReaddirSpace {
		r.Entries = append(r.Entries, Dirent{Name: name})
		used += DirentSize(name)
	}
	last := strings.Repeat("m", ReaddirSpace-used-direntFixed)
	r.Entries = append(r.Entries, Dirent{Name: last})
	b, err := Marshal(nil, 1, &r)
	if err != nil {
		t.Fatalf("Marshal: got %v, want nil", err)
	}
	if len(b) != MaxMessageSize {
		t.Errorf("message size: got %d, want %d", len(b), MaxMessageSize)
	}
}
