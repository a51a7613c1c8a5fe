package headers

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/fluxheim/fluxheim/shared/tmpl"
	"github.com/fluxheim/fluxheim/worker/reqctx"
)

// inbound builds a client request carrying spoofed forwarding headers.
func inbound() *http.Request {
	r := httptest.NewRequest("GET", "/app/x?y=1", nil)
	r.Host = "www.example.org"
	r.RemoteAddr = "10.0.0.5:40000"
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 203.0.113.50")
	r.Header.Set("X-Real-IP", "6.6.6.6")
	r.Header.Set("Forwarded", "for=6.6.6.6")
	r.Header.Set("X-Forwarded-Host", "evil.example")
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("CF-Connecting-IP", "6.6.6.6")
	r.Header.Set("Accept", "text/html")
	return r
}

func outbound(in *http.Request) *http.Request {
	out := in.Clone(in.Context())
	return out
}

func infoFor(peer, client string, trusted bool) *reqctx.Info {
	return &reqctx.Info{
		PeerAddr:    netip.AddrPortFrom(netip.MustParseAddr(peer), 40000),
		ClientIP:    netip.MustParseAddr(client),
		PeerTrusted: trusted,
		Scheme:      "http",
	}
}

func compileReq(t *testing.T, p RequestPolicy) *CompiledRequest {
	t.Helper()
	c, err := CompileRequest(p, tmpl.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRequestDefaultUntrustedPeer(t *testing.T) {
	in := inbound()
	out := outbound(in)
	DefaultRequest().Apply(out, in, infoFor("10.0.0.5", "10.0.0.5", false))
	want := map[string]string{
		"X-Forwarded-For":   "10.0.0.5",
		"X-Real-Ip":         "10.0.0.5",
		"X-Forwarded-Host":  "www.example.org",
		"X-Forwarded-Proto": "http",
		"Forwarded":         "",
		"Cf-Connecting-Ip":  "",
		"Accept":            "text/html",
	}
	for k, v := range want {
		if got := strings.Join(out.Header[k], "|"); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if in.Header.Get("X-Forwarded-For") != "6.6.6.6, 203.0.113.50" {
		t.Error("inbound request modified")
	}
}

func TestRequestXFFModes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mode    string
		trusted bool
		want    string
	}{
		{"replace untrusted", XFFReplace, false, "10.0.0.5"},
		{"replace trusted uses restored client", XFFReplace, true, "203.0.113.50"},
		{"append untrusted drops chain", XFFAppend, false, "10.0.0.5"},
		{"append trusted keeps chain and adds peer", XFFAppend, true, "6.6.6.6, 203.0.113.50, 10.0.0.5"},
		{"off", XFFOff, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := compileReq(t, RequestPolicy{XForwardedFor: tc.mode})
			in := inbound()
			out := outbound(in)
			out.Header.Del("X-Forwarded-For") // as httputil.ReverseProxy does before Rewrite
			client := "10.0.0.5"
			if tc.trusted {
				client = "203.0.113.50"
			}
			c.Apply(out, in, infoFor("10.0.0.5", client, tc.trusted))
			if got := strings.Join(out.Header["X-Forwarded-For"], "|"); got != tc.want {
				t.Fatalf("X-Forwarded-For = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRequestTrustedPeerKeepsOtherHeaders(t *testing.T) {
	c := compileReq(t, RequestPolicy{XForwardedHost: Bool(false), XRealIP: Bool(false)})
	in := inbound()
	out := outbound(in)
	out.Header.Del("X-Forwarded-Host")
	c.Apply(out, in, infoFor("10.0.0.5", "203.0.113.50", true))
	if got := out.Header.Get("X-Forwarded-Host"); got != "evil.example" {
		t.Errorf("trusted X-Forwarded-Host = %q (should pass through when generation is off)", got)
	}
	if got := out.Header.Get("Cf-Connecting-Ip"); got != "6.6.6.6" {
		t.Errorf("trusted CF-Connecting-IP = %q", got)
	}
	if got := out.Header.Get("X-Real-Ip"); got != "6.6.6.6" {
		t.Errorf("X-Real-IP = %q", got)
	}
}

func TestRequestStripOffLetsClientValuesThrough(t *testing.T) {
	c := compileReq(t, RequestPolicy{StripInboundClientIPHeaders: Bool(false), XForwardedProto: Bool(false)})
	in := inbound()
	out := outbound(in)
	c.Apply(out, in, infoFor("10.0.0.5", "10.0.0.5", false))
	if got := out.Header.Get("X-Forwarded-Proto"); got != "https" {
		t.Errorf("X-Forwarded-Proto = %q", got)
	}
	if got := out.Header.Get("X-Forwarded-For"); got != "10.0.0.5" {
		t.Errorf("X-Forwarded-For = %q: replace must still overwrite", got)
	}
}

func TestRequestDisabledStillStrips(t *testing.T) {
	c := compileReq(t, RequestPolicy{Enabled: Bool(false), Add: map[string]string{"x-a": "1"}})
	in := inbound()
	out := outbound(in)
	c.Apply(out, in, infoFor("10.0.0.5", "10.0.0.5", false))
	for _, k := range ClientIPHeaders {
		if _, ok := out.Header[k]; ok {
			t.Errorf("%s forwarded with policy disabled", k)
		}
	}
	if out.Header.Get("X-A") != "" {
		t.Error("add applied with policy disabled")
	}
}

func TestRequestForwarded(t *testing.T) {
	c := compileReq(t, RequestPolicy{Forwarded: Bool(true)})
	for _, tc := range []struct{ client, host, scheme, want string }{
		{"203.0.113.9", "example.org", "https", `for=203.0.113.9;host="example.org";proto=https`},
		{"2001:db8::7", "example.org:8080", "http", `for="[2001:db8::7]";host="example.org:8080";proto=http`},
	} {
		in := inbound()
		in.Host = tc.host
		out := outbound(in)
		info := infoFor("10.0.0.5", tc.client, true)
		info.Scheme = tc.scheme
		c.Apply(out, in, info)
		if got := out.Header.Get("Forwarded"); got != tc.want {
			t.Errorf("Forwarded = %q, want %q", got, tc.want)
		}
	}
}

func TestRequestMutations(t *testing.T) {
	c, err := CompileRequest(RequestPolicy{
		Remove: []string{"accept", "x-drop"},
		Add: map[string]string{
			"X-Original-URI": "{uri}",
			"x-proxy-by":     "fluxheim",
			"Host":           "backend.internal",
			"X-Empty":        "{http.x-none}",
			"X-Id":           "{route.regex.id}",
		},
		Append: map[string][]string{"via": {"1.1 fluxheim", "{scheme}"}, "X-Multi": {"a"}},
	}, tmpl.ParseOptions{Captures: true, CaptureNames: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	in := inbound()
	in.Header.Set("X-Drop", "1")
	in.Header.Set("X-Empty", "client")
	in.Header["Via"] = []string{"1.0 upstream-cdn"}
	in.Header["X-Multi"] = make([]string, 1, 4) // spare capacity must not be written
	in.Header["X-Multi"][0] = "z"
	out := outbound(in)
	out.Header["X-Multi"] = in.Header["X-Multi"]
	info := infoFor("10.0.0.5", "10.0.0.5", false)
	info.Captures, info.CaptureNames = []string{"/u/7", "7"}, []string{"", "id"}
	c.Apply(out, in, info)
	checks := map[string]string{
		"Accept":         "",
		"X-Drop":         "",
		"X-Original-Uri": "/app/x?y=1",
		"X-Proxy-By":     "fluxheim",
		"X-Empty":        "",
		"X-Id":           "7",
		"Via":            "1.0 upstream-cdn|1.1 fluxheim|http",
		"X-Multi":        "z|a",
	}
	for k, v := range checks {
		if got := strings.Join(out.Header[k], "|"); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if _, ok := out.Header["X-Empty"]; ok {
		t.Error("empty rendering must delete the header")
	}
	if out.Host != "backend.internal" {
		t.Errorf("Host = %q", out.Host)
	}
	if got := in.Header["X-Multi"][:2][1]; got != "" {
		t.Errorf("append wrote into the inbound slice: %q", got)
	}
}

func TestCompileRequestErrors(t *testing.T) {
	many := map[string]string{}
	for i := 0; i < MaxMutationNames+1; i++ {
		many["x-h"+strings.Repeat("a", i)] = "v"
	}
	tooManyVals := make([]string, MaxAppendValues+1)
	for i := range tooManyVals {
		tooManyVals[i] = "v"
	}
	for _, tc := range []struct {
		name string
		p    RequestPolicy
		want string
	}{
		{"bad mode", RequestPolicy{XForwardedFor: "prepend"}, "x_forwarded_for"},
		{"bad name", RequestPolicy{Remove: []string{"bad name"}}, `"bad name" is not a valid header name`},
		{"remove host", RequestPolicy{Remove: []string{"host"}}, "Host header cannot be removed"},
		{"add te", RequestPolicy{Add: map[string]string{"Transfer-Encoding": "chunked"}}, "cannot be set by policy"},
		{"append connection", RequestPolicy{Append: map[string][]string{"connection": {"close"}}}, "cannot be appended"},
		{"dup case", RequestPolicy{Add: map[string]string{"X-A": "1", "x-a": "2"}}, "name the same header"},
		{"unknown var", RequestPolicy{Add: map[string]string{"x-a": "{nope}"}}, "unknown variable {nope}"},
		{"tab", RequestPolicy{Add: map[string]string{"x-a": "a\tb"}}, "control byte"},
		{"empty", RequestPolicy{Add: map[string]string{"x-a": ""}}, "empty value"},
		{"tls in append", RequestPolicy{Append: map[string][]string{"x-a": {"{tls.client_cert_sha256}"}}}, "not allowed in append"},
		{"regex off", RequestPolicy{Add: map[string]string{"x-a": "{route.regex.1}"}}, "path_regex routes"},
		{"too many", RequestPolicy{Add: many}, "at most 128"},
		{"too many values", RequestPolicy{Append: map[string][]string{"x": tooManyVals}}, "at most 32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CompileRequest(tc.p, tmpl.ParseOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRequestNilInfoAndTLS(t *testing.T) {
	in := inbound()
	in.TLS = &tls.ConnectionState{}
	out := outbound(in)
	var c *CompiledRequest
	c.Apply(out, in, nil)
	if got := out.Header.Get("X-Forwarded-For"); got != "10.0.0.5" {
		t.Errorf("X-Forwarded-For = %q", got)
	}
	if got := out.Header.Get("X-Forwarded-Proto"); got != "https" {
		t.Errorf("X-Forwarded-Proto = %q", got)
	}
}

func TestMergeRequest(t *testing.T) {
	base := RequestPolicy{
		XForwardedFor: XFFAppend,
		XRealIP:       Bool(false),
		Remove:        []string{"x-a"},
		Add:           map[string]string{"X-Keep": "1", "X-Over": "base", "X-Cancel": "1"},
		Append:        map[string][]string{"Via": {"a"}, "X-Cancel": {"1"}},
	}
	over := RequestPolicy{
		XRealIP: Bool(true),
		Remove:  []string{"X-A", "x-cancel"},
		Add:     map[string]string{"x-over": "over"},
		Append:  map[string][]string{"via": {"b"}},
	}
	m := MergeRequest(base, over)
	if m.XForwardedFor != XFFAppend || !*m.XRealIP {
		t.Errorf("scalars: %+v", m)
	}
	if strings.Join(m.Remove, ",") != "x-a,x-cancel" {
		t.Errorf("Remove = %v", m.Remove)
	}
	if len(m.Add) != 2 || m.Add["x-over"] != "over" || m.Add["X-Keep"] != "1" {
		t.Errorf("Add = %v", m.Add)
	}
	if strings.Join(m.Append["Via"], ",") != "a,b" || m.Append["X-Cancel"] != nil {
		t.Errorf("Append = %v", m.Append)
	}
	if len(base.Append["Via"]) != 1 || len(base.Add) != 3 {
		t.Error("base modified")
	}
}

func BenchmarkRequestApplyDefault(b *testing.B) {
	in := inbound()
	info := infoFor("10.0.0.5", "10.0.0.5", false)
	out := outbound(in)
	b.ReportAllocs()
	for b.Loop() {
		DefaultRequest().Apply(out, in, info)
	}
}
