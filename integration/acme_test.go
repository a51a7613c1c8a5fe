package integration

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/integration/harness"
	"github.com/fluxheim/fluxheim/master/acme/pebbletest"
)

const acmeFeatures = "profile-core,acme-client"

// acmeConfig is a server whose only certificate comes from ACME (Pebble):
// the vhost is the default vhost, so until the certificate is issued TLS
// handshakes fail, and afterwards every name gets it.
const acmeConfig = `
[server]
listen = ["127.0.0.1:{{.Vars.HTTP}}"]
tls_listen = ["127.0.0.1:{{.Vars.TLS}}"]
default_vhost = "site"
[server.process]
workers = 2
pid_file = "{{.Dir}}/run/fluxheim.pid"
control_sock = "{{.Dir}}/run/fluxheim.ctl"
worker_shutdown_timeout_secs = 5
[tls]
enabled = true
[tls.acme]
enabled = true
storage = "{{.Dir}}/acme"
contact_email = "ops@site.test"
default_issuer = "pebble"
challenge = "{{.Vars.Challenge}}"
[[tls.acme.issuers]]
name = "pebble"
directory_url = "{{.Vars.Directory}}"
terms_of_service_agreed = true
ca_bundle_file = "{{.Vars.CABundle}}"
[[vhosts]]
name = "site"
hosts = ["site.test"]
[vhosts.web]
root = "{{.Dir}}/www"
[vhosts.tls.acme]
enabled = true
`

func startACME(t *testing.T, challenge string) (*harness.Server, *pebbletest.Pebble) {
	t.Helper()
	p := pebbletest.Start(t, pebbletest.Config{HTTPPort: pebbletest.FreePort(t), TLSPort: pebbletest.FreePort(t)})
	bin := harness.BinaryWithFeatures(t, acmeFeatures)
	s := harness.Start(t, harness.Options{
		Binary: bin,
		Config: acmeConfig,
		Vars: map[string]any{"HTTP": p.HTTPPort, "TLS": p.TLSPort, "Challenge": challenge,
			"Directory": p.DirectoryURL, "CABundle": p.CABundleFile},
		Files:     map[string]string{"www/index.html": "acme site\n", "run/.keep": ""},
		WaitAddrs: []string{fmt.Sprintf("127.0.0.1:%d", p.HTTPPort), fmt.Sprintf("127.0.0.1:%d", p.TLSPort)},
	})
	return s, p
}

// servedCert handshakes with SNI site.test and returns the leaf, verified
// against Pebble's root.
func servedCert(t *testing.T, p *pebbletest.Pebble, roots *x509.CertPool) (*x509.Certificate, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", fmt.Sprintf("127.0.0.1:%d", p.TLSPort),
		&tls.Config{ServerName: "site.test", RootCAs: roots, NextProtos: []string{"http/1.1"}})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

// waitIssued waits until the server presents a certificate that chains to
// Pebble's root, different from old (nil = any).
func waitIssued(t *testing.T, p *pebbletest.Pebble, old *x509.Certificate, s *harness.Server) *x509.Certificate {
	t.Helper()
	roots := p.RootPool(t)
	deadline := time.Now().Add(90 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		c, err := servedCert(t, p, roots)
		if err == nil && (old == nil || c.SerialNumber.Cmp(old.SerialNumber) != 0) {
			return c
		}
		last = err
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("no Pebble-issued certificate served: %v\n%s", last, s.Logs())
	return nil
}

func TestACMEHTTP01IssueRenewReloadUpgrade(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Pebble")
	}
	s, p := startACME(t, "http-01")
	bin := harness.BinaryWithFeatures(t, acmeFeatures)
	first := waitIssued(t, p, nil, s)
	if first.DNSNames[0] != "site.test" {
		t.Fatalf("issued for %v", first.DNSNames)
	}
	// Storage permissions: keys owner-only, directories 0700.
	err := filepath.Walk(filepath.Join(s.Dir(), "acme"), func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("directory %s has mode %04o", path, fi.Mode().Perm())
		}
		if strings.HasSuffix(path, ".pem") && strings.Contains(filepath.Base(path), "key") && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("key %s has mode %04o", path, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := harness.RunWith(t, harness.RunOptions{Binary: bin, Args: []string{"acme", "status", "-c", s.ConfigPath()}})
	if code != 0 || !strings.Contains(out, `"state": "valid"`) {
		t.Fatalf("acme status: %d %s %s", code, out, errOut)
	}
	out, errOut, code = harness.RunWith(t, harness.RunOptions{Binary: bin, Args: []string{"acme", "renew", "-c", s.ConfigPath()}})
	if code != 0 || !strings.Contains(out, "status=skipped") {
		t.Fatalf("acme renew (not due): %d %s %s", code, out, errOut)
	}
	out, errOut, code = harness.RunWith(t, harness.RunOptions{Binary: bin, Args: []string{"acme", "renew", "--force", "-c", s.ConfigPath()},
		Timeout: 2 * time.Minute})
	if code != 0 || !strings.Contains(out, "status=renewed") {
		t.Fatalf("acme renew --force: %d %s %s", code, out, errOut)
	}
	second := waitIssued(t, p, first, s)
	// A reload keeps serving the renewed certificate.
	if _, errOut, code := harness.RunWith(t, harness.RunOptions{Binary: bin, Args: []string{"-s", "reload", "-c", s.ConfigPath()}}); code != 0 {
		t.Fatalf("reload: %s", errOut)
	}
	if c, err := servedCert(t, p, p.RootPool(t)); err != nil || c.SerialNumber.Cmp(second.SerialNumber) != 0 {
		t.Fatalf("after reload: %v %v", c, err)
	}
	// So does a binary upgrade.
	if _, errOut, code := harness.RunWith(t, harness.RunOptions{Binary: bin, Args: []string{"-s", "upgrade", "-c", s.ConfigPath()}}); code != 0 {
		t.Fatalf("upgrade: %s", errOut)
	}
	if c, err := servedCert(t, p, p.RootPool(t)); err != nil || c.SerialNumber.Cmp(second.SerialNumber) != 0 {
		t.Fatalf("after upgrade: %v %v", c, err)
	}
	out, _, code = harness.RunWith(t, harness.RunOptions{Binary: bin, Args: []string{"acme", "status", "-c", s.ConfigPath()}})
	if code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("acme status after upgrade: %d %s", code, out)
	}
}

func TestACMETLSALPN01(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Pebble")
	}
	s, p := startACME(t, "tls-alpn-01")
	c := waitIssued(t, p, nil, s)
	if c.DNSNames[0] != "site.test" {
		t.Fatalf("issued for %v", c.DNSNames)
	}
}
