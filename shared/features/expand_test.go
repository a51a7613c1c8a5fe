package features

import (
	"slices"
	"strings"
	"testing"
)

const (
	coreSet   = "cache,ingress,proxy,security,tls,tls-go,web"
	codecs    = "compression,compression-brotli,compression-gzip,compression-zstd"
	fipsSet   = "ingress,proxy,security,tls,tls-go-fips"
	fullSet   = "cache," + codecs + ",geoip,ingress,load-balancer,proxy,security,stream-proxy,tls,tls-go,traffic-mirror,web"
	devSet    = "acme,acme-client,cache," + codecs + ",geoip,ingress,load-balancer,metrics,metrics-otlp,otel-otlp,otel-tracing,php-fpm,proxy,security,stream-proxy,tls,tls-go,traffic-mirror,web"
	obsSet    = "cache,ingress,metrics,metrics-otlp,otel-otlp,otel-tracing,proxy,security,tls,tls-go,web"
	lbSet     = "cache," + codecs + ",ingress,load-balancer,proxy,security,tls,tls-go,web"
	webSrvSet = codecs + ",ingress,proxy,security,tls,tls-go,web"
)

// aliasExpansions is the expected closed expansion of every alias, written
// out by hand from docs (not computed by the code under test).
var aliasExpansions = map[string]string{
	"default":                    coreSet,
	"profile-core":               coreSet,
	"profile-static-site":        "ingress,proxy,security,tls,tls-go,web",
	"profile-reverse-proxy":      "ingress,proxy,security,tls,tls-go",
	"profile-cache-server":       coreSet,
	"profile-load-balancer":      lbSet,
	"profile-observability":      obsSet,
	"profile-privacy":            "ingress,privacy-mode,proxy,security,tls,tls-go,web",
	"profile-full":               fullSet,
	"profile-development":        devSet,
	"profile-web-server":         webSrvSet,
	"profile-cache-edge":         "cache," + codecs + ",ingress,proxy,security,tls,tls-go",
	"profile-proxy-edge":         codecs + ",ingress,proxy,security,tls,tls-go",
	"profile-load-balancer-edge": codecs + ",ingress,load-balancer,proxy,security,tls,tls-go",
	"profile-fips-rustls":        fipsSet,
	"profile-iso19790-rustls":    fipsSet,
}

func split(s string) []string { return strings.Split(s, ",") }

func TestExpandAliases(t *testing.T) {
	for _, p := range append(Profiles(), DefaultAlias) {
		if _, ok := aliasExpansions[p]; !ok {
			t.Errorf("alias %s has no expected expansion in aliasExpansions", p)
		}
	}
	for alias, want := range aliasExpansions {
		got, tags, err := Expand([]string{alias})
		if err != nil {
			t.Errorf("Expand(%s): %v", alias, err)
			continue
		}
		if strings.Join(got, ",") != want {
			t.Errorf("Expand(%s) features\n got %s\nwant %s", alias, strings.Join(got, ","), want)
		}
		if tags[0] != NoDefaultTag || len(tags) != len(got)+1 {
			t.Errorf("Expand(%s) tags = %v, want %s then one tag per feature", alias, tags, NoDefaultTag)
		}
		// Expanding the result again is a fixed point.
		again, _, err := Expand(got)
		if err != nil || !slices.Equal(again, got) {
			t.Errorf("Expand(Expand(%s)) = %v, %v; want %v", alias, again, err, got)
		}
	}
}

