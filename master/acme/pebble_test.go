package acme

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/master/acme/pebbletest"
)

// Tests against a real Pebble (skipped with -short); helpers are in
// pebble_helpers_test.go and presenter_test.go.

func TestPebbleHTTP01IssueSkipForce(t *testing.T) {
	t.Parallel()
	e := newPebbleEnv(t, pebbletest.Config{})
	o := e.options(t)
	o.Targets[0].Domains = []string{"a.example.test", "www.a.example.test"}
	m := newManager(t, o)
	if got := m.Load(); len(got) != 0 {
		t.Fatalf("Load before issuance = %v, want empty (pending)", got)
	}
	if st := m.Status(); st[0].State != "missing" || !st[0].Due {
		t.Fatalf("status before issuance: %+v", st[0])
	}

	r := renewOne(t, m, false)
	wantStatus(t, r, StatusRenewed)
	if r.Reason != "missing" {
		t.Errorf("reason %q, want missing", r.Reason)
	}
	leaf := verifyIssued(t, e.pb, e.announced("site"), "a.example.test", "www.a.example.test")
	if e.pres.pending() != 0 || e.pres.cleaned.Load() != e.pres.presented.Load() {
		t.Errorf("challenges not cleaned up: %d pending, %d presented, %d cleaned",
			e.pres.pending(), e.pres.presented.Load(), e.pres.cleaned.Load())
	}
	pairs := m.Load()
	if p := pairs["site"]; p == nil || p.Leaf.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Fatalf("Load after issuance = %v", pairs)
	}
	st := m.Status()[0]
	if st.State != "valid" || st.Due || st.Serial != serialHex(leaf.SerialNumber) || !st.NotAfter.Equal(leaf.NotAfter) {
		t.Fatalf("status after issuance: %+v", st)
	}
	checkPermissions(t, e.storage)
	if _, err := os.Stat(filepath.Join(AccountDir(e.storage, "pebble"), credentialsFile)); err != nil {
		t.Fatalf("credentials not stored: %v", err)
	}

	r = renewOne(t, m, false)
	wantStatus(t, r, StatusSkipped)
	if r.Reason != "not due" {
		t.Errorf("reason %q, want not due", r.Reason)
	}

	r = renewOne(t, m, true)
	wantStatus(t, r, StatusRenewed)
	leaf2 := verifyIssued(t, e.pb, e.announced("site"), "a.example.test")
	if leaf2.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
		t.Fatal("forced renewal kept the serial")
	}
	if p := m.Load()["site"]; p.Leaf.SerialNumber.Cmp(leaf2.SerialNumber) != 0 {
		t.Fatal("forced renewal not installed")
	}
	prev, err := loadPairFiles(filepath.Join(CertificateDir(e.storage, "site"), fullchainFile+prevSuffix),
		filepath.Join(CertificateDir(e.storage, "site"), privkeyFile+prevSuffix))
	if err != nil || prev.Leaf.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Fatalf("previous pair not kept as backup: %v", err)
	}
	checkPermissions(t, e.storage)

	// A second Manager (a reload or a new master) reuses the account.
	creds := readCredentials(t, e.storage, "pebble")
	m2 := newManager(t, e.options(t))
	wantStatus(t, renewOne(t, m2, true), StatusRenewed) // one domain fewer
	verifyIssued(t, e.pb, e.announced("site"), "a.example.test")
	if again := readCredentials(t, e.storage, "pebble"); again.AccountURL != creds.AccountURL || !again.CreatedAt.Equal(creds.CreatedAt) {
		t.Fatalf("account registered again: %s then %s", creds.AccountURL, again.AccountURL)
	}
}

func TestPebbleTLSALPN01(t *testing.T) {
	t.Parallel()
	e := newPebbleEnv(t, pebbletest.Config{})
	o := e.options(t)
	o.Challenge = ChallengeTLSALPN01
	o.Targets[0].Domains = []string{"a.example.test", "www.a.example.test"}
	m := newManager(t, o)
	wantStatus(t, renewOne(t, m, false), StatusRenewed)
	verifyIssued(t, e.pb, e.announced("site"), "a.example.test", "www.a.example.test")
	if e.pres.presented.Load() == 0 || e.pres.pending() != 0 {
		t.Fatalf("tls-alpn-01: %d presented, %d still pending", e.pres.presented.Load(), e.pres.pending())
	}
	checkPermissions(t, e.storage)
}

