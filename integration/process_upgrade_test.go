package integration

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestProcessBinaryUpgradeUnderLoad: 5 binary upgrades (`fluxheim -s
// upgrade`, the same binary file) under load. Each new master re-reads the
// config, so X-Gen advances with every upgrade. No keep-alive or
// new-connection request may fail; the pid file names the new master, the
// old master exits, and `-s status` answers from the new one.
func TestProcessBinaryUpgradeUnderLoad(t *testing.T) {
	skipUnlessProcessTests(t)
	cfg := newProcConfig(t)
	cfg.Upstream = startUpstream(t)
	m := startMaster(t, cfg, masterOpts{})
	if got := m.pidFromFile(); got != m.pid() {
		t.Fatalf("pid file names %d, the master is %d", got, m.pid())
	}
	load := startLoad(t, loadOpts{KeepAlive: 6, NewConn: 4, Post: 3, Pace: time.Millisecond}, cfg.Listen...)
	time.Sleep(500 * time.Millisecond)

	const upgrades = 5
	var marks []genMark
	cur := m.pid()
	for i := 1; i <= upgrades; i++ {
		cfg.Gen = i + 1
		cfg.write(t)
		start := time.Now()
		out, errOut, code := m.ctl("upgrade")
		if code != 0 {
			t.Fatalf("upgrade %d: fluxheim -s upgrade exit %d\nstdout: %s\nstderr: %s", i, code, out, errOut)
		}
		marks = append(marks, genMark{Gen: cfg.Gen, At: time.Now()})
		next := m.pidFromFile()
		if next == 0 || next == cur {
			t.Fatalf("upgrade %d: pid file names %d, the old master was %d", i, next, cur)
		}
		m.track(next)
		if !strings.Contains(out, fmt.Sprint(next)) {
			t.Errorf("upgrade %d: the CLI answer %q does not name the new master %d", i, strings.TrimSpace(out), next)
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", next)); err != nil || !processAlive(next) {
			t.Fatalf("upgrade %d: new master %d is not running (%s, %v)", i, next, exe, err)
		}
		if !waitGone(cur, 15*time.Second) {
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
		if got := m.pidFromFile(); got != next {
			t.Errorf("upgrade %d: pid file changed to %d after the old master exited (want %d)", i, got, next)
		}
		if g, err := getGen(cfg.Listen[0]); err != nil || g != cfg.Gen {
			t.Errorf("upgrade %d: served generation %d, %v; want %d", i, g, err, cfg.Gen)
		}
		cur = next
		time.Sleep(randDuration(200*time.Millisecond, 600*time.Millisecond))
	}
	time.Sleep(300 * time.Millisecond)
	stats := load.finish()
	reportLoad(t, stats, classKeepAlive, classNewConn)
	checkGenerations(t, stats, marks, 500*time.Millisecond)
	for c := loadClass(0); c < numClasses; c++ {
		if stats[c].MaxGen != upgrades+1 {
			t.Errorf("%s: highest generation seen %d, want %d", c, stats[c].MaxGen, upgrades+1)
		}
	}
	if code, ok := m.wait(time.Second); !ok || code != 0 {
		t.Errorf("the first master: exit %d (exited %v), want 0", code, ok)
	}
	if kids := childPids(cur); len(kids) != cfg.Workers {
		t.Errorf("final master %d has children %v, want %d workers", cur, kids, cfg.Workers)
	}
}
