package arch

import "encoding/binary"

// SignalInfoSize is the size of siginfo_t.
const SignalInfoSize = 128

// Offsets of siginfo_t's union members (x86-64). The union starts at 16,
// after si_signo, si_errno, si_code and 4 bytes of padding.
const (
	siOffPID      = 16 // _kill, _rt, _sigchld: si_pid
	siOffUID      = 20 // _kill, _rt, _sigchld: si_uid
	siOffTimerID  = 16 // _timer: si_tid
	siOffOverrun  = 20 // _timer: si_overrun
	siOffValue    = 24 // _rt, _timer: si_value
	siOffStatus   = 24 // _sigchld: si_status
	siOffUtime    = 32 // _sigchld: si_utime
	siOffStime    = 40 // _sigchld: si_stime
	siOffAddr     = 16 // _sigfault: si_addr
	siOffAddrLSB  = 24 // _sigfault: si_addr_lsb (BUS_MCEERR_*)
	siOffLower    = 32 // _sigfault: _addr_bnd._lower (SEGV_BNDERR)
	siOffUpper    = 40 // _sigfault: _addr_bnd._upper
	siOffPkey     = 32 // _sigfault: _addr_pkey (SEGV_PKUERR)
	siOffBand     = 16 // _sigpoll: si_band
	siOffFD       = 24 // _sigpoll: si_fd
	siOffCallAddr = 16 // _sigsys: _call_addr
	siOffSyscall  = 24 // _sigsys: _syscall
	siOffArch     = 28 // _sigsys: _arch

	// siOffFields is where SignalInfo.fields starts: the padding after
	// si_code, then the union.
	siOffFields = 12
	// kernelSiginfoSize is how much of siginfo_t Linux keeps (struct
	// kernel_siginfo); the rest is always zero when Linux writes one.
	kernelSiginfoSize = 48
)

// SignalInfo is siginfo_t: the three fixed fields, and the union that
// follows them kept as raw bytes with accessors for each member. The zero
// value is a siginfo with every field zero, as Linux clears one before
// filling it.
type SignalInfo struct {
	Signo int32
	Errno int32
	Code  int32

	// fields is bytes 12-127 of siginfo_t: padding, then the union.
	fields [SignalInfoSize - siOffFields]byte
}

func (s *SignalInfo) u32(off int) uint32 {
	return binary.LittleEndian.Uint32(s.fields[off-siOffFields:])
}

func (s *SignalInfo) setU32(off int, v uint32) {
	binary.LittleEndian.PutUint32(s.fields[off-siOffFields:], v)
}

func (s *SignalInfo) u64(off int) uint64 {
	return binary.LittleEndian.Uint64(s.fields[off-siOffFields:])
}

func (s *SignalInfo) setU64(off int, v uint64) {
	binary.LittleEndian.PutUint64(s.fields[off-siOffFields:], v)
}

// PID returns si_pid.
func (s *SignalInfo) PID() int32 { return int32(s.u32(siOffPID)) }

// SetPID sets si_pid (kill, sigqueue, SIGCHLD).
func (s *SignalInfo) SetPID(pid int32) { s.setU32(siOffPID, uint32(pid)) }

// UID returns si_uid.
func (s *SignalInfo) UID() uint32 { return s.u32(siOffUID) }

// SetUID sets si_uid (kill, sigqueue, SIGCHLD).
func (s *SignalInfo) SetUID(uid uint32) { s.setU32(siOffUID, uid) }

// Addr returns si_addr.
func (s *SignalInfo) Addr() uint64 { return s.u64(siOffAddr) }

// SetAddr sets si_addr: the faulting address of SIGSEGV, SIGBUS, SIGILL,
// SIGFPE and SIGTRAP.
func (s *SignalInfo) SetAddr(addr uint64) { s.setU64(siOffAddr, addr) }

// AddrLSB returns si_addr_lsb.
func (s *SignalInfo) AddrLSB() int16 {
	return int16(binary.LittleEndian.Uint16(s.fields[siOffAddrLSB-siOffFields:]))
}

// SetAddrLSB sets si_addr_lsb (SIGBUS with BUS_MCEERR_AR/AO).
func (s *SignalInfo) SetAddrLSB(lsb int16) {
	binary.LittleEndian.PutUint16(s.fields[siOffAddrLSB-siOffFields:], uint16(lsb))
}

// SetBounds sets _addr_bnd (SIGSEGV with SEGV_BNDERR).
func (s *SignalInfo) SetBounds(lower, upper uint64) {
	s.setU64(siOffLower, lower)
	s.setU64(siOffUpper, upper)
}

// Pkey returns _addr_pkey.
func (s *SignalInfo) Pkey() uint32 { return s.u32(siOffPkey) }

// SetPkey sets _addr_pkey (SIGSEGV with SEGV_PKUERR).
func (s *SignalInfo) SetPkey(pkey uint32) { s.setU32(siOffPkey, pkey) }

// Status returns si_status.
func (s *SignalInfo) Status() int32 { return int32(s.u32(siOffStatus)) }

