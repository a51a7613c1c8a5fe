package features

import (
	"slices"
	"strings"
	"testing"
)

func TestTesterProfile(t *testing.T) {
	cases := []struct {
		name    string
		modules string
		fips    bool
		backend string
	}{
		{"", "proxy,web,cache", false, TLSGo},
		{"full", "proxy,web,cache", false, TLSGo},
		{"development", "proxy,web,cache,php-fpm", false, TLSGo},
		{"cache", "proxy,cache", false, TLSGo},
		{"proxy", "proxy", false, TLSGo},
		{"load-balancer", "proxy", false, TLSGo},
		{"fips-rustls", "proxy", true, TLSGoFIPS},
		{"iso19790-rustls", "proxy", true, TLSGoFIPS},
		{"web-php", "web,php-fpm", false, TLSGo},
	}
	for _, c := range cases {
		p, err := TesterProfile(c.name)
		if err != nil {
			t.Errorf("TesterProfile(%q): %v", c.name, err)
			continue
		}
		if got := strings.Join(p.Modules(), ","); got != c.modules {
			t.Errorf("TesterProfile(%q) modules = %s, want %s", c.name, got, c.modules)
		}
		if p.RequiresFIPS != c.fips || p.TLSBackend != c.backend {
			t.Errorf("TesterProfile(%q) = %+v, want fips=%v backend=%s", c.name, p, c.fips, c.backend)
		}
		if c.name != "" && p.Name != c.name {
			t.Errorf("TesterProfile(%q).Name = %q", c.name, p.Name)
		}
	}
	if len(TesterProfiles()) != len(cases)-1 {
		t.Errorf("TesterProfiles() = %v, not every profile is tested", TesterProfiles())
	}
	if p, _ := TesterProfile(""); p.Name != DefaultTesterProfile {
		t.Errorf(`TesterProfile("").Name = %q`, p.Name)
	}
}

func TestTesterProfileErrors(t *testing.T) {
	for _, name := range []string{"fips-openssl", "iso19790-openssl"} {
		_, err := TesterProfile(name)
		if err == nil || !strings.Contains(err.Error(), ReasonOpenSSL) {
			t.Errorf("TesterProfile(%s) error = %v, want the OpenSSL reason", name, err)
		}
	}
	_, err := TesterProfile("bogus")
	if err == nil || !strings.Contains(err.Error(), "unknown config-tester profile") ||
		!strings.Contains(err.Error(), "web-php") {
		t.Errorf("TesterProfile(bogus) error = %v", err)
	}
}

func TestTesterPolicyHas(t *testing.T) {
	p, _ := TesterProfile("web-php")
	if p.Has(Proxy) || !p.Has(Web) || p.Has(Cache) || !p.Has(PHPFPM) || p.Has("bogus") {
		t.Errorf("web-php Has mismatch: %+v", p)
	}
	if !slices.Equal(p.Modules(), []string{Web, PHPFPM}) {
		t.Errorf("web-php Modules() = %v", p.Modules())
	}
}
