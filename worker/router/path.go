package router

import (
	"net/url"
	"path"
	"strings"
)

// CleanPath canonicalises a decoded request path for routing: it must
// start with "/", must not hold NUL, and "." / ".." segments and repeated
// slashes are resolved (nginx does the same before matching locations).
// A ".." above the root is refused (ok = false). The trailing slash is
// kept. Paths that need no cleaning are returned as they are (no
// allocation).
func CleanPath(p string) (string, bool) {
	if p == "" || p[0] != '/' || strings.IndexByte(p, 0) >= 0 {
		return "", false
	}
	if !needsClean(p) {
		return p, true
	}
	// Refuse climbing above the root instead of silently clamping it.
	depth := 0
	for _, seg := range strings.Split(p[1:], "/") {
		switch seg {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return "", false
			}
		default:
			depth++
		}
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c, true
}

func needsClean(p string) bool {
	for i := 0; i < len(p)-1; i++ {
		if p[i] == '/' && (p[i+1] == '/' || p[i+1] == '.') {
			return true
		}
	}
	return false
}

// EscapePath renders a decoded path for the wire.
func EscapePath(p string) string {
	return (&url.URL{Path: p}).EscapedPath()
}
