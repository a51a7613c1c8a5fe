package proxy

import (
	"net/http"
	"strings"
)

// isWebSocketUpgrade reports whether r is a valid HTTP/1.1 WebSocket
// opening handshake (RFC 6455 §4.1, spec §2.7): GET, Connection with the
// "upgrade" token, Upgrade with the "websocket" token, exactly one
// Sec-WebSocket-Key of 24 base64 characters (16 bytes) and
// Sec-WebSocket-Version: 13. Anything else is forwarded as a plain request
// with the upgrade headers stripped.
func isWebSocketUpgrade(r *http.Request) bool {
	if r.ProtoMajor != 1 || r.Method != http.MethodGet {
		return false
	}
	h := r.Header
	if !hasToken(h["Connection"], "upgrade") ||
		!hasToken(h["Upgrade"], "websocket") {
		return false
	}
	keys := h["Sec-Websocket-Key"]
	if len(keys) != 1 || !validWebSocketKey(keys[0]) {
		return false
	}
	v := h["Sec-Websocket-Version"]
	return len(v) == 1 && v[0] == "13"
}

func validWebSocketKey(k string) bool {
	if len(k) != 24 || k[22] != '=' || k[23] != '=' {
		return false
	}
	for i := 0; i < 22; i++ {
		c := k[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// hasToken reports whether a comma-separated header list contains token
// (case-insensitive, optional whitespace around elements).
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var e string
			e, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.Trim(e, " \t"), token) {
				return true
			}
		}
	}
	return false
}
