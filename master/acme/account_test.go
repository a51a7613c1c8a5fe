package acme

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-acme/lego/v4/acme"
)

func TestCheckTerms(t *testing.T) {
	const tos = "https://ca.test/terms-v2"
	tests := []struct {
		name       string
		issuer     Issuer
		advertised string
		ok         bool
		mention    string
	}{
		{"not agreed", Issuer{Name: "ca"}, tos, false, tos},
		{"not agreed, no terms advertised", Issuer{Name: "ca"}, "", false, "terms_of_service_agreed"},
		{"agreed", Issuer{Name: "ca", TermsOfServiceAgreed: true}, tos, true, ""},
		{"agreed, no terms advertised", Issuer{Name: "ca", TermsOfServiceAgreed: true}, "", true, ""},
		{"agreed to the advertised URL", Issuer{Name: "ca", TermsOfServiceAgreed: true, TermsOfServiceURL: tos}, tos, true, ""},
		{"agreed to older terms", Issuer{Name: "ca", TermsOfServiceAgreed: true, TermsOfServiceURL: "https://ca.test/terms-v1"}, tos, false, tos},
		{"URL set, none advertised", Issuer{Name: "ca", TermsOfServiceAgreed: true, TermsOfServiceURL: tos}, "", false, "allow_unadvertised"},
		{"URL set, none advertised, allowed", Issuer{Name: "ca", TermsOfServiceAgreed: true, TermsOfServiceURL: tos,
			AllowUnadvertisedTermsOfService: true}, "", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkTerms(&tt.issuer, tt.advertised)
			if tt.ok != (err == nil) {
				t.Fatalf("checkTerms = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && (!errors.Is(err, ErrTermsNotAgreed) || !strings.Contains(err.Error(), tt.mention)) {
				t.Fatalf("error %q should wrap ErrTermsNotAgreed and mention %q", err, tt.mention)
			}
		})
	}
}

func TestIsAccountMissing(t *testing.T) {
	missing := &acme.ProblemDetails{Type: "urn:ietf:params:acme:error:accountDoesNotExist", HTTPStatus: 400}
	if !isAccountMissing(missing) || !isAccountMissing(fmt.Errorf("wrapped: %w", missing)) || !isAccountMissing(*missing) {
		t.Fatal("accountDoesNotExist not recognised")
	}
	if isAccountMissing(&acme.ProblemDetails{Type: "urn:ietf:params:acme:error:unauthorized"}) || isAccountMissing(errors.New("x")) {
		t.Fatal("other errors taken for a missing account")
	}
}

func TestAccountKeyCreatedOnceOwnerOnly(t *testing.T) {
	storage := t.TempDir()
	is := &Issuer{Name: "Let's Encrypt/../x", DirectoryURL: "https://ca.test/dir"}
	a1, err := loadAccount(storage, is, "a@example.test")
	if err != nil {
		t.Fatal(err)
	}
	a2, err := loadAccount(storage, is, "a@example.test")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(a1.key) != fmt.Sprint(a2.key) || a1.reg != nil {
		t.Fatal("account key not reused, or a registration invented")
	}
	dir := AccountDir(storage, is.Name)
	if filepath.Dir(dir) != filepath.Join(storage, accountsDir) {
		t.Fatalf("account dir %s escapes accounts/", dir)
	}
	for path, want := range map[string]os.FileMode{
		filepath.Join(storage, accountsDir): 0o700, dir: 0o700, filepath.Join(dir, accountKeyFile): 0o600} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want %v", path, fi.Mode(), err, want)
		}
	}
}
