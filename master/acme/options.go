package acme

import (
	"crypto/tls"
	"log/slog"
	"time"
)

// Challenge types accepted in Options.Challenge.
const (
	ChallengeHTTP01    = "http-01"
	ChallengeTLSALPN01 = "tls-alpn-01"
)

// Defaults applied by New to zero Options fields (fluxheim-spec §2.11).
const (
	DefaultRenewBefore   = 30 * 24 * time.Hour
	DefaultCheckInterval = time.Hour
	DefaultRetryInitial  = 300 * time.Second
	DefaultRetryMax      = 86400 * time.Second
)

// Limits on the configuration New accepts.
const (
	MaxDomainsPerTarget = 64
	MaxIssuers          = 128
	MaxCABundleBytes    = 1 << 20
	MaxCABundleCerts    = 128
)

// EAB is an External Account Binding, already resolved from its env, file
// or credential source.
type EAB struct {
	KeyID string
	// HMACKey is the MAC key as the CA hands it out: base64url, unpadded.
	HMACKey string
}

// Issuer is one ACME CA ([[tls.acme.issuers]]).
type Issuer struct {
	Name         string
	DirectoryURL string // https only
	// TermsOfServiceAgreed must be true before an account is registered.
	TermsOfServiceAgreed bool
	// TermsOfServiceURL, when set, must equal the URL the directory
	// advertises, so that a changed agreement is never accepted blindly.
	TermsOfServiceURL string
	// AllowUnadvertisedTermsOfService accepts a directory that advertises
	// no terms although TermsOfServiceURL is set.
	AllowUnadvertisedTermsOfService bool
	// CABundleFile holds the PEM roots that authenticate the ACME server's
	// HTTPS (≤ 1 MiB, ≤ 128 certificates); "" = the system roots.
	CABundleFile string
	EAB          *EAB
}

// Target is one managed certificate: a vhost and the names it covers.
type Target struct {
	Name    string   // vhost name; keys storage and callbacks
	Domains []string // DNS names, no wildcards (HTTP-01/TLS-ALPN-01 cannot prove them)
	Issuer  string   // Issuer.Name; the caller resolves default_issuer
}

// Options configure a Manager. Zero durations take the defaults above.
type Options struct {
	Storage       string // absolute path, e.g. /var/lib/fluxheim/acme
	ContactEmail  string // optional; registered as mailto: contact
	Challenge     string // ChallengeHTTP01 (default) or ChallengeTLSALPN01
	Issuers       []Issuer
	Targets       []Target
	RenewBefore   time.Duration // renew when NotAfter is this close
	CheckInterval time.Duration // background check period
	RetryInitial  time.Duration // first delay after a failure
	RetryMax      time.Duration // upper bound of the doubling delay
	// Presenter publishes challenge answers to the workers. Required.
	Presenter Presenter
	// OnCertificate hands a new stored pair (full chain and key, PEM) to
	// the workers: after this Manager issued or renewed it, or when another
	// process did (see Manager.Refresh). It is called after the storage
	// lock is released, one call at a time, in installation order, and
	// must not call Load or Refresh.
	OnCertificate func(target string, certPEM, keyPEM []byte)
	// Log receives the manager's and lego's messages; nil = slog.Default().
	Log *slog.Logger

	// Now replaces time.Now in tests.
	Now func() time.Time
	// HTTPTimeout bounds each request to the ACME server; 0 = 2 minutes.
	HTTPTimeout time.Duration
}

// Presenter publishes challenge answers where the ACME server will look
// for them: the master pushes them to every worker. Calls may come from
// several goroutines at once (lego solves authorizations in parallel), and
// Present must return only once the answer is served.
type Presenter interface {
	// PresentHTTP01 serves keyAuth at /.well-known/acme-challenge/<token>.
	PresentHTTP01(token, keyAuth string) error
	CleanupHTTP01(token string) error
	// PresentTLSALPN01 serves cert to TLS clients that send SNI = domain
	// and offer only the "acme-tls/1" ALPN protocol.
	PresentTLSALPN01(domain string, cert tls.Certificate) error
	CleanupTLSALPN01(domain string) error
}

// Result is the outcome of one target in a renewal pass.
type Result struct {
	Target string
	Status string // StatusRenewed, StatusSkipped or StatusFailed
	// Reason says why the target was attempted or skipped: "missing",
	// "due", "forced", "domains changed", "not due", "backoff", "canceled".
	Reason string
	Err    error
}

// Result statuses.
const (
	StatusRenewed = "renewed"
	StatusSkipped = "skipped"
	StatusFailed  = "failed"
)

// TargetStatus is what `fluxheim acme status` shows for one target.
type TargetStatus struct {
	Name    string   `json:"name"`
	Domains []string `json:"domains"`
	Issuer  string   `json:"issuer"`
	// State is "valid", "due", "expired", "missing" or "invalid" (a
	// stored pair that does not load).
	State       string    `json:"state"`
	NotAfter    time.Time `json:"not_after,omitzero"`
	Serial      string    `json:"serial,omitempty"`
	Due         bool      `json:"due"`
	Failures    int       `json:"failures,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	NextAttempt time.Time `json:"next_attempt,omitzero"` // earliest background retry after failures
}
