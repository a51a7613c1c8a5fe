package acme

import (
	"crypto/tls"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type nopPresenter struct{}

func (nopPresenter) PresentHTTP01(token, keyAuth string) error                  { return nil }
func (nopPresenter) CleanupHTTP01(token string) error                           { return nil }
func (nopPresenter) PresentTLSALPN01(domain string, cert tls.Certificate) error { return nil }
func (nopPresenter) CleanupTLSALPN01(domain string) error                       { return nil }

// baseOptions are valid Options with one issuer "ca" and target "site".
func baseOptions(t *testing.T) Options {
	return Options{
		Storage:   filepath.Join(t.TempDir(), "acme"),
		Issuers:   []Issuer{{Name: "ca", DirectoryURL: "https://127.0.0.1:1/dir", TermsOfServiceAgreed: true}},
		Targets:   []Target{{Name: "site", Domains: []string{"A.Example.Test.", "a.example.test"}, Issuer: "ca"}},
		Presenter: nopPresenter{},
		Log:       testLogger(t),
	}
}

func TestNewDefaultsAndNormalises(t *testing.T) {
	o := baseOptions(t)
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if m.o.Challenge != ChallengeHTTP01 || m.o.RenewBefore != DefaultRenewBefore || m.o.CheckInterval != DefaultCheckInterval ||
		m.o.RetryInitial != DefaultRetryInitial || m.o.RetryMax != DefaultRetryMax {
		t.Fatalf("defaults not applied: %+v", m.o)
	}
	if got := m.o.Targets[0].Domains; len(got) != 1 || got[0] != "a.example.test" {
		t.Fatalf("domains not normalised: %v", got)
	}
	if o.Targets[0].Domains[0] != "A.Example.Test." {
		t.Fatal("New modified the caller's targets")
	}
	if _, err := os.Stat(o.Storage); !os.IsNotExist(err) {
		t.Fatalf("New touched the storage: %v", err)
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Options)
		want   string
	}{
		{"relative storage", func(o *Options) { o.Storage = "acme" }, "absolute"},
		{"bad email", func(o *Options) { o.ContactEmail = "Admin <a@b.test>" }, "contact_email"},
		{"dns-01", func(o *Options) { o.Challenge = "dns-01" }, "not supported"},
		{"no presenter", func(o *Options) { o.Presenter = nil }, "Presenter"},
		{"retry initial > max", func(o *Options) { o.RetryInitial, o.RetryMax = time.Hour, time.Minute }, "exceeds"},
		{"negative duration", func(o *Options) { o.CheckInterval = -time.Second }, "positive"},
		{"http directory", func(o *Options) { o.Issuers[0].DirectoryURL = "http://ca.test/dir" }, "https"},
		{"duplicate issuer", func(o *Options) { o.Issuers = append(o.Issuers, o.Issuers[0]) }, "twice"},
		{"half EAB", func(o *Options) { o.Issuers[0].EAB = &EAB{KeyID: "kid"} }, "EAB"},
		{"missing bundle", func(o *Options) { o.Issuers[0].CABundleFile = "/nonexistent/ca.pem" }, "ca_bundle_file"},
		{"unknown issuer", func(o *Options) { o.Targets[0].Issuer = "other" }, "unknown issuer"},
		{"duplicate target", func(o *Options) { o.Targets = append(o.Targets, o.Targets[0]) }, "twice"},
		{"no domains", func(o *Options) { o.Targets[0].Domains = nil }, "domains"},
		{"wildcard", func(o *Options) { o.Targets[0].Domains = []string{"*.example.test"} }, "DNS-01"},
		{"ip", func(o *Options) { o.Targets[0].Domains = []string{"192.0.2.1"} }, "IP"},
		{"unicode", func(o *Options) { o.Targets[0].Domains = []string{"bücher.example"} }, "xn--"},
		{"bad label", func(o *Options) { o.Targets[0].Domains = []string{"-a.example.test"} }, "label"},
		{"empty label", func(o *Options) { o.Targets[0].Domains = []string{"a..test"} }, "label"},
		{"too many domains", func(o *Options) {
			o.Targets[0].Domains = nil
			for i := range MaxDomainsPerTarget + 1 {
				o.Targets[0].Domains = append(o.Targets[0].Domains, "d"+strings.Repeat("x", i)+".test")
			}
		}, "domains"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := baseOptions(t)
			tt.mutate(&o)
			_, err := New(o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestLoadCABundle(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	one := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, err := loadCABundle(write("ok.pem", one)); err != nil {
		t.Fatalf("one certificate: %v", err)
	}
	if _, err := loadCABundle(write("max.pem", []byte(strings.Repeat(string(one), MaxCABundleCerts)))); err != nil {
		t.Fatalf("%d certificates: %v", MaxCABundleCerts, err)
	}
	bad := map[string][]byte{
		"empty.pem":   []byte("no pem here\n"),
		"toomany.pem": []byte(strings.Repeat(string(one), MaxCABundleCerts+1)),
		"toobig.pem":  append([]byte(strings.Repeat("#", MaxCABundleBytes)), one...),
		"corrupt.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}),
	}
	for name, data := range bad {
		if _, err := loadCABundle(write(name, data)); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
