package acme

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-acme/lego/v4/certificate"
)

// minWake is the shortest sleep of Run between passes.
const minWake = time.Second

// Run renews in the background until ctx ends: a pass at once, then one
// every CheckInterval, earlier when a failed target's backoff expires.
// Missing and due certificates are issued; failed ones are retried with
// bounded doubling backoff (RetryInitial .. RetryMax).
func (m *Manager) Run(ctx context.Context) {
	for {
		for _, r := range m.pass(ctx, false, true) {
			if r.Status == StatusFailed && ctx.Err() == nil {
				m.log.Warn("acme renewal failed", "target", r.Target, "reason", r.Reason, "err", r.Err)
			}
		}
		t := time.NewTimer(m.nextWake())
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Renew runs one pass now, for `fluxheim acme renew [--force]`: missing
// and due certificates (every certificate if force) are issued, ignoring
// any backoff. It returns one Result per target, in Targets order.
func (m *Manager) Renew(ctx context.Context, force bool) []Result {
	return m.pass(ctx, force, false)
}

// nextWake is the delay until the next background pass.
func (m *Manager) nextWake() time.Duration {
	now := m.now()
	d := m.o.CheckInterval
	for _, t := range m.o.Targets {
		st := readState(CertificateDir(m.o.Storage, t.Name))
		if st.Failures > 0 && st.NextAttempt.After(now) {
			d = min(d, st.NextAttempt.Sub(now))
		}
	}
	return max(d, minWake)
}

// pass is one renewal pass under the storage lock, followed by a Refresh
// that hands new pairs to OnCertificate once the lock is released.
func (m *Manager) pass(ctx context.Context, force, honourBackoff bool) []Result {
	results := make([]Result, 0, len(m.o.Targets))
	select {
	case m.passSem <- struct{}{}:
		defer func() { <-m.passSem }()
	case <-ctx.Done():
		for _, t := range m.o.Targets {
			results = append(results, Result{Target: t.Name, Status: StatusFailed, Reason: "canceled", Err: ctx.Err()})
		}
		return results
	}
	lock, err := lockStorage(ctx, m.o.Storage, func(pid int) {
		m.log.Info("acme storage locked by another process, waiting", "storage", m.o.Storage, "holder_pid", pid)
	})
	if err != nil {
		for _, t := range m.o.Targets {
			results = append(results, Result{Target: t.Name, Status: StatusFailed, Reason: "storage lock", Err: err})
		}
		return results
	}
	clients := make(map[string]*client)
	for _, t := range m.o.Targets {
		results = append(results, m.renewTarget(ctx, t, force, honourBackoff, clients))
	}
	lock.unlock()
	m.Refresh()
	return results
}

// renewTarget decides whether t needs a certificate and, if so, obtains,
// checks and installs one, recording the outcome in its state.json.
func (m *Manager) renewTarget(ctx context.Context, t Target, force, honourBackoff bool, clients map[string]*client) Result {
	res := Result{Target: t.Name, Status: StatusSkipped}
	if err := ctx.Err(); err != nil {
		res.Status, res.Reason, res.Err = StatusFailed, "canceled", err
		return res
	}
	now := m.now()
	dir := CertificateDir(m.o.Storage, t.Name)
	if err := recoverPair(dir); err != nil {
		m.log.Warn("acme: cannot finish an interrupted install", "target", t.Name, "err", err)
	}
	old, _, err := readPair(dir)
	switch {
	case force:
		res.Reason = "forced"
	case errors.Is(err, errNoPair):
		res.Reason = "missing"
	case err != nil:
		res.Reason = "invalid"
	default:
		res.Reason = m.reason(old, t, now)
	}
	if res.Reason == "" {
		res.Reason = "not due"
		return res
	}
	st := readState(dir)
	if honourBackoff && !force && st.Failures > 0 && now.Before(st.NextAttempt) {
		res.Reason = "backoff"
		return res
	}
	m.log.Info("acme obtaining certificate", "target", t.Name, "domains", t.Domains, "issuer", t.Issuer, "reason", res.Reason)
	p, err := m.obtain(ctx, t, clients)
	if err == nil {
		err = installPair(dir, p.CertPEM, p.KeyPEM)
	}
	if err != nil {
		res.Status, res.Err = StatusFailed, err
		if ctx.Err() != nil {
			res.Reason = "canceled"
			return res
		}
		st.recordFailure(m.now(), err, m.o.RetryInitial, m.o.RetryMax)
		if werr := writeState(dir, st); werr != nil {
			m.log.Warn("acme: cannot record renewal state", "target", t.Name, "err", werr)
		}
		m.log.Warn("acme certificate not obtained; previous certificate kept", "target", t.Name,
			"failures", st.Failures, "next_attempt", st.NextAttempt, "err", err)
		return res
	}
	st.recordSuccess(m.now())
	if werr := writeState(dir, st); werr != nil {
		m.log.Warn("acme: cannot record renewal state", "target", t.Name, "err", werr)
	}
	m.log.Info("acme certificate installed", "target", t.Name, "serial", p.Serial(), "not_after", p.NotAfter())
	res.Status = StatusRenewed
	return res
}

// obtain orders a certificate for t with a fresh P-256 key and checks the
// result. An account the server no longer knows is registered anew once.
func (m *Manager) obtain(ctx context.Context, t Target, clients map[string]*client) (*Pair, error) {
	is := m.issuers[t.Issuer]
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	var res *certificate.Resource
	for attempt := 0; ; attempt++ {
		c := clients[is.Name]
		if c == nil {
			if c, err = m.newClient(ctx, is); err != nil {
				return nil, err
			}
			clients[is.Name] = c
		}
		res, err = c.lego.Certificate.Obtain(certificate.ObtainRequest{Domains: t.Domains, PrivateKey: key, Bundle: true})
		if err == nil || attempt > 0 || !isAccountMissing(err) {
			break
		}
		m.log.Warn("acme account unknown to the issuer, registering again", "issuer", is.Name)
		delete(clients, is.Name)
		if rerr := forgetAccount(m.o.Storage, is); rerr != nil {
			return nil, rerr
		}
	}
	if err != nil {
		return nil, err
	}
	p, err := parsePair(res.Certificate, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("issued certificate: %w", err)
	}
	if err := checkIssued(p, t.Domains, m.now()); err != nil {
		return nil, fmt.Errorf("issued certificate rejected: %w", err)
	}
	return p, nil
}

// forgetAccount removes an issuer's stored registration (the key stays).
func forgetAccount(storage string, is *Issuer) error {
	err := os.Remove(filepath.Join(AccountDir(storage, is.Name), credentialsFile))
	if err != nil && !isNotExist(err) {
		return err
	}
	return nil
}
