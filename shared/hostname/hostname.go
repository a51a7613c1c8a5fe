// Package hostname normalises and checks host names the way Fluxheim does,
// for both config validation (vhost hosts) and request routing (Host
// headers). Normalise allocates only when the input needs lower-casing or
// has a port or trailing dot to drop.
package hostname

import (
	"errors"
	"strings"
)

// MaxLen is the longest host name accepted (DNS limit).
const MaxLen = 253

var (
	errEmpty   = errors.New("empty host")
	errInvalid = errors.New("invalid host name")
)

// Normalise turns a Host header value (or a configured host) into the
// routing key: lower case, port and one trailing dot removed, IPv6 literals
// kept in brackets. It rejects '%', empty labels, labels with leading or
// trailing hyphens or over 63 bytes, characters outside [a-z0-9-_.], and an
// all-numeric final label (unless the whole name is an IPv4 literal).
// Single-label names such as "localhost" are allowed.
func Normalise(h string) (string, error) {
	if h == "" {
		return "", errEmpty
	}
	if h[0] == '[' { // IPv6 literal, optional port
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", errInvalid
		}
		rest := h[end+1:]
		if rest != "" && (rest[0] != ':' || !allDigits(rest[1:])) {
			return "", errInvalid
		}
		lit := h[:end+1]
		for i := 1; i < len(lit)-1; i++ {
			c := lit[i]
			if !(c == ':' || c == '.' || isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')) {
				return "", errInvalid
			}
		}
		return strings.ToLower(lit), nil
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		if !allDigits(h[i+1:]) {
			return "", errInvalid
		}
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > MaxLen {
		return "", errInvalid
	}
	lower := true
	for i := 0; i < len(h); i++ {
		if c := h[i]; 'A' <= c && c <= 'Z' {
			lower = false
			break
		}
	}
	if !lower {
		h = strings.ToLower(h)
	}
	if err := checkLabels(h); err != nil {
		return "", err
	}
	return h, nil
}

func checkLabels(h string) error {
	start := 0
	allNum := true
	for i := 0; i <= len(h); i++ {
		if i < len(h) && h[i] != '.' {
			c := h[i]
			if !(isDigit(c) || ('a' <= c && c <= 'z') || c == '-' || c == '_') {
				return errInvalid
			}
			continue
		}
		label := h[start:i]
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return errInvalid
		}
		allNum = allDigits(label)
		start = i + 1
	}
	if allNum && !isIPv4(h) {
		return errInvalid
	}
	return nil
}

// Pattern checks a configured vhost host: a name Normalise accepts, or
// "*." followed by one, the wildcard standing for exactly one label.
func Pattern(p string) (string, error) {
	if strings.HasPrefix(p, "*.") {
		n, err := Normalise(p[2:])
		if err != nil || strings.HasPrefix(n, "[") || isIPv4(n) {
			return "", errors.New("invalid wildcard host: want *.name with one left-most wildcard label")
		}
		return "*." + n, nil
	}
	if strings.Contains(p, "*") {
		return "", errors.New("invalid wildcard host: only one left-most *. label is allowed")
	}
	if strings.ContainsAny(p, ":") && !strings.HasPrefix(p, "[") {
		return "", errors.New("host must not carry a port")
	}
	n, err := Normalise(p)
	if err != nil {
		return "", err
	}
	return n, nil
}

func isIPv4(h string) bool {
	parts := 0
	start := 0
	for i := 0; i <= len(h); i++ {
		if i < len(h) && h[i] != '.' {
			if !isDigit(h[i]) {
				return false
			}
			continue
		}
		seg := h[start:i]
		if seg == "" || len(seg) > 3 {
			return false
		}
		n := 0
		for j := 0; j < len(seg); j++ {
			n = n*10 + int(seg[j]-'0')
		}
		if n > 255 {
			return false
		}
		parts++
		start = i + 1
	}
	return parts == 4
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
