package master

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/ipc"
	"github.com/fluxheim/fluxheim/shared/tlsmat"
)

// Session-ticket keys: the master makes them and pushes them to every
// worker, so a resumed session works whichever worker the reconnect lands
// on. A new key is added every TicketRotation; TicketKeysKept keys are
// kept for decryption.
const (
	TicketRotation = 12 * time.Hour
	TicketKeysKept = 3
)

// ticketKeys is the master's session-ticket key ring, newest first.
type ticketKeys struct {
	keys    [][32]byte
	rotated time.Time
}

// rotate adds a fresh key in front and drops the oldest beyond the ring.
func (t *ticketKeys) rotate() error {
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		return err
	}
	t.keys = append([][32]byte{k}, t.keys...)
	if len(t.keys) > TicketKeysKept {
		t.keys = t.keys[:TicketKeysKept]
	}
	t.rotated = time.Now()
	return nil
}

// loadMaterial reads every certificate and key the config names (the
// master is the only process that reads key files) and checks each pair.
// acme holds ACME-managed pairs by vhost name (nil entries = pending).
func loadMaterial(cfg *config.Config, tk *ticketKeys, acme map[string]*tlsmat.Cert) (*tlsmat.Material, error) {
	t := cfg.TLS
	if t == nil || !t.Enabled {
		return nil, nil
	}
	m := &tlsmat.Material{TicketKeys: tk.keys}
	for i, p := range t.Certificates {
		c, err := readPair(p, fmt.Sprintf("tls.certificates[%d]", i), nil)
		if err != nil {
			return nil, err
		}
		m.Certs = append(m.Certs, c)
	}
	var vhostCerts []tlsmat.Cert
	for i := range cfg.Vhosts {
		v := &cfg.Vhosts[i]
		if v.TLS == nil || (v.TLS.Enabled != nil && !*v.TLS.Enabled) {
			continue
		}
		var c tlsmat.Cert
		switch {
		case v.TLS.Certificate != nil:
			var err error
			if c, err = readPair(*v.TLS.Certificate, fmt.Sprintf("vhosts[%d].tls.certificate", i), v.Hosts); err != nil {
				return nil, err
			}
		case acme != nil:
			a := acme[v.Name]
			if a == nil {
				c = tlsmat.Cert{Names: v.Hosts, Pending: true, Source: "acme:" + v.Name}
			} else {
				c = *a
				c.Names = v.Hosts
			}
		default:
			continue
		}
		if v.Name == cfg.Server.DefaultVhost && len(m.Certs) == 0 {
			// No global pair: the default vhost's certificate is the fallback.
			vhostCerts = append([]tlsmat.Cert{c}, vhostCerts...)
		} else {
			vhostCerts = append(vhostCerts, c)
		}
	}
	m.Certs = append(m.Certs, vhostCerts...)
	if ca := t.ClientAuth; ca != nil && ca.Mode != "off" && ca.CAPath != "" {
		b, err := os.ReadFile(ca.CAPath)
		if err != nil {
			return nil, fmt.Errorf("tls.client_auth.ca_path: %w", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("tls.client_auth.ca_path: %s holds no PEM certificate", ca.CAPath)
		}
		m.ClientCAPEM = b
	}
	return m, nil
}

// readPair reads and checks one certificate/key pair. Names default to the
// leaf's DNS names (global certificates are selected by what they cover).
func readPair(p config.CertPair, key string, names []string) (tlsmat.Cert, error) {
	certPEM, err := os.ReadFile(p.CertPath)
	if err != nil {
		return tlsmat.Cert{}, fmt.Errorf("%s.cert_path: %w", key, err)
	}
	keyPEM, err := os.ReadFile(p.KeyPath)
	if err != nil {
		return tlsmat.Cert{}, fmt.Errorf("%s.key_path: %w", key, err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tlsmat.Cert{}, fmt.Errorf("%s: %s and %s: %w", key, p.CertPath, p.KeyPath, err)
	}
	if names == nil && pair.Leaf != nil {
		names = pair.Leaf.DNSNames
	}
	return tlsmat.Cert{Names: names, CertPEM: certPEM, KeyPEM: keyPEM, Source: key}, nil
}

// materialJSON encodes material for ipc.Init / MsgTLS (nil → nil).
func materialJSON(m *tlsmat.Material) (json.RawMessage, error) {
	if m == nil {
		return nil, nil
	}
	return json.Marshal(m)
}

// listenAddrs is every address the master opens sockets for.
func listenAddrs(cfg *config.Config) []string {
	return append(append([]string(nil), cfg.Server.Listen...), cfg.Server.TLSListen...)
}

// tlsAddrs marks the server.tls_listen addresses.
func tlsAddrs(cfg *config.Config) map[string]bool {
	m := make(map[string]bool, len(cfg.Server.TLSListen))
	for _, a := range cfg.Server.TLSListen {
		m[a] = true
	}
	return m
}

// pendingTLS encodes the material a worker of cfg starts with.
func (m *Master) pendingTLS(cfg *config.Config) json.RawMessage {
	if cfg.TLS == nil || !cfg.TLS.Enabled || m.material == nil {
		return nil
	}
	b, err := materialJSON(m.material)
	if err != nil {
		m.log.Error("encoding TLS material", "err", err)
		return nil
	}
	return b
}

func (m *Master) challengesJSON() json.RawMessage {
	if len(m.challenges.HTTP01) == 0 && len(m.challenges.TLSALPN01) == 0 {
		return nil
	}
	b, _ := json.Marshal(&m.challenges)
	return b
}

// pushTLS sends the current material to every live worker of the current
// generation (ticket rotation, certificate renewal).
func (m *Master) pushTLS() {
	if m.material == nil {
		return
	}
	m.material.TicketKeys = m.ticket.keys
	for _, p := range m.cur {
		if p != nil && p.alive() {
			_ = p.sendAsk(ipc.MsgTLS, m.material) // counted: the worker acknowledges
		}
	}
}

// pushChallenges sends the ACME answers to every live worker and waits
// until each confirmed it serves them (the ACME server validates as soon
// as the presenter returns).
func (m *Master) pushChallenges() error {
	var asked []*proc
	for p := range m.procs {
		if p.alive() && p.sendAsk(ipc.MsgChallenges, &m.challenges) == nil {
			asked = append(asked, p)
		}
	}
	if late := waitAcked(asked, ackTimeout); len(late) > 0 {
		return fmt.Errorf("%d workers did not confirm the ACME challenge", len(late))
	}
	return nil
}
