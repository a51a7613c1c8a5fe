package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/integration/harness"
)

// TestProcessBinaryUpgradeUnderLoad: 5 binary upgrades (`fluxheim -s
// upgrade`, the same binary file) under load. Each new master re-reads the
// config, so X-Gen advances with every upgrade, and two of them change the
// worker count (2 → 3 → 1). No keep-alive or
// new-connection request may fail; the pid file names the new master, the
// old master exits, and `-s status` answers from the new one.
func TestProcessBinaryUpgradeUnderLoad(t *testing.T) {
	pmSkipUnlessProcessTests(t)
	cfg := pmNewProcConfig(t)
	cfg.Upstream = pmStartUpstream(t)
	m := pmStartMaster(t, cfg, pmMasterOpts{})
	if got := m.pidFromFile(); got != m.pid() {
		t.Fatalf("pid file names %d, the master is %d", got, m.pid())
	}
	load := pmStartLoad(t, pmLoadOpts{KeepAlive: 6, NewConn: 4, Post: 3, Pace: time.Millisecond}, cfg.Listen...)
	time.Sleep(500 * time.Millisecond)

	const upgrades = 5
	var marks []pmGenMark
	cur := m.pid()
	for i := 1; i <= upgrades; i++ {
		cfg.Gen = i + 1
		// The new master may run another worker count: more slots
		// (2 → 3), then fewer (3 → 1: it must take over every slot socket
		// the old master had, or connections queued there are lost).
		switch i {
		case 2:
			cfg.Workers = 3
		case 4:
			cfg.Workers = 1
		}
		cfg.write(t)
		start := time.Now()
		out, errOut, code := m.ctl("upgrade")
		if code != 0 {
			t.Fatalf("upgrade %d: fluxheim -s upgrade exit %d\nstdout: %s\nstderr: %s", i, code, out, errOut)
		}
		marks = append(marks, pmGenMark{Gen: cfg.Gen, At: time.Now()})
		next := m.pidFromFile()
		if next == 0 || next == cur {
			t.Fatalf("upgrade %d: pid file names %d, the old master was %d", i, next, cur)
		}
		m.track(next)
		if !strings.Contains(out, fmt.Sprint(next)) {
			t.Errorf("upgrade %d: the CLI answer %q does not name the new master %d", i, strings.TrimSpace(out), next)
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", next)); err != nil || !pmProcessAlive(next) {
			t.Fatalf("upgrade %d: new master %d is not running (%s, %v)", i, next, exe, err)
		}
		if !pmWaitGone(cur, 15*time.Second) {
			t.Fatalf("upgrade %d: the old master %d still runs 15 s later", i, cur)
		}
		t.Logf("upgrade %d: master %d -> %d; old master gone %v after the command started", i, cur, next, time.Since(start).Round(time.Millisecond))
		st := m.status()
		if st.Pid != next {
			t.Errorf("upgrade %d: -s status answered from pid %d, want the new master %d", i, st.Pid, next)
		}
		if len(st.Workers) != cfg.Workers {
			t.Errorf("upgrade %d: new master has workers %+v, want %d", i, st.Workers, cfg.Workers)
		}
		if i >= 2 && st.Sockets != 3 {
			t.Errorf("upgrade %d: new master holds %d sockets, want the 3 slots of the address", i, st.Sockets)
		}
		if got := m.pidFromFile(); got != next {
			t.Errorf("upgrade %d: pid file changed to %d after the old master exited (want %d)", i, got, next)
		}
		if g, err := pmGetGen(cfg.Listen[0]); err != nil || g != cfg.Gen {
			t.Errorf("upgrade %d: served generation %d, %v; want %d", i, g, err, cfg.Gen)
		}
		cur = next
		time.Sleep(pmRandDuration(200*time.Millisecond, 600*time.Millisecond))
	}
	time.Sleep(300 * time.Millisecond)
	stats := load.finish()
	pmReportLoad(t, stats, pmClassKeepAlive, pmClassNewConn)
	pmCheckGenerations(t, stats, marks, 500*time.Millisecond)
	for c := pmLoadClass(0); c < pmNumClasses; c++ {
		if stats[c].MaxGen != upgrades+1 {
			t.Errorf("%s: highest generation seen %d, want %d", c, stats[c].MaxGen, upgrades+1)
		}
	}
	if code, ok := m.wait(time.Second); !ok || code != 0 {
		t.Errorf("the first master: exit %d (exited %v), want 0", code, ok)
	}
	if kids := pmChildPids(cur); len(kids) != cfg.Workers {
		t.Errorf("final master %d has children %v, want %d workers", cur, kids, cfg.Workers)
	}
}

