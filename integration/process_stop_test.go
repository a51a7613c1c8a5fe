package integration

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

type slowResult struct {
	status int
	body   string
	err    error
	took   time.Duration
}

// slowRequest GETs /up/slow?ms=N through fluxheim in the background.
func slowRequest(addr string, ms string) <-chan slowResult {
	ch := make(chan slowResult, 1)
	go func() {
		start := time.Now()
		c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}}
		resp, err := c.Get("http://" + addr + "/up/slow?ms=" + ms)
		if err != nil {
			ch <- slowResult{err: err, took: time.Since(start)}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		ch <- slowResult{status: resp.StatusCode, body: string(b), err: err, took: time.Since(start)}
	}()
	return ch
}

// TestProcessQuitFinishesInFlight: `fluxheim -s quit` while a 3 s request
// is in flight: the request completes with 200, the CLI reports success
// once the master stopped, and the master exits 0 and releases the
// address, pid file and control socket.
func TestProcessQuitFinishesInFlight(t *testing.T) {
	skipUnlessProcessTests(t)
	cfg := newProcConfig(t)
	cfg.Upstream = startUpstream(t)
	m := startMaster(t, cfg, masterOpts{})
	res := slowRequest(cfg.Listen[0], "3000")
	time.Sleep(500 * time.Millisecond)

	start := time.Now()
	out, errOut, code := m.ctl("quit")
	took := time.Since(start)
	if code != 0 {
		t.Errorf("fluxheim -s quit: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	r := <-res
	if r.err != nil || r.status != 200 || r.body != "slow done" {
		t.Fatalf("the request in flight during quit: status %d, body %q, err %v (after %v)", r.status, r.body, r.err, r.took)
	}
	if took < 2*time.Second {
		t.Errorf("-s quit returned after %v, before the 3 s request finished", took)
	}
	if exit, ok := m.wait(5 * time.Second); !ok || exit != 0 {
		t.Fatalf("master after quit: exit %d, exited %v; want 0", exit, ok)
	}
	if _, err := getGen(cfg.Listen[0]); err == nil {
		t.Errorf("%s still answers after the master quit", cfg.Listen[0])
	}
	if p := m.pidFromFile(); p != 0 {
		t.Errorf("pid file still names %d after quit", p)
	}
	if _, errOut, code := m.ctl("status"); code == 0 || !strings.Contains(errOut, "no master") {
		t.Errorf("-s status after quit: exit %d, stderr %q; want a failure saying no master answers", code, errOut)
	}
}

// TestProcessStopIsFast: `fluxheim -s stop` with a long request in flight:
// the master (and the CLI) are done within 2 s.
func TestProcessStopIsFast(t *testing.T) {
	skipUnlessProcessTests(t)
	cfg := newProcConfig(t)
	cfg.Upstream = startUpstream(t)
	m := startMaster(t, cfg, masterOpts{})
	workers := childPids(m.pid())
	res := slowRequest(cfg.Listen[0], "20000")
	time.Sleep(500 * time.Millisecond)

	start := time.Now()
	out, errOut, code := m.ctl("stop")
	if code != 0 {
		t.Errorf("fluxheim -s stop: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	exit, ok := m.wait(2*time.Second - time.Since(start))
	took := time.Since(start)
	if !ok {
		t.Fatalf("master still running %v after -s stop", took)
	}
	t.Logf("-s stop: master exited %d after %v", exit, took.Round(time.Millisecond))
	if exit != 0 {
		t.Errorf("master exit code %d after stop, want 0", exit)
	}
	for _, w := range workers {
		if !waitGone(w, 500*time.Millisecond) {
			t.Errorf("worker %d still runs after the master stopped", w)
		}
	}
	select {
	case r := <-res:
		if r.err == nil && r.status == 200 {
			t.Errorf("the 20 s request completed (%v) although the server stopped", r.took)
		}
	case <-time.After(2 * time.Second):
		t.Errorf("the client of the request in flight was not disconnected by the stop")
	}
}
