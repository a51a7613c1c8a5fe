package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/integration/harness"
)

// TestProcessReloadUnderLoad: 20 reloads under continuous load, alternating
// `fluxheim -s reload` and SIGHUP, each changing X-Gen; one changes the
// worker count twice (2 → 3 → 1), one adds a listen address that then gets
// load too. No request of the keep-alive or new-connection classes may fail;
// the POSTs with a non-replayable body are reported (target zero).
func TestProcessReloadUnderLoad(t *testing.T) {
	pmSkipUnlessProcessTests(t)
	cfg := pmNewProcConfig(t)
	cfg.Upstream = pmStartUpstream(t)
	m := pmStartMaster(t, cfg, pmMasterOpts{})
	extra := harness.FreeAddr(t)

	load := pmStartLoad(t, pmLoadOpts{KeepAlive: 6, NewConn: 4, Post: 3, Pace: time.Millisecond}, cfg.Listen...)
	time.Sleep(500 * time.Millisecond)

	const reloads = 20
	var marks []pmGenMark
	for i := 1; i <= reloads; i++ {
		cfg.Gen = i + 1
		switch i {
		case 4:
			cfg.Workers = 3
		case 9:
			cfg.Listen = append(cfg.Listen, extra)
		case 14:
			cfg.Workers = 1
		}
		cfg.write(t)
		if i%2 == 1 {
			out, errOut, code := m.ctl("reload")
			if code != 0 {
				t.Fatalf("reload %d: fluxheim -s reload exit %d\nstdout: %s\nstderr: %s", i, code, out, errOut)
			}
			marks = append(marks, pmGenMark{Gen: cfg.Gen, At: time.Now()})
			// New connections opened right after the answer all reach
			// the new generation.
			if g, err := pmBurstGen(cfg.Listen[0], 16); err != nil || g != cfg.Gen {
				t.Errorf("reload %d: connections opened right after -s reload returned: lowest generation %d, %v; want %d", i, g, err, cfg.Gen)
			}
		} else {
			if err := syscall.Kill(m.pid(), syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			// The signal gives no answer: the master logs the end of the
			// reload (after the old workers stopped accepting).
			m.waitLog(fmt.Sprintf(`"msg":"reloaded","generation":%d,`, cfg.Gen), 15*time.Second)
			marks = append(marks, pmGenMark{Gen: cfg.Gen, At: time.Now()})
			pmWaitGen(t, cfg.Gen, 5*time.Second, cfg.Listen...)
		}
		if i == 9 {
			pmWaitGen(t, cfg.Gen, 5*time.Second, extra)
			load.addTarget(extra)
		}
		time.Sleep(pmRandDuration(200*time.Millisecond, time.Second))
	}
	time.Sleep(500 * time.Millisecond)
	stats := load.finish()

	pmReportLoad(t, stats, pmClassKeepAlive, pmClassNewConn)
	// Responses of requests that started 500 ms after a reload returned
	// must come from the new generation (the old one answers at most the
	// request in flight on each connection).
	pmCheckGenerations(t, stats, marks, 500*time.Millisecond)
	for c := pmLoadClass(0); c < pmNumClasses; c++ {
		if stats[c].MaxGen != reloads+1 {
			t.Errorf("%s: highest generation seen %d, want %d", c, stats[c].MaxGen, reloads+1)
		}
		if stats[c].Total < 100 {
			t.Errorf("%s: only %d requests: the load generator did not run", c, stats[c].Total)
		}
	}
	for _, a := range cfg.Listen {
		if g, err := pmGetGen(a); err != nil || g != reloads+1 {
			t.Errorf("%s after the reloads: generation %d, %v; want %d", a, g, err, reloads+1)
		}
	}

	// Exactly the final worker count remains once the old generations
	// drained (deadline 5 s + kill grace), by status and by /proc.
	st := m.waitSettled(cfg.Workers, time.Duration(cfg.DrainSecs+3)*time.Second)
	if len(st.Workers) != cfg.Workers {
		t.Errorf("after the reloads: %d workers %+v, want %d serving", len(st.Workers), st.Workers, cfg.Workers)
	}
	for _, w := range st.Workers {
		if w.State != "serving" || w.Gen != st.Gen {
			t.Errorf("worker %+v: want serving, generation %d", w, st.Gen)
		}
	}
	if st.Gen != reloads+1 {
		t.Errorf("master generation %d, want %d", st.Gen, reloads+1)
	}
	if kids := pmChildPids(m.pid()); len(kids) != cfg.Workers {
		t.Errorf("master %d has %d children %v, want %d workers", m.pid(), len(kids), kids, cfg.Workers)
	}
	if strings.Contains(m.logs(), "reload failed") {
		t.Errorf("a reload failed:\n%s", pmGrepLines(m.logs(), "reload failed"))
	}
}

// TestProcessReloadBrokenConfig: a config with an error is refused, the CLI
// exits 1 naming file:line, SIGHUP leaves the old generation too, and no
// request fails meanwhile.
func TestProcessReloadBrokenConfig(t *testing.T) {
	pmSkipUnlessProcessTests(t)
	cfg := pmNewProcConfig(t)
	m := pmStartMaster(t, cfg, pmMasterOpts{})
	load := pmStartLoad(t, pmLoadOpts{KeepAlive: 4, NewConn: 3, Pace: time.Millisecond}, cfg.Listen...)
	time.Sleep(300 * time.Millisecond)

	good, err := os.ReadFile(cfg.path())
	if err != nil {
		t.Fatal(err)
	}
	// Break the worker count (a validation error) and add an unknown key,
	// each on a known line.
	lines := strings.Split(string(good), "\n")
	workersLine, badKeyLine := 0, 0
	for i, l := range lines {
		if strings.HasPrefix(l, "workers = ") {
			lines[i] = "workers = 0"
			workersLine = i + 1
		}
		if strings.HasPrefix(l, "x-gen = ") {
			lines[i] = `x-gen = "2"`
		}
		if l == "[logging]" {
			lines[i] = "[logging]\nno_such_key = 1"
			badKeyLine = i + 2
		}
	}
	if workersLine == 0 || badKeyLine == 0 {
		t.Fatalf("config template changed:\n%s", good)
	}
	pmWriteFileAtomic(t, cfg.path(), []byte(strings.Join(lines, "\n")))

	stdout, stderr, code := m.ctl("reload")
	if code != 1 {
		t.Errorf("fluxheim -s reload with a broken config: exit %d, want 1\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	for _, want := range []string{fmt.Sprintf("%s:%d", cfg.path(), badKeyLine)} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not name %s:\n%s", want, stderr)
		}
	}
	t.Logf("-s reload stderr:\n%s", stderr)

	// SIGHUP with the same broken file: the master logs the failure and
	// keeps the old generation.
	if err := syscall.Kill(m.pid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(m.logs(), "reload failed") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(m.logs(), "reload failed") {
		t.Errorf("SIGHUP with a broken config: no \"reload failed\" in the master log")
	} else if l := pmGrepLines(m.logs(), "reload failed"); !strings.Contains(l, fmt.Sprintf("fluxheim.toml:%d", badKeyLine)) {
		t.Errorf("the logged reload failure does not name fluxheim.toml:%d: %s", badKeyLine, l)
	}
	time.Sleep(time.Second)
	stats := load.finish()
	pmReportLoad(t, stats, pmClassKeepAlive, pmClassNewConn)
	for c := pmLoadClass(0); c < pmNumClasses; c++ {
		if stats[c].Total > 0 && stats[c].MaxGen != 1 {
			t.Errorf("%s: generation %d served, want only 1", c, stats[c].MaxGen)
		}
	}
	if g, err := pmGetGen(cfg.Listen[0]); err != nil || g != 1 {
		t.Errorf("after the refused reloads: generation %d, %v; want 1", g, err)
	}
	st := m.status()
	if st.Gen != 1 || len(st.Workers) != cfg.Workers {
		t.Errorf("status after refused reloads: generation %d, workers %+v; want generation 1 with %d workers", st.Gen, st.Workers, cfg.Workers)
	}

	// The fixed config reloads.
	cfg.Gen = 3
	cfg.write(t)
	if out, errOut, code := m.ctl("reload"); code != 0 {
		t.Fatalf("reload of the fixed config: exit %d\n%s\n%s", code, out, errOut)
	}
	if g, err := pmGetGen(cfg.Listen[0]); err != nil || g != 3 {
		t.Errorf("after the fixed reload: generation %d, %v; want 3", g, err)
	}
}

// TestProcessMasterResourcesStableOverReloads: the master's fd count and
// RSS do not grow over 20 reloads (each one under a little traffic).
func TestProcessMasterResourcesStableOverReloads(t *testing.T) {
	pmSkipUnlessProcessTests(t)
	cfg := pmNewProcConfig(t)
	m := pmStartMaster(t, cfg, pmMasterOpts{})
	reload := func(gen int) {
		t.Helper()
		cfg.Gen = gen
		cfg.write(t)
		if gen%2 == 0 {
			if out, errOut, code := m.ctl("reload"); code != 0 {
				t.Fatalf("reload to %d: exit %d\n%s\n%s", gen, code, out, errOut)
			}
		} else {
			if err := syscall.Kill(m.pid(), syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			pmWaitGen(t, gen, 10*time.Second, cfg.Listen...)
		}
		// A few requests, so the workers have connections to drain.
		for i := 0; i < 5; i++ {
			if g, err := pmGetGen(cfg.Listen[0]); err != nil || g != gen {
				t.Fatalf("after reload to %d: generation %d, %v", gen, g, err)
			}
		}
	}
	// Warm up: the first reloads allocate what every later one reuses.
	gen := 1
	for ; gen < 4; gen++ {
		reload(gen + 1)
	}
	m.waitSettled(cfg.Workers, 10*time.Second)
	fds0, rss0 := pmFdCount(t, m.pid()), pmRssKiB(t, m.pid())
	for i := 0; i < 20; i++ {
		gen++
		reload(gen)
	}
	m.waitSettled(cfg.Workers, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	fds1, rss1 := pmFdCount(t, m.pid()), pmRssKiB(t, m.pid())
	t.Logf("master %d after warm-up: %d fds, RSS %d KiB; after 20 more reloads: %d fds, RSS %d KiB", m.pid(), fds0, rss0, fds1, rss1)
	if fds1 > fds0+2 {
		t.Errorf("master fds grew from %d to %d over 20 reloads:\n%s", fds0, fds1, pmListFds(m.pid()))
	}
	if rss1 > rss0+20*1024 {
		t.Errorf("master RSS grew from %d KiB to %d KiB over 20 reloads", rss0, rss1)
	}
}

func pmListFds(pid int) string {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	var b strings.Builder
	for _, e := range ents {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		fmt.Fprintf(&b, "  %s -> %s\n", e.Name(), l)
	}
	return b.String()
}

func pmGrepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestProcessReloadSharedSocket: with reuseport = false every worker of
// every generation accepts on one shared socket per address; reloads that
// change the worker count lose nothing either.
func TestProcessReloadSharedSocket(t *testing.T) {
	pmSkipUnlessProcessTests(t)
	cfg := pmNewProcConfig(t)
	cfg.Reuseport = false
	m := pmStartMaster(t, cfg, pmMasterOpts{})
	load := pmStartLoad(t, pmLoadOpts{KeepAlive: 4, NewConn: 4, Pace: time.Millisecond}, cfg.Listen...)
	time.Sleep(300 * time.Millisecond)
	workers := []int{3, 1, 2, 2, 3, 1}
	for i, n := range workers {
		cfg.Gen, cfg.Workers = i+2, n
		cfg.write(t)
		if out, errOut, code := m.ctl("reload"); code != 0 {
			t.Fatalf("reload %d: exit %d\n%s\n%s", i+1, code, out, errOut)
		}
		if g, err := pmBurstGen(cfg.Listen[0], 8); err != nil || g != cfg.Gen {
			t.Errorf("reload %d: new connections got generation %d, %v; want %d", i+1, g, err, cfg.Gen)
		}
		time.Sleep(pmRandDuration(200*time.Millisecond, 500*time.Millisecond))
	}
	stats := load.finish()
	pmReportLoad(t, stats, pmClassKeepAlive, pmClassNewConn)
	st := m.waitSettled(cfg.Workers, time.Duration(cfg.DrainSecs+3)*time.Second)
	if st.Sockets != 1 || len(st.Workers) != cfg.Workers {
		t.Errorf("status: %d sockets, workers %+v; want 1 shared socket and %d workers", st.Sockets, st.Workers, cfg.Workers)
	}
}

// TestProcessReloadRemovesListenAddress: a reload that removes a listen
// address serves the connections already made to it (opened before the
// reload, request sent right after it returned), then closes the address;
// the other address never misses a request.
func TestProcessReloadRemovesListenAddress(t *testing.T) {
	pmSkipUnlessProcessTests(t)
	cfg := pmNewProcConfig(t)
	keep := cfg.Listen[0]
	gone := harness.FreeAddr(t)
	cfg.Listen = []string{keep, gone}
	m := pmStartMaster(t, cfg, pmMasterOpts{})
	load := pmStartLoad(t, pmLoadOpts{KeepAlive: 3, NewConn: 3, Pace: time.Millisecond}, keep)
	if st := m.status(); st.Sockets != 2*cfg.Workers {
		t.Fatalf("before: %d sockets, want %d", st.Sockets, 2*cfg.Workers)
	}

	// Connections to the address about to go, made before the reload.
	var conns []net.Conn
	for i := 0; i < 10; i++ {
		c, err := net.DialTimeout("tcp", gone, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	cfg.Gen, cfg.Listen = 2, []string{keep}
	cfg.write(t)
	if out, errOut, code := m.ctl("reload"); code != 0 {
		t.Fatalf("reload: exit %d\n%s\n%s", code, out, errOut)
	}
	for i, c := range conns {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET /index.html HTTP/1.1\r\nHost: t.test\r\n\r\n"); err != nil {
			t.Errorf("connection %d to the removed address: write: %v", i, err)
			continue
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Errorf("connection %d made before the reload was not served: %v", i, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-Gen") != "1" || !resp.Close {
			t.Errorf("connection %d: status %d, X-Gen %q, close %v; want 200 from generation 1 with Connection: close",
				i, resp.StatusCode, resp.Header.Get("X-Gen"), resp.Close)
		}
	}
	// Then the address is closed (retired sockets close 0.5 s after the
	// drain began, once the old workers accepted what was queued).
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", gone, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("%s still accepts connections 5 s after it left the config", gone)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	stats := load.finish()
	pmReportLoad(t, stats, pmClassKeepAlive, pmClassNewConn)
	if st := m.waitSettled(cfg.Workers, 10*time.Second); st.Sockets != cfg.Workers {
		t.Errorf("after: %d sockets, want %d", st.Sockets, cfg.Workers)
	}
}
