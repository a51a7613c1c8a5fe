package features

import (
	"slices"
	"testing"
)

// TestCompiledSetIsConsistent holds for every tag set that compiles.
func TestCompiledSetIsConsistent(t *testing.T) {
	list := List()
	if !slices.IsSorted(list) {
		t.Errorf("List() not sorted: %v", list)
	}
	for _, f := range list {
		if !Known(f) {
			t.Errorf("List() has unknown feature %q", f)
		}
		if !Has(f) {
			t.Errorf("Has(%s) = false but List() has it", f)
		}
		for _, m := range Implies(f) {
			if !Has(m) {
				t.Errorf("%s compiled without implied %s", f, m)
			}
		}
	}
	for _, c := range ForbiddenCombinations() {
		if Has(c.A) && Has(c.B) {
			t.Errorf("forbidden combination compiled: %s + %s", c.A, c.B)
		}
	}
	switch b := TLSBackend(); b {
	case TLSGo, TLSGoFIPS:
		if !Has(b) || !Has(TLS) {
			t.Errorf("TLSBackend() = %s but Has(%s)=%v Has(tls)=%v", b, b, Has(b), Has(TLS))
		}
	case NoTLSBackend:
		if Has(TLSGo) || Has(TLSGoFIPS) {
			t.Errorf("TLSBackend() = none with a backend compiled: %v", list)
		}
	default:
		t.Errorf("TLSBackend() = %q", b)
	}
	if len(list) > 0 {
		again, _, err := Expand(list)
		if err != nil || !slices.Equal(again, list) {
			t.Errorf("Expand(List()) = %v, %v; want %v", again, err, list)
		}
	}
}

func TestHasSeedNamesAndUnknown(t *testing.T) {
	if Has("tls-rustls") != Has(TLSGo) || Has("tls-rustls-fips") != Has(TLSGoFIPS) ||
		Has("tls-rustls-iso19790") != Has(TLSGoFIPS) {
		t.Error("Has does not map the seed's backend names")
	}
	for _, n := range []string{"", "bogus", "default", "profile-core", "tls-openssl"} {
		if Has(n) {
			t.Errorf("Has(%q) = true", n)
		}
	}
}
