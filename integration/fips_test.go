package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxheim/fluxheim/integration/harness"
)

// fipsConfig demands FIPS 140-3 mode for its TLS listener.
const fipsConfig = `
[server]
listen = ["127.0.0.1:18080"]
tls_listen = ["127.0.0.1:18443"]
[server.process]
pid_file = ""
control_sock = ""
[tls]
enabled = true
curve_preferences = ["CurveP256", "CurveP384"]
[[tls.certificates]]
cert_path = "cert.pem"
key_path = "key.pem"
[tls.fips]
required = true
[web]
root = "www"
`

// buildFIPS builds the tls-go-fips backend with Go's certified module.
func buildFIPS(t *testing.T) string {
	t.Helper()
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	tags, err := exec.Command(filepath.Join(root, "scripts", "validate-features.sh"), "proxy,web,security,tls-go-fips").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "fluxheim-fips")
	cmd := exec.Command("go", "build", "-tags", strings.TrimSpace(string(tags)), "-o", bin, "./cmd/fluxheim")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFIPS140=v1.0.0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the FIPS binary: %v\n%s", err, out)
	}
	return bin
}

// TestFIPSRequiredFailsClosed: a FIPS-required config validates only in a
// binary running Go's FIPS 140-3 module; X25519 and managed ACME are
// refused even there; `crypto` reports the module.
func TestFIPSRequiredFailsClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a second binary")
	}
	dir := t.TempDir()
	leaf := tlsNewCA(t, "fips test CA").issue(t, "fips.test", []string{"fips.test"}, nil, false)
	for name, data := range map[string]string{"fluxheim.toml": fipsConfig, "cert.pem": string(leaf.certPEM), "key.pem": string(leaf.keyPEM)} {
		mode := os.FileMode(0o644)
		if name == "key.pem" {
			mode = 0o600
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "www"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "fluxheim.toml")

	// The default binary is not in FIPS mode: refused, naming the key.
	_, errOut, code := harness.Run(t, "-t", "-c", cfg)
	if code != 1 || !strings.Contains(errOut, "fluxheim.toml:15: tls.fips.required: this binary is not running in FIPS 140-3 mode") {
		t.Fatalf("default binary: exit %d\n%s", code, errOut)
	}

	fips := buildFIPS(t)
	out, errOut, code := harness.RunWith(t, harness.RunOptions{Binary: fips, Args: []string{"crypto"}})
	if code != 0 || !strings.Contains(out, "tls-backend: tls-go-fips") || !strings.Contains(out, "fips140-enabled: true") || !strings.Contains(out, "fips140-module: v1.0.0") {
		t.Fatalf("crypto: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := harness.RunWith(t, harness.RunOptions{Binary: fips, Args: []string{"-t", "-c", cfg}}); code != 0 {
		t.Fatalf("FIPS binary refused a FIPS config: %s", errOut)
	}
	// X25519 stays refused in FIPS-required mode.
	bad := strings.Replace(fipsConfig, `["CurveP256", "CurveP384"]`, `["X25519", "CurveP256"]`, 1)
	if err := os.WriteFile(cfg, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = harness.RunWith(t, harness.RunOptions{Binary: fips, Args: []string{"-t", "-c", cfg}})
	if code != 1 || !strings.Contains(errOut, "X25519 is not allowed in FIPS-required mode") {
		t.Fatalf("X25519: exit %d\n%s", code, errOut)
	}
	// GODEBUG=fips140=off turns the module off: the binary says so.
	_, _, code = harness.RunWith(t, harness.RunOptions{Binary: fips, Args: []string{"crypto"}, Env: []string{"GODEBUG=fips140=off"}})
	if code == 0 {
		t.Fatal("crypto reported ok with FIPS mode off")
	}
}
