package acme

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Manager obtains, stores and renews the certificates of Options.Targets.
// Its methods are safe for concurrent use; renewal passes run one at a
// time.
type Manager struct {
	o          Options
	log        *slog.Logger
	now        func() time.Time
	issuers    map[string]*Issuer
	transports map[string]http.RoundTripper
	passSem    chan struct{} // one pass at a time in this process

	annMu     sync.Mutex        // serialises announcements (OnCertificate)
	announced map[string]string // target → fingerprint of the pair last handed out
}

// New checks o and returns a Manager. It reads the issuers' CA bundles but
// neither touches the storage nor contacts any issuer.
func New(o Options) (*Manager, error) {
	o.Issuers = slices.Clone(o.Issuers)
	for i := range o.Issuers {
		if e := o.Issuers[i].EAB; e != nil {
			c := *e
			c.HMACKey = strings.TrimRight(strings.TrimSpace(c.HMACKey), "=") // lego wants it unpadded
			o.Issuers[i].EAB = &c
		}
	}
	o.Targets = slices.Clone(o.Targets)
	for i := range o.Targets {
		o.Targets[i].Domains = slices.Clone(o.Targets[i].Domains)
	}
	transports, err := checkOptions(&o)
	if err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Manager{o: o, log: o.Log.With("component", "acme"), now: o.Now,
		issuers: make(map[string]*Issuer, len(o.Issuers)), transports: transports,
		passSem: make(chan struct{}, 1), announced: make(map[string]string)}
	for i := range m.o.Issuers {
		m.issuers[m.o.Issuers[i].Name] = &m.o.Issuers[i]
	}
	routeLegoLog(o.Log)
	return m, nil
}

// Load returns the certificates already in storage, keyed by target name,
// for startup: expired ones are included (the caller decides whether to
// serve them); a target without a stored pair is absent — pending, never
// an error. Pairs that do not load are logged and left out. What Load
// returns counts as handed out: OnCertificate is only called for pairs
// that differ from it.
func (m *Manager) Load() map[string]*Pair {
	m.annMu.Lock()
	defer m.annMu.Unlock()
	out := make(map[string]*Pair, len(m.o.Targets))
	for _, t := range m.o.Targets {
		p, _, err := readPair(CertificateDir(m.o.Storage, t.Name))
		switch {
		case err == nil:
			out[t.Name] = p
			m.announced[t.Name] = p.fingerprint()
		case errors.Is(err, errNoPair):
			m.log.Info("acme certificate pending", "target", t.Name, "domains", t.Domains)
		default:
			m.log.Warn("acme certificate unreadable, treated as pending", "target", t.Name, "err", err)
		}
	}
	return out
}

// Refresh calls OnCertificate for every stored pair that differs from the
// one last handed out (by Load or OnCertificate): pairs installed by
// another process — the other master during a binary upgrade, or an
// external renewal. Every pass ends with a Refresh; call it on reload when
// automation is external. It takes no lock and contacts no issuer.
func (m *Manager) Refresh() {
	m.annMu.Lock()
	defer m.annMu.Unlock()
	for _, t := range m.o.Targets {
		p, _, err := readPair(CertificateDir(m.o.Storage, t.Name))
		if err != nil {
			continue
		}
		fp := p.fingerprint()
		if m.announced[t.Name] == fp {
			continue
		}
		m.announced[t.Name] = fp
		if m.o.OnCertificate != nil {
			m.o.OnCertificate(t.Name, p.CertPEM, p.KeyPEM)
		}
	}
}

// Status reports every target's certificate and renewal state, read from
// storage (so it also reflects passes run by another master).
func (m *Manager) Status() []TargetStatus {
	now := m.now()
	out := make([]TargetStatus, 0, len(m.o.Targets))
	for _, t := range m.o.Targets {
		dir := CertificateDir(m.o.Storage, t.Name)
		st := readState(dir)
		ts := TargetStatus{Name: t.Name, Domains: slices.Clone(t.Domains), Issuer: t.Issuer,
			Failures: st.Failures, LastError: st.LastError, LastAttempt: st.LastAttempt,
			LastSuccess: st.LastSuccess, NextAttempt: st.NextAttempt}
		p, _, err := readPair(dir)
		switch {
		case errors.Is(err, errNoPair):
			ts.State, ts.Due = "missing", true
		case err != nil:
			ts.State, ts.Due = "invalid", true
			if ts.LastError == "" {
				ts.LastError = err.Error()
			}
		default:
			ts.NotAfter, ts.Serial = p.NotAfter(), p.Serial()
			ts.Due = m.reason(p, t, now) != ""
			switch {
			case !now.Before(p.NotAfter()):
				ts.State = "expired"
			case ts.Due:
				ts.State = "due"
			default:
				ts.State = "valid"
			}
		}
		out = append(out, ts)
	}
	return out
}

// reason says why the stored pair p of t needs a new certificate at now,
// or "" if it does not.
func (m *Manager) reason(p *Pair, t Target, now time.Time) string {
	switch {
	case len(uncovered(p.Leaf, t.Domains)) > 0:
		return "domains changed"
	case due(p.Leaf, now, m.o.RenewBefore):
		return "due"
	}
	return ""
}
