package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
)

// inheritUpstreamTLS takes unset upstream TLS keys from the enclosing
// proxy block. It is called only for a block that inherits its upstream: a
// block naming its own upstream has its own TLS settings (defaults for
// what it leaves unset).
func inheritUpstreamTLS(out, parent *Proxy) {
	inherit(&out.UpstreamTLS, parent.UpstreamTLS)
	inherit(&out.UpstreamVerifyCert, parent.UpstreamVerifyCert)
	inherit(&out.UpstreamVerifyHostname, parent.UpstreamVerifyHostname)
	for _, f := range []struct{ dst, src *string }{
		{&out.UpstreamSNI, &parent.UpstreamSNI},
		{&out.UpstreamAlternativeCN, &parent.UpstreamAlternativeCN},
		{&out.UpstreamCAPath, &parent.UpstreamCAPath},
		{&out.UpstreamClientCertPath, &parent.UpstreamClientCertPath},
		{&out.UpstreamClientKeyPath, &parent.UpstreamClientKeyPath},
		{&out.UpstreamHTTPVersion, &parent.UpstreamHTTPVersion},
	} {
		if *f.dst == "" {
			*f.dst = *f.src
		}
	}
}

func defaultUpstreamTLS(p *Proxy) {
	p.UpstreamTLS = orDefault(p.UpstreamTLS, false)
	p.UpstreamVerifyCert = orDefault(p.UpstreamVerifyCert, true)
	p.UpstreamVerifyHostname = orDefault(p.UpstreamVerifyHostname, true)
	setIfZero(&p.UpstreamHTTPVersion, "http1")
}

// validateUpstreamTLS applies Fluxheim's upstream TLS rules.
func validateUpstreamTLS(p *Proxy, key string, errs *errList) {
	oneOf(errs, key+".upstream_http_version", p.UpstreamHTTPVersion, "http1", "http2", "http1-and-http2")
	if *p.Websocket && p.UpstreamHTTPVersion != "http1" {
		errs.add(key+".websocket", "needs upstream_http_version = \"http1\"")
	}
	if (p.UpstreamClientCertPath == "") != (p.UpstreamClientKeyPath == "") {
		errs.add(key+".upstream_client_cert_path", "set upstream_client_cert_path and upstream_client_key_path together")
	}
	if !*p.UpstreamTLS {
		for k, v := range map[string]string{"upstream_sni": p.UpstreamSNI, "upstream_alternative_cn": p.UpstreamAlternativeCN,
			"upstream_ca_path": p.UpstreamCAPath, "upstream_client_cert_path": p.UpstreamClientCertPath} {
			if v != "" {
				errs.add(key+"."+k, "needs upstream_tls = true")
			}
		}
		return
	}
	if !*p.UpstreamVerifyCert && *p.UpstreamVerifyHostname {
		errs.add(key+".upstream_verify_cert", "turning certificate verification off needs upstream_verify_hostname = false too")
	}
	if strings.Contains(p.UpstreamAlternativeCN, "*") {
		errs.add(key+".upstream_alternative_cn", "wildcards are not allowed")
	}
	if host, _, err := net.SplitHostPort(p.Target()); err == nil && p.UpstreamSNI == "" && *p.UpstreamVerifyHostname {
		if _, err := netip.ParseAddr(host); err == nil {
			errs.add(key+".upstream_sni", "is required for the IP-literal upstream %q while hostname verification is on", p.Target())
		}
	}
}

// readUpstreamTLSFiles reads the CA bundle and client pair of a proxy
// block into its PEM fields (the master does this; workers get bytes).
func readUpstreamTLSFiles(p *Proxy, key string, errs *errList) {
	if p == nil || !*p.UpstreamTLS {
		return
	}
	if p.UpstreamCAPath != "" {
		b, err := os.ReadFile(p.UpstreamCAPath)
		if err != nil {
			errs.add(key+".upstream_ca_path", "%v", unwrapPathErr(err))
		} else if !x509.NewCertPool().AppendCertsFromPEM(b) {
			errs.add(key+".upstream_ca_path", "%s holds no PEM certificate", p.UpstreamCAPath)
		} else {
			p.UpstreamCAPEM = b
		}
	}
	if p.UpstreamClientCertPath != "" && p.UpstreamClientKeyPath != "" {
		checkReadable(errs, key+".upstream_client_key_path", p.UpstreamClientKeyPath, true)
		c, err1 := os.ReadFile(p.UpstreamClientCertPath)
		k, err2 := os.ReadFile(p.UpstreamClientKeyPath)
		switch {
		case err1 != nil:
			errs.add(key+".upstream_client_cert_path", "%v", unwrapPathErr(err1))
		case err2 != nil:
			errs.add(key+".upstream_client_key_path", "%v", unwrapPathErr(err2))
		default:
			if _, err := tls.X509KeyPair(c, k); err != nil {
				errs.add(key+".upstream_client_cert_path", "client pair: %v", err)
			}
			p.UpstreamClientCertPEM, p.UpstreamClientKeyPEM = c, k
		}
	}
}

// readProxyTLSFiles reads every proxy block's upstream TLS files, and
// checks the downstream certificate pairs (checkCertPairs): the TLS files
// step of the runtime checks.
func readProxyTLSFiles(c *Config, errs *errList) {
	checkCertPairs(c, errs)
	readUpstreamTLSFiles(c.Proxy, "proxy", errs)
	for i := range c.Vhosts {
		v := &c.Vhosts[i]
		readUpstreamTLSFiles(v.Proxy, fmt.Sprintf("vhosts[%d].proxy", i), errs)
		for j := range v.Routes {
			readUpstreamTLSFiles(v.Routes[j].Proxy, fmt.Sprintf("vhosts[%d].routes[%d].proxy", i, j), errs)
		}
	}
}

// Redacted returns a copy of c without key material, for printing.
func (c *Config) Redacted() *Config {
	out := *c
	scrub := func(p *Proxy) *Proxy {
		if p == nil || p.UpstreamClientKeyPEM == nil {
			return p
		}
		q := *p
		q.UpstreamClientKeyPEM = []byte("<redacted>")
		return &q
	}
	out.Proxy = scrub(c.Proxy)
	out.Vhosts = append([]Vhost(nil), c.Vhosts...)
	for i := range out.Vhosts {
		v := &out.Vhosts[i]
		v.Proxy = scrub(v.Proxy)
		v.Routes = append([]Route(nil), v.Routes...)
		for j := range v.Routes {
			v.Routes[j].Proxy = scrub(v.Routes[j].Proxy)
		}
	}
	return &out
}
