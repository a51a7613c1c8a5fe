package accesslog

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Entry builds one JSON object in a reusable buffer. Field order is the
// call order. The zero Entry is ready; Reset reuses it.
type Entry struct {
	buf   []byte
	first bool
}

// Begin starts an object.
func (e *Entry) Begin() {
	e.buf = append(e.buf[:0], '{')
	e.first = true
}

func (e *Entry) key(k string) {
	if !e.first {
		e.buf = append(e.buf, ',')
	}
	e.first = false
	e.buf = append(e.buf, '"')
	e.buf = append(e.buf, k...)
	e.buf = append(e.buf, '"', ':')
}

// Str adds a string field.
func (e *Entry) Str(k, v string) {
	e.key(k)
	e.buf = AppendString(e.buf, v)
}

// Int adds an integer field.
func (e *Entry) Int(k string, v int64) {
	e.key(k)
	e.buf = strconv.AppendInt(e.buf, v, 10)
}

// Float adds a number with 3 decimals.
func (e *Entry) Float(k string, v float64) {
	e.key(k)
	e.buf = strconv.AppendFloat(e.buf, v, 'f', 3, 64)
}

// Time adds an RFC 3339 timestamp with milliseconds, UTC.
func (e *Entry) Time(k string, t time.Time) {
	e.key(k)
	e.buf = append(e.buf, '"')
	e.buf = t.UTC().AppendFormat(e.buf, "2006-01-02T15:04:05.000Z07:00")
	e.buf = append(e.buf, '"')
}

// End closes the object and the line; the bytes stay valid until the
// next Begin.
func (e *Entry) End() []byte {
	e.buf = append(e.buf, '}', '\n')
	return e.buf
}

const hex = "0123456789abcdef"

// AppendString appends s as a JSON string: control characters escaped,
// invalid UTF-8 replaced by U+FFFD, '<', '>' and '&' left as they are.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
