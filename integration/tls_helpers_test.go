package integration

// Helpers of the TLS tests (issue 4, tls_*_test.go): a test PKI made with
// crypto/x509 (a CA, server and client leaves; keys written 0600 because
// the config refuses group- or world-readable keys), a config skeleton
// with a cleartext "http" and a TLS "https" listener, and wrappers around
// the real clients: curl, openssl s_client and Go's crypto/tls.
//
// Names start with "tls" so they do not collide with other test files of
// this package.

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/integration/harness"
)

// tlsCA is a test certificate authority.
type tlsCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte
	pool *x509.CertPool
}

// tlsLeaf is a certificate issued by a tlsCA.
type tlsLeaf struct {
	cert    *x509.Certificate
	certPEM []byte
	keyPEM  []byte
}

func tlsSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	return n.Add(n, big.NewInt(1))
}

func tlsKey(t testing.TB) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// tlsNewCA makes a self-signed CA named cn.
func tlsNewCA(t testing.TB, cn string) *tlsCA {
	t.Helper()
	k, _ := tlsKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          tlsSerial(t),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"fluxheim tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return &tlsCA{cert: c, key: k, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pool: pool}
}

// issue makes a leaf with CommonName cn and the DNS names (and IPs) given;
// client leaves get the clientAuth usage, server leaves serverAuth.
func (ca *tlsCA) issue(t testing.TB, cn string, dns []string, ips []net.IP, client bool) *tlsLeaf {
	t.Helper()
	k, keyPEM := tlsKey(t)
	usage := x509.ExtKeyUsageServerAuth
	if client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber: tlsSerial(t),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"fluxheim tests"}},
		DNSNames:     dns,
		IPAddresses:  ips,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, k.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &tlsLeaf{cert: c, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM: keyPEM}
}

// tlsCert returns the leaf as a tls.Certificate (client certificates).
func (l *tlsLeaf) tlsCert(t testing.TB) tls.Certificate {
	t.Helper()
	c, err := tls.X509KeyPair(l.certPEM, l.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tlsWrite writes data to path with mode (parents 0755).
func tlsWrite(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile keeps an existing file's mode
		t.Fatal(err)
	}
}

// writePair writes DIR/NAME.crt (0644) and DIR/NAME.key (0600) and returns
// their paths.
func (l *tlsLeaf) writePair(t testing.TB, dir, name string) (certPath, keyPath string) {
	t.Helper()
	certPath, keyPath = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	tlsWrite(t, certPath, l.certPEM, 0o644)
	tlsWrite(t, keyPath, l.keyPEM, 0o600)
	return certPath, keyPath
}

// tlsPKIDir is a directory for certificates and keys, outside the server's
// directory (the harness writes its Files 0644).
func tlsPKIDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tlsPair is one [[tls.certificates]] entry.
type tlsPair struct{ cert, key string }

// tlsConf describes a config: [server] with the "http" and "https"
// listeners, default_vhost "main" unless Rest defines vhosts with its own
// default (set DefaultVhost), [tls] enabled with TLSKeys and the global
// certificates, then Rest (top-level tables). ServerTables follow
// [server.process] (e.g. [server.https_redirect]); TLSTables follow the
// [[tls.certificates]] (e.g. [tls.client_auth]).
type tlsConf struct {
	Workers      int
	DefaultVhost string // default "main"
	ServerKeys   string
	ServerTables string
	Control      bool // pid_file and control_sock in the server's directory (for -s reload)
	TLSKeys      string
	Certs        []tlsPair
	TLSTables    string
	Rest         string // default: a vhost "main" serving {{.Dir}}/www
}

func (c tlsConf) String() string {
	workers := c.Workers
	if workers <= 0 {
		workers = 1
	}
	def := c.DefaultVhost
	if def == "" {
		def = "main"
	}
	pid, ctl := `""`, `""`
	if c.Control {
		pid, ctl = `"{{.Dir}}/fluxheim.pid"`, `"{{.Dir}}/fluxheim.ctl"`
	}
	var b strings.Builder
	fmt.Fprintf(&b, `[server]
listen = ["{{listen "http"}}"]
tls_listen = ["{{listen "https"}}"]
default_vhost = %q
%s

[server.process]
workers = %d
pid_file = %s
control_sock = %s
graceful_shutdown_timeout_seconds = 2
worker_shutdown_timeout_secs = 3

%s

[tls]
enabled = true
%s
`, def, c.ServerKeys, workers, pid, ctl, c.ServerTables, c.TLSKeys)
	for _, p := range c.Certs {
		fmt.Fprintf(&b, "\n[[tls.certificates]]\ncert_path = %q\nkey_path = %q\n", p.cert, p.key)
	}
	b.WriteString("\n" + c.TLSTables + "\n")
	rest := c.Rest
	if rest == "" {
		rest = `
[[vhosts]]
name = "main"
hosts = ["main.test"]
[vhosts.web]
root = "{{.Dir}}/www"
`
	}
	b.WriteString(rest)
	return b.String()
}

// tlsIndexBody is www/index.html of every test server.
const tlsIndexBody = "fluxheim tls test\n"

// tlsServer is a running fluxheim with listeners "http" and "https".
type tlsServer struct {
	*harness.Server
	t     *testing.T
	http  string // 127.0.0.1:PORT
	https string
}

// tlsStart starts fluxheim with the config; files are written into its
// directory in addition to www/index.html.
func tlsStart(t *testing.T, c tlsConf, files map[string]string) *tlsServer {
	t.Helper()
	all := map[string]string{"www/index.html": tlsIndexBody}
	for k, v := range files {
		all[k] = v
	}
	srv := harness.Start(t, harness.Options{Config: c.String(), Files: all, StopTimeout: 5 * time.Second})
	t.Cleanup(func() {
		srv.Stop()
		for _, bad := range []string{"WARNING: DATA RACE", "panic: ", "fatal error: "} {
			if strings.Contains(srv.Logs(), bad) {
				t.Errorf("fluxheim printed %q:\n%s", bad, srv.Logs())
			}
		}
	})
	return &tlsServer{Server: srv, t: t, http: srv.Addr("http"), https: srv.Addr("https")}
}

// tlsHandshake dials addr and completes a TLS handshake with cfg (a
// 5 s deadline for the whole exchange).
func tlsHandshake(addr string, cfg *tls.Config) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
	c := tls.Client(raw, cfg)
	if err := c.Handshake(); err != nil {
		_ = raw.Close()
		return nil, err
	}
	return c, nil
}