func TestPebbleFailureKeepsPairAndBacksOff(t *testing.T) {
	t.Parallel()
	e := newPebbleEnv(t, pebbletest.Config{})
	m := newManager(t, e.options(t))
	wantStatus(t, renewOne(t, m, false), StatusRenewed)
	before := m.Load()["site"]
	e.mu.Lock()
	delete(e.got, "site")
	e.mu.Unlock()

	// 70 days on, the 90-day certificate is due; the CA finds no answer.
	e.pres.silent.Store(true)
	e.offset.Store(int64(70 * 24 * time.Hour))
	rs := m.pass(context.Background(), false, true)
	wantStatus(t, rs[0], StatusFailed)
	if rs[0].Reason != "due" || rs[0].Err == nil {
		t.Fatalf("failed result: %+v", rs[0])
	}
	now := m.now()
	st := m.Status()[0]
	if st.Failures != 1 || st.LastError == "" || st.State != "due" ||
		st.NextAttempt.Sub(now) > time.Hour || st.NextAttempt.Sub(now) < 59*time.Minute {
		t.Fatalf("after one failure: %+v (now %s)", st, now)
	}
	if p := m.Load()["site"]; p == nil || p.Serial() != before.Serial() {
		t.Fatal("previous pair not kept after a failure")
	}
	if e.announced("site") != nil {
		t.Fatal("OnCertificate called for a failed issuance")
	}
	if d := m.nextWake(); d > time.Hour || d < 59*time.Minute {
		t.Fatalf("next wake in %s, want the 1 h backoff", d)
	}

	// The background pass honours the backoff; a manual one does not.
	presented := e.pres.presented.Load()
	rs = m.pass(context.Background(), false, true)
	if rs[0].Status != StatusSkipped || rs[0].Reason != "backoff" || e.pres.presented.Load() != presented {
		t.Fatalf("background pass during backoff: %+v", rs[0])
	}
	wantStatus(t, renewOne(t, m, false), StatusFailed)
	if st := m.Status()[0]; st.Failures != 2 || st.NextAttempt.Sub(m.now()) < 119*time.Minute {
		t.Fatalf("after two failures the backoff should double: %+v", st)
	}

	// Once the backoff has passed and the CA can validate, it recovers.
	e.pres.silent.Store(false)
	e.offset.Store(int64(70*24*time.Hour + 3*time.Hour))
	rs = m.pass(context.Background(), false, true)
	wantStatus(t, rs[0], StatusRenewed)
	if st := m.Status()[0]; st.Failures != 0 || st.LastError != "" {
		t.Fatalf("success did not reset the failures: %+v", st)
	}
}

