package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	cases := []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"proxy,web,tls-rustls"}, 0, "fh_nodefault,fh_ingress,fh_proxy,fh_tls,fh_tls_go,fh_web\n", ""},
		{[]string{"proxy", "web tls-rustls"}, 0, "fh_nodefault,fh_ingress,fh_proxy,fh_tls,fh_tls_go,fh_web\n", ""},
		{[]string{"--features", "php-fpm"}, 0, "ingress,php-fpm,proxy,web\n", ""},
		{[]string{"-features", "profile-fips-rustls"}, 0, "ingress,proxy,security,tls,tls-go-fips\n", ""},
		{[]string{"profile-privacy,cache"}, 1, "", "validate-features: privacy-mode (from profile-privacy) cannot be combined with cache"},
		{[]string{"tls-openssl"}, 1, "", "OpenSSL backends are not available in the Go port"},
		{[]string{","}, 1, "", "empty feature list"},
		{nil, 2, "", "usage:"},
		{[]string{"--bogus", "proxy"}, 2, "", "flag provided but not defined"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(c.args, &stdout, &stderr)
		if code != c.code || stdout.String() != c.stdout || !strings.Contains(stderr.String(), c.stderr) {
			t.Errorf("run(%q) = %d, stdout %q, stderr %q; want %d, %q, stderr containing %q",
				c.args, code, stdout.String(), stderr.String(), c.code, c.stdout, c.stderr)
		}
	}
}
