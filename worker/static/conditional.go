package static

import (
	"net/http"
)

// Conditional requests (RFC 9110 §13.2.2), evaluated in the RFC's order:
//
//  1. If-Match (strong comparison, "*" matches) fails → 412;
//     else if there is no If-Match, If-Unmodified-Since with a valid date
//     older than Last-Modified → 412.
//  2. If-None-Match (weak comparison) matches → 304 (GET/HEAD only are
//     served here); else if there is no If-None-Match, If-Modified-Since
//     with a valid date not older than Last-Modified → 304.
//  3. If-Range (with Range, GET): an entity-tag must match strongly, a date
//     must equal Last-Modified; otherwise the Range is ignored (200 full).
//
// Dates are compared at one-second resolution (HTTP-date). An invalid date
// makes its header ignored; an empty field is treated as absent. Exact
// string matches against the pre-built ETag/Last-Modified values short-cut
// parsing: it is the common browser revalidation.

type condResult uint8

const (
	condNone condResult = iota
	condNotModified
	condPreconditionFailed
)

// evalPreconditions applies steps 1 and 2 for one representation.
func evalPreconditions(h http.Header, rep *rep) condResult {
	if v := h["If-Match"]; len(v) > 0 && v[0] != "" {
		if !matchETags(v, rep.etagStr, true) {
			return condPreconditionFailed
		}
	} else if v := h["If-Unmodified-Since"]; len(v) > 0 && v[0] != "" {
		if t, ok := parseHTTPDate(v[0], rep); ok && rep.modSec > t {
			return condPreconditionFailed
		}
	}
	if v := h["If-None-Match"]; len(v) > 0 && v[0] != "" {
		if matchETags(v, rep.etagStr, false) {
			return condNotModified
		}
	} else if v := h["If-Modified-Since"]; len(v) > 0 && v[0] != "" {
		if t, ok := parseHTTPDate(v[0], rep); ok && rep.modSec <= t {
			return condNotModified
		}
	}
	return condNone
}

// ifRangeAllows reports whether a Range may be honoured given If-Range
// (true when If-Range is absent).
func ifRangeAllows(h http.Header, rep *rep) bool {
	v := h["If-Range"]
	if len(v) == 0 || v[0] == "" {
		return true
	}
	s := trimOWS(v[0])
	if s == rep.etagStr || s == rep.lastModStr {
		return true
	}
	if len(s) > 0 && (s[0] == '"' || (len(s) > 1 && s[0] == 'W' && s[1] == '/')) {
		return false // a different or weak entity-tag
	}
	t, err := http.ParseTime(s)
	return err == nil && t.Unix() == rep.modSec
}

// parseHTTPDate parses an HTTP-date to Unix seconds.
func parseHTTPDate(v string, rep *rep) (int64, bool) {
	if v == rep.lastModStr {
		return rep.modSec, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return t.Unix(), true
}

// matchETags reports whether the entity-tag list in vals ("*" or
// #entity-tag) matches etag, a strong tag with its quotes. strong selects
// the strong comparison function (RFC 9110 §8.8.3.2).
func matchETags(vals []string, etag string, strong bool) bool {
	for _, s := range vals {
		if s == etag {
			return true
		}
		for {
			s = trimOWS(s)
			for s != "" && s[0] == ',' {
				s = trimOWS(s[1:])
			}
			if s == "" {
				break
			}
			if s[0] == '*' {
				return true
			}
			tag, weak, rest, ok := scanETag(s)
			if !ok {
				break // malformed: stop reading this line
			}
			if tag == etag && !(strong && weak) {
				return true
			}
			s = rest
		}
	}
	return false
}

// scanETag reads one entity-tag at the start of s and returns its opaque
// part with quotes, whether it was weak, and the rest of s.
func scanETag(s string) (tag string, weak bool, rest string, ok bool) {
	if len(s) >= 2 && s[0] == 'W' && s[1] == '/' {
		weak = true
		s = s[2:]
	}
	if len(s) < 2 || s[0] != '"' {
		return "", false, "", false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return s[:i+1], weak, s[i+1:], true
		case c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80:
		default:
			return "", false, "", false
		}
	}
	return "", false, "", false
}
