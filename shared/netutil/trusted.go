// Package netutil holds the address helpers both master and workers need:
// the server.trusted_proxies set and client-IP restoration from
// X-Forwarded-For (nginx real_ip_recursive on).
//
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are normalised to IPv4
// everywhere: in configured entries, in peers and in forwarded hops.
package netutil

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// MaxTrustedProxies is the cap on server.trusted_proxies entries.
const MaxTrustedProxies = 512

// Broadest prefixes accepted in trusted_proxies.
const (
	minIPv4Bits = 8
	minIPv6Bits = 29
)

// TrustedSet is an immutable set of trusted proxy prefixes. The zero value
// and nil are empty sets that trust nothing. It is safe for concurrent use.
type TrustedSet struct {
	v4 []range4 // sorted, non-overlapping, non-adjacent
	v6 []range6 // sorted, non-overlapping, non-adjacent
	// prefixes are the normalised, deduplicated entries in input order.
	prefixes []netip.Prefix
}

type range4 struct{ lo, hi uint32 }

type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

func (a u128) next() (u128, bool) { // a+1, false on overflow
	if a.lo != ^uint64(0) {
		return u128{a.hi, a.lo + 1}, true
	}
	if a.hi != ^uint64(0) {
		return u128{a.hi + 1, 0}, true
	}
	return a, false
}

type range6 struct{ lo, hi u128 }

// ParseTrustedProxies parses server.trusted_proxies: each entry is an IP
// address (a single host) or a CIDR prefix; surrounding spaces are ignored
// and host bits after the prefix length are masked off (10.1.2.3/8 means
// 10.0.0.0/8, as in nginx set_real_ip_from). Rules, each error naming the
// entry and the rule:
//   - at most MaxTrustedProxies (512) entries;
//   - no 0.0.0.0/0 or ::/0, no IPv4 prefix broader than /8, no IPv6 prefix
//     broader than /29;
//   - no unspecified address (0.0.0.0, ::, and prefixes of them);
//   - no zones (fe80::1%eth0).
//
// Duplicates (also after masking and IPv4-mapped normalisation) are dropped.
// An empty or nil list gives an empty set.
func ParseTrustedProxies(entries []string) (*TrustedSet, error) {
	if len(entries) > MaxTrustedProxies {
		return nil, fmt.Errorf("trusted_proxies: %d entries, at most %d allowed", len(entries), MaxTrustedProxies)
	}
	s := &TrustedSet{}
	seen := make(map[netip.Prefix]struct{}, len(entries))
	for _, e := range entries {
		p, err := parseTrustedEntry(e)
		if err != nil {
			return nil, err
		}
		if _, dup := seen[p]; dup {
			continue
		}
		seen[p] = struct{}{}
		s.prefixes = append(s.prefixes, p)
	}
	s.build()
	return s, nil
}

