package integration

import (
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

type pmSlowResult struct {
	status int
	body   string
	err    error
	took   time.Duration
}

// pmSlowRequest GETs /up/slow?ms=N through fluxheim in the background.
func pmSlowRequest(addr string, ms string) <-chan pmSlowResult {
	ch := make(chan pmSlowResult, 1)
	go func() {
		start := time.Now()
		c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}}
		resp, err := c.Get("http://" + addr + "/up/slow?ms=" + ms)
		if err != nil {
			ch <- pmSlowResult{err: err, took: time.Since(start)}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		ch <- pmSlowResult{status: resp.StatusCode, body: string(b), err: err, took: time.Since(start)}
	}()
	return ch
}

// TestProcessQuitFinishesInFlight: `fluxheim -s quit` while a 3 s request
// is in flight: the request completes with 200, the CLI reports success
// once the master stopped, and the master exits 0 and releases the
// address, pid file and control socket.
func TestProcessQuitFinishesInFlight(t *testing.T) {
	pmSkipUnlessProcessTests(t)
	cfg := pmNewProcConfig(t)
	cfg.Upstream = pmStartUpstream(t)
	m := pmStartMaster(t, cfg, pmMasterOpts{})
	res := pmSlowRequest(cfg.Listen[0], "3000")
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
	if _, err := pmGetGen(cfg.Listen[0]); err == nil {
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
	pmSkipUnlessProcessTests(t)
	cfg := pmNewProcConfig(t)
	cfg.Upstream = pmStartUpstream(t)
	m := pmStartMaster(t, cfg, pmMasterOpts{})
	workers := pmChildPids(m.pid())
	res := pmSlowRequest(cfg.Listen[0], "20000")
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
		if !pmWaitGone(w, 500*time.Millisecond) {
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

// TestProcessMasterSurvivesClosedOutput: the master's stdout/stderr is a
// pipe whose reader goes away (the terminal or supervisor that started it,
// a restarted journald). Logging must not kill the master with SIGPIPE: a
// reload and a request afterwards still work.
func TestProcessMasterSurvivesClosedOutput(t *testing.T) {
	pmSkipUnlessProcessTests(t)
	cfg := pmNewProcConfig(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	m := pmStartMaster(t, cfg, pmMasterOpts{Output: w})
	w.Close()
	r.Close() // from now on every log line of the master hits EPIPE
	for gen := 2; gen <= 3; gen++ {
		cfg.Gen = gen
		cfg.write(t)
		out, errOut, code := m.ctl("reload")
		if code != 0 || !pmProcessAlive(m.pid()) {
			exit, _ := m.wait(100 * time.Millisecond)
			t.Fatalf("reload with a closed stderr: exit %d (%s%s); master alive %v, exit status %d", code, out, errOut, pmProcessAlive(m.pid()), exit)
		}
		if g, err := pmGetGen(cfg.Listen[0]); err != nil || g != gen {
			t.Fatalf("after the reload: generation %d, %v; want %d", g, err, gen)
		}
	}
}

// TestProcessTermDuringQuit: SIGTERM while a graceful stop waits for a long
// request (nginx: TERM after QUIT) turns it into a fast stop: the master is
// gone within 2 s of the TERM, and the quitting CLI still gets its answer.
func TestProcessTermDuringQuit(t *testing.T) {
	pmSkipUnlessProcessTests(t)
	cfg := pmNewProcConfig(t)
	cfg.Upstream = pmStartUpstream(t)
	cfg.QuitSecs = 60
	m := pmStartMaster(t, cfg, pmMasterOpts{})
	res := pmSlowRequest(cfg.Listen[0], "30000")
	time.Sleep(300 * time.Millisecond)
	quit := make(chan int, 1)
	go func() {
		_, _, code := m.ctl("quit")
		quit <- code
	}()
	time.Sleep(500 * time.Millisecond)
	if _, ok := m.wait(0); ok {
		t.Fatal("the master exited during a graceful stop with a 30 s request in flight")
	}
	start := time.Now()
	if err := syscall.Kill(m.pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.wait(2 * time.Second); !ok {
		t.Fatalf("master still running %v after SIGTERM during a graceful stop", time.Since(start))
	}
	select {
	case code := <-quit:
		if code != 0 {
			t.Errorf("-s quit: exit %d after the fast stop, want 0", code)
		}
	case <-time.After(3 * time.Second):
		t.Errorf("-s quit got no answer")
	}
	if r := <-res; r.err == nil && r.status == 200 {
		t.Errorf("the 30 s request completed although the server stopped")
	}
}
