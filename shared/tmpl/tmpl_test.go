package tmpl

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/fluxheim/fluxheim/worker/reqctx"
)

func TestParseErrors(t *testing.T) {
	regex := ParseOptions{Captures: true, CaptureNames: []string{"id", "slug"}}
	for _, tc := range []struct {
		src  string
		opts ParseOptions
		want string
	}{
		{"", ParseOptions{}, "empty value"},
		{"   ", ParseOptions{}, "empty value"},
		{"a\tb", ParseOptions{}, "control byte 0x09"},
		{"a\x00b", ParseOptions{}, "control byte 0x00"},
		{"x{host", ParseOptions{}, "unbalanced '{'"},
		{"x}y", ParseOptions{}, "unbalanced '}'"},
		{"{a{host}}", ParseOptions{}, "unbalanced '{'"},
		{"{hostname}", ParseOptions{}, "unknown variable {hostname}"},
		{"{}", ParseOptions{}, "unknown variable {}"},
		{"{http.bad header}", ParseOptions{}, "not a valid header name"},
		{"{http.}", ParseOptions{}, "not a valid header name"},
		{"{route.regex.1}", ParseOptions{}, "only available on path_regex routes"},
		{"{route.regex.16}", regex, "capture index must be 0..15"},
		{"{route.regex.-1}", regex, "invalid capture name"},
		{"{route.regex.other}", regex, `no group named "other"`},
		{"{route.regex.}", regex, "invalid capture name"},
		{strings.Repeat("a", MaxTemplateBytes+1), ParseOptions{}, "longer than"},
	} {
		_, err := Parse(tc.src, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error = %v, want %q", tc.src, err, tc.want)
		}
	}
}

func TestStatic(t *testing.T) {
	tp := MustParse("no-referrer", ParseOptions{})
	if v, ok := tp.Static(); !ok || v != "no-referrer" {
		t.Fatalf("Static = %q, %v", v, ok)
	}
	if _, ok := MustParse("x {host}", ParseOptions{}).Static(); ok {
		t.Fatal("dynamic template reported static")
	}
}

func newReq(target string) *http.Request {
	r := httptest.NewRequest("GET", target, nil)
	r.Host = "Example.org:8443"
	r.RemoteAddr = "[::ffff:192.0.2.9]:5555"
	return r
}

func render(t *testing.T, src string, opts ParseOptions, r *http.Request, info *reqctx.Info) string {
	t.Helper()
	tp, err := Parse(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	return string(tp.Render(nil, r, info))
}

func TestRenderVariables(t *testing.T) {
	r := newReq("/a%20b/c?x=1&y=%0a")
	r.Header.Set("X-Token", "abc\x01def")
	info := &reqctx.Info{
		ClientIP:     netip.MustParseAddr("203.0.113.7"),
		Scheme:       "https",
		RequestID:    "rid-1",
		Captures:     []string{"/users/42", "42", strings.Repeat("é", 600)},
		CaptureNames: []string{"", "id", "long"},
	}
	opts := ParseOptions{Captures: true, CaptureNames: []string{"id", "long"}}
	for src, want := range map[string]string{
		"{host}":                           "Example.org:8443",
		"{http.host}":                      "Example.org:8443",
		"{remote_addr}":                    "203.0.113.7",
		"{scheme}://{host}{uri}":           "https://Example.org:8443/a%20b/c?x=1&y=%0a",
		"{path}|{query}":                   "/a%20b/c|x=1&y=%0a",
		"id={request_id}":                  "id=rid-1",
		"{http.x-token}":                   "abcdef",
		"{http.missing}-":                  "-",
		"{route.regex.1}/{route.regex.id}": "42/42",
		"[{route.regex.9}]":                "[]",
		"{tls.cipher}{tls.version}":        "",
	} {
		if got := render(t, src, opts, r, info); got != want {
			t.Errorf("%s = %q, want %q", src, got, want)
		}
	}
	long := render(t, "{route.regex.long}", opts, r, info)
	if len(long) > MaxCaptureBytes || len(long) < MaxCaptureBytes-3 || !strings.HasPrefix(long, "éé") || strings.ContainsRune(long, 0xfffd) {
		t.Errorf("capped capture: len %d", len(long))
	}
	if !validUTF8(long) {
		t.Error("capped capture cut inside a rune")
	}
}

func validUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestRenderWithoutInfo(t *testing.T) {
	r := newReq("/p")
	if got := render(t, "{remote_addr} {scheme}", ParseOptions{}, r, nil); got != "192.0.2.9 http" {
		t.Fatalf("got %q", got)
	}
	r.TLS = &tls.ConnectionState{}
	if got := render(t, "{scheme}", ParseOptions{}, r, nil); got != "https" {
		t.Fatalf("got %q", got)
	}
}

func TestRenderTLS(t *testing.T) {
	cert := &x509.Certificate{
		Raw:          []byte("certificate-bytes"),
		SerialNumber: big.NewInt(0x0a0b0c),
		Subject:      pkix.Name{Organization: []string{"Example Org", "Unit\x00Two"}},
	}
	r := newReq("/")
	r.TLS = &tls.ConnectionState{
		Version:          tls.VersionTLS13,
		CipherSuite:      tls.TLS_AES_128_GCM_SHA256,
		PeerCertificates: []*x509.Certificate{cert},
	}
	src := "{tls.version}|{tls.cipher}|{tls.client_cert_serial}|{tls.client_cert_organization}|{tls.client_cert_sha256}"
	if got := render(t, src, ParseOptions{}, r, nil); got != "TLSv1.3|TLS_AES_128_GCM_SHA256|||" {
		t.Fatalf("unverified cert rendered identity: %q", got)
	}
	r.TLS.VerifiedChains = [][]*x509.Certificate{{cert}}
	sum := sha256.Sum256(cert.Raw)
	want := "TLSv1.3|TLS_AES_128_GCM_SHA256|0A0B0C|Example Org, UnitTwo|" + hex.EncodeToString(sum[:])
	if got := render(t, src, ParseOptions{}, r, nil); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if !MustParse("{tls.cipher}", ParseOptions{}).UsesTLS() || MustParse("{host}", ParseOptions{}).UsesTLS() {
		t.Fatal("UsesTLS wrong")
	}
}

func TestRenderStripsControlBytes(t *testing.T) {
	r := newReq("/")
	r.Header["X-Evil"] = []string{"a\r\nInjected: 1\x7f"}
	if got := render(t, "v={http.x-evil}", ParseOptions{}, r, nil); got != "v=aInjected: 1" {
		t.Fatalf("got %q", got)
	}
}

func TestTargetFallback(t *testing.T) {
	r, _ := http.NewRequest("GET", "http://example.org/x%2Fy?q=1", nil)
	uri, p, q := Target(r)
	if uri != "/x%2Fy?q=1" || p != "/x%2Fy" || q != "q=1" {
		t.Fatalf("Target = %q %q %q", uri, p, q)
	}
}

func TestRenderZeroAllocStatic(t *testing.T) {
	r := newReq("/a?b")
	info := &reqctx.Info{ClientIP: netip.MustParseAddr("192.0.2.1"), Scheme: "http"}
	tp := MustParse("{scheme}://{host}{uri} {remote_addr}", ParseOptions{})
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf = tp.Render(buf[:0], r, info) }); n != 0 {
		t.Fatalf("Render allocates %v times", n)
	}
}
