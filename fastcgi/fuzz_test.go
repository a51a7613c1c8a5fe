package fastcgi

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzReadResponse feeds arbitrary bytes to the record reader: it must
// never panic, and an accepted response must respect every bound.
func FuzzReadResponse(f *testing.F) {
	rec := func(typ uint8, id byte, body string) []byte {
		b, pad := appendHeader(nil, typ, len(body))
		b[3] = id
		return append(append(b, body...), make([]byte, pad)...)
	}
	ok := append(append(rec(typeStdout, 1, "Status: 200\r\nX-A: b\r\n\r\nbody"), rec(typeStdout, 1, "")...), rec(typeEndRequest, 1, "\x00\x00\x00\x00\x00\x00\x00\x00")...)
	f.Add(ok)
	f.Add(append(rec(typeStderr, 1, "PHP Fatal error"), ok...))
	f.Add(rec(typeStdout, 1, "X-A: a\rb\r\n\r\n"))
	f.Add([]byte{1, 6, 0, 1, 0xff, 0xff, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := &limits{maxHeader: 256, maxBody: 1024, stderrKeep: 16, stderrLimit: 512, patterns: [][]byte{[]byte("Fatal")}}
		c := &conn{br: bufio.NewReaderSize(bytes.NewReader(data), readBufSize)}
		r := reader{c: c, lim: lim, stderr: newStderrSink(lim.stderrKeep, lim.stderrLimit, lim.patterns)}
		resp, err := r.read()
		if err != nil {
			return
		}
		if len(resp.Body) > 1024 || r.hdrLen > 256 || len(resp.Stderr) > 16 || resp.StderrBytes > 512 {
			t.Fatalf("bounds broken: body %d header %d stderr %d/%d", len(resp.Body), r.hdrLen, len(resp.Stderr), resp.StderrBytes)
		}
		if resp.Status < 200 || resp.Status > 599 {
			t.Fatalf("status %d", resp.Status)
		}
		for name, vs := range resp.Header {
			for _, v := range vs {
				if !validValue([]byte(v)) || !isToken([]byte(name)) {
					t.Fatalf("accepted header %q: %q", name, v)
				}
			}
		}
	})
}

// FuzzParseHeader: parseHeader never panics and never accepts control
// bytes in names or values.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte("Status: 404 Not Found\r\nContent-Type: text/html\r\n\r\n"))
	f.Add([]byte("X: \x0b\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		end := headerEnd(b, 0)
		if end < 0 {
			return
		}
		_, h, err := parseHeader(b[:end])
		if err != nil {
			return
		}
		for name, vs := range h {
			for _, v := range vs {
				if !validValue([]byte(v)) || !isToken([]byte(name)) {
					t.Fatalf("accepted header %q: %q", name, v)
				}
			}
		}
	})
}
