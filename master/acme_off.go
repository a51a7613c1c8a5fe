//go:build !fh_acme_client

package master

import (
	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/tlsmat"
)

// acmeState is empty without the acme-client feature: config validation
// refuses [tls.acme] enabled = true in such a binary.
type acmeState struct{}

func (m *Master) startACME(*config.Config) error     { return nil }
func (m *Master) stopACME()                          {}
func (m *Master) acmePairs() map[string]*tlsmat.Cert { return nil }

func acmeCommand(*acmeState, string) ctlResponse {
	return ctlResponse{Error: "this binary was built without the acme-client feature (build with FEATURES=...,acme-client)"}
}
