package integration

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fluxheim/fluxheim/integration/harness"
)

// pmNotifySocket is a NOTIFY_SOCKET the test listens on.
type pmNotifySocket struct {
	path string
	msgs chan string
}

func pmListenNotify(t *testing.T, dir string) *pmNotifySocket {
	t.Helper()
	path := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	n := &pmNotifySocket{path: path, msgs: make(chan string, 64)}
	go func() {
		buf := make([]byte, 64<<10)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				close(n.msgs)
				return
			}
			n.msgs <- string(buf[:k])
		}
	}()
	return n
}

// next returns the next message (fails the test after timeout).
func (n *pmNotifySocket) next(t *testing.T, timeout time.Duration, what string) string {
	t.Helper()
	select {
	case m, ok := <-n.msgs:
		if !ok {
			t.Fatalf("notify socket closed while waiting for %s", what)
		}
		return m
	case <-time.After(timeout):
		t.Fatalf("no sd_notify message within %v (waiting for %s)", timeout, what)
	}
	return ""
}

// noMore fails when another message arrives within d.
func (n *pmNotifySocket) noMore(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case m := <-n.msgs:
		t.Errorf("unexpected sd_notify message %q", m)
	case <-time.After(d):
	}
}

func pmNotifyFields(msg string) map[string]string {
	f := map[string]string{}
	for _, l := range strings.Split(msg, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			f[k] = v
		}
	}
	return f
}

func pmMonotonicUsecNow(t *testing.T) int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return ts.Nano() / 1000
}

// pmExpectReload checks the RELOADING=1 (with a current MONOTONIC_USEC) then
// READY=1 pair of one reload.
func pmExpectReload(t *testing.T, n *pmNotifySocket, how string) {
	t.Helper()
	before := pmMonotonicUsecNow(t)
	msg := n.next(t, 10*time.Second, "RELOADING=1 ("+how+")")
	f := pmNotifyFields(msg)
	if f["RELOADING"] != "1" {
		t.Fatalf("%s: first message %q, want RELOADING=1", how, msg)
	}
	usec, err := strconv.ParseInt(f["MONOTONIC_USEC"], 10, 64)
	if err != nil {
		t.Errorf("%s: RELOADING=1 without a valid MONOTONIC_USEC: %q", how, msg)
	} else if d := before - usec; d < -10e6 || d > 10e6 {
		t.Errorf("%s: MONOTONIC_USEC=%d is %d µs away from CLOCK_MONOTONIC", how, usec, d)
	}
	msg = n.next(t, 10*time.Second, "READY=1 after the reload ("+how+")")
	if f := pmNotifyFields(msg); f["READY"] != "1" {
		t.Errorf("%s: message after RELOADING=1 is %q, want READY=1", how, msg)
	}
}

func pmRequireSocketActivate(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Skip("systemd-socket-activate not installed (systemd package)")
	}
	return p
}

