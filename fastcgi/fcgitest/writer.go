package fcgitest

import (
	"encoding/binary"
	"net"
)

// Writer sends response records for one request. Write errors are
// ignored (tests look at what the client saw).
type Writer struct {
	c      net.Conn
	id     uint16
	ended  bool
	closed bool
}

// Record sends one record of type typ with request id id (any values:
// tests use it to break the protocol). len(content) must be ≤ 65535.
func (w *Writer) Record(typ uint8, id uint16, content []byte) {
	pad := -len(content) & 7
	b := make([]byte, 8, 8+len(content)+pad)
	b[0], b[1] = 1, typ
	binary.BigEndian.PutUint16(b[2:], id)
	binary.BigEndian.PutUint16(b[4:], uint16(len(content)))
	b[6] = byte(pad)
	b = append(b, content...)
	b = append(b, make([]byte, pad)...)
	_, _ = w.c.Write(b)
}

func (w *Writer) stream(typ uint8, data []byte) {
	for len(data) > 0 {
		n := min(len(data), 65535)
		w.Record(typ, w.id, data[:n])
		data = data[n:]
	}
}

// Stdout sends data on FCGI_STDOUT (split into full records).
func (w *Writer) Stdout(data []byte) { w.stream(6, data) }

// Stderr sends data on FCGI_STDERR.
func (w *Writer) Stderr(data []byte) { w.stream(7, data) }

// End closes stdout (an empty record) and sends FCGI_END_REQUEST.
func (w *Writer) End(appStatus uint32, protocolStatus uint8) {
	w.Record(6, w.id, nil)
	var b [8]byte
	binary.BigEndian.PutUint32(b[:], appStatus)
	b[4] = protocolStatus
	w.Record(3, w.id, b[:])
	w.ended = true
}

// Raw writes bytes as they are.
func (w *Writer) Raw(b []byte) { _, _ = w.c.Write(b) }

// Close closes the connection without FCGI_END_REQUEST.
func (w *Writer) Close() {
	_ = w.c.Close()
	w.closed = true
}

// Respond is a handler answering every request with the given CGI output
// (headers, blank line, body).
func Respond(output string) Handler {
	return func(w *Writer, _ *Request) { w.Stdout([]byte(output)) }
}
