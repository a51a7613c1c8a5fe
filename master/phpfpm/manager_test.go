package phpfpm

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A pool starts, serves a PHP script as the pool user, with a private
// config and the socket mode asked for; php-fpm sees only PATH and
// FPM_SOCKETS.
func TestManagedPoolServesPHP(t *testing.T) {
	e := needPHPFPM(t)
	m := e.manager(nil)
	p := e.pool("site")
	if err := m.Reconcile([]Pool{p}); err != nil {
		t.Fatal(err)
	}
	st := m.Status()
	if len(st) != 1 || st[0].PID == 0 || st[0].Pool != "site" || st[0].Socket != p.SocketPath {
		t.Fatalf("status = %+v", st)
	}
	_, master, user, err := e.get(p.SocketPath)
	if err != nil {
		t.Fatal(err)
	}
	if master != st[0].PID {
		t.Errorf("served by a worker of %d, want php-fpm master %d", master, st[0].PID)
	}
	if os.Geteuid() == 0 && user != "nobody" {
		t.Errorf("worker runs as %q, want nobody", user)
	}
	// Socket: 0600 by default.
	fi, err := os.Lstat(p.SocketPath)
	if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket %v mode %v", err, fi.Mode())
	}
	// Private state: the instance directory 0700, its files 0600.
	dirs, _ := filepath.Glob(filepath.Join(e.stateDir, "i-*-site"))
	if len(dirs) != 1 {
		t.Fatalf("instance dirs %v", dirs)
	}
	if fi, _ := os.Stat(dirs[0]); fi.Mode().Perm() != 0o700 {
		t.Errorf("instance dir mode %v", fi.Mode())
	}
	for _, f := range []string{"php-fpm.conf", "php-fpm.log", "php-fpm.pid"} {
		fi, err := os.Stat(filepath.Join(dirs[0], f))
		if err != nil || fi.Mode().Perm() != 0o600 && f != "php-fpm.pid" {
			t.Errorf("%s: %v %v", f, err, fi)
		}
	}
	if readPid(filepath.Join(dirs[0], "php-fpm.pid")) != st[0].PID {
		t.Errorf("pid file does not name %d", st[0].PID)
	}
	// Own process group.
	if pg, _ := syscall.Getpgid(st[0].PID); pg != st[0].PID {
		t.Errorf("php-fpm pgid %d, want %d", pg, st[0].PID)
	}
	// clear_env default: workers see nothing.
	body, err := fcgiRequest(p.SocketPath, filepath.Join(e.root, "env.php"), "", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("env.php: %v: %q", err, body)
	}
	for k := range got {
		if k == "PATH" || k == "FPM_SOCKETS" {
			t.Errorf("worker environment has %s with clear_env default", k)
		}
	}
}

// php-fpm starts with nothing but PATH and FPM_SOCKETS: with
// clear_env = no its workers see exactly those.
func TestManagedEnvironment(t *testing.T) {
	e := needPHPFPM(t)
	m := e.manager(nil)
	p := e.pool("env")
	no := false
	p.ClearEnv = &no
	if err := m.Reconcile([]Pool{p}); err != nil {
		t.Fatal(err)
	}
	body, err := fcgiRequest(p.SocketPath, filepath.Join(e.root, "env.php"), "", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("env.php: %v: %q", err, body)
	}
	dirs, _ := filepath.Glob(filepath.Join(e.stateDir, "i-*-env"))
	want := map[string]string{
		"PATH":        strings.TrimPrefix(FixedPATH, "PATH="),
		"FPM_SOCKETS": filepath.Join(dirs[0], "listen.sock") + "=3",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok && !phpSetsEnv(k) {
			t.Errorf("unexpected environment variable %s=%q", k, got[k])
		}
	}
}

// phpSetsEnv: variables php-fpm adds per request (the FastCGI params
// the test client sends, FCGI_ROLE) or for the pool user.
func phpSetsEnv(k string) bool {
	switch k {
	case "USER", "HOME", "FCGI_ROLE", "GATEWAY_INTERFACE", "SERVER_PROTOCOL", "QUERY_STRING", "CONTENT_LENGTH",
		"REDIRECT_STATUS", "REQUEST_METHOD", "SCRIPT_NAME", "SCRIPT_FILENAME":
		return true
	}
	return false
}

func itoa(n int) string { return strconv.Itoa(n) }