// TestProcessSystemdSocketActivation: started through systemd-socket-activate
// with NOTIFY_SOCKET, fluxheim adopts the inherited socket (it cannot bind
// the address itself: systemd-socket-activate holds it without
// SO_REUSEPORT), serves on it, and sends READY=1; a reload (CLI and SIGHUP)
// sends RELOADING=1 with MONOTONIC_USEC, then READY=1; a stop sends
// STOPPING=1.
func TestProcessSystemdSocketActivation(t *testing.T) {
	pmSkipUnlessProcessTests(t)
	ssa := pmRequireSocketActivate(t)
	cfg := pmNewProcConfig(t)
	ns := pmListenNotify(t, cfg.Dir)
	addr := cfg.Listen[0]
	m := pmStartMaster(t, cfg, pmMasterOpts{
		Wrapper: []string{ssa, "-l", addr, "-E", "NOTIFY_SOCKET=" + ns.path},
		NoWait:  true,
	})
	// The first connection makes systemd-socket-activate exec fluxheim; it
	// waits in the inherited socket's queue until a worker accepts it.
	m.waitServing(addr, 15*time.Second)
	m.waitReady(10 * time.Second)

	msg := ns.next(t, 10*time.Second, "READY=1")
	if f := pmNotifyFields(msg); f["READY"] != "1" || f["STATUS"] == "" {
		t.Errorf("first sd_notify message %q, want READY=1 with a STATUS", msg)
	}
	if _, ok := pmNotifyFields(msg)["MAINPID"]; ok {
		t.Errorf("first start sent MAINPID: %q", msg)
	}
	if !strings.Contains(m.logs(), "adopted socket from systemd") {
		t.Errorf("no \"adopted socket from systemd\" in the log")
	}
	st := m.status()
	if st.Pid != m.pid() {
		t.Errorf("status from pid %d, want %d (systemd-socket-activate execs fluxheim)", st.Pid, m.pid())
	}
	if st.Sockets != 1 || len(st.Workers) != cfg.Workers {
		t.Errorf("status: %d sockets, workers %+v; want the one inherited socket shared by %d workers", st.Sockets, st.Workers, cfg.Workers)
	}
	// The master holds the inherited socket (fd 3 from systemd-socket-activate).
	if l, err := pmReadlinkFd(m.pid(), 3); err != nil || !strings.HasPrefix(l, "socket:") {
		t.Errorf("master fd 3 = %q, %v; want the inherited socket", l, err)
	}

	cfg.Gen = 2
	cfg.write(t)
	if out, errOut, code := m.ctl("reload"); code != 0 {
		t.Fatalf("reload: exit %d\n%s\n%s", code, out, errOut)
	}
	pmExpectReload(t, ns, "fluxheim -s reload")
	if g, err := pmGetGen(addr); err != nil || g != 2 {
		t.Errorf("after reload: generation %d, %v; want 2", g, err)
	}

	cfg.Gen = 3
	cfg.write(t)
	if err := syscall.Kill(m.pid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	pmExpectReload(t, ns, "SIGHUP")
	pmWaitGen(t, 3, 5*time.Second, addr)
	ns.noMore(t, 200*time.Millisecond)

	// A binary upgrade: the new master inherits the activated socket, the
	// old one tells systemd the new main pid and exits.
	cfg.Gen = 4
	cfg.write(t)
	if out, errOut, code := m.ctl("upgrade"); code != 0 {
		t.Fatalf("upgrade: exit %d\n%s\n%s", code, out, errOut)
	}
	next := m.pidFromFile()
	m.track(next)
	msg = ns.next(t, 10*time.Second, "MAINPID= after the upgrade")
	if f := pmNotifyFields(msg); f["MAINPID"] != strconv.Itoa(next) {
		t.Errorf("after the upgrade: sd_notify %q, want MAINPID=%d", msg, next)
	}
	if code, ok := m.wait(10 * time.Second); !ok || code != 0 {
		t.Errorf("old master after the upgrade: exit %d, exited %v", code, ok)
	}
	if g, err := pmGetGen(addr); err != nil || g != 4 {
		t.Errorf("after the upgrade: generation %d, %v; want 4 on the inherited socket", g, err)
	}
	if st := m.status(); st.Pid != next || st.Sockets != 1 {
		t.Errorf("after the upgrade: status pid %d, %d sockets; want %d with the one inherited socket", st.Pid, st.Sockets, next)
	}

	if out, errOut, code := m.ctl("stop"); code != 0 {
		t.Fatalf("stop: exit %d\n%s\n%s", code, out, errOut)
	}
	if f := pmNotifyFields(ns.next(t, 5*time.Second, "STOPPING=1")); f["STOPPING"] != "1" {
		t.Errorf("stop: want STOPPING=1, got %v", f)
	}
	if !pmWaitGone(next, 5*time.Second) {
		t.Errorf("master %d still runs after stop", next)
	}
}

func pmReadlinkFd(pid, fd int) (string, error) {
	return pmReadlink("/proc/" + strconv.Itoa(pid) + "/fd/" + strconv.Itoa(fd))
}

// TestProcessSystemdActivationMismatch: a socket passed with LISTEN_FDS
// whose address is not in server.listen is fatal: fluxheim exits non-zero
// and says which socket does not match (it never serves a socket it was
// not configured for, nor falls back to binding).
func TestProcessSystemdActivationMismatch(t *testing.T) {
	pmSkipUnlessProcessTests(t)
	ssa := pmRequireSocketActivate(t)
	cfg := pmNewProcConfig(t)
	other := harness.FreeAddr(t)
	m := pmStartMaster(t, cfg, pmMasterOpts{Wrapper: []string{ssa, "-l", other}, NoWait: true})

	// Trigger the exec with a connection to the inherited socket.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", other, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("systemd-socket-activate never listened on %s: %v", other, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, ok := m.wait(10 * time.Second)
	if !ok {
		t.Fatalf("fluxheim still runs with a socket for %s it was not configured for; log:\n%s", other, m.logs())
	}
	logs := m.logs()
	t.Logf("exit %d; output:\n%s", code, logs)
	if code == 0 {
		t.Errorf("exit code 0, want non-zero")
	}
	for _, want := range []string{"socket activation", other, "not in server.listen"} {
		if !strings.Contains(logs, want) {
			t.Errorf("error output does not mention %q:\n%s", want, logs)
		}
	}
	if _, err := net.DialTimeout("tcp", cfg.Listen[0], 200*time.Millisecond); err == nil {
		t.Errorf("%s (the configured address) accepts connections although the start failed", cfg.Listen[0])
	}
}

func pmReadlink(p string) (string, error) { return os.Readlink(p) }
