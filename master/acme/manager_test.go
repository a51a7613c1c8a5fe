package acme

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoadAndStatusWithoutStorage(t *testing.T) {
	o := baseOptions(t)
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Load(); len(got) != 0 {
		t.Fatalf("Load = %v", got)
	}
	st := m.Status()
	if len(st) != 1 || st[0].State != "missing" || !st[0].Due || st[0].Issuer != "ca" {
		t.Fatalf("Status = %+v", st)
	}
	if _, err := os.Stat(o.Storage); !os.IsNotExist(err) {
		t.Fatal("Load or Status wrote to the storage")
	}
}

func TestStatusStates(t *testing.T) {
	ca := newTestCA(t)
	o := baseOptions(t)
	o.Targets = []Target{
		{Name: "valid", Domains: []string{"v.example.test"}, Issuer: "ca"},
		{Name: "due", Domains: []string{"d.example.test"}, Issuer: "ca"},
		{Name: "expired", Domains: []string{"e.example.test"}, Issuer: "ca"},
		{Name: "changed", Domains: []string{"c.example.test", "new.example.test"}, Issuer: "ca"},
		{Name: "invalid", Domains: []string{"i.example.test"}, Issuer: "ca"},
	}
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	install := func(name string) func(c, k []byte) {
		return func(c, k []byte) {
			if err := installPair(CertificateDir(o.Storage, name), c, k); err != nil {
				t.Fatal(err)
			}
		}
	}
	install("valid")(ca.valid(t, "v.example.test"))
	install("due")(ca.issue(t, []string{"d.example.test"}, now.Add(-80*24*time.Hour), now.Add(10*24*time.Hour)))
	install("expired")(ca.issue(t, []string{"e.example.test"}, now.Add(-90*24*time.Hour), now.Add(-time.Hour)))
	install("changed")(ca.valid(t, "c.example.test"))
	dir := CertificateDir(o.Storage, "invalid")
	os.MkdirAll(dir, 0o700)
	os.WriteFile(filepath.Join(dir, fullchainFile), []byte("junk"), 0o600)
	os.WriteFile(filepath.Join(dir, privkeyFile), []byte("junk"), 0o600)

	want := map[string]struct {
		state string
		due   bool
	}{"valid": {"valid", false}, "due": {"due", true}, "expired": {"expired", true}, "changed": {"due", true}, "invalid": {"invalid", true}}
	for _, st := range m.Status() {
		if w := want[st.Name]; st.State != w.state || st.Due != w.due {
			t.Errorf("%s: state %q due %v, want %q %v", st.Name, st.State, st.Due, w.state, w.due)
		}
	}
	pairs := m.Load()
	if len(pairs) != 4 || pairs["expired"] == nil || pairs["invalid"] != nil {
		t.Fatalf("Load returned %d pairs: %v", len(pairs), pairs)
	}
}

// An unreachable issuer: the pass fails, the previous pair stays, the
// failure is recorded with backoff, OnCertificate is not called.
func TestRenewFailureOffline(t *testing.T) {
	ca := newTestCA(t)
	o := baseOptions(t)
	o.RetryInitial, o.RetryMax = time.Minute, time.Hour
	called := false
	o.OnCertificate = func(string, []byte, []byte) { called = true }
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	c, k := ca.valid(t, "a.example.test")
	dir := CertificateDir(o.Storage, "site")
	if err := installPair(dir, c, k); err != nil {
		t.Fatal(err)
	}
	m.Load()
	if rs := m.Renew(context.Background(), false); rs[0].Status != StatusSkipped || rs[0].Reason != "not due" {
		t.Fatalf("valid pair: %+v", rs[0])
	}
	rs := m.Renew(context.Background(), true)
	if rs[0].Status != StatusFailed || rs[0].Reason != "forced" || rs[0].Err == nil {
		t.Fatalf("forced renewal against a dead issuer: %+v", rs[0])
	}
	p, _, err := readPair(dir)
	if err != nil || string(p.CertPEM) != string(c) || called {
		t.Fatalf("previous pair not kept (%v) or OnCertificate called (%v)", err, called)
	}
	st := m.Status()[0]
	if st.Failures != 1 || st.LastError == "" || st.NextAttempt.Sub(st.LastAttempt) != time.Minute || st.State != "valid" {
		t.Fatalf("status after failure: %+v", st)
	}
	if d := m.nextWake(); d > time.Minute {
		t.Fatalf("next wake %s, want ≤ the 1 min backoff", d)
	}
}

func TestRenewCanceled(t *testing.T) {
	m, err := New(baseOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rs := m.Renew(ctx, false)
	if rs[0].Status != StatusFailed || rs[0].Err == nil {
		t.Fatalf("canceled pass: %+v", rs[0])
	}
	if st := m.Status()[0]; st.Failures != 0 {
		t.Fatalf("a canceled pass counted as a failure: %+v", st)
	}
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run ignored a canceled context")
	}
}

// Refresh hands out pairs installed behind the Manager's back, once each.
func TestRefreshAnnouncesChangedPairs(t *testing.T) {
	ca := newTestCA(t)
	o := baseOptions(t)
	var got []string
	o.OnCertificate = func(target string, certPEM, keyPEM []byte) { got = append(got, target+":"+string(certPEM)) }
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	dir := CertificateDir(o.Storage, "site")
	c1, k1 := ca.valid(t, "a.example.test")
	if err := installPair(dir, c1, k1); err != nil {
		t.Fatal(err)
	}
	if len(m.Load()) != 1 {
		t.Fatal("Load missed the pair")
	}
	m.Refresh()
	if len(got) != 0 {
		t.Fatal("the pair Load returned was announced again")
	}
	c2, k2 := ca.valid(t, "a.example.test")
	if err := installPair(dir, c2, k2); err != nil {
		t.Fatal(err)
	}
	m.Refresh()
	m.Refresh()
	if len(got) != 1 || got[0] != "site:"+string(c2) {
		t.Fatalf("announcements %d, want the new pair once", len(got))
	}
}
