// Package pebbletest runs a real Pebble ACME test CA, with
// pebble-challtestsrv as its DNS server, on loopback for one test.
//
// Every name resolves to 127.0.0.1 (IPv4 only), Pebble validates without
// its random sleep, rejects no nonces and never reuses authorizations, and
// it validates HTTP-01 on Pebble.HTTPPort and TLS-ALPN-01 on
// Pebble.TLSPort: the server under test must listen on 127.0.0.1 there.
//
// The binaries are looked up on PATH and in $(go env GOPATH)/bin, and
// installed with `go install` (v2.10.1) when missing; the test is skipped
// only if they cannot be built. Tests using it are skipped with -short.
package pebbletest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Version is the Pebble release used.
const Version = "v2.10.1"

const modulePath = "github.com/letsencrypt/pebble/v2"

// Config tunes a Pebble instance; the zero value is fine.
type Config struct {
	// HTTPPort and TLSPort are where Pebble validates HTTP-01 and
	// TLS-ALPN-01; 0 picks a free port the caller must then listen on.
	HTTPPort, TLSPort int
	// EABKeys (key ID → base64url HMAC key) makes external account binding
	// required.
	EABKeys map[string]string
	// Validity of issued certificates; 0 = Pebble's default (90 days).
	Validity time.Duration
	// Env adds environment variables for Pebble (e.g. PEBBLE_AUTHZREUSE=50).
	Env []string
}

// Pebble is a running Pebble and its DNS server.
type Pebble struct {
	DirectoryURL  string // https://127.0.0.1:PORT/dir
	CABundleFile  string // PEM root of Pebble's own HTTPS (its minica)
	ManagementURL string // https://127.0.0.1:PORT
	HTTPPort      int    // HTTP-01 validation port on 127.0.0.1
	TLSPort       int    // TLS-ALPN-01 validation port on 127.0.0.1
	DNSAddr       string // pebble-challtestsrv's DNS, 127.0.0.1:PORT

	client *http.Client // trusts CABundleFile
}

// StartPebble starts Pebble with the zero Config.
func StartPebble(t testing.TB) *Pebble { return Start(t, Config{}) }

// Start starts pebble-challtestsrv and Pebble, waits until Pebble's
// directory answers, and stops both when the test ends (their output is
// logged if the test failed).
func Start(t testing.TB, c Config) *Pebble {
	t.Helper()
	if testing.Short() {
		t.Skip("pebbletest: needs Pebble; skipped with -short")
	}
	pebbleBin, challBin := binaries(t)
	certs := certDir(t)
	dir := t.TempDir()
	p := &Pebble{CABundleFile: filepath.Join(certs, "pebble.minica.pem"), HTTPPort: c.HTTPPort, TLSPort: c.TLSPort}
	if p.HTTPPort == 0 {
		p.HTTPPort = FreePort(t)
	}
	if p.TLSPort == 0 {
		p.TLSPort = FreePort(t)
	}
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(p.CABundleFile)
	if err != nil || !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("pebbletest: reading %s: %v", p.CABundleFile, err)
	}
	p.client = &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(p.client.CloseIdleConnections)

	dnsPort, dnsMgmt := freeDNSPort(t), FreePort(t)
	p.DNSAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(dnsPort))
	start(t, "pebble-challtestsrv", challBin, nil,
		"-dnsserver", p.DNSAddr, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
		"-management", net.JoinHostPort("127.0.0.1", strconv.Itoa(dnsMgmt)))
	waitTCP(t, p.DNSAddr)

	listen, mgmt := FreePort(t), FreePort(t)
	cfgPath := filepath.Join(dir, "pebble-config.json")
	writeConfig(t, cfgPath, c, p, certs, listen, mgmt)
	env := append([]string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"}, c.Env...)
	start(t, "pebble", pebbleBin, env, "-config", cfgPath, "-dnsserver", p.DNSAddr)
	p.DirectoryURL = fmt.Sprintf("https://127.0.0.1:%d/dir", listen)
	p.ManagementURL = fmt.Sprintf("https://127.0.0.1:%d", mgmt)
	p.waitReady(t)
	return p
}

