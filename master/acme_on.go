//go:build fh_acme_client

package master

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/fluxheim/fluxheim/master/acme"
	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/tlsmat"
)

// acmeState is the master's ACME manager (build feature acme-client).
type acmeState struct {
	mgr    *acme.Manager
	cancel context.CancelFunc
	pairs  map[string]*tlsmat.Cert // by vhost name; absent = pending
}

// startACME builds the ACME manager for cfg (replacing a running one),
// loads stored certificates and, with automation = "background", starts
// the renewal loop. Missing certificates are pending: the fallback serves.
func (m *Master) startACME(cfg *config.Config) error {
	m.stopACME()
	if cfg.TLS == nil || cfg.TLS.ACME == nil || !cfg.TLS.ACME.Enabled {
		return nil
	}
	a := cfg.TLS.ACME
	opts := acme.Options{
		Storage:       a.Storage,
		ContactEmail:  a.ContactEmail,
		Challenge:     a.Challenge,
		RenewBefore:   time.Duration(a.Renewal.RenewBeforeSecs) * time.Second,
		CheckInterval: time.Duration(a.Renewal.CheckIntervalSecs) * time.Second,
		RetryInitial:  time.Duration(a.Renewal.RetryInitialSecs) * time.Second,
		RetryMax:      time.Duration(a.Renewal.RetryMaxSecs) * time.Second,
		Presenter:     presenter{m},
		OnCertificate: func(target string, certPEM, keyPEM []byte) {
			m.onLoop(func() { m.installACME(target, certPEM, keyPEM) })
		},
		Log: m.log.Logger.With("component", "acme"),
	}
	used := map[string]bool{a.DefaultIssuer: true}
	for i := range cfg.Vhosts {
		v := &cfg.Vhosts[i]
		if !v.ACMEManaged() {
			continue
		}
		is := v.TLS.ACME.Issuer
		if is == "" {
			is = a.DefaultIssuer
		}
		used[is] = true
		opts.Targets = append(opts.Targets, acme.Target{Name: v.Name, Domains: v.ACMEDomains(), Issuer: is})
	}
	for name := range used {
		ci := a.Issuer(name)
		is := acme.Issuer{Name: ci.Name, DirectoryURL: ci.DirectoryURL, TermsOfServiceAgreed: ci.TermsOfServiceAgreed,
			TermsOfServiceURL: ci.TermsOfServiceURL, AllowUnadvertisedTermsOfService: ci.AllowUnadvertisedTermsOfService,
			CABundleFile: ci.CABundleFile}
		if e := ci.EAB; e != nil {
			kid, err := config.ResolveEAB(e.KeyIDEnv, e.KeyIDFile, e.KeyIDCredential)
			if err != nil {
				return fmt.Errorf("tls.acme issuer %s: EAB key id: %w", name, err)
			}
			hmac, err := config.ResolveEAB(e.HMACKeyEnv, e.HMACKeyFile, e.HMACKeyCredential)
			if err != nil {
				return fmt.Errorf("tls.acme issuer %s: EAB HMAC key: %w", name, err)
			}
			is.EAB = &acme.EAB{KeyID: kid, HMACKey: hmac}
		}
		opts.Issuers = append(opts.Issuers, is)
	}
	mgr, err := acme.New(opts)
	if err != nil {
		return err
	}
	st := &acmeState{mgr: mgr, pairs: map[string]*tlsmat.Cert{}}
	for name, p := range mgr.Load() {
		if p != nil {
			st.pairs[name] = &tlsmat.Cert{CertPEM: p.CertPEM, KeyPEM: p.KeyPEM, Source: "acme:" + name}
		}
	}
	m.acme = st
	if a.Automation == "background" && *a.Renewal.Enabled {
		ctx, cancel := context.WithCancel(context.Background())
		st.cancel = cancel
		go mgr.Run(ctx)
	}
	return nil
}

// stopACME cancels the renewal loop (a reload or upgrade starts a new
// one; the storage lock keeps one writer at a time).
func (m *Master) stopACME() {
	if m.acme != nil && m.acme.cancel != nil {
		m.acme.cancel()
	}
}