// SetStatus sets si_status (SIGCHLD: exit code or signal number).
func (s *SignalInfo) SetStatus(status int32) { s.setU32(siOffStatus, uint32(status)) }

// Utime returns si_utime.
func (s *SignalInfo) Utime() int64 { return int64(s.u64(siOffUtime)) }

// SetUtime sets si_utime (SIGCHLD), in clock ticks.
func (s *SignalInfo) SetUtime(t int64) { s.setU64(siOffUtime, uint64(t)) }

// Stime returns si_stime.
func (s *SignalInfo) Stime() int64 { return int64(s.u64(siOffStime)) }

// SetStime sets si_stime (SIGCHLD), in clock ticks.
func (s *SignalInfo) SetStime(t int64) { s.setU64(siOffStime, uint64(t)) }

// Value returns si_value (both of the union sigval's members, as one
// 64-bit word).
func (s *SignalInfo) Value() uint64 { return s.u64(siOffValue) }

// SetValue sets si_value (sigqueue, POSIX timers, mq_notify).
func (s *SignalInfo) SetValue(v uint64) { s.setU64(siOffValue, v) }

// TimerID returns si_timerid.
func (s *SignalInfo) TimerID() int32 { return int32(s.u32(siOffTimerID)) }

// SetTimerID sets si_timerid (SI_TIMER).
func (s *SignalInfo) SetTimerID(id int32) { s.setU32(siOffTimerID, uint32(id)) }

// Overrun returns si_overrun.
func (s *SignalInfo) Overrun() int32 { return int32(s.u32(siOffOverrun)) }

// SetOverrun sets si_overrun (SI_TIMER).
func (s *SignalInfo) SetOverrun(n int32) { s.setU32(siOffOverrun, uint32(n)) }

// Band returns si_band.
func (s *SignalInfo) Band() int64 { return int64(s.u64(siOffBand)) }

// SetBand sets si_band (SIGPOLL/SIGIO).
func (s *SignalInfo) SetBand(band int64) { s.setU64(siOffBand, uint64(band)) }

// FD returns si_fd.
func (s *SignalInfo) FD() int32 { return int32(s.u32(siOffFD)) }

// SetFD sets si_fd (SIGPOLL/SIGIO).
func (s *SignalInfo) SetFD(fd int32) { s.setU32(siOffFD, uint32(fd)) }

// SetSyscall sets the SIGSYS members: the address of the system call
// instruction, the call's number and its audit architecture.
func (s *SignalInfo) SetSyscall(callAddr uint64, nr int32, arch uint32) {
	s.setU64(siOffCallAddr, callAddr)
	s.setU32(siOffSyscall, uint32(nr))
	s.setU32(siOffArch, arch)
}

// Syscall returns the SIGSYS members set by SetSyscall.
func (s *SignalInfo) Syscall() (callAddr uint64, nr int32, arch uint32) {
	return s.u64(siOffCallAddr), int32(s.u32(siOffSyscall)), s.u32(siOffArch)
}

// MarshalTo writes s as siginfo_t into b, which must hold SignalInfoSize
// bytes.
func (s *SignalInfo) MarshalTo(b []byte) {
	_ = b[SignalInfoSize-1]
	binary.LittleEndian.PutUint32(b[0:], uint32(s.Signo))
	binary.LittleEndian.PutUint32(b[4:], uint32(s.Errno))
	binary.LittleEndian.PutUint32(b[8:], uint32(s.Code))
	copy(b[siOffFields:], s.fields[:])
}

// Marshal returns s as siginfo_t.
func (s *SignalInfo) Marshal() [SignalInfoSize]byte {
	var b [SignalInfoSize]byte
	s.MarshalTo(b[:])
	return b
}

// Unmarshal sets s from a siginfo_t in b (for rt_sigqueueinfo and
// friends, which take one from the application). All 128 bytes are kept;
// Linux keeps only the first 48, so a caller that takes a siginfo from an
// application checks the rest as Linux does (ExpansionZero) and then calls
// ClearExpansion.
func (s *SignalInfo) Unmarshal(b []byte) {
	_ = b[SignalInfoSize-1]
	s.Signo = int32(binary.LittleEndian.Uint32(b[0:]))
	s.Errno = int32(binary.LittleEndian.Uint32(b[4:]))
	s.Code = int32(binary.LittleEndian.Uint32(b[8:]))
	copy(s.fields[:], b[siOffFields:SignalInfoSize])
}

// ExpansionZero reports whether bytes 48-127 of the siginfo, which Linux's
// struct kernel_siginfo does not hold, are zero.
func (s *SignalInfo) ExpansionZero() bool {
	for _, b := range s.fields[kernelSiginfoSize-siOffFields:] {
		if b != 0 {
			return false
		}
	}
	return true
}

// ClearExpansion zeroes bytes 48-127, as Linux does when it copies a
// siginfo in from an application.
func (s *SignalInfo) ClearExpansion() {
	clear(s.fields[kernelSiginfoSize-siOffFields:])
}
