package tmpfs

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseOptions reads tmpfs's own mount options from opts (as an OCI
// mount's options or mount(2)'s data list them): size (bytes, with an
// optional k, m, g, t, p or e suffix), nr_inodes (with the same
// suffixes), mode (octal), uid and gid. It returns the options it didn't
// recognise, such as the generic nosuid, nodev or ro, for the caller.
// size and nr_inodes given as a percentage of memory are not supported.
func ParseOptions(opts []string) (Options, []string, error) {
	var o Options
	var rest []string
	for _, opt := range opts {
		key, val, hasVal := strings.Cut(opt, "=")
		var err error
		switch key {
		case "size":
			o.Size, err = parseSize(val)
		case "nr_inodes":
			o.NrInodes, err = parseSize(val)
		case "mode":
			var m uint64
			m, err = strconv.ParseUint(val, 8, 32)
			if err == nil && m&^0o7777 != 0 {
				err = fmt.Errorf("bad mode")
			}
			o.Mode, o.ModeSet = uint32(m), true
		case "uid", "gid":
			var id uint64
			id, err = strconv.ParseUint(val, 10, 32)
			if key == "uid" {
				o.UID = uint32(id)
			} else {
				o.GID = uint32(id)
			}
		default:
			rest = append(rest, opt)
			continue
		}
		if !hasVal || err != nil {
			return Options{}, nil, fmt.Errorf("tmpfs: bad value for %q", opt)
		}
	}
	return o, rest, nil
}

// parseSize reads a number with an optional binary suffix.
func parseSize(s string) (uint64, error) {
	shift := 0
	if n := len(s); n > 0 {
		if k := strings.IndexByte("kmgtpe", s[n-1]|0x20); k >= 0 {
			shift = 10 * (k + 1)
			s = s[:n-1]
		}
	}
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return 0, err
	}
	if shift > 0 && v > (1<<64-1)>>shift {
		return 0, fmt.Errorf("too large")
	}
	return v << shift, nil
}
