package static

import "strings"

// Precompressed sidecars.
//
// With Options.Precompressed, a regular file "x" may have sidecars "x.br",
// "x.zst" and "x.gz" (regular files; the symlink and dotfile rules apply to
// the derived path as to any other). The sidecar is served, with
// Content-Encoding and the original's Content-Type, when Accept-Encoding
// accepts its coding. Among acceptable codings the highest q wins, ties
// going to br, then zstd, then gzip; identity wins only when listed with a
// higher q than every acceptable coding. A coding not listed is acceptable
// only through "*". A malformed Accept-Encoding (bad token, bad q-value,
// parameter other than q) means identity: fail closed, as Fluxheim does.
// Every response for a file that has at least one sidecar carries
// Vary: Accept-Encoding, including identity responses and 304s.

type encoding uint8

const (
	encIdentity encoding = iota
	encBr
	encZstd
	encGzip
	numEnc
)

// sidecarExt is the file suffix of each encoding's sidecar.
var sidecarExt = [numEnc]string{"", ".br", ".zst", ".gz"}

// etagSuffix makes a sidecar's ETag distinct from the identity ETag even if
// two files share an inode number on different devices.
var etagSuffix = [numEnc]string{"", "-br", "-zst", "-gz"}

// encHeader holds the pre-built Content-Encoding values.
var encHeader = [numEnc][]string{nil, {"br"}, {"zstd"}, {"gzip"}}

// acceptEncoding holds q-values in thousandths; -1 means "not listed".
type acceptEncoding struct {
	q    [numEnc]int
	star int
}

// parseAcceptEncoding parses the Accept-Encoding field lines. ok is false
// for a malformed header. It does not allocate.
func parseAcceptEncoding(vals []string) (ae acceptEncoding, ok bool) {
	for i := range ae.q {
		ae.q[i] = -1
	}
	ae.star = -1
	for _, v := range vals {
		for v != "" {
			var elem string
			if i := strings.IndexByte(v, ','); i >= 0 {
				elem, v = v[:i], v[i+1:]
			} else {
				elem, v = v, ""
			}
			elem = trimOWS(elem)
			if elem == "" {
				continue // empty list elements are allowed (RFC 9110 §5.6.1)
			}
			j := 0
			for j < len(elem) && isTchar(elem[j]) {
				j++
			}
			if j == 0 {
				return ae, false
			}
			coding, rest := elem[:j], trimOWS(elem[j:])
			q := 1000
			for rest != "" {
				if rest[0] != ';' {
					return ae, false
				}
				rest = trimOWS(rest[1:])
				if len(rest) < 2 || (rest[0] != 'q' && rest[0] != 'Q') || rest[1] != '=' {
					return ae, false
				}
				var good bool
				q, rest, good = parseQ(rest[2:])
				if !good {
					return ae, false
				}
				rest = trimOWS(rest)
			}
			slot := &ae.star
			switch {
			case strings.EqualFold(coding, "br"):
				slot = &ae.q[encBr]
			case strings.EqualFold(coding, "zstd"):
				slot = &ae.q[encZstd]
			case strings.EqualFold(coding, "gzip"), strings.EqualFold(coding, "x-gzip"):
				slot = &ae.q[encGzip]
			case strings.EqualFold(coding, "identity"):
				slot = &ae.q[encIdentity]
			case coding == "*":
			default:
				continue
			}
			if *slot < 0 { // the first mention counts
				*slot = q
			}
		}
	}
	return ae, true
}

// parseQ parses a qvalue (RFC 9110 §12.4.2) at the start of s and returns
// it in thousandths with the rest of s.
func parseQ(s string) (q int, rest string, ok bool) {
	if s == "" || (s[0] != '0' && s[0] != '1') {
		return 0, s, false
	}
	whole := int(s[0] - '0')
	s = s[1:]
	frac, scale := 0, 100
	if s != "" && s[0] == '.' {
		s = s[1:]
		n := 0
		for n < len(s) && s[n] >= '0' && s[n] <= '9' {
			if n == 3 {
				return 0, s, false
			}
			frac += int(s[n]-'0') * scale
			scale /= 10
			n++
		}
		s = s[n:]
	}
	if whole == 1 && frac != 0 {
		return 0, s, false
	}
	return whole*1000 + frac, s, true
}

// pick returns the representation index to serve for the available
// sidecars (avail[enc] true when the sidecar exists).
func (ae *acceptEncoding) pick(avail *[numEnc]bool) encoding {
	best, bestQ := encIdentity, 0
	for enc := encBr; enc < numEnc; enc++ {
		if !avail[enc] {
			continue
		}
		q := ae.q[enc]
		if q < 0 {
			q = max(ae.star, 0)
		}
		if q > bestQ { // strict: ties keep the earlier (preferred) coding
			best, bestQ = enc, q
		}
	}
	if best != encIdentity && ae.q[encIdentity] > bestQ {
		return encIdentity
	}
	return best
}

func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// isTchar reports whether c is a token character (RFC 9110 §5.6.2).
func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
