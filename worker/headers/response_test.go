package headers

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fluxheim/fluxheim/shared/tmpl"
	"github.com/fluxheim/fluxheim/worker/reqctx"
)

func upstreamHeaders() http.Header {
	return http.Header{
		"Server":          {"origin/1.2.3"},
		"X-Powered-By":    {"PHP/8"},
		"X-Frame-Options": {"ALLOWALL"},
		"Content-Type":    {"text/html"},
	}
}

func TestResponseDefaults(t *testing.T) {
	h := upstreamHeaders()
	DefaultResponse().Apply(h, httptest.NewRequest("GET", "/", nil), nil)
	want := map[string]string{
		"Server":                    "fluxheim",
		"X-Powered-By":              "",
		"X-Content-Type-Options":    "nosniff",
		"X-Frame-Options":           "DENY",
		"Referrer-Policy":           "no-referrer",
		"Content-Type":              "text/html",
		"Strict-Transport-Security": "",
	}
	for k, v := range want {
		if got := strings.Join(h[k], "|"); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestResponsePolicy(t *testing.T) {
	c, err := CompileResponse(ResponsePolicy{
		XFrameOptions:         String(""),
		ContentSecurityPolicy: String("default-src 'self'"),
		HSTS:                  &HSTS{IncludeSubdomains: true},
		Remove:                []string{"server"},
		Add:                   map[string]string{"Cache-Control": "public, max-age=60", "X-Req": "{request_id}"},
		Append:                map[string][]string{"Vary": {"Accept-Encoding", "Origin"}},
	}, tmpl.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := upstreamHeaders()
	h["Vary"] = []string{"Cookie"}
	c.Apply(h, httptest.NewRequest("GET", "https://example.test/", nil), &reqctx.Info{RequestID: "r1"})
	want := map[string]string{
		"Server":                    "",
		"X-Powered-By":              "PHP/8",
		"X-Frame-Options":           "ALLOWALL",
		"Content-Security-Policy":   "default-src 'self'",
		"Strict-Transport-Security": "max-age=63072000; includeSubDomains",
		"Cache-Control":             "public, max-age=60",
		"X-Req":                     "r1",
		"Vary":                      "Cookie|Accept-Encoding|Origin",
	}
	for k, v := range want {
		if got := strings.Join(h[k], "|"); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

// HSTS goes out on HTTPS responses only (RFC 6797 §7.2).
func TestHSTSOnlyOverTLS(t *testing.T) {
	c, err := CompileResponse(ResponsePolicy{HSTS: &HSTS{}}, tmpl.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	c.Apply(h, httptest.NewRequest("GET", "http://example.test/", nil), nil)
	if v := h.Get("Strict-Transport-Security"); v != "" {
		t.Errorf("cleartext response carries HSTS %q", v)
	}
	c.Apply(h, httptest.NewRequest("GET", "https://example.test/", nil), nil)
	if v := h.Get("Strict-Transport-Security"); v != "max-age=63072000" {
		t.Errorf("HTTPS response HSTS = %q", v)
	}
}

func TestResponseDisabled(t *testing.T) {
	c, err := CompileResponse(ResponsePolicy{Enabled: Bool(false)}, tmpl.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := upstreamHeaders()
	c.Apply(h, httptest.NewRequest("GET", "/", nil), nil)
	if h.Get("Server") != "origin/1.2.3" || h.Get("X-Powered-By") != "PHP/8" {
		t.Fatalf("disabled policy changed headers: %v", h)
	}
}

func TestCompileResponseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    ResponsePolicy
		want string
	}{
		{"both hsts", ResponsePolicy{StrictTransportSecurity: String("max-age=1"), HSTS: &HSTS{}}, "not both"},
		{"hsts zero", ResponsePolicy{HSTS: &HSTS{MaxAgeSecs: new(uint64)}}, "max_age_secs"},
		{"csp control", ResponsePolicy{ContentSecurityPolicy: String("a\nb")}, "control byte"},
		{"blank", ResponsePolicy{ReferrerPolicy: String("  ")}, "empty value"},
		{"add content-length", ResponsePolicy{Add: map[string]string{"content-length": "1"}}, "cannot be set"},
		{"add host", ResponsePolicy{Add: map[string]string{"host": "x"}}, "cannot be set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CompileResponse(tc.p, tmpl.ParseOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestMergeResponse(t *testing.T) {
	base := ResponsePolicy{StrictTransportSecurity: String("max-age=1")}
	over := ResponsePolicy{HSTS: &HSTS{}, Remove: []string{"x-debug"}, XFrameOptions: String("SAMEORIGIN")}
	m := MergeResponse(base, over)
	if m.StrictTransportSecurity != nil || m.HSTS == nil || *m.XFrameOptions != "SAMEORIGIN" {
		t.Errorf("merge scalars: %+v", m)
	}
	if strings.Join(m.Remove, ",") != "X-Powered-By,x-debug" {
		t.Errorf("Remove = %v (inherited default must survive)", m.Remove)
	}
	if _, err := CompileResponse(m, tmpl.ParseOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestResponseApplyStaticZeroAlloc(t *testing.T) {
	c := DefaultResponse()
	r := httptest.NewRequest("GET", "/", nil)
	h := upstreamHeaders()
	if n := testing.AllocsPerRun(100, func() { c.Apply(h, r, nil) }); n != 0 {
		t.Fatalf("Apply allocates %v times", n)
	}
}

func BenchmarkResponseApplyDefault(b *testing.B) {
	c := DefaultResponse()
	r := httptest.NewRequest("GET", "/", nil)
	h := upstreamHeaders()
	b.ReportAllocs()
	for b.Loop() {
		c.Apply(h, r, nil)
	}
}
