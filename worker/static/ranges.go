package static

import (
	"math"
	"strings"
)

// Range requests (RFC 9110 §14; reliability.md §6).
//
//   - Only GET honours Range (RFC 9110 §14.2: range handling is defined for
//     GET only); HEAD answers like a GET without Range.
//   - A unit other than "bytes", a syntactically invalid header, several
//     Range field lines, an empty representation, more than MaxRanges
//     ranges, or satisfiable ranges adding up to more than the size
//     (overlap amplification, CVE-2011-3192) → the header is ignored and the
//     full representation is sent with 200. (Go's ServeContent answers 416
//     to unknown units; RFC 9110 says ignore.)
//   - No satisfiable range → 416 with Content-Range: bytes */SIZE.
//   - One satisfiable range → 206 with Content-Range; several → 206
//     multipart/byteranges, in request order, unsatisfiable ones dropped,
//     not coalesced.

type byteRange struct {
	start, length int64
}

type rangeResult uint8

const (
	rangeIgnore        rangeResult = iota // serve 200 full
	rangeOK                               // serve the ranges (206)
	rangeUnsatisfiable                    // 416
)

// parseRange parses one Range field value against a representation of the
// given size, appending satisfiable ranges to buf.
func parseRange(s string, size int64, maxRanges int, buf []byteRange) ([]byteRange, rangeResult) {
	if size <= 0 {
		return buf, rangeIgnore // nginx: ranges of an empty body are ignored
	}
	s = trimOWS(s)
	eq := strings.IndexByte(s, '=')
	if eq < 0 || !strings.EqualFold(trimOWS(s[:eq]), "bytes") {
		return buf, rangeIgnore
	}
	s = s[eq+1:]
	specs := 0
	var total int64
	for s != "" {
		var spec string
		if i := strings.IndexByte(s, ','); i >= 0 {
			spec, s = s[:i], s[i+1:]
		} else {
			spec, s = s, ""
		}
		spec = trimOWS(spec)
		if spec == "" {
			continue
		}
		specs++
		if specs > maxRanges {
			return buf[:0], rangeIgnore
		}
		dash := strings.IndexByte(spec, '-')
		if dash < 0 {
			return buf[:0], rangeIgnore
		}
		first, last := spec[:dash], spec[dash+1:]
		var r byteRange
		if first == "" { // suffix-range "-N"
			n, ok := parseDigits(last)
			if !ok {
				return buf[:0], rangeIgnore
			}
			if n == 0 {
				continue // unsatisfiable
			}
			n = min(n, size)
			r = byteRange{start: size - n, length: n}
		} else {
			a, ok := parseDigits(first)
			if !ok {
				return buf[:0], rangeIgnore
			}
			end := int64(math.MaxInt64)
			if last != "" {
				if end, ok = parseDigits(last); !ok || end < a {
					return buf[:0], rangeIgnore
				}
			}
			if a >= size {
				continue // unsatisfiable
			}
			end = min(end, size-1)
			r = byteRange{start: a, length: end - a + 1}
		}
		total += r.length
		if total > size {
			return buf[:0], rangeIgnore
		}
		buf = append(buf, r)
	}
	if specs == 0 {
		return buf[:0], rangeIgnore
	}
	if len(buf) == 0 {
		return buf, rangeUnsatisfiable
	}
	return buf, rangeOK
}

// parseDigits parses a non-empty run of ASCII digits; values past
// math.MaxInt64 saturate (they are then unsatisfiable or clamped).
func parseDigits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (math.MaxInt64-9)/10 {
			n = math.MaxInt64
			continue
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
