package integration

import (
	"os"
	"os/user"
	"strings"
	"testing"
	"time"
)

// pmUidLine is the real, effective, saved and fs uid of /proc/PID/status.
func pmUidLine(pid int) string {
	return strings.Join(strings.Fields(pmProcStatusField(pid, "Uid")), " ")
}

// TestProcessWorkersRunAsConfiguredUser: a master started as root with
// user = "nobody" runs its workers as nobody (real, effective, saved and
// filesystem uid, and nobody's group, without root's supplementary groups),
// itself stays root, and serves the static root; so do the workers of the
// next generation.
func TestProcessWorkersRunAsConfiguredUser(t *testing.T) {
	pmSkipUnlessProcessTests(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root: the master drops privileges for its workers only when it runs as root")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	cfg := pmNewProcConfig(t)
	cfg.User = "nobody"
	m := pmStartMaster(t, cfg, pmMasterOpts{})

	check := func(when string) {
		t.Helper()
		if got := pmUidLine(m.pid()); got != "0 0 0 0" {
			t.Errorf("%s: master Uid %q, want root", when, got)
		}
		st := m.waitSettled(cfg.Workers, 10*time.Second)
		if len(st.Workers) != cfg.Workers {
			t.Fatalf("%s: workers %+v", when, st.Workers)
		}
		want := strings.Repeat(nobody.Uid+" ", 4)
		wantGid := strings.Repeat(nobody.Gid+" ", 4)
		for _, w := range st.Workers {
			if got := pmUidLine(w.Pid); got+" " != want {
				t.Errorf("%s: worker %d Uid %q, want %q", when, w.Pid, got, strings.TrimSpace(want))
			}
			if got := strings.Join(strings.Fields(pmProcStatusField(w.Pid, "Gid")), " "); got+" " != wantGid {
				t.Errorf("%s: worker %d Gid %q, want %q", when, w.Pid, got, strings.TrimSpace(wantGid))
			}
			if g := pmProcStatusField(w.Pid, "Groups"); g != "" && g != nobody.Gid {
				t.Errorf("%s: worker %d supplementary groups %q, want none or %s", when, w.Pid, g, nobody.Gid)
			}
		}
		if g, err := pmGetGen(cfg.Listen[0]); err != nil || g != cfg.Gen {
			t.Errorf("%s: GET: generation %d, %v", when, g, err)
		}
	}
	check("after start")
	cfg.Gen = 2
	cfg.write(t)
	if out, errOut, code := m.ctl("reload"); code != 0 {
		t.Fatalf("reload: exit %d\n%s\n%s", code, out, errOut)
	}
	check("after a reload")
}