// writeConfig writes Pebble's JSON config with absolute certificate paths.
func writeConfig(t testing.TB, path string, c Config, p *Pebble, certs string, listen, mgmt int) {
	t.Helper()
	pc := map[string]any{
		"listenAddress":           fmt.Sprintf("127.0.0.1:%d", listen),
		"managementListenAddress": fmt.Sprintf("127.0.0.1:%d", mgmt),
		"certificate":             filepath.Join(certs, "localhost", "cert.pem"),
		"privateKey":              filepath.Join(certs, "localhost", "key.pem"),
		"httpPort":                p.HTTPPort,
		"tlsPort":                 p.TLSPort,
		"ocspResponderURL":        "",
		"keyAlgorithm":            "ecdsa",
		"retryAfter":              map[string]int{"authz": 1, "order": 1},
	}
	if len(c.EABKeys) > 0 {
		pc["externalAccountBindingRequired"] = true
		pc["externalAccountMACKeys"] = c.EABKeys
	}
	if c.Validity > 0 {
		pc["profiles"] = map[string]any{"default": map[string]any{
			"description": "pebbletest", "validityPeriod": int64(c.Validity / time.Second)}}
	}
	data, err := json.MarshalIndent(map[string]any{"pebble": pc}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// start runs a helper process until the test ends.
func start(t testing.TB, name, bin string, env []string, args ...string) {
	t.Helper()
	var out lockedBuffer
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &out, &out
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("pebbletest: starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("pebbletest: %s output:\n%s", name, out.String())
		}
	})
}

// waitReady polls the directory until it answers 200.
func (p *Pebble) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := p.client.Get(p.DirectoryURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebbletest: %s not ready after 30 s: %v", p.DirectoryURL, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// RootPEM fetches the root that issued certificates chain to (made anew at
// every Pebble start) from the management port.
func (p *Pebble) RootPEM(t testing.TB) []byte {
	t.Helper()
	return p.get(t, "/roots/0")
}

// IntermediatePEM fetches the intermediate that signs issued certificates.
func (p *Pebble) IntermediatePEM(t testing.TB) []byte {
	t.Helper()
	return p.get(t, "/intermediates/0")
}

// RootPool is RootPEM as a certificate pool.
func (p *Pebble) RootPool(t testing.TB) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(p.RootPEM(t)) {
		t.Fatal("pebbletest: no certificate in Pebble's root")
	}
	return pool
}

func (p *Pebble) get(t testing.TB, path string) []byte {
	t.Helper()
	resp, err := p.client.Get(p.ManagementURL + path)
	if err != nil {
		t.Fatalf("pebbletest: GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("pebbletest: GET %s: status %d, %v", path, resp.StatusCode, err)
	}
	return body
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// freeDNSPort returns a port free for both UDP and TCP on 127.0.0.1.
func freeDNSPort(t testing.TB) int {
	t.Helper()
	for range 50 {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("pebbletest: no port free for UDP and TCP")
	return 0
}

// waitTCP waits until addr accepts TCP connections.
func waitTCP(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebbletest: %s not listening: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var (
	installOnce sync.Once
	installErr  error
	binPaths    [2]string
	certsOnce   sync.Once
	certsPath   string
	certsErr    error
)

// binaries finds pebble and pebble-challtestsrv, installing them once per
// test process if needed; the test is skipped if that fails.
func binaries(t testing.TB) (pebble, challtestsrv string) {
	t.Helper()
	installOnce.Do(func() {
		for i, name := range []string{"pebble", "pebble-challtestsrv"} {
			if binPaths[i], installErr = findOrInstall(name); installErr != nil {
				return
			}
		}
	})
	if installErr != nil {
		t.Skipf("pebbletest: Pebble unavailable: %v", installErr)
	}
	return binPaths[0], binPaths[1]
}

func findOrInstall(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	gobin := goEnv("GOBIN")
	if gobin == "" {
		gobin = filepath.Join(goEnv("GOPATH"), "bin")
	}
	p := filepath.Join(gobin, name)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", modulePath+"/cmd/"+name+"@"+Version)
	cmd.Dir = os.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s: %v\n%s", name, err, out)
	}
	return p, nil
}

// certDir is Pebble's test/certs directory in the module cache.
func certDir(t testing.TB) string {
	t.Helper()
	certsOnce.Do(func() {
		cmd := exec.Command("go", "mod", "download", "-json", modulePath+"@"+Version)
		cmd.Dir = os.TempDir()
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		out, err := cmd.Output()
		if err != nil {
			certsErr = fmt.Errorf("go mod download %s@%s: %v", modulePath, Version, err)
			return
		}
		var m struct{ Dir string }
		if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
			certsErr = fmt.Errorf("go mod download: no Dir in %s", out)
			return
		}
		certsPath = filepath.Join(m.Dir, "test", "certs")
	})
	if certsErr != nil {
		t.Skipf("pebbletest: Pebble's certificates unavailable: %v", certsErr)
	}
	return certsPath
}

func goEnv(key string) string {
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		return ""
	}
	return string(bytes.TrimSpace(out))
}

// lockedBuffer collects a process's output safely.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