// tlsPeerCN handshakes with SNI serverName ("" = none) and returns the
// server certificate's CommonName.
func tlsPeerCN(t *testing.T, addr, serverName string) string {
	t.Helper()
	c, err := tlsHandshake(addr, &tls.Config{ServerName: serverName, InsecureSkipVerify: true}) //nolint:gosec // the test reads the certificate
	if err != nil {
		t.Fatalf("TLS handshake with %s (SNI %q): %v", addr, serverName, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// tlsRoundTrip sends one HTTP/1.1 GET over an established connection
// (keep-alive) and returns the response with its body read.
func tlsRoundTrip(c net.Conn, br *bufio.Reader, host, path string) (*http.Response, string, error) {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host); err != nil {
		return nil, "", err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

// tlsClient is an HTTPS client trusting roots (nil = no verification),
// presenting certs[0] whatever CAs the server names, with SNI serverName; h2 lets it negotiate HTTP/2.
// Keep-alives are off unless keepAlive.
func tlsClient(serverName string, roots *x509.CertPool, certs []tls.Certificate, h2, keepAlive bool) *http.Client {
	cfg := &tls.Config{ServerName: serverName, RootCAs: roots, InsecureSkipVerify: roots == nil} //nolint:gosec // tests without a CA only look at the protocol
	if len(certs) > 0 {
		// Always present the certificate, even when the server asks for
		// other CAs (Go's client would send none then, like a browser).
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &certs[0], nil }
	}
	tr := &http.Transport{
		Proxy:              nil,
		TLSClientConfig:    cfg,
		DisableKeepAlives:  !keepAlive,
		DisableCompression: true,
		ForceAttemptHTTP2:  h2,
	}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// tlsGet sends a GET with client and reads the whole body.
func tlsGet(client *http.Client, url, host string) (*http.Response, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, "", err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// tlsRun runs a command (curl, openssl) with a 15 s limit and empty stdin.
func tlsRun(t *testing.T, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s is not installed", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader("")
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %q timed out\nstdout: %s\nstderr: %s", name, args, o.String(), e.String())
	}
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("%s %q: %v", name, args, err)
		}
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// tlsCurl runs curl -sS with args.
func tlsCurl(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return tlsRun(t, "curl", append([]string{"-sS", "--max-time", "10"}, args...)...)
}

// tlsSClient runs `openssl s_client -brief -connect addr` with args (e.g.
// "-tls1_2", "-servername", "x") and returns its combined output and exit
// code (0 when the handshake succeeded).
func tlsSClient(t *testing.T, addr string, args ...string) (string, int) {
	t.Helper()
	o, e, code := tlsRun(t, "openssl", append([]string{"s_client", "-brief", "-connect", addr}, args...)...)
	return o + e, code
}