func TestExpandImplied(t *testing.T) {
	cases := []struct{ in, want, tags string }{
		{"proxy,web,tls-rustls", "ingress,proxy,tls,tls-go,web",
			"fh_nodefault,fh_ingress,fh_proxy,fh_tls,fh_tls_go,fh_web"},
		{"php-fpm", "ingress,php-fpm,proxy,web",
			"fh_nodefault,fh_ingress,fh_php_fpm,fh_proxy,fh_web"},
		{"acme-client", "acme,acme-client,ingress,tls", ""},
		{"acme", "acme,ingress,tls", ""},
		{"compression-zstd", "compression,compression-zstd,ingress,proxy",
			"fh_nodefault,fh_compression,fh_compression_zstd,fh_ingress,fh_proxy"},
		{"compression-gzip", "compression,compression-gzip,ingress,proxy", ""},
		{"compression-brotli", "compression,compression-brotli,ingress,proxy", ""},
		{"tls-go", "ingress,tls,tls-go", ""},
		{"tls-go-fips", "ingress,tls,tls-go-fips", "fh_nodefault,fh_ingress,fh_tls,fh_tls_go_fips"},
		{"tls-rustls-fips", "ingress,tls,tls-go-fips", ""},
		{"tls-rustls-iso19790,tls-rustls-fips", "ingress,tls,tls-go-fips", ""},
		{"tls-rustls,tls-go", "ingress,tls,tls-go", ""},
		{"metrics-otlp", "metrics,metrics-otlp", "fh_nodefault,fh_metrics,fh_metrics_otlp"},
		{"otel-otlp", "ingress,otel-otlp,otel-tracing,proxy", ""},
		{"load-balancer", "ingress,load-balancer,proxy", ""},
		{"stream-proxy", "ingress,proxy,stream-proxy", ""},
		{"traffic-mirror", "ingress,proxy,traffic-mirror", ""},
		{"geoip", "geoip,ingress,proxy", ""},
		{"privacy-mode", "ingress,privacy-mode,proxy,web", ""},
		{"security", "security", "fh_nodefault,fh_security"},
		{"cache", "cache", ""},
		{" web , , cache ", "cache,web", ""},
		{"profile-web-server,php-fpm", "compression,compression-brotli,compression-gzip,compression-zstd,ingress,php-fpm,proxy,security,tls,tls-go,web", ""},
		{"php-fpm,security,tls-rustls-fips", "ingress,php-fpm,proxy,security,tls,tls-go-fips,web", ""},
		{"profile-full,acme-client,metrics,metrics-otlp,otel-tracing,otel-otlp",
			"acme,acme-client,cache," + codecs + ",geoip,ingress,load-balancer,metrics,metrics-otlp,otel-otlp,otel-tracing,proxy,security,stream-proxy,tls,tls-go,traffic-mirror,web", ""},
		{"profile-privacy,acme-client", "acme,acme-client,ingress,privacy-mode,proxy,security,tls,tls-go,web", ""},
	}
	for _, c := range cases {
		got, tags, err := Expand(split(c.in))
		if err != nil {
			t.Errorf("Expand(%q): %v", c.in, err)
			continue
		}
		if g := strings.Join(got, ","); g != c.want {
			t.Errorf("Expand(%q) = %s, want %s", c.in, g, c.want)
		}
		if c.tags != "" && strings.Join(tags, ",") != c.tags {
			t.Errorf("Expand(%q) tags = %s, want %s", c.in, strings.Join(tags, ","), c.tags)
		}
	}
}

func TestExpandEverySingleFeature(t *testing.T) {
	for _, f := range All() {
		got, _, err := Expand([]string{f})
		if err != nil {
			t.Errorf("Expand(%s): %v", f, err)
			continue
		}
		if !slices.Contains(got, f) {
			t.Errorf("Expand(%s) = %v lacks the feature itself", f, got)
		}
		for _, m := range Implies(f) {
			if !slices.Contains(got, m) {
				t.Errorf("Expand(%s) = %v lacks implied %s", f, got, m)
			}
		}
	}
}

func TestExpandErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "empty feature list"},
		{" , ", "empty feature list"},
		{"bogus", `unknown feature "bogus"`},
		{"proxy,Proxy", `unknown feature "Proxy"`},
		{"fh_proxy", `unknown feature "fh_proxy"`},
		{"tls-openssl", ReasonOpenSSL},
		{"tls-openssl-fips", ReasonOpenSSL},
		{"tls-openssl-iso19790", ReasonOpenSSL},
		{"profile-fips-openssl", ReasonOpenSSL},
		{"profile-iso19790-openssl", ReasonOpenSSL},
		{"tls-boringssl", "BoringSSL is not a supported"},
		{"tls-s2n", "s2n-tls is not a supported"},
		{"wasm", "not available in the Go port"},
		{"udp-proxy", "not available in the Go port"},
		// More than one TLS backend.
		{"tls-go,tls-go-fips", "tls-go cannot be combined with tls-go-fips: a binary links exactly one TLS backend"},
		{"tls-rustls,tls-rustls-fips", "tls-go (from tls-rustls) cannot be combined with tls-go-fips (from tls-rustls-fips)"},
		{"profile-web-server,tls-go-fips", "tls-go (from profile-web-server) cannot be combined with tls-go-fips"},
		{"default,profile-fips-rustls", "exactly one TLS backend"},
		{"profile-core,tls-rustls-iso19790", "exactly one TLS backend"},
		// Privacy mode.
		{"privacy-mode,default", "privacy-mode cannot be combined with cache (from default): zero-retention builds must not compile request/response cache code"},
		{"profile-privacy,profile-core", "privacy-mode (from profile-privacy) cannot be combined with cache (from profile-core)"},
		{"profile-privacy,cache", "cannot be combined with cache"},
		{"profile-privacy,metrics", "cannot be combined with metrics: zero-retention builds must not compile request metrics"},
		{"profile-privacy,metrics-otlp", "cannot be combined with metrics-otlp: zero-retention builds must not compile metrics export"},
		{"profile-privacy,otel-tracing", "cannot be combined with otel-tracing: zero-retention builds must not compile trace context propagation"},
		{"profile-privacy,otel-otlp", "cannot be combined with otel-otlp: zero-retention builds must not compile trace export"},
		{"profile-privacy,compression", "cannot be combined with compression: zero-retention builds must not transform response bodies"},
		{"profile-privacy,compression-gzip", "cannot be combined with compression-gzip"},
		{"profile-privacy,compression-zstd", "cannot be combined with compression-zstd"},
		{"profile-privacy,compression-brotli", "cannot be combined with compression-brotli"},
		{"profile-privacy,geoip", "cannot be combined with geoip"},
		{"privacy-mode,profile-web-server", "cannot be combined with compression-gzip (from profile-web-server)"},
		{"privacy-mode,profile-observability", "privacy-mode cannot be combined with cache"},
	}
	for _, c := range cases {
		got, tags, err := Expand(split(c.in))
		if err == nil {
			t.Errorf("Expand(%q) = %v, %v; want error containing %q", c.in, got, tags, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Expand(%q) error = %q, want it to contain %q", c.in, err, c.want)
		}
	}
}

