package netutil

import (
	"net/netip"
	"strings"
)

// ClientIP restores the client address the way nginx does with
// real_ip_header X-Forwarded-For and real_ip_recursive on.
//
// peer is the direct TCP peer; xff holds every X-Forwarded-For header line of
// the request in order (a nil slice when there is none). peerTrusted reports
// whether peer is in trusted.
//
//   - Untrusted (or invalid) peer: the headers are ignored; client = peer.
//   - Trusted peer: the hops are walked right to left (last line's last
//     element first). Trusted hops are skipped; the first untrusted hop is the
//     client. When every hop is trusted the left-most one is the client (as
//     nginx). Empty elements ("a,,b", a trailing comma) are skipped.
//   - A malformed element stops the walk: the result is the last trusted hop
//     already passed, or the peer when there was none. Nothing to the left of
//     garbage is believed.
//
// An element is an IP address, optionally in double quotes and, for IPv6,
// optionally in brackets ("[2001:db8::1]"); ports and zones are malformed.
// IPv4-mapped IPv6 addresses are returned as IPv4. ClientIP does not
// allocate for well-formed input.
func ClientIP(peer netip.Addr, xff []string, trusted *TrustedSet) (client netip.Addr, peerTrusted bool) {
	peer = peer.Unmap()
	if !trusted.Contains(peer) {
		return peer, false
	}
	cur := peer
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for len(line) > 0 {
			var elem string
			if c := strings.LastIndexByte(line, ','); c >= 0 {
				elem, line = line[c+1:], line[:c]
			} else {
				elem, line = line, ""
			}
			elem = trimOWS(elem)
			if elem == "" {
				continue
			}
			hop, ok := ParseForwardedHop(elem)
			if !ok {
				return cur, true
			}
			if !trusted.Contains(hop) {
				return hop, true
			}
			cur = hop
		}
	}
	return cur, true
}

// ParseForwardedHop parses one X-Forwarded-For element (already split on
// commas): an IP address, optionally double-quoted, IPv6 optionally in
// brackets. Surrounding spaces and tabs are ignored. Ports and zones are
// rejected. The result is unmapped (IPv4-mapped IPv6 becomes IPv4).
func ParseForwardedHop(s string) (netip.Addr, bool) {
	s = trimOWS(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
		if strings.IndexByte(s, ':') < 0 { // brackets are for IPv6 only
			return netip.Addr{}, false
		}
	}
	if s == "" || len(s) > 45 { // longest textual IPv6 with an embedded IPv4
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// ParsePeer parses a net/http RemoteAddr ("ip:port" or "[ipv6]:port") into
// an unmapped address and port. ok is false when it is not an IP endpoint
// (for example a Unix socket).
func ParsePeer(remoteAddr string) (netip.AddrPort, bool) {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()), true
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
