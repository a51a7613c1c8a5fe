package fastcgi

import (
	"bytes"
	"net/http"
	"net/textproto"
	"sync"
)

// Response is a complete CGI response (RFC 3875 §6): the whole stdout
// stream was read up to FCGI_END_REQUEST and its header section parsed.
// Call Release when done with Body.
type Response struct {
	// Status is the Status header's code; 302 for a Location without
	// Status; else 200.
	Status int
	// Header holds the other header fields, names canonicalised, in
	// arrival order per name. Status is removed.
	Header http.Header
	// Body is the stdout stream after the header section. It aliases a
	// pooled buffer: do not use it after Release.
	Body []byte
	// Stderr holds the first StderrMaxBytes bytes the application wrote to
	// stderr; StderrBytes counts all of them.
	Stderr      []byte
	StderrBytes int64
	// AppStatus is FCGI_END_REQUEST's application status (the script's
	// exit status).
	AppStatus uint32
	// Addr is the application address that answered; Attempts counts the
	// exchanges tried (1 + retries + failovers).
	Addr     string
	Attempts int

	out *bytes.Buffer
}

// Release returns the body buffer to the pool. Idempotent.
func (r *Response) Release() {
	if r.out != nil {
		putBuffer(r.out)
		r.out, r.Body = nil, nil
	}
}

// maxPooledBuffer is the largest buffer kept for reuse.
const maxPooledBuffer = 1 << 20

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer { return bufPool.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuffer {
		b.Reset()
		bufPool.Put(b)
	}
}

// headerEnd returns the length of the header section of out including its
// terminating blank line ("\n\n" or "\n\r\n"), searching from from, or -1.
// A header section that is empty (stdout starting with a blank line) is
// found at 1 or 2.
func headerEnd(out []byte, from int) int {
	if from < 0 {
		from = 0
	}
	for i := from; i < len(out); i++ {
		if out[i] != '\n' {
			continue
		}
		switch {
		case i == 0:
			return 1
		case i == 1 && out[0] == '\r':
			return 2
		case out[i-1] == '\n':
			return i + 1
		case out[i-1] == '\r' && i >= 2 && out[i-2] == '\n':
			return i + 1
		}
	}
	return -1
}

// parseHeader parses a CGI header section (including its blank line)
// strictly: every line is "Name: value" with an RFC 9110 token name; CR is
// allowed only right before LF; obs-fold, NUL and other control bytes
// (except HTAB in values) are refused; Status must be three digits
// (200..599) optionally followed by a reason, at most once.
func parseHeader(block []byte) (int, http.Header, error) {
	h := make(http.Header, 8)
	status := 0
	for len(block) > 0 {
		i := bytes.IndexByte(block, '\n')
		line := block[:i]
		block = block[i+1:]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) == 0 {
			break // the blank line ending the section
		}
		if line[0] == ' ' || line[0] == '\t' {
			return 0, nil, newError(KindInvalidResponse, "obsolete line folding in header section")
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			return 0, nil, newError(KindInvalidResponse, "malformed header line %q", truncate(line))
		}
		value := trimOWS(line[colon+1:])
		if !validValue(value) {
			return 0, nil, newError(KindInvalidResponse, "control byte in header %q", truncate(line[:colon]))
		}
		name := textproto.CanonicalMIMEHeaderKey(string(line[:colon]))
		if name == "Status" {
			if status != 0 {
				return 0, nil, newError(KindInvalidResponse, "duplicate Status header")
			}
			s, ok := parseStatus(value)
			if !ok {
				return 0, nil, newError(KindInvalidResponse, "invalid Status %q", truncate(value))
			}
			status = s
			continue
		}
		h[name] = append(h[name], string(value))
	}
	if status == 0 && len(h) == 0 {
		return 0, nil, newError(KindInvalidResponse, "empty header section")
	}
	if status == 0 {
		status = http.StatusOK
		if _, ok := h["Location"]; ok {
			status = http.StatusFound
		}
	}
	return status, h, nil
}

// parseStatus accepts "DDD" or "DDD reason" with DDD in 200..599.
func parseStatus(v []byte) (int, bool) {
	if len(v) < 3 || (len(v) > 3 && v[3] != ' ') {
		return 0, false
	}
	n := 0
	for _, c := range v[:3] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n >= 200 && n <= 599
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// validValue refuses control bytes other than HTAB, and DEL.
func validValue(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func isToken(b []byte) bool {
	for _, c := range b {
		if !tokenChar[c] {
			return false
		}
	}
	return len(b) > 0
}

var tokenChar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// truncate shortens b for error messages.
func truncate(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}
