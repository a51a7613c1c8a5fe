package tmpl

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"net/http"
	"strings"
)

// appendTLS renders the {tls.*} variables. Client certificate variables
// need a verified chain (tls.ConnectionState.VerifiedChains): an unverified
// certificate (client_auth "request" without verification) renders empty,
// so an identity header can never carry an unauthenticated claim.
func appendTLS(dst []byte, k kind, r *http.Request) []byte {
	cs := r.TLS
	if cs == nil {
		return dst
	}
	switch k {
	case kTLSCipher:
		return append(dst, tls.CipherSuiteName(cs.CipherSuite)...)
	case kTLSVersion:
		return append(dst, TLSVersionName(cs.Version)...)
	}
	if len(cs.VerifiedChains) == 0 || len(cs.PeerCertificates) == 0 {
		return dst
	}
	cert := cs.PeerCertificates[0]
	switch k {
	case kTLSCertSHA256:
		sum := sha256.Sum256(cert.Raw)
		return hex.AppendEncode(dst, sum[:])
	case kTLSCertSerial:
		if cert.SerialNumber == nil {
			return dst
		}
		// Upper-case hex, two digits per byte, like nginx $ssl_client_serial.
		for _, b := range cert.SerialNumber.Bytes() {
			const digits = "0123456789ABCDEF"
			dst = append(dst, digits[b>>4], digits[b&0x0f])
		}
		return dst
	case kTLSCertOrg:
		for i, o := range cert.Subject.Organization {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = appendClean(dst, o)
		}
	}
	return dst
}

// TLSVersionName names a TLS version the way nginx's $ssl_protocol does
// ("TLSv1.2", "TLSv1.3").
func TLSVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "TLSv1.3"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS10:
		return "TLSv1"
	}
	return strings.ReplaceAll(tls.VersionName(v), " ", "")
}