// kill -9 of the php-fpm master: the manager restarts it (new pid), the
// orphaned workers go away, and the pool serves again.
func TestCrashRestart(t *testing.T) {
	e := needPHPFPM(t)
	m := e.manager(nil)
	p := e.pool("crash")
	if err := m.Reconcile([]Pool{p}); err != nil {
		t.Fatal(err)
	}
	old := m.Status()[0].PID
	e.mustGet(p.SocketPath)
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var st InstanceStatus
	eventually(t, 10*time.Second, "a restarted php-fpm", func() bool {
		st = m.Status()[0]
		return st.PID != 0 && st.PID != old
	})
	if st.Restarts != 1 {
		t.Errorf("restarts = %d, want 1", st.Restarts)
	}
	_, master := e.mustGet(p.SocketPath)
	eventually(t, 10*time.Second, "the dead master's workers to exit", func() bool { return len(groupMembers(old)) == 0 })
	// Requests now reach only the new instance.
	for range 5 {
		if _, master = e.mustGet(p.SocketPath); master != st.PID {
			t.Fatalf("served by workers of %d, want %d", master, st.PID)
		}
	}
}

// Reconcile with the same pools keeps the php-fpm pid; a socket-only
// change (mode) is applied in place.
func TestReconcileUnchangedKeepsPID(t *testing.T) {
	e := needPHPFPM(t)
	m := e.manager(nil)
	p := e.pool("same")
	if err := m.Reconcile([]Pool{p}); err != nil {
		t.Fatal(err)
	}
	pid := m.Status()[0].PID
	if err := m.Reconcile([]Pool{p}); err != nil {
		t.Fatal(err)
	}
	p2 := p
	p2.SocketMode = 0o660
	p2.ListenOwner, p2.ListenGroup = "nobody", p.Group
	if os.Geteuid() != 0 {
		p2.ListenOwner, p2.ListenGroup = "", ""
	}
	if !Equal(p, p2) {
		t.Fatal("socket settings must not make pools unequal")
	}
	if err := m.Reconcile([]Pool{p2}); err != nil {
		t.Fatal(err)
	}
	if got := m.Status()[0].PID; got != pid {
		t.Fatalf("pid %d after an unchanged reload, want %d", got, pid)
	}
	fi, _ := os.Lstat(p.SocketPath)
	if fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want 0660", fi.Mode().Perm())
	}
	if os.Geteuid() == 0 {
		if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != 65534 {
			t.Errorf("socket owner %d, want nobody", uid)
		}
	}
	e.mustGet(p.SocketPath)
}

// A changed pool (workers 2 → 3) is replaced on the same socket under
// continuous load with zero failed requests; the old instance leaves no
// process behind.
func TestReconcileChangedZeroFailures(t *testing.T) {
	e := needPHPFPM(t)
	m := e.manager(nil)
	p := e.pool("change")
	if err := m.Reconcile([]Pool{p}); err != nil {
		t.Fatal(err)
	}
	old := m.Status()[0].PID
	stop := make(chan struct{})
	wait := e.load(p.SocketPath, 8, 30, stop)
	time.Sleep(300 * time.Millisecond)
	p.Workers = 3
	if err := m.Reconcile([]Pool{p}); err != nil {
		t.Fatal(err)
	}
	nw := m.Status()[0].PID
	if nw == old {
		t.Fatal("pool change kept the old php-fpm")
	}
	eventually(t, 15*time.Second, "the old instance to exit", func() bool { return len(groupMembers(old)) == 0 })
	time.Sleep(300 * time.Millisecond)
	close(stop)
	ok, fails := wait()
	if len(fails) > 0 {
		t.Fatalf("%d of %d requests failed during the replacement, first: %s", len(fails), ok+len(fails), fails[0])
	}
	t.Logf("%d requests, 0 failed", ok)
	if n := len(groupMembers(nw)); n != 1+3 {
		t.Errorf("new instance has %d processes, want master + 3 workers", n)
	}
	if _, err := os.Lstat(p.SocketPath); err != nil {
		t.Fatalf("socket path gone after the old instance exited: %v", err)
	}
	if _, master := e.mustGet(p.SocketPath); master != nw {
		t.Errorf("served by %d, want %d", master, nw)
	}
}

