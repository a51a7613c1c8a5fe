//go:build !fh_nodefault

package features

import (
	"slices"
	"testing"
)

// TestDefaultBuild: without fh_nodefault the default set is compiled; with
// no other fh_ tag it is exactly the default set.
func TestDefaultBuild(t *testing.T) {
	want := []string{"cache", "ingress", "proxy", "security", "tls", "tls-go", "web"}
	for _, f := range want {
		if !Has(f) {
			t.Errorf("Has(%s) = false in a build without %s", f, NoDefaultTag)
		}
	}
	if TLSBackend() != TLSGo {
		t.Errorf("TLSBackend() = %s, want tls-go", TLSBackend())
	}
	if len(List()) != len(want) {
		t.Skipf("extra fh_ tags in effect: List() = %v", List())
	}
	if !slices.Equal(List(), want) {
		t.Errorf("List() = %v, want %v", List(), want)
	}
	for _, f := range []string{"php-fpm", "metrics", "privacy-mode", "tls-go-fips", "load-balancer"} {
		if Has(f) {
			t.Errorf("Has(%s) = true in the default build", f)
		}
	}
}
