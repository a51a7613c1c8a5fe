package fastcgi

import (
	"bufio"
	"encoding/binary"
	"io"
)

// The FastCGI 1.0 record layer (https://fastcgi-archives.github.io/FastCGI_Specification.html §3).

// Record types used by a responder client (the others, management records
// and FCGI_DATA, are never sent, and refused when received).
const (
	typeBeginRequest = 1
	typeEndRequest   = 3
	typeParams       = 4
	typeStdin        = 5
	typeStdout       = 6
	typeStderr       = 7
)

// Protocol status of FCGI_END_REQUEST.
const (
	statusRequestComplete = 0
	statusCantMpxConn     = 1
	statusOverloaded      = 2
	statusUnknownRole     = 3
)

const (
	version1      = 1
	roleResponder = 1
	flagKeepConn  = 1
	headerLen     = 8
	// maxContent is the largest record body.
	maxContent = 65535
	// chunkLen is the body size of the records we write: a multiple of 8
	// below maxContent, so full records need no padding.
	chunkLen = 65528
	// requestID is the id of our one request per connection (no
	// multiplexing).
	requestID = 1
)

// header is a decoded record header.
type header struct {
	version  uint8
	typ      uint8
	id       uint16
	length   uint16
	padding  uint8
	reserved uint8
}

// appendHeader appends a record header for a body of n bytes and returns
// the padding the body needs to reach a multiple of 8.
func appendHeader(b []byte, typ uint8, n int) ([]byte, int) {
	pad := -n & 7
	return append(b, version1, typ, 0, requestID, byte(n>>8), byte(n), byte(pad), 0), pad
}

var zeros [8]byte

// appendRecord appends one record (header, body, padding); len(body) must
// not exceed maxContent.
func appendRecord(b []byte, typ uint8, body []byte) []byte {
	b, pad := appendHeader(b, typ, len(body))
	b = append(b, body...)
	return append(b, zeros[:pad]...)
}

// appendStream appends data as a stream of records of type typ, followed
// by the empty record that closes the stream.
func appendStream(b []byte, typ uint8, data []byte) []byte {
	for len(data) > 0 {
		n := min(len(data), chunkLen)
		b = appendRecord(b, typ, data[:n])
		data = data[n:]
	}
	return appendRecord(b, typ, nil)
}

// appendBeginRequest appends FCGI_BEGIN_REQUEST for the responder role.
func appendBeginRequest(b []byte, keepConn bool) []byte {
	var flags byte
	if keepConn {
		flags = flagKeepConn
	}
	body := [8]byte{0, roleResponder, flags}
	return appendRecord(b, typeBeginRequest, body[:])
}

// readHeader reads and checks a record header: version 1 only.
func readHeader(r *bufio.Reader) (header, error) {
	b, err := r.Peek(headerLen)
	if err != nil {
		if err == io.EOF && len(b) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return header{}, err
	}
	h := header{
		version: b[0], typ: b[1], id: binary.BigEndian.Uint16(b[2:]),
		length: binary.BigEndian.Uint16(b[4:]), padding: b[6], reserved: b[7],
	}
	_, _ = r.Discard(headerLen)
	if h.version != version1 {
		return h, newError(KindProtocol, "record version %d, want 1", h.version)
	}
	return h, nil
}

// endRequest is the body of FCGI_END_REQUEST.
type endRequest struct {
	appStatus      uint32
	protocolStatus uint8
}

func parseEndRequest(b []byte) (endRequest, error) {
	if len(b) != 8 {
		return endRequest{}, newError(KindProtocol, "FCGI_END_REQUEST body of %d bytes, want 8", len(b))
	}
	return endRequest{appStatus: binary.BigEndian.Uint32(b), protocolStatus: b[4]}, nil
}
