package integration

import (
	"fmt"
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
	skipUnlessProcessTests(t)
	cfg := newProcConfig(t)
	cfg.Upstream = startUpstream(t)
	m := startMaster(t, cfg, masterOpts{})
	extra := harness.FreeAddr(t)

	load := startLoad(t, loadOpts{KeepAlive: 6, NewConn: 4, Post: 3, Pace: time.Millisecond}, cfg.Listen...)
	time.Sleep(500 * time.Millisecond)

	const reloads = 20
	var marks []genMark
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
			marks = append(marks, genMark{Gen: cfg.Gen, At: time.Now()})
		} else {
			if err := syscall.Kill(m.pid(), syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			// The signal gives no answer: wait until new connections see it.
			waitGen(t, cfg.Gen, 15*time.Second, cfg.Listen...)
			marks = append(marks, genMark{Gen: cfg.Gen, At: time.Now()})
		}
		if i == 9 {
			waitGen(t, cfg.Gen, 5*time.Second, extra)
			load.addTarget(extra)
		}
		time.Sleep(randDuration(200*time.Millisecond, time.Second))
	}
	time.Sleep(500 * time.Millisecond)
	stats := load.finish()

	reportLoad(t, stats, classKeepAlive, classNewConn)
	// Responses of requests that started 500 ms after a reload returned
	// must come from the new generation (the old one answers at most the
	// request in flight on each connection).
	checkGenerations(t, stats, marks, 500*time.Millisecond)
	for c := loadClass(0); c < numClasses; c++ {
		if stats[c].MaxGen != reloads+1 {
			t.Errorf("%s: highest generation seen %d, want %d", c, stats[c].MaxGen, reloads+1)
		}
		if stats[c].Total < 100 {
			t.Errorf("%s: only %d requests: the load generator did not run", c, stats[c].Total)
		}
	}
	for _, a := range cfg.Listen {
		if g, err := getGen(a); err != nil || g != reloads+1 {
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
	if kids := childPids(m.pid()); len(kids) != cfg.Workers {
		t.Errorf("master %d has %d children %v, want %d workers", m.pid(), len(kids), kids, cfg.Workers)
	}
	if strings.Contains(m.logs(), "reload failed") {
		t.Errorf("a reload failed:\n%s", grepLines(m.logs(), "reload failed"))
	}
}

// TestProcessReloadBrokenConfig: a config with an error is refused, the CLI
// exits 1 naming file:line, SIGHUP leaves the old generation too, and no
// request fails meanwhile.
func TestProcessReloadBrokenConfig(t *testing.T) {
	skipUnlessProcessTests(t)
	cfg := newProcConfig(t)
	m := startMaster(t, cfg, masterOpts{})
	load := startLoad(t, loadOpts{KeepAlive: 4, NewConn: 3, Pace: time.Millisecond}, cfg.Listen...)
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
	writeFileAtomic(t, cfg.path(), []byte(strings.Join(lines, "\n")))

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
	} else if l := grepLines(m.logs(), "reload failed"); !strings.Contains(l, fmt.Sprintf("fluxheim.toml:%d", badKeyLine)) {
		t.Errorf("the logged reload failure does not name fluxheim.toml:%d: %s", badKeyLine, l)
	}
	time.Sleep(time.Second)
	stats := load.finish()
	reportLoad(t, stats, classKeepAlive, classNewConn)
	for c := loadClass(0); c < numClasses; c++ {
		if stats[c].Total > 0 && stats[c].MaxGen != 1 {
			t.Errorf("%s: generation %d served, want only 1", c, stats[c].MaxGen)
		}
	}
	if g, err := getGen(cfg.Listen[0]); err != nil || g != 1 {
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
	if g, err := getGen(cfg.Listen[0]); err != nil || g != 3 {
		t.Errorf("after the fixed reload: generation %d, %v; want 3", g, err)
	}
}

// TestProcessMasterResourcesStableOverReloads: the master's fd count and
// RSS do not grow over 20 reloads (each one under a little traffic).
func TestProcessMasterResourcesStableOverReloads(t *testing.T) {
	skipUnlessProcessTests(t)
	cfg := newProcConfig(t)
	m := startMaster(t, cfg, masterOpts{})
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
			waitGen(t, gen, 10*time.Second, cfg.Listen...)
		}
		// A few requests, so the workers have connections to drain.
		for i := 0; i < 5; i++ {
			if g, err := getGen(cfg.Listen[0]); err != nil || g != gen {
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
	fds0, rss0 := fdCount(t, m.pid()), rssKiB(t, m.pid())
	for i := 0; i < 20; i++ {
		gen++
		reload(gen)
	}
	m.waitSettled(cfg.Workers, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	fds1, rss1 := fdCount(t, m.pid()), rssKiB(t, m.pid())
	t.Logf("master %d after warm-up: %d fds, RSS %d KiB; after 20 more reloads: %d fds, RSS %d KiB", m.pid(), fds0, rss0, fds1, rss1)
	if fds1 > fds0+2 {
		t.Errorf("master fds grew from %d to %d over 20 reloads:\n%s", fds0, fds1, listFds(m.pid()))
	}
	if rss1 > rss0+20*1024 {
		t.Errorf("master RSS grew from %d KiB to %d KiB over 20 reloads", rss0, rss1)
	}
}

func listFds(pid int) string {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	var b strings.Builder
	for _, e := range ents {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		fmt.Fprintf(&b, "  %s -> %s\n", e.Name(), l)
	}
	return b.String()
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

