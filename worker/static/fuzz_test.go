package static

import (
	"strings"
	"testing"
)

// FuzzCheckPath: an accepted path is absolute, clean (no "//", no "." or
// ".." segment), keeps the trailing slash it had, has no dotfile segment
// when denied, and checking the key again returns it unchanged.
func FuzzCheckPath(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "//etc/passwd", "/../x", "/a/./b/", "/.env", "/a\\b", "/a\x00", "/a/.", "/%2e%2e/"} {
		f.Add(s)
	}
	h := &Handler{opts: Options{DenyDotfiles: true}}
	f.Fuzz(func(t *testing.T, p string) {
		key, err := h.checkPath(p)
		if err != nil {
			return
		}
		if !strings.HasPrefix(key, "/") || strings.Contains(key, "//") || strings.Contains(key, "/.") ||
			strings.ContainsAny(key, "\x00\\") {
			t.Fatalf("checkPath(%q) = %q", p, key)
		}
		if strings.HasSuffix(p, "/") != strings.HasSuffix(key, "/") && !strings.HasSuffix(p, "/.") {
			t.Fatalf("checkPath(%q) = %q: trailing slash changed", p, key)
		}
		if again, err := h.checkPath(key); err != nil || again != key {
			t.Fatalf("checkPath not idempotent: %q → %q → %q, %v", p, key, again, err)
		}
	})
}

// FuzzParseRange: accepted ranges lie inside the representation, number at
// most maxRanges and add up to at most its size.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-1", "bytes=-5", "bytes=5-", "bytes=0-1,3-4", "items=1-2", "bytes=9999999999999999999-", "bytes=,,,-0"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, s string, size int64) {
		if size < 0 {
			size = -size
		}
		if size < 0 {
			return
		}
		rs, res := parseRange(s, size, 16, nil)
		if res != rangeOK {
			return
		}
		var total int64
		if len(rs) == 0 || len(rs) > 16 {
			t.Fatalf("%q: %d ranges", s, len(rs))
		}
		for _, r := range rs {
			if r.start < 0 || r.length <= 0 || r.start+r.length > size {
				t.Fatalf("%q size %d: bad range %+v", s, size, r)
			}
			total += r.length
		}
		if total > size {
			t.Fatalf("%q: total %d > size %d", s, total, size)
		}
	})
}

// FuzzAcceptEncoding: parsing never panics and picks only an available
// coding the header did not refuse with q=0.
func FuzzAcceptEncoding(f *testing.F) {
	for _, s := range []string{"gzip", "br;q=0.5, gzip", "*;q=0", "gzip;q=1.000", "gzip;;", "identity;q=0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ae, ok := parseAcceptEncoding([]string{s})
		if !ok {
			return
		}
		avail := [numEnc]bool{false, true, false, true}
		enc := ae.pick(&avail)
		if enc != encIdentity && (!avail[enc] || ae.q[enc] == 0 || (ae.q[enc] < 0 && ae.star <= 0)) {
			t.Fatalf("%q picked %d", s, enc)
		}
	})
}