func TestPebbleTermsNotAgreed(t *testing.T) {
	t.Parallel()
	e := newPebbleEnv(t, pebbletest.Config{})
	o := e.options(t)
	o.Issuers[0].TermsOfServiceAgreed = false
	m := newManager(t, o)
	r := renewOne(t, m, false)
	wantStatus(t, r, StatusFailed)
	if !errors.Is(r.Err, ErrTermsNotAgreed) || !strings.Contains(r.Err.Error(), "terms_of_service_agreed") {
		t.Fatalf("error %v, want ErrTermsNotAgreed naming the setting", r.Err)
	}
	if _, err := os.Stat(filepath.Join(AccountDir(e.storage, "pebble"), credentialsFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("credentials written without agreement: %v", err)
	}
	if e.pres.presented.Load() != 0 {
		t.Fatal("challenges presented without an account")
	}

	// Agreed, but the directory advertises other terms than configured.
	o.Issuers[0].TermsOfServiceAgreed = true
	o.Issuers[0].TermsOfServiceURL = "https://example.test/old-terms"
	r = renewOne(t, newManager(t, o), false)
	if !errors.Is(r.Err, ErrTermsNotAgreed) {
		t.Fatalf("terms URL mismatch: %v", r.Err)
	}
}

func TestPebbleEAB(t *testing.T) {
	t.Parallel()
	const kid, hmac = "kid-1", "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
	e := newPebbleEnv(t, pebbletest.Config{EABKeys: map[string]string{kid: hmac}})
	o := e.options(t)
	r := renewOne(t, newManager(t, o), false)
	if r.Status != StatusFailed || !strings.Contains(r.Err.Error(), "external account binding") {
		t.Fatalf("without EAB: %+v", r)
	}
	o.Issuers[0].EAB = &EAB{KeyID: kid, HMACKey: hmac}
	wantStatus(t, renewOne(t, newManager(t, o), false), StatusRenewed)
	if c := readCredentials(t, e.storage, "pebble"); c.EABKeyID != kid {
		t.Fatalf("credentials EAB key ID %q", c.EABKeyID)
	}
}

func TestPebbleStaleAccountRegistersAgain(t *testing.T) {
	t.Parallel()
	e := newPebbleEnv(t, pebbletest.Config{})
	m := newManager(t, e.options(t))
	wantStatus(t, renewOne(t, m, false), StatusRenewed)
	// Point the stored registration at an account the server never made
	// (as after the CA lost its state).
	path := filepath.Join(AccountDir(e.storage, "pebble"), credentialsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := readCredentials(t, e.storage, "pebble")
	stale := strings.ReplaceAll(string(data), c.AccountURL, c.AccountURL+"0000")
	if err := os.WriteFile(path, []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, renewOne(t, m, true), StatusRenewed)
	if again := readCredentials(t, e.storage, "pebble"); again.AccountURL == c.AccountURL+"0000" {
		t.Fatal("stale account URL kept")
	}
}

// Two Managers on one storage (old and new master during an upgrade)
// renew concurrently: the lock serialises them, the second sees the first
// one's certificate, and both hand that same pair to their workers.
func TestPebbleTwoManagersOneWriter(t *testing.T) {
	t.Parallel()
	e := newPebbleEnv(t, pebbletest.Config{})
	var mu sync.Mutex
	got := map[int][]string{}
	manager := func(i int) *Manager {
		o := e.options(t)
		o.OnCertificate = func(target string, certPEM, keyPEM []byte) {
			mu.Lock()
			defer mu.Unlock()
			got[i] = append(got[i], string(certPEM))
		}
		m := newManager(t, o)
		m.Load()
		return m
	}
	m1, m2 := manager(1), manager(2)
	var wg sync.WaitGroup
	var r1, r2 Result
	wg.Add(2)
	go func() { defer wg.Done(); r1 = renewOne(t, m1, false) }()
	go func() { defer wg.Done(); r2 = renewOne(t, m2, false) }()
	wg.Wait()
	statuses := r1.Status + "," + r2.Status
	if statuses != StatusRenewed+","+StatusSkipped && statuses != StatusSkipped+","+StatusRenewed {
		t.Fatalf("results %+v and %+v, want one renewed and one skipped", r1, r2)
	}
	if len(got[1]) != 1 || len(got[2]) != 1 || got[1][0] != got[2][0] {
		t.Fatalf("announcements: m1 %d, m2 %d, same pair %v", len(got[1]), len(got[2]),
			len(got[1]) == 1 && len(got[2]) == 1 && got[1][0] == got[2][0])
	}
	// A later pass announces nothing new.
	renewOne(t, m2, false)
	if len(got[2]) != 1 {
		t.Fatalf("unchanged pair announced again: %d", len(got[2]))
	}
}

func TestPebbleRunIssuesInBackground(t *testing.T) {
	t.Parallel()
	e := newPebbleEnv(t, pebbletest.Config{})
	m := newManager(t, e.options(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	deadline := time.Now().Add(60 * time.Second)
	for e.announced("site") == nil {
		if time.Now().After(deadline) {
			t.Fatal("Run did not issue the missing certificate")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	verifyIssued(t, e.pb, e.announced("site"), "a.example.test")
}
