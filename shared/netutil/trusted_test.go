package netutil

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func TestParseTrustedProxiesRejects(t *testing.T) {
	for _, tc := range []struct {
		entry string
		want  string // substring of the error
	}{
		{"0.0.0.0/0", "matches every address"},
		{"::/0", "matches every address"},
		{"10.0.0.0/7", "IPv4 prefix broader than /8"},
		{"2001:db8::/28", "IPv6 prefix broader than /29"},
		{"::ffff:10.0.0.0/103", "IPv4 prefix broader than /8"},
		{"0.0.0.0", "unspecified address"},
		{"::", "unspecified address"},
		{"0.0.0.0/8", "unspecified address"},
		{"::/29", "unspecified address"},
		{"10.0.0.300", "not an IP address or CIDR prefix"},
		{"10.0.0.0/33", "not an IP address or CIDR prefix"},
		{"example.com", "not an IP address or CIDR prefix"},
		{"fe80::1%eth0", "zones are not allowed"},
		{"", "empty"},
		{"  ", "empty"},
	} {
		t.Run(tc.entry, func(t *testing.T) {
			_, err := ParseTrustedProxies([]string{"192.0.2.1", tc.entry})
			if err == nil {
				t.Fatalf("ParseTrustedProxies(%q) = nil error", tc.entry)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.entry)) {
				t.Fatalf("error %q does not name the entry and %q", err, tc.want)
			}
		})
	}
}

func TestParseTrustedProxiesCap(t *testing.T) {
	var entries []string
	for i := 0; i < MaxTrustedProxies+1; i++ {
		entries = append(entries, fmt.Sprintf("10.%d.%d.1", i/256, i%256))
	}
	if _, err := ParseTrustedProxies(entries); err == nil {
		t.Fatal("513 entries accepted")
	}
	s, err := ParseTrustedProxies(entries[:MaxTrustedProxies])
	if err != nil || s.Len() != MaxTrustedProxies {
		t.Fatalf("512 entries: %v, len %d", err, s.Len())
	}
}

func TestParseTrustedProxiesDedupAndNormalise(t *testing.T) {
	s, err := ParseTrustedProxies([]string{
		"10.0.0.0/8", " 10.1.2.3/8 ", "::ffff:10.0.0.0/104", "192.0.2.7", "192.0.2.7/32", "::ffff:192.0.2.7",
		"2001:db8::/32", "2001:db8:0:0::/32",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("2001:db8::/32"),
	}
	got := s.Prefixes()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("prefixes = %v, want %v", got, want)
	}
}

func TestTrustedSetContains(t *testing.T) {
	s, err := ParseTrustedProxies([]string{
		"10.0.0.0/8", "192.168.1.0/24", "192.168.2.0/24", "203.0.113.9", "172.16.0.0/12",
		"2001:db8::/32", "2001:db8:ffff::/48", "fd00::1", "2a00::/29", "::ffff:198.51.100.0/120",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"10.0.0.0", true}, {"10.255.255.255", true}, {"11.0.0.0", false}, {"9.255.255.255", false},
		{"192.168.1.1", true}, {"192.168.2.255", true}, {"192.168.3.0", false}, {"192.168.0.255", false},
		{"203.0.113.9", true}, {"203.0.113.8", false}, {"203.0.113.10", false},
		{"172.31.255.255", true}, {"172.32.0.0", false},
		{"::ffff:10.1.1.1", true}, {"::ffff:11.1.1.1", false},
		{"198.51.100.200", true}, {"198.51.101.1", false},
		{"2001:db8::1", true}, {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true}, {"2001:db9::", false},
		{"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", false},
		{"fd00::1", true}, {"fd00::2", false}, {"fd00::", false},
		{"2a00:7:ffff::1", true}, {"2a00:8::", false},
		{"::1", false}, {"127.0.0.1", false},
	} {
		if got := s.Contains(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Contains(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	var nilSet *TrustedSet
	if nilSet.Contains(netip.MustParseAddr("10.0.0.1")) || s.Contains(netip.Addr{}) {
		t.Error("nil set or invalid address matched")
	}
}

func TestTrustedSetMergesAdjacent(t *testing.T) {
	s, err := ParseTrustedProxies([]string{"10.0.0.0/9", "10.128.0.0/9", "10.5.0.0/16", "2001:db8::/33", "2001:db8:8000::/33"})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.v4) != 1 || len(s.v6) != 1 {
		t.Fatalf("ranges not merged: v4 %v v6 %v", s.v4, s.v6)
	}
}

func TestTrustedSetContainsZeroAlloc(t *testing.T) {
	s, _ := ParseTrustedProxies([]string{"10.0.0.0/8", "2001:db8::/32"})
	a4, a6 := netip.MustParseAddr("10.1.1.1"), netip.MustParseAddr("2001:db8::1")
	if n := testing.AllocsPerRun(100, func() { s.Contains(a4); s.Contains(a6) }); n != 0 {
		t.Fatalf("Contains allocates %v times", n)
	}
}

func BenchmarkTrustedSetContains(b *testing.B) {
	var entries []string
	for i := 0; i < 256; i++ {
		entries = append(entries, fmt.Sprintf("10.%d.0.0/16", i), fmt.Sprintf("2001:db8:%x::/48", i))
	}
	s, err := ParseTrustedProxies(entries)
	if err != nil {
		b.Fatal(err)
	}
	a := netip.MustParseAddr("10.200.3.4")
	b.ReportAllocs()
	for b.Loop() {
		s.Contains(a)
	}
}
