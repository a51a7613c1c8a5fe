package netutil

import (
	"net/netip"
	"strings"
	"testing"
)

func mustSet(t testing.TB, entries ...string) *TrustedSet {
	t.Helper()
	s, err := ParseTrustedProxies(entries)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestClientIP(t *testing.T) {
	trusted := mustSet(t, "10.0.0.0/8", "2001:db8::/32", "192.0.2.1")
	for _, tc := range []struct {
		name        string
		peer        string
		xff         []string
		want        string
		wantTrusted bool
	}{
		{"untrusted peer ignores xff", "198.51.100.1", []string{"1.2.3.4"}, "198.51.100.1", false},
		{"trusted peer no xff", "10.0.0.1", nil, "10.0.0.1", true},
		{"trusted peer one hop", "10.0.0.1", []string{"203.0.113.5"}, "203.0.113.5", true},
		{"skip trusted hops", "10.0.0.1", []string{"203.0.113.5, 10.9.9.9, 192.0.2.1"}, "203.0.113.5", true},
		{"spoofed left part ignored", "10.0.0.1", []string{"6.6.6.6, 203.0.113.5, 10.1.1.1"}, "203.0.113.5", true},
		{"multiple lines walk last line first", "10.0.0.1", []string{"6.6.6.6, 203.0.113.7", "10.2.2.2"}, "203.0.113.7", true},
		{"all trusted gives left-most", "10.0.0.1", []string{"10.3.3.3, 10.2.2.2"}, "10.3.3.3", true},
		{"malformed stops walk at peer", "10.0.0.1", []string{"203.0.113.5, garbage"}, "10.0.0.1", true},
		{"malformed stops walk at last trusted", "10.0.0.1", []string{"203.0.113.5, bad, 10.4.4.4"}, "10.4.4.4", true},
		{"port is malformed", "10.0.0.1", []string{"203.0.113.5:1234"}, "10.0.0.1", true},
		{"empty elements skipped", "10.0.0.1", []string{"203.0.113.5,, 10.4.4.4 ,", " "}, "203.0.113.5", true},
		{"ipv6 hop bracketed and quoted", "2001:db8::1", []string{`"[2001:db9::5]"`}, "2001:db9::5", true},
		{"ipv6 brackets on ipv4 malformed", "10.0.0.1", []string{"[203.0.113.5]"}, "10.0.0.1", true},
		{"mapped peer normalised", "::ffff:10.0.0.1", []string{"203.0.113.5"}, "203.0.113.5", true},
		{"mapped hop normalised and trusted", "10.0.0.1", []string{"203.0.113.5, ::ffff:10.5.5.5"}, "203.0.113.5", true},
		{"mapped untrusted hop unmapped", "10.0.0.1", []string{"::ffff:203.0.113.5"}, "203.0.113.5", true},
		{"zone malformed", "2001:db8::1", []string{"fe80::1%eth0"}, "2001:db8::1", true},
		{"tabs trimmed", "10.0.0.1", []string{"\t203.0.113.5\t"}, "203.0.113.5", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, gotTrusted := ClientIP(netip.MustParseAddr(tc.peer), tc.xff, trusted)
			if got.String() != tc.want || gotTrusted != tc.wantTrusted {
				t.Fatalf("ClientIP = %v, %v; want %v, %v", got, gotTrusted, tc.want, tc.wantTrusted)
			}
		})
	}
}

func TestClientIPNilSet(t *testing.T) {
	got, tr := ClientIP(netip.MustParseAddr("10.0.0.1"), []string{"1.2.3.4"}, nil)
	if got.String() != "10.0.0.1" || tr {
		t.Fatalf("nil set: %v %v", got, tr)
	}
}

func TestClientIPZeroAlloc(t *testing.T) {
	trusted := mustSet(t, "10.0.0.0/8")
	peer := netip.MustParseAddr("10.0.0.1")
	xff := []string{"203.0.113.5, 10.1.1.1, 10.2.2.2"}
	if n := testing.AllocsPerRun(100, func() { ClientIP(peer, xff, trusted) }); n != 0 {
		t.Fatalf("ClientIP allocates %v times", n)
	}
}

func TestParsePeer(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:80":            "192.0.2.1:80",
		"[::ffff:192.0.2.1]:8080": "192.0.2.1:8080",
		"[2001:db8::1]:443":       "[2001:db8::1]:443",
	} {
		got, ok := ParsePeer(in)
		if !ok || got.String() != want {
			t.Errorf("ParsePeer(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	if _, ok := ParsePeer("@"); ok {
		t.Error("unix socket address parsed")
	}
}

// FuzzClientIP checks ClientIP's invariants on arbitrary peers and header
// lines: no panic; an untrusted peer is returned as is; otherwise the result
// is the peer or a hop that appears in the header, every hop between it and
// the peer is trusted, and the result is never an IPv4-mapped address.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1", "203.0.113.5, 10.1.1.1")
	f.Add("10.0.0.1", "garbage, 10.1.1.1")
	f.Add("2001:db8::1", `"[2001:db9::1]", 2001:db8::2`)
	f.Add("198.51.100.1", "1.2.3.4")
	f.Add("::ffff:10.0.0.1", ",,, ::ffff:10.2.2.2,")
	f.Add("10.0.0.1", "10.1.1.1\n203.0.113.9")
	trusted := mustSet(f, "10.0.0.0/8", "2001:db8::/32")
	f.Fuzz(func(t *testing.T, peerStr, header string) {
		peer, err := netip.ParseAddr(peerStr)
		if err != nil {
			return
		}
		xff := strings.Split(header, "\n") // newlines separate header lines
		got, tr := ClientIP(peer, xff, trusted)
		if tr != trusted.Contains(peer) {
			t.Fatalf("peerTrusted = %v for %v", tr, peer)
		}
		if got.Is4In6() {
			t.Fatalf("mapped result %v", got)
		}
		if !tr {
			if got != peer.Unmap() {
				t.Fatalf("untrusted peer: got %v", got)
			}
			return
		}
		if got == peer.Unmap() {
			return
		}
		// got must be a hop; every hop to its right must be trusted.
		var hops []string
		for _, line := range xff {
			hops = append(hops, strings.Split(line, ",")...)
		}
		found := false
		for i := len(hops) - 1; i >= 0; i-- {
			h := trimOWS(hops[i])
			if h == "" {
				continue
			}
			a, ok := ParseForwardedHop(h)
			if !ok {
				t.Fatalf("walk passed malformed hop %q, got %v", h, got)
			}
			if a == got {
				found = true
				break
			}
			if !trusted.Contains(a) {
				t.Fatalf("untrusted hop %v right of result %v", a, got)
			}
		}
		if !found {
			t.Fatalf("result %v not in header %q", got, header)
		}
	})
}
