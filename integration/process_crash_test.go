package integration

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// TestProcessWorkerCrashRespawn: SIGKILL of a random worker every 2 s for
// 20 s under new-connection load. The master keeps every listening socket,
// so no connection is ever refused (requests in flight on the killed worker
// may fail, and are reported); every killed worker is respawned and counted
// in `-s status`.
func TestProcessWorkerCrashRespawn(t *testing.T) {
	pmSkipUnlessProcessTests(t)
	cfg := pmNewProcConfig(t)
	cfg.Workers = 3
	m := pmStartMaster(t, cfg, pmMasterOpts{})
	load := pmStartLoad(t, pmLoadOpts{NewConn: 6, Pace: time.Millisecond}, cfg.Listen...)
	time.Sleep(300 * time.Millisecond)

	const kills = 10
	killed := map[int]bool{}
	for i := 0; i < kills; i++ {
		time.Sleep(2 * time.Second)
		st := m.status()
		var serving []int
		for _, w := range st.Workers {
			if w.State == "serving" && !killed[w.Pid] {
				serving = append(serving, w.Pid)
			}
		}
		if len(serving) == 0 {
			t.Fatalf("kill %d: no serving worker to kill: %+v", i+1, st.Workers)
		}
		victim := serving[rand.IntN(len(serving))]
		if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", i+1, err)
		}
		killed[victim] = true
	}
	time.Sleep(time.Second)
	stats := load.finish()
	pmReportLoad(t, stats)
	if n := stats[pmClassNewConn].Errs["refused"]; n != 0 {
		t.Errorf("%d connections refused while workers were killed: %v", n, stats[pmClassNewConn].Samples)
	}
	if stats[pmClassNewConn].OK < 1000 {
		t.Errorf("only %d successful requests during the kills", stats[pmClassNewConn].OK)
	}

	st := m.waitSettled(cfg.Workers, 10*time.Second)
	if st.Restarts != kills {
		t.Errorf("status reports %d restarts, want %d", st.Restarts, kills)
	}
	if len(st.Workers) != cfg.Workers {
		t.Errorf("after the kills: workers %+v, want %d serving", st.Workers, cfg.Workers)
	}
	for _, w := range st.Workers {
		if killed[w.Pid] || w.State != "serving" {
			t.Errorf("worker %+v: want a respawned, serving worker", w)
		}
	}
	if kids := pmChildPids(m.pid()); len(kids) != cfg.Workers {
		t.Errorf("master %d has children %v, want %d", m.pid(), kids, cfg.Workers)
	}
	// Every index is served again: requests still succeed on new connections.
	for i := 0; i < 20; i++ {
		if _, err := pmGetGen(cfg.Listen[0]); err != nil {
			t.Fatalf("after the kills: %v", err)
		}
	}
}