// Binary upgrade: a second manager (the new master) inherits the socket
// through the registry, starts its instance next to the old one, then the
// old manager stops gracefully: zero failed requests, the socket path
// survives, and the new instance serves.
func TestHandoverZeroFailures(t *testing.T) {
	e := needPHPFPM(t)
	reg1 := newFakeRegistry()
	defer reg1.close()
	m1 := e.manager(reg1)
	p := e.pool("upgrade")
	if err := m1.Reconcile([]Pool{p}); err != nil {
		t.Fatal(err)
	}
	old := m1.Status()[0].PID
	var ino1 uint64
	if fi, err := os.Lstat(p.SocketPath); err == nil {
		ino1 = fi.Sys().(*syscall.Stat_t).Ino
	}
	stop := make(chan struct{})
	wait := e.load(p.SocketPath, 8, 30, stop)
	time.Sleep(300 * time.Millisecond)

	reg2 := reg1.handOver()
	defer reg2.close()
	m2 := e.manager(reg2)
	if err := m2.Reconcile([]Pool{p}); err != nil {
		t.Fatal(err)
	}
	nw := m2.Status()[0].PID
	if len(reg2.inherited) != 0 {
		t.Errorf("new master did not take the inherited socket")
	}
	time.Sleep(200 * time.Millisecond)
	m1.StopGraceful(20 * time.Second)
	if n := groupMembers(old); len(n) != 0 {
		t.Errorf("old instance processes left: %v", n)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	ok, fails := wait()
	if len(fails) > 0 {
		t.Fatalf("%d of %d requests failed during the handover, first: %s", len(fails), ok+len(fails), fails[0])
	}
	t.Logf("%d requests, 0 failed", ok)
	fi, err := os.Lstat(p.SocketPath)
	if err != nil {
		t.Fatalf("socket path gone after the old master stopped: %v", err)
	}
	if fi.Sys().(*syscall.Stat_t).Ino != ino1 {
		t.Errorf("socket file was replaced; the new master must bind nothing")
	}
	for range 5 {
		if _, master := e.mustGet(p.SocketPath); master != nw {
			t.Fatalf("served by %d, want the new master's php-fpm %d", master, nw)
		}
	}
}

// StopGraceful lets in-flight requests finish and leaves no php-fpm
// process behind (process group, pid file, command line).
func TestStopGracefulNoLeftovers(t *testing.T) {
	e := needPHPFPM(t)
	m := e.manager(nil)
	a, b := e.pool("a"), e.pool("b")
	b.ProcessManager = PMDynamic
	b.Workers = 4
	if err := m.Reconcile([]Pool{a, b}); err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, st := range m.Status() {
		pids = append(pids, st.PID)
	}
	done := make(chan error, 1)
	go func() {
		body, err := fcgiRequest(a.SocketPath, filepath.Join(e.root, "slow.php"), "ms=700", 10*time.Second)
		if err == nil && !strings.HasPrefix(body, "slow ") {
			err = errString("body " + body)
		}
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	m.StopGraceful(10 * time.Second)
	if err := <-done; err != nil {
		t.Errorf("in-flight request failed: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("graceful stop took %s", d)
	}
	for _, pid := range pids {
		if g := groupMembers(pid); len(g) != 0 {
			t.Errorf("processes left in group %d: %v", pid, g)
		}
	}
	if left := phpFPMProcessesUnder(e.stateDir); len(left) != 0 {
		t.Errorf("php-fpm processes left: %v", left)
	}
	if dirs, _ := filepath.Glob(filepath.Join(e.stateDir, "i-*")); len(dirs) != 0 {
		t.Errorf("instance directories left: %v", dirs)
	}
	if len(m.Status()) != 0 {
		t.Errorf("status after stop: %+v", m.Status())
	}
	if err := m.Reconcile([]Pool{a}); err == nil {
		t.Error("Reconcile after stop succeeded")
	}
}

// StopFast kills a request in progress within about a second.
func TestStopFast(t *testing.T) {
	e := needPHPFPM(t)
	m := e.manager(nil)
	p := e.pool("fast")
	if err := m.Reconcile([]Pool{p}); err != nil {
		t.Fatal(err)
	}
	pid := m.Status()[0].PID
	go fcgiRequest(p.SocketPath, filepath.Join(e.root, "slow.php"), "ms=5000", 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	m.StopFast()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("fast stop took %s", d)
	}
	if g := groupMembers(pid); len(g) != 0 {
		t.Errorf("processes left: %v", g)
	}
}

// Each process manager runs and serves.
func TestProcessManagers(t *testing.T) {
	e := needPHPFPM(t)
	m := e.manager(nil)
	s, d, o := e.pool("static"), e.pool("dynamic"), e.pool("ondemand")
	d.ProcessManager, d.Workers, d.StartServers, d.MinSpareServers, d.MaxSpareServers = PMDynamic, 5, 2, 1, 3
	o.ProcessManager, o.ProcessIdleTimeout = PMOndemand, 2*time.Second
	s.MaxRequests = 3
	s.RequestTerminateTimeout = 30 * time.Second
	s.RequestSlowlogTimeout = 5 * time.Second
	s.SessionSavePath = e.root
	if err := m.Reconcile([]Pool{s, d, o}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []Pool{s, d, o} {
		for range 4 { // more than max_requests: workers get recycled
			e.mustGet(p.SocketPath)
		}
	}
	st := m.Status()
	byName := map[string]int{}
	for _, x := range st {
		byName[x.Pool] = x.PID
	}
	if n := len(groupMembers(byName["dynamic"])); n != 1+2 {
		t.Errorf("dynamic: %d processes, want master + start_servers 2", n)
	}
	if n := len(groupMembers(byName["static"])); n != 1+2 {
		t.Errorf("static: %d processes, want master + 2", n)
	}
}

// Removing a pool stops its php-fpm and retires its socket; moving a
// pool to another socket path serves on the new one and retires the old.
func TestRemoveAndMovePools(t *testing.T) {
	e := needPHPFPM(t)
	m := e.manager(nil)
	a, b := e.pool("a"), e.pool("b")
	if err := m.Reconcile([]Pool{a, b}); err != nil {
		t.Fatal(err)
	}
	st := m.Status()
	pidA, pidB := st[0].PID, st[1].PID
	b2 := b
	b2.SocketPath = filepath.Join(e.sockDir, "b2.sock")
	if Equal(b, b2) {
		t.Fatal("a new socket path must need a new instance")
	}
	if err := m.Reconcile([]Pool{b2}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "removed and moved instances to exit", func() bool {
		return len(groupMembers(pidA)) == 0 && len(groupMembers(pidB)) == 0
	})
	eventually(t, 5*time.Second, "old socket paths to be removed", func() bool {
		_, ea := os.Lstat(a.SocketPath)
		_, eb := os.Lstat(b.SocketPath)
		return os.IsNotExist(ea) && os.IsNotExist(eb)
	})
	st = m.Status()
	if len(st) != 1 || st[0].Pool != "b" || st[0].Socket != b2.SocketPath {
		t.Fatalf("status %+v", st)
	}
	e.mustGet(b2.SocketPath)
	// Re-adding a works (a new socket at the old path).
	if err := m.Reconcile([]Pool{a, b2}); err != nil {
		t.Fatal(err)
	}
	e.mustGet(a.SocketPath)
}

// A reload whose new instance cannot start fails and leaves the running
// instance alone; an invalid pool set changes nothing.
func TestReconcileFailureKeepsRunning(t *testing.T) {
	e := needPHPFPM(t)
	m := e.manager(nil)
	m.StartTimeout = 5 * time.Second
	p := e.pool("keep")
	if err := m.Reconcile([]Pool{p}); err != nil {
		t.Fatal(err)
	}
	pid := m.Status()[0].PID
	bad := p
	bad.Workers = 3
	bad.User = "nosuchuser-fluxheim"
	if os.Geteuid() != 0 {
		bad.ProcessManager = "weird"
	}
	if err := m.Reconcile([]Pool{bad}); err == nil {
		t.Fatal("invalid pool accepted")
	}
	// php-fpm itself refuses this one (valid for us): the new instance
	// exits during startup.
	broken := p
	broken.Workers = 3
	broken.SessionSavePath = "/tmp"
	broken.UploadTmpDir = "/tmp"
	broken.Binary = "/bin/false"
	if err := m.Reconcile([]Pool{broken, e.pool("other")}); err == nil {
		t.Fatal("a php-fpm that exits at once was accepted")
	} else {
		t.Logf("expected error: %v", err)
	}
	if got := m.Status(); len(got) != 1 || got[0].PID != pid {
		t.Fatalf("status after failed reload %+v, want only pid %d", got, pid)
	}
	e.mustGet(p.SocketPath)
	eventually(t, 10*time.Second, "the aborted instance of \"other\" to exit", func() bool {
		return len(phpFPMProcessesUnder(e.stateDir)) == 1
	})
	eventually(t, 5*time.Second, "the aborted pool's new socket to be removed", func() bool {
		_, err := os.Lstat(filepath.Join(e.sockDir, "other.sock"))
		return os.IsNotExist(err)
	})
}

// ReopenLogs (SIGUSR1) under load: php-fpm reopens its log and recycles
// workers gracefully; no request fails.
func TestReopenLogsUnderLoad(t *testing.T) {
	e := needPHPFPM(t)
	m := e.manager(nil)
	p := e.pool("reopen")
	if err := m.Reconcile([]Pool{p}); err != nil {
		t.Fatal(err)
	}
	pid := m.Status()[0].PID
	stop := make(chan struct{})
	wait := e.load(p.SocketPath, 4, 20, stop)
	time.Sleep(200 * time.Millisecond)
	m.ReopenLogs()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	ok, fails := wait()
	if len(fails) > 0 {
		t.Fatalf("%d of %d requests failed around the reopen, first: %s", len(fails), ok+len(fails), fails[0])
	}
	if got := m.Status()[0].PID; got != pid {
		t.Errorf("reopen changed the php-fpm pid %d → %d", pid, got)
	}
}

// A php-fpm left by a master that crashed (its instance directory names a
// dead master pid) is stopped by the next manager, which can then take
// the socket path.
func TestStaleInstanceCleanup(t *testing.T) {
	e := needPHPFPM(t)
	// A pid that is certainly dead: a process that already exited.
	c := exec.Command("/bin/true")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	dead := c.Process.Pid
	if err := os.MkdirAll(e.stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	p, _ := e.pool("stale").normalized(os.Geteuid() == 0)
	dir := filepath.Join(e.stateDir, "i-"+itoa(dead)+"-1-stale")
	os.Mkdir(dir, 0o700)
	ip := instancePaths(dir)
	if err := os.WriteFile(ip.conf, []byte(strings.Replace(renderConfig(p, ip, os.Geteuid() == 0), `listen = "`+ip.listen+`"`, `listen = "`+p.SocketPath+`"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(e.sockDir, 0o755)
	orphan := exec.Command(e.binary, "-F", "-y", ip.conf)
	orphan.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	go orphan.Wait()
	eventually(t, 5*time.Second, "the orphan to listen", func() bool { _, _, _, err := e.get(p.SocketPath); return err == nil })
	m := e.manager(nil)
	if n := groupMembers(orphan.Process.Pid); len(n) != 0 {
		t.Fatalf("orphan processes left: %v", n)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("stale dir left: %v", err)
	}
	if err := m.Reconcile([]Pool{e.pool("stale")}); err != nil {
		t.Fatal(err)
	}
	e.mustGet(p.SocketPath)
}

type errString string

func (e errString) Error() string { return string(e) }

// php-fpm accepts a generated config that uses every key (php-fpm -t).
func TestGeneratedConfigAccepted(t *testing.T) {
	e := needPHPFPM(t)
	yes, no := true, false
	for _, pm := range []string{PMStatic, PMDynamic, PMOndemand} {
		p := e.pool("all-" + pm)
		p.ProcessManager, p.Workers, p.MaxRequests = pm, 8, 100
		if pm == PMDynamic {
			p.StartServers, p.MinSpareServers, p.MaxSpareServers, p.MaxSpawnRate = 3, 2, 5, 4
		}
		p.ProcessIdleTimeout = 5 * time.Second
		p.RequestTerminateTimeout, p.RequestTerminateTimeoutTrackFinished = 30*time.Second, &yes
		p.RequestSlowlogTimeout, p.RequestSlowlogTraceDepth = 2*time.Second, 30
		p.ClearEnv, p.CatchWorkersOutput, p.DecorateWorkersOutput = &yes, &yes, &no
		p.SessionSavePath, p.UploadTmpDir = e.root, e.root
		n, err := p.normalized(os.Geteuid() == 0)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		ip := instancePaths(dir)
		if err := os.WriteFile(ip.conf, []byte(renderConfig(n, ip, os.Geteuid() == 0)), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(e.binary, "-t", "-y", ip.conf, "-p", dir).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "test is successful") {
			t.Errorf("%s: php-fpm -t: %v\n%s\n%s", pm, err, out, renderConfig(n, ip, true))
		}
	}
}
