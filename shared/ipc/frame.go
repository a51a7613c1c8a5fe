package ipc

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Frame layout, little-endian, HeaderLen bytes followed by the inline
// payload:
//
//	offset size field
//	0      4    magic "FXH1"
//	4      2    protocol version (ProtoVersion)
//	6      2    message type (MsgType, never 0)
//	8      2    flags (bit 0: payload is in a memfd; other bits must be 0)
//	10     4    sequence number (the sender's counter, starts at 1)
//	14     2    nfds: number of caller fds attached (the memfd not counted)
//	16     4    payload length in bytes
//
// Without flagMemfd the frame carries exactly "payload length" bytes after
// the header. With flagMemfd the frame carries no inline bytes and the
// payload is the content of the last attached fd, a memfd sealed against
// any change, whose size must equal the payload length.
const (
	// HeaderLen is the size of the fixed frame header.
	HeaderLen = 20
	// ProtoVersion is the wire protocol version of this binary.
	ProtoVersion = 1
	// MaxFrame is the largest frame (header and inline payload) a
	// receiver accepts; larger datagrams are truncated and rejected.
	MaxFrame = 64 << 10
	// MaxInlinePayload is the largest payload Send puts in the frame
	// itself; anything larger goes through a sealed memfd.
	MaxInlinePayload = 32 << 10
	// MaxPayload caps a payload (inline or memfd) on both sides.
	MaxPayload = 64 << 20
	// MaxFDs is the most caller fds one message may carry. The kernel
	// limit (SCM_MAX_FD) is 253; one slot is kept for the memfd.
	MaxFDs = 250

	magic     = "FXH1"
	flagMemfd = 1 << 0
	knownFlag = flagMemfd
)

// ErrProtocol is wrapped by every error Recv returns for a frame that
// violates the protocol (bad magic, version, length, flags, fd count,
// truncation, unsealed memfd). The offending frame's fds are closed; the
// channel itself stays usable, but a peer that sends such frames is
// broken and should normally be treated as failed.
var ErrProtocol = errors.New("ipc: protocol error")

// header is the decoded fixed part of a frame.
type header struct {
	typ    MsgType
	flags  uint16
	seq    uint32
	nfds   uint16
	length uint32
}

// put writes h (with magic and version) into b[:HeaderLen].
func (h header) put(b []byte) {
	_ = b[HeaderLen-1]
	copy(b[0:4], magic)
	le := binary.LittleEndian
	le.PutUint16(b[4:], ProtoVersion)
	le.PutUint16(b[6:], uint16(h.typ))
	le.PutUint16(b[8:], h.flags)
	le.PutUint32(b[10:], h.seq)
	le.PutUint16(b[14:], h.nfds)
	le.PutUint32(b[16:], h.length)
}

// parseFrame validates a received frame against the number of fds that
// came with it and returns its header and inline payload (a sub-slice of
// b). It checks magic, version, type, flags, the fd count (nfds, +1 when
// the payload is in a memfd) and the payload length.
func parseFrame(b []byte, gotFDs int) (header, []byte, error) {
	if len(b) < HeaderLen {
		return header{}, nil, protoErr("short frame: %d bytes, header is %d", len(b), HeaderLen)
	}
	if string(b[0:4]) != magic {
		return header{}, nil, protoErr("bad magic %q", b[0:4])
	}
	le := binary.LittleEndian
	if v := le.Uint16(b[4:]); v != ProtoVersion {
		return header{}, nil, protoErr("protocol version %d, want %d", v, ProtoVersion)
	}
	h := header{
		typ:    MsgType(le.Uint16(b[6:])),
		flags:  le.Uint16(b[8:]),
		seq:    le.Uint32(b[10:]),
		nfds:   le.Uint16(b[14:]),
		length: le.Uint32(b[16:]),
	}
	body := b[HeaderLen:]
	if h.typ == 0 {
		return h, nil, protoErr("message type 0")
	}
	if h.flags&^knownFlag != 0 {
		return h, nil, protoErr("unknown flags %#x", h.flags)
	}
	if int(h.nfds) > MaxFDs {
		return h, nil, protoErr("nfds %d over the limit of %d", h.nfds, MaxFDs)
	}
	want := int(h.nfds)
	if h.flags&flagMemfd != 0 {
		want++
	}
	if gotFDs != want {
		return h, nil, protoErr("%s frame announces %d fds, %d arrived", h.typ, want, gotFDs)
	}
	if h.flags&flagMemfd != 0 {
		if len(body) != 0 {
			return h, nil, protoErr("memfd frame with %d inline bytes", len(body))
		}
		if h.length > MaxPayload {
			return h, nil, protoErr("payload of %d bytes over the limit of %d", h.length, MaxPayload)
		}
		return h, nil, nil
	}
	if uint64(h.length) != uint64(len(body)) {
		return h, nil, protoErr("%s frame announces %d payload bytes, carries %d", h.typ, h.length, len(body))
	}
	return h, body, nil
}

func protoErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, args...))
}
