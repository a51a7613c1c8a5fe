// Package tlsmat is the TLS material the master hands to workers over the
// control channel: certificates and keys as PEM bytes (workers never read
// key files), the client CA bundle, session-ticket keys (made and rotated
// by the master, so resumption works whichever worker a reconnect lands
// on), and ACME challenge answers.
package tlsmat

// Material is everything a worker's TLS listeners need.
type Material struct {
	// Certs: Certs[0] is the default certificate (served when SNI matches
	// nothing, or is absent); the others are selected by Names.
	Certs []Cert `json:"certs"`
	// ClientCAPEM is the [tls.client_auth] CA bundle ("" = none).
	ClientCAPEM []byte `json:"client_ca_pem,omitempty"`
	// TicketKeys are 32-byte session-ticket keys, newest first (the first
	// encrypts, all decrypt).
	TicketKeys [][32]byte `json:"ticket_keys"`
}

// Cert is one certificate chain with its key and the host names (exact or
// one-label wildcard "*.example.test") it serves. Pending is set for an
// ACME-managed certificate not issued yet: it has no PEM and the fallback
// serves its names meanwhile.
type Cert struct {
	Names   []string `json:"names,omitempty"`
	CertPEM []byte   `json:"cert_pem,omitempty"`
	KeyPEM  []byte   `json:"key_pem,omitempty"`
	Source  string   `json:"source"` // config key or "acme:<vhost>", for logs
	Pending bool     `json:"pending,omitempty"`
}

// Challenges are the ACME challenge answers workers serve.
type Challenges struct {
	// HTTP01 maps token → key authorization, served at
	// /.well-known/acme-challenge/<token> before redirects and routes.
	HTTP01 map[string]string `json:"http01,omitempty"`
	// TLSALPN01 maps a domain to its acme-tls/1 challenge certificate.
	TLSALPN01 map[string]Cert `json:"tlsalpn01,omitempty"`
}