// TestProcessUpgradeFailureKeepsOldMaster: a binary upgrade whose new
// master cannot start (the file on disk is broken; then the config is
// broken and the upgrade comes as SIGUSR2, which cannot validate first)
// leaves the old master serving: `-s upgrade` says so and exits 1, the pid
// file and the served generation do not change, and a later upgrade with a
// good binary succeeds.
func TestProcessUpgradeFailureKeepsOldMaster(t *testing.T) {
	pmSkipUnlessProcessTests(t)
	cfg := pmNewProcConfig(t)
	bin := filepath.Join(cfg.Dir, "fluxheim")
	good, err := os.ReadFile(harness.Binary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, good, 0o755); err != nil {
		t.Fatal(err)
	}
	m := pmStartMaster(t, cfg, pmMasterOpts{Binary: bin})
	load := pmStartLoad(t, pmLoadOpts{KeepAlive: 2, NewConn: 2, Pace: 2 * time.Millisecond}, cfg.Listen...)

	// 1. The binary on disk exits at once.
	broken := "#!/bin/sh\necho 'broken fluxheim build' >&2\nexit 3\n"
	pmWriteFileAtomic(t, bin, []byte(broken))
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := m.ctl("upgrade")
	if code != 1 {
		t.Errorf("-s upgrade with a broken binary: exit %d, want 1\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if !strings.Contains(errOut, "upgrade") || !strings.Contains(errOut, "exit") {
		t.Errorf("-s upgrade does not say the new binary failed: %q", errOut)
	}
	t.Logf("-s upgrade with a broken binary: %s", strings.TrimSpace(errOut))
	expectUnchanged := func(when string) {
		t.Helper()
		if !pmProcessAlive(m.pid()) {
			t.Fatalf("%s: the old master died", when)
		}
		if p := m.pidFromFile(); p != m.pid() {
			t.Errorf("%s: pid file names %d, want the old master %d", when, p, m.pid())
		}
		if st := m.status(); st.Pid != m.pid() || len(st.Workers) != cfg.Workers {
			t.Errorf("%s: status pid %d with workers %+v; want %d with %d workers", when, st.Pid, st.Workers, m.pid(), cfg.Workers)
		}
		if g, err := pmGetGen(cfg.Listen[0]); err != nil || g != 1 {
			t.Errorf("%s: generation %d, %v; want 1", when, g, err)
		}
	}
	expectUnchanged("after the broken binary")

	// 2. A good binary, a broken config, SIGUSR2 (no CLI validation).
	pmWriteFileAtomic(t, bin, good)
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	// (pid_file and control_sock stay readable: -s finds the master.)
	goodCfg, err := os.ReadFile(cfg.path())
	if err != nil {
		t.Fatal(err)
	}
	pmWriteFileAtomic(t, cfg.path(), []byte(strings.Replace(string(goodCfg), "[logging]\n", "[logging]\nno_such_key = true\n", 1)))
	if err := syscall.Kill(m.pid(), syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(m.logs(), "binary upgrade failed") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(m.logs(), "binary upgrade failed") {
		t.Errorf("SIGUSR2 with a broken config: no \"binary upgrade failed\" in the log")
	}
	expectUnchanged("after SIGUSR2 with a broken config")

	// 3. Everything good again: the upgrade goes through.
	cfg.Gen = 2
	cfg.write(t)
	if out, errOut, code := m.ctl("upgrade"); code != 0 {
		t.Fatalf("upgrade after the failures: exit %d\n%s\n%s", code, out, errOut)
	}
	next := m.pidFromFile()
	m.track(next)
	if next == m.pid() || !pmWaitGone(m.pid(), 15*time.Second) {
		t.Errorf("after the good upgrade: pid file %d, old master %d alive %v", next, m.pid(), pmProcessAlive(m.pid()))
	}
	if g, err := pmGetGen(cfg.Listen[0]); err != nil || g != 2 {
		t.Errorf("after the good upgrade: generation %d, %v; want 2", g, err)
	}
	stats := load.finish()
	pmReportLoad(t, stats, pmClassKeepAlive, pmClassNewConn)
}