func TestExpandEveryForbiddenCombination(t *testing.T) {
	for _, c := range ForbiddenCombinations() {
		_, _, err := Expand([]string{c.A, c.B})
		if err == nil || !strings.Contains(err.Error(), c.Reason) {
			t.Errorf("Expand(%s,%s) error = %v, want reason %q", c.A, c.B, err, c.Reason)
		}
	}
	// The seed's forbidden pairs must all be present.
	for _, pair := range [][2]string{
		{TLSGo, TLSGoFIPS}, {PrivacyMode, Cache}, {PrivacyMode, Metrics},
		{PrivacyMode, MetricsOTLP}, {PrivacyMode, OtelTracing}, {PrivacyMode, OtelOTLP},
		{PrivacyMode, Compression},
	} {
		if !slices.ContainsFunc(ForbiddenCombinations(), func(f ForbiddenCombination) bool {
			return f.A == pair[0] && f.B == pair[1]
		}) {
			t.Errorf("missing forbidden combination %v", pair)
		}
	}
}

func TestProfilesAreAcyclicAndKnown(t *testing.T) {
	for name, members := range profiles {
		for _, m := range members {
			if !Known(m) && profiles[m] == nil {
				t.Errorf("profile %s member %q is neither a feature nor a profile", name, m)
			}
		}
	}
	if len(profiles) != len(profileOrder) {
		t.Errorf("profileOrder has %d names, profiles %d", len(profileOrder), len(profiles))
	}
}

func TestDefaultIsClosedAndValid(t *testing.T) {
	got, _, err := Expand([]string{DefaultAlias})
	if err != nil || !slices.Equal(got, Default()) {
		t.Fatalf("Expand(default) = %v, %v; Default() = %v", got, err, Default())
	}
}

func TestKnownAndTag(t *testing.T) {
	if len(All()) != 24 {
		t.Errorf("All() has %d features, want 24: %v", len(All()), All())
	}
	for _, f := range All() {
		if !Known(f) {
			t.Errorf("Known(%s) = false", f)
		}
	}
	for _, n := range []string{"", "default", "profile-core", "tls-rustls", "fh_proxy", "tls-openssl"} {
		if Known(n) {
			t.Errorf("Known(%q) = true", n)
		}
	}
	for in, want := range map[string]string{
		"proxy": "fh_proxy", "compression-gzip": "fh_compression_gzip",
		"tls-go-fips": "fh_tls_go_fips", "php-fpm": "fh_php_fpm",
	} {
		if got := Tag(in); got != want {
			t.Errorf("Tag(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestProfileWith(t *testing.T) {
	cases := map[string]string{
		Cache:             "profile-core",
		Web:               "profile-static-site",
		Proxy:             "profile-reverse-proxy",
		Security:          "profile-reverse-proxy",
		PHPFPM:            "profile-development",
		ACME:              "profile-development",
		ACMEClient:        "profile-development",
		TLSGoFIPS:         "profile-fips-rustls",
		"tls-rustls-fips": "profile-fips-rustls",
		"tls-rustls":      "profile-reverse-proxy",
		PrivacyMode:       "profile-privacy",
		Metrics:           "profile-observability",
		OtelOTLP:          "profile-observability",
		CompressionGzip:   "profile-proxy-edge",
		LoadBalancer:      "profile-load-balancer-edge",
		GeoIP:             "profile-full",
		StreamProxy:       "profile-full",
		TrafficMirror:     "profile-full",
		"bogus":           "",
		"profile-core":    "",
	}
	for in, want := range cases {
		if got := ProfileWith(in); got != want {
			t.Errorf("ProfileWith(%s) = %q, want %q", in, got, want)
		}
	}
	for _, f := range All() {
		if ProfileWith(f) == "" {
			t.Errorf("no profile contains %s", f)
		}
	}
}