// acmePairs is what loadMaterial needs (nil without ACME).
func (m *Master) acmePairs() map[string]*tlsmat.Cert {
	if m.acme == nil {
		return nil
	}
	return m.acme.pairs
}

// installACME puts a new certificate into the material and pushes it to
// the current workers (runs on the loop).
func (m *Master) installACME(target string, certPEM, keyPEM []byte) {
	if m.acme == nil {
		return
	}
	m.acme.pairs[target] = &tlsmat.Cert{CertPEM: certPEM, KeyPEM: keyPEM, Source: "acme:" + target}
	mat, err := loadMaterial(m.cfg, &m.ticket, m.acme.pairs)
	if err != nil {
		m.log.Error("installing the ACME certificate", "vhost", target, "err", err)
		return
	}
	m.material = mat
	m.pushTLS()
	m.log.Info("ACME certificate installed", "vhost", target)
}

// acmeCommand runs `fluxheim acme status|renew` for the state st (taken on
// the loop) in its own goroutine: renewals call the presenter, which needs
// the loop.
func acmeCommand(st *acmeState, cmd string) ctlResponse {
	if st == nil {
		return ctlResponse{Error: "ACME is not enabled in this configuration ([tls.acme] enabled = true)"}
	}
	switch cmd {
	case "acme-status":
		b, _ := json.MarshalIndent(st.mgr.Status(), "", "  ")
		return ctlResponse{OK: true, Message: string(b)}
	case "acme-renew", "acme-renew-force":
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		results := st.mgr.Renew(ctx, cmd == "acme-renew-force")
		var lines []string
		failed := 0
		for _, r := range results {
			line := fmt.Sprintf("%s status=%s reason=%s", r.Target, r.Status, r.Reason)
			if r.Err != nil {
				line += " error=" + r.Err.Error()
			}
			if r.Status == acme.StatusFailed {
				failed++
			}
			lines = append(lines, line)
		}
		msg := strings.Join(lines, "\n")
		if failed > 0 {
			return ctlResponse{Error: fmt.Sprintf("%d of %d targets failed\n%s", failed, len(results), msg)}
		}
		if msg == "" {
			msg = "acme attempted: 0"
		}
		return ctlResponse{OK: true, Message: msg}
	}
	return ctlResponse{Error: "unknown ACME command"}
}

// presenter publishes challenge answers through the master loop to every
// worker and returns once they confirmed.
type presenter struct{ m *Master }

func (p presenter) PresentHTTP01(token, keyAuth string) error {
	return p.m.onLoopErr(func() error {
		if p.m.challenges.HTTP01 == nil {
			p.m.challenges.HTTP01 = map[string]string{}
		}
		p.m.challenges.HTTP01[token] = keyAuth
		return p.m.pushChallenges()
	})
}

func (p presenter) CleanupHTTP01(token string) error {
	return p.m.onLoopErr(func() error {
		delete(p.m.challenges.HTTP01, token)
		return p.m.pushChallenges()
	})
}

func (p presenter) PresentTLSALPN01(domain string, cert tls.Certificate) error {
	certPEM, keyPEM, err := acme.ChallengeCertPEM(cert)
	if err != nil {
		return err
	}
	return p.m.onLoopErr(func() error {
		if p.m.challenges.TLSALPN01 == nil {
			p.m.challenges.TLSALPN01 = map[string]tlsmat.Cert{}
		}
		p.m.challenges.TLSALPN01[strings.ToLower(domain)] = tlsmat.Cert{CertPEM: certPEM, KeyPEM: keyPEM, Source: "acme-tls/1:" + domain}
		return p.m.pushChallenges()
	})
}

func (p presenter) CleanupTLSALPN01(domain string) error {
	return p.m.onLoopErr(func() error {
		delete(p.m.challenges.TLSALPN01, strings.ToLower(domain))
		return p.m.pushChallenges()
	})
}
