package acme

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/master/acme/pebbletest"
)

// pebbleEnv is a Pebble, a presenter on its validation ports and a
// storage directory.
type pebbleEnv struct {
	pb      *pebbletest.Pebble
	pres    *testPresenter
	storage string
	// offset shifts the Manager's clock.
	offset atomic.Int64
	mu     sync.Mutex
	got    map[string][]byte // OnCertificate: target → chain PEM
}

func newPebbleEnv(t *testing.T, c pebbletest.Config) *pebbleEnv {
	t.Helper()
	pb := pebbletest.Start(t, c)
	return &pebbleEnv{pb: pb, pres: newTestPresenter(t, pb.HTTPPort, pb.TLSPort),
		storage: filepath.Join(t.TempDir(), "acme"), got: map[string][]byte{}}
}

// options are Options for one target "site" on a.example.test, issued by
// "pebble" with the terms agreed. (lego polls each authorization for
// about 5 s, so most tests use one domain.)
func (e *pebbleEnv) options(t *testing.T) Options {
	return Options{
		Storage:      e.storage,
		ContactEmail: "admin@example.test",
		Challenge:    ChallengeHTTP01,
		Issuers: []Issuer{{Name: "pebble", DirectoryURL: e.pb.DirectoryURL,
			TermsOfServiceAgreed: true, CABundleFile: e.pb.CABundleFile}},
		Targets:      []Target{{Name: "site", Domains: []string{"a.example.test"}, Issuer: "pebble"}},
		RetryInitial: time.Hour,
		RetryMax:     3 * time.Hour,
		Presenter:    e.pres,
		OnCertificate: func(target string, certPEM, keyPEM []byte) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.got[target] = certPEM
		},
		Log: testLogger(t),
		Now: func() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) },
	}
}

func (e *pebbleEnv) announced(target string) []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.got[target]
}

func newManager(t *testing.T, o Options) *Manager {
	t.Helper()
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// renewOne runs Renew and returns the only result.
func renewOne(t *testing.T, m *Manager, force bool) Result {
	t.Helper()
	rs := m.Renew(context.Background(), force)
	if len(rs) != 1 {
		t.Fatalf("Renew returned %d results, want 1", len(rs))
	}
	return rs[0]
}

func wantStatus(t *testing.T, r Result, status string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %q (reason %q, err %v), want %q", r.Target, r.Status, r.Reason, r.Err, status)
	}
}

// verifyIssued checks that the chain verifies against Pebble's root for
// every domain.
func verifyIssued(t *testing.T, pb *pebbletest.Pebble, certPEM []byte, domains ...string) *x509.Certificate {
	t.Helper()
	var chain []*x509.Certificate
	for rest := certPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, c)
	}
	if len(chain) < 2 {
		t.Fatalf("chain has %d certificates, want leaf + intermediate", len(chain))
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	roots := pb.RootPool(t)
	for _, d := range domains {
		if _, err := chain[0].Verify(x509.VerifyOptions{DNSName: d, Roots: roots, Intermediates: inter}); err != nil {
			t.Fatalf("issued chain does not verify for %s: %v", d, err)
		}
	}
	return chain[0]
}

// checkPermissions walks the storage: directories 0700, files 0600.
func checkPermissions(t *testing.T, storage string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(storage, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want || (!fi.IsDir() && !fi.Mode().IsRegular()) {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 8 {
		t.Fatalf("only %d entries in storage", n)
	}
}

func readCredentials(t *testing.T, storage, issuer string) credentials {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(AccountDir(storage, issuer), credentialsFile))
	if err != nil {
		t.Fatal(err)
	}
	var c credentials
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// testLogger sends the Manager's log to t.Log until the test ends (lego's
// global logger may outlive it).
func testLogger(t *testing.T) *slog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *tWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}
