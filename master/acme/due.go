package acme

import (
	"crypto/x509"
	"time"
)

// due reports whether cert must be renewed at now: when it is missing,
// expired, or within renewBefore of its NotAfter (a certificate not valid
// yet, from clock skew, is judged by its NotAfter alone). renewBefore is
// capped at two thirds of the certificate's lifetime, so every certificate
// serves at least a third of it: a short-lived certificate (6 days) under
// the 30-day default is renewed after 2 days, not on every check.
func due(cert *x509.Certificate, now time.Time, renewBefore time.Duration) bool {
	if cert == nil || !now.Before(cert.NotAfter) {
		return true
	}
	if life := cert.NotAfter.Sub(cert.NotBefore); life > 0 {
		renewBefore = min(renewBefore, life/3*2)
	}
	return !now.Before(cert.NotAfter.Add(-renewBefore))
}

// backoff is the delay before the next background attempt after the given
// number of consecutive failures: initial, doubling, capped at max.
func backoff(failures int, initial, max time.Duration) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := initial
	for i := 1; i < failures; i++ {
		if d >= max/2 {
			return max
		}
		d *= 2
	}
	return min(d, max)
}