func parseTrustedEntry(raw string) (netip.Prefix, error) {
	e := strings.TrimSpace(raw)
	if e == "" {
		return netip.Prefix{}, fmt.Errorf("trusted_proxies: entry %q: empty", raw)
	}
	var p netip.Prefix
	if strings.IndexByte(e, '/') >= 0 {
		var err error
		if p, err = netip.ParsePrefix(e); err != nil {
			return netip.Prefix{}, fmt.Errorf("trusted_proxies: entry %q: not an IP address or CIDR prefix", raw)
		}
	} else {
		a, err := netip.ParseAddr(e)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("trusted_proxies: entry %q: not an IP address or CIDR prefix (zones are not allowed)", raw)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	p = normalizePrefix(p)
	a, bits := p.Addr(), p.Bits()
	switch {
	case bits == 0:
		return netip.Prefix{}, fmt.Errorf("trusted_proxies: entry %q: matches every address; list the proxies instead", raw)
	case a.Is4() && bits < minIPv4Bits:
		return netip.Prefix{}, fmt.Errorf("trusted_proxies: entry %q: IPv4 prefix broader than /%d", raw, minIPv4Bits)
	case a.Is6() && bits < minIPv6Bits:
		return netip.Prefix{}, fmt.Errorf("trusted_proxies: entry %q: IPv6 prefix broader than /%d", raw, minIPv6Bits)
	case a.IsUnspecified():
		return netip.Prefix{}, fmt.Errorf("trusted_proxies: entry %q: unspecified address", raw)
	}
	return p, nil
}

// normalizePrefix masks host bits and turns an IPv4-mapped IPv6 prefix of
// at least /96 into the IPv4 prefix it denotes.
func normalizePrefix(p netip.Prefix) netip.Prefix {
	a := p.Addr()
	if a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

func (s *TrustedSet) build() {
	for _, p := range s.prefixes {
		if p.Addr().Is4() {
			b := p.Addr().As4()
			v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
			host := uint32(0)
			if p.Bits() < 32 {
				host = ^uint32(0) >> p.Bits()
			}
			s.v4 = append(s.v4, range4{v, v | host})
			continue
		}
		lo := addr128(p.Addr())
		hi := lo
		if n := 128 - p.Bits(); n > 0 {
			if n >= 64 {
				hi.lo = ^uint64(0)
				hi.hi |= ^uint64(0) >> (128 - n)
			} else {
				hi.lo |= ^uint64(0) >> (64 - n)
			}
		}
		s.v6 = append(s.v6, range6{lo, hi})
	}
	s.v4 = merge4(s.v4)
	s.v6 = merge6(s.v6)
}

func merge4(rs []range4) []range4 {
	slices.SortFunc(rs, func(a, b range4) int { return cmp.Compare(a.lo, b.lo) })
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && (r.lo <= out[n-1].hi || out[n-1].hi != ^uint32(0) && r.lo == out[n-1].hi+1) {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return slices.Clip(out)
}

func merge6(rs []range6) []range6 {
	slices.SortFunc(rs, func(a, b range6) int {
		switch {
		case a.lo.less(b.lo):
			return -1
		case b.lo.less(a.lo):
			return 1
		}
		return 0
	})
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 {
			last := &out[n-1]
			nx, ok := last.hi.next()
			if !last.hi.less(r.lo) || ok && nx == r.lo { // overlapping or adjacent
				if last.hi.less(r.hi) {
					last.hi = r.hi
				}
				continue
			}
		}
		out = append(out, r)
	}
	return slices.Clip(out)
}

func addr128(a netip.Addr) u128 {
	b := a.As16()
	var v u128
	for i := 0; i < 8; i++ {
		v.hi = v.hi<<8 | uint64(b[i])
		v.lo = v.lo<<8 | uint64(b[8+i])
	}
	return v
}

// Contains reports whether a (IPv4-mapped IPv6 is treated as IPv4) is in
// the set. It does not allocate; nil and empty sets contain nothing.
func (s *TrustedSet) Contains(a netip.Addr) bool {
	if s == nil || !a.IsValid() {
		return false
	}
	a = a.Unmap()
	if a.Is4() {
		if len(s.v4) == 0 {
			return false
		}
		b := a.As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		// first range with lo > v, then check its predecessor
		i, j := 0, len(s.v4)
		for i < j {
			h := int(uint(i+j) >> 1)
			if s.v4[h].lo <= v {
				i = h + 1
			} else {
				j = h
			}
		}
		return i > 0 && v <= s.v4[i-1].hi
	}
	if len(s.v6) == 0 {
		return false
	}
	v := addr128(a)
	i, j := 0, len(s.v6)
	for i < j {
		h := int(uint(i+j) >> 1)
		if !v.less(s.v6[h].lo) {
			i = h + 1
		} else {
			j = h
		}
	}
	return i > 0 && !s.v6[i-1].hi.less(v)
}

// Len is the number of distinct configured prefixes.
func (s *TrustedSet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.prefixes)
}

// Prefixes returns a copy of the normalised, deduplicated entries in
// configuration order.
func (s *TrustedSet) Prefixes() []netip.Prefix {
	if s == nil {
		return nil
	}
	return slices.Clone(s.prefixes)
}
