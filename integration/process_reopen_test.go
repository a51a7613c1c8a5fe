package integration

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/integration/harness"
)

// TestProcessReopenLogs: after `mv` of the access log, `fluxheim -s reopen`
// (and then SIGUSR1) makes the workers write new lines to a new file at the
// original path; the moved file gets nothing more.
func TestProcessReopenLogs(t *testing.T) {
	pmSkipUnlessProcessTests(t)
	cfg := pmNewProcConfig(t)
	cfg.AccessLog = filepath.Join(cfg.Dir, "access.log")
	m := pmStartMaster(t, cfg, pmMasterOpts{})

	// request sends a request with a marker path and waits until the line
	// is in path (workers flush their access log buffer within 1 s).
	request := func(marker, path string) {
		t.Helper()
		if r, err := pmGetPath(cfg.Listen[0], "/"+marker); err != nil || r != 404 {
			t.Fatalf("GET /%s: status %d, %v", marker, r, err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			data, _ := os.ReadFile(path)
			if strings.Contains(string(data), marker) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the access log line for /%s never reached %s; it holds:\n%s", marker, path, data)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	countIn := func(path, marker string) int {
		data, _ := os.ReadFile(path)
		return strings.Count(string(data), marker)
	}

	request("marker-before-rotation", cfg.AccessLog)

	rotate := func(n int, how string, reopen func()) {
		t.Helper()
		moved := cfg.AccessLog + "." + how
		if err := os.Rename(cfg.AccessLog, moved); err != nil {
			t.Fatal(err)
		}
		reopen()
		defer func() {
			if t.Failed() {
				data, _ := os.ReadFile(moved)
				t.Logf("moved file %s:\n%s", moved, data)
			}
		}()
		marker := "marker-after-" + how
		request(marker, cfg.AccessLog)
		if c := countIn(moved, marker); c != 0 {
			t.Errorf("%s: the moved log %s got the new line", how, moved)
		}
		if c := countIn(cfg.AccessLog, "marker-before-rotation"); c != 0 {
			t.Errorf("%s: the new %s holds old lines", how, cfg.AccessLog)
		}
		// Every worker writes to the new file, not just one.
		for i := 0; i < 20; i++ {
			_, _ = pmGetPath(cfg.Listen[0], "/spread-"+how)
		}
		time.Sleep(1500 * time.Millisecond)
		if c := countIn(moved, "spread-"+how); c != 0 {
			t.Errorf("%s: %d lines went to the moved file %s (a worker kept the old descriptor)", how, c, moved)
		}
		if c := countIn(cfg.AccessLog, "spread-"+how); c != 20 {
			t.Errorf("%s: %d of 20 lines in the new %s", how, c, cfg.AccessLog)
		}
	}
	rotate(1, "cli", func() {
		if out, errOut, code := m.ctl("reopen"); code != 0 {
			t.Fatalf("fluxheim -s reopen: exit %d\n%s\n%s", code, out, errOut)
		}
	})
	rotate(2, "usr1", func() {
		if err := syscall.Kill(m.pid(), syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, err := os.Stat(cfg.AccessLog); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("SIGUSR1: %s not recreated", cfg.AccessLog)
			}
			time.Sleep(20 * time.Millisecond)
		}
		// The master opened the file; give the workers a moment for the fds.
		time.Sleep(100 * time.Millisecond)
	})
}

// pmGetPath GETs path on a new connection and returns the status.
func pmGetPath(addr, path string) (int, error) {
	r, err := harness.TryGet("http://"+addr+path, "")
	if err != nil {
		return 0, err
	}
	return r.Status, nil
}
