package acme

import (
	"crypto/x509"
	"testing"
	"time"
)

func TestDue(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	cert := func(notBefore, notAfter time.Time) *x509.Certificate {
		return &x509.Certificate{NotBefore: notBefore, NotAfter: notAfter}
	}
	tests := []struct {
		name        string
		cert        *x509.Certificate
		renewBefore time.Duration
		want        bool
	}{
		{"missing", nil, 30 * day, true},
		{"fresh 90-day", cert(now.Add(-day), now.Add(89*day)), 30 * day, false},
		{"31 days left", cert(now.Add(-59*day), now.Add(31*day)), 30 * day, false},
		{"exactly 30 days left", cert(now.Add(-60*day), now.Add(30*day)), 30 * day, true},
		{"29 days left", cert(now.Add(-61*day), now.Add(29*day)), 30 * day, true},
		{"one second left", cert(now.Add(-90*day), now.Add(time.Second)), 30 * day, true},
		{"expires now", cert(now.Add(-90*day), now), 30 * day, true},
		{"expired", cert(now.Add(-90*day), now.Add(-day)), 30 * day, true},
		{"not yet valid, far from expiry", cert(now.Add(day), now.Add(91*day)), 30 * day, false},
		{"short renew_before", cert(now.Add(-80*day), now.Add(10*day)), 7 * day, false},
		{"short renew_before reached", cert(now.Add(-84*day), now.Add(6*day)), 7 * day, true},
		{"45-day certificate, 31 days left", cert(now.Add(-14*day), now.Add(31*day)), 30 * day, false},
		{"45-day certificate, 30 days left", cert(now.Add(-15*day), now.Add(30*day)), 30 * day, true},
		// 6-day certificate under the 30-day default: renewed once 4 days are left.
		{"short-lived, fresh", cert(now.Add(-day), now.Add(5*day)), 30 * day, false},
		{"short-lived, just over 4 days left", cert(now.Add(-2*day+time.Minute), now.Add(4*day+time.Minute)), 30 * day, false},
		{"short-lived, 4 days left", cert(now.Add(-2*day), now.Add(4*day)), 30 * day, true},
		{"renew_before longer than lifetime, fresh", cert(now.Add(-time.Hour), now.Add(30*day-time.Hour)), 60 * day, false},
		{"renew_before longer than lifetime, third used", cert(now.Add(-10*day), now.Add(20*day)), 60 * day, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := due(tt.cert, now, tt.renewBefore); got != tt.want {
				t.Errorf("due = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	initial, maxd := 300*time.Second, 86400*time.Second
	tests := []struct {
		failures int
		want     time.Duration
	}{
		{0, 0},
		{1, 5 * time.Minute},
		{2, 10 * time.Minute},
		{3, 20 * time.Minute},
		{5, 80 * time.Minute},
		{9, 1280 * time.Minute},
		{10, maxd},
		{1000, maxd},
	}
	for _, tt := range tests {
		if got := backoff(tt.failures, initial, maxd); got != tt.want {
			t.Errorf("backoff(%d) = %s, want %s", tt.failures, got, tt.want)
		}
	}
	if got := backoff(3, time.Hour, time.Hour); got != time.Hour {
		t.Errorf("backoff with initial = max: %s", got)
	}
}

func TestRecordFailureAndSuccess(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	var st targetState
	st.recordFailure(now, errTest("boom"), time.Minute, time.Hour)
	st.recordFailure(now, errTest("again"), time.Minute, time.Hour)
	if st.Failures != 2 || st.LastError != "again" || !st.NextAttempt.Equal(now.Add(2*time.Minute)) {
		t.Fatalf("after two failures: %+v", st)
	}
	st.recordSuccess(now)
	if st.Failures != 0 || st.LastError != "" || !st.NextAttempt.IsZero() || !st.LastSuccess.Equal(now) {
		t.Fatalf("after success: %+v", st)
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }
