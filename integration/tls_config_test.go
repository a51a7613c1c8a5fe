package integration

// TLS configs `fluxheim -t` refuses, each naming file:line, the key and
// the reason; and the same refusal when starting.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/integration/harness"
)

func TestTLSConfigRefusals(t *testing.T) {
	t.Parallel()
	ca := tlsNewCA(t, "Fluxheim config CA")
	dir := tlsPKIDir(t)
	crt, key := ca.issue(t, "main.test", []string{"main.test"}, nil, false).writePair(t, dir, "good")
	openCrt, openKey := ca.issue(t, "main.test", []string{"main.test"}, nil, false).writePair(t, dir, "open")
	if err := os.Chmod(openKey, 0o644); err != nil {
		t.Fatal(err)
	}
	_, otherKey := ca.issue(t, "other.test", []string{"other.test"}, nil, false).writePair(t, dir, "other")
	www := filepath.Join(dir, "www")
	if err := os.MkdirAll(www, 0o755); err != nil {
		t.Fatal(err)
	}

	head := `[server]
listen = ["127.0.0.1:1"]
tls_listen = ["127.0.0.1:2"]
`
	web := fmt.Sprintf("\n[web]\nroot = %q\n", www)
	pair := func(c, k string) string {
		return fmt.Sprintf("\n[[tls.certificates]]\ncert_path = %q\nkey_path = %q\n", c, k)
	}
	proxy := func(keys string) string {
		return head + "\n[tls]\nenabled = true\n" + pair(crt, key) + "\n[proxy]\nupstreams = [\"127.0.0.1:3\"]\n" + keys + "\n"
	}
	for _, tc := range []struct {
		name, config string
		line         int    // of the reported key (or of its table when the key is missing)
		want         string // "key: reason" part
	}{
		{"tls_listen without [tls]", head + web, 3,
			"server.tls_listen: needs [tls] enabled = true"},
		{"tls_listen with [tls] disabled", head + "\n[tls]\nenabled = false\n" + pair(crt, key) + web, 3,
			"server.tls_listen: needs [tls] enabled = true"},
		{"key readable by others", head + "\n[tls]\nenabled = true\n" + pair(openCrt, openKey) + web, 10,
			"tls.certificates[0].key_path: private key " + openKey + " is readable by group or others (mode 0644); chmod 600 it"},
		{"vhost key readable by others", head + "\n[tls]\nenabled = true\n" + pair(crt, key) + fmt.Sprintf(`
[[vhosts]]
name = "v"
hosts = ["v.test"]
[vhosts.tls.certificate]
cert_path = %q
key_path = %q
[vhosts.web]
root = %q
`, openCrt, openKey, www), 17,
			"vhosts[0].tls.certificate.key_path: private key " + openKey + " is readable by group or others (mode 0644)"},
		{"backend openssl", head + "\n[tls]\nenabled = true\nbackend = \"openssl\"\n" + pair(crt, key) + web, 7,
			`tls.backend: "openssl" is not available in the Go port: Go's crypto/tls is the only TLS stack`},
		{"backend boringssl", head + "\n[tls]\nenabled = true\nbackend = \"boringssl\"\n" + pair(crt, key) + web, 7,
			`tls.backend: "boringssl" is not available`},
		{"modern with tls1.2", head + "\n[tls]\nenabled = true\nprofile = \"modern\"\nmin_protocol = \"tls1.2\"\n" + pair(crt, key) + web, 8,
			`tls.min_protocol: profile "modern" is TLS 1.3 only`},
		{"no certificate", head + "\n[tls]\nenabled = true\n" + web, 5,
			"tls.certificates: no fallback certificate"},
		{"certificate and key do not match", head + "\n[tls]\nenabled = true\n" + pair(crt, otherKey) + web, 9,
			"tls.certificates[0].cert_path: " + crt + " and " + otherKey + ": tls: private key does not match public key"},
		{"client_auth without ca_path", head + "\n[tls]\nenabled = true\n" + pair(crt, key) + "\n[tls.client_auth]\nmode = \"required\"\n" + web, 12,
			`tls.client_auth.ca_path: is required with mode "required"`},
		{"https_redirect without tls_listen", "[server]\nlisten = [\"127.0.0.1:1\"]\n\n[server.https_redirect]\nenabled = true\n" + web, 5,
			"server.https_redirect.enabled: needs at least one server.tls_listen address"},
		{"upstream verify_cert off alone", proxy("upstream_tls = true\nupstream_sni = \"o.test\"\nupstream_verify_cert = false"), 16,
			"proxy.upstream_verify_cert: turning certificate verification off needs upstream_verify_hostname = false too"},
		{"upstream IP without SNI", proxy("upstream_tls = true"), 12,
			`proxy.upstream_sni: is required for the IP-literal upstream "127.0.0.1:3" while hostname verification is on`},
		{"upstream SNI without TLS", proxy("upstream_sni = \"o.test\""), 14,
			"proxy.upstream_sni: needs upstream_tls = true"},
		{"upstream client key readable by others", proxy(fmt.Sprintf("upstream_tls = true\nupstream_sni = \"o.test\"\nupstream_client_cert_path = %q\nupstream_client_key_path = %q", openCrt, openKey)), 17,
			"proxy.upstream_client_key_path: private key " + openKey + " is readable by group or others"},
		{"upstream client cert without key", proxy(fmt.Sprintf("upstream_tls = true\nupstream_sni = \"o.test\"\nupstream_client_cert_path = %q", crt)), 16,
			"proxy.upstream_client_cert_path: set upstream_client_cert_path and upstream_client_key_path together"},
		{"upstream_http_version", proxy("upstream_tls = true\nupstream_sni = \"o.test\"\nupstream_http_version = \"http3\""), 16,
			"proxy.upstream_http_version: "},
	} {
		path := filepath.Join(t.TempDir(), "fluxheim.toml")
		if err := os.WriteFile(path, []byte(tc.config), 0o644); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := harness.Run(t, "-t", "-c", path)
		want := fmt.Sprintf("fluxheim: %s:%d: %s", path, tc.line, tc.want)
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("%s: -t exit %d\nstdout: %s\nstderr: %s\nwant exit 1 and %q", tc.name, code, stdout, stderr, want)
		}
	}

	// Starting refuses the same way, before serving anything.
	path := filepath.Join(t.TempDir(), "fluxheim.toml")
	if err := os.WriteFile(path, []byte(head+"\n[tls]\nenabled = true\n"+pair(openCrt, openKey)+web), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := harness.RunWith(t, harness.RunOptions{Args: []string{"-c", path}, Timeout: 10 * time.Second})
	if code != 1 || !strings.Contains(stderr, path+":10: tls.certificates[0].key_path: private key") {
		t.Errorf("start with a key readable by others: exit %d, stderr %q", code, stderr)
	}
}
