package ipc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// childEnv makes the test binary act as a worker (see TestMain).
const childEnv = "FLUXHEIM_IPC_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childWorker())
	}
	os.Exit(m.Run())
}

// childConfig is the config snapshot the test master sends its child.
type childConfig struct {
	Greeting string `json:"greeting"`
	Fail     bool   `json:"fail"` // answer Init with Fatal and exit
}

// childWorker is a minimal worker: it takes the channel from fd 3,
// checks that the peer is its parent, serves HTTP on the listener it
// receives with Init, reports Ready and exits on Stop or EOF.
func childWorker() int {
	c, err := FromFD(3)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 3
	}
	defer c.Close()
	fatal := func(format string, args ...any) int {
		msg := fmt.Sprintf(format, args...)
		fmt.Fprintln(os.Stderr, "child:", msg)
		_ = c.Send(MsgFatal, Fatal{Error: msg})
		return 2
	}
	cred, err := c.PeerCred()
	if err != nil {
		return fatal("peercred: %v", err)
	}
	if int(cred.Pid) != os.Getppid() || int(cred.Uid) != os.Getuid() {
		return fatal("peer is pid %d uid %d, want my parent %d uid %d", cred.Pid, cred.Uid, os.Getppid(), os.Getuid())
	}
	msg, err := c.Recv()
	if err != nil {
		return fatal("recv init: %v", err)
	}
	defer msg.CloseFiles()
	if msg.Type != MsgInit {
		return fatal("first message %s, want init", msg.Type)
	}
	var in Init
	if err := msg.Decode(&in); err != nil {
		return fatal("%v", err)
	}
	var cfg childConfig
	if err := json.Unmarshal(in.Config, &cfg); err != nil {
		return fatal("config: %v", err)
	}
	if cfg.Fail {
		// Exit without reading what else the master sent.
		return fatal("config rejected (gen %d)", in.Gen)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s from pid %d slot %d", cfg.Greeting, os.Getpid(), in.Slot)
	})}
	for _, l := range in.Listeners {
		f, err := msg.TakeFile(l.FD)
		if err != nil {
			return fatal("%s: %v", l.Key, err)
		}
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return fatal("%s: %v", l.Key, err)
		}
		go srv.Serve(ln)
	}
	if err := c.Send(MsgReady, Ready{Pid: os.Getpid(), Gen: in.Gen}); err != nil {
		return 3
	}
	for {
		m, err := c.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return 0 // master gone
			}
			fmt.Fprintln(os.Stderr, "child:", err)
			return 3
		}
		m.CloseFiles()
		switch m.Type {
		case MsgStop:
			srv.Close()
			return 0
		case MsgStats:
			if err := c.Send(MsgStats, Stats{Active: 1}); err != nil {
				return 3
			}
		}
	}
}

// startChild execs the test binary as a worker with the channel on fd 3.
func startChild(t *testing.T) (*Conn, *exec.Cmd, *bytes.Buffer) {
	t.Helper()
	m, wf, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	// atexit_sleep_ms: a -race child would otherwise linger 1 s at exit.
	cmd.Env = append(os.Environ(), childEnv+"=1", "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	cmd.ExtraFiles = []*os.File{wf}
	stderr := new(bytes.Buffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	wf.Close()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	m.SetReadDeadline(time.Now().Add(30 * time.Second))
	return m, cmd, stderr
}

func waitExit(t *testing.T, cmd *exec.Cmd, stderr *bytes.Buffer, want int) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("child did not exit; stderr:\n%s", stderr)
	}
	if code := cmd.ProcessState.ExitCode(); code != want {
		t.Fatalf("child exit code %d, want %d; stderr:\n%s", code, want, stderr)
	}
}

// TestExecWorkerServesOnFD3 proves the whole path across exec: the
// socketpair end becomes fd 3 in a new process, which receives a
// listener over it and answers HTTP on it.
func TestExecWorkerServesOnFD3(t *testing.T) {
	m, cmd, stderr := startChild(t)
	ln, lf := listenerFile(t)
	defer ln.Close() // the master keeps its socket; it never accepts on it
	addr := ln.Addr().String()
	in := Init{
		Gen: 7, Slot: 2,
		Config:    json.RawMessage(`{"greeting":"hello","fail":false}`),
		Listeners: []Listener{{Key: "tcp:" + addr + "#2", Addr: addr, FD: 0}},
		AccessLog: -1, ErrorLog: -1,
	}
	if err := m.Send(MsgInit, in, lf); err != nil {
		t.Fatal(err)
	}
	lf.Close()

	msg, err := m.Recv()
	if err != nil {
		t.Fatalf("%v; child stderr:\n%s", err, stderr)
	}
	if msg.Type != MsgReady {
		t.Fatalf("got %s (%s), want ready; child stderr:\n%s", msg.Type, msg.Payload, stderr)
	}
	var r Ready
	if err := msg.Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.Pid != cmd.Process.Pid || r.Gen != 7 {
		t.Fatalf("ready %+v, want pid %d gen 7", r, cmd.Process.Pid)
	}

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range 3 {
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("hello from pid %d slot 2", cmd.Process.Pid); string(body) != want {
			t.Fatalf("body %q, want %q", body, want)
		}
	}

	// A round trip initiated by the master, then Stop.
	if err := m.Send(MsgStats, nil); err != nil {
		t.Fatal(err)
	}
	if msg, err := m.Recv(); err != nil || msg.Type != MsgStats {
		t.Fatalf("stats reply %v, %v", msg, err)
	}
	if err := m.Send(MsgStop, nil); err != nil {
		t.Fatal(err)
	}
	waitExit(t, cmd, stderr, 0)
	if _, err := m.Recv(); err != io.EOF {
		t.Fatalf("Recv after the child exited = %v, want io.EOF", err)
	}
}

// TestExecWorkerFatal: a worker that rejects its config reports Fatal and
// exits with messages from the master still unread; the master still
// gets the Fatal, then EOF.
func TestExecWorkerFatal(t *testing.T) {
	m, cmd, stderr := startChild(t)
	in := Init{Gen: 8, Config: json.RawMessage(`{"fail":true}`), AccessLog: -1, ErrorLog: -1}
	if err := m.Send(MsgInit, in); err != nil {
		t.Fatal(err)
	}
	if err := m.Send(MsgDrain, Drain{Deadline: time.Now().Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	waitExit(t, cmd, stderr, 2)
	msg, err := m.Recv()
	if err != nil {
		t.Fatalf("Recv = %v, want fatal; child stderr:\n%s", err, stderr)
	}
	var f Fatal
	if msg.Type != MsgFatal || msg.Decode(&f) != nil || !strings.Contains(f.Error, "config rejected (gen 8)") {
		t.Fatalf("got %s %s, want fatal", msg.Type, msg.Payload)
	}
	if _, err := m.Recv(); err != io.EOF {
		t.Fatalf("Recv = %v, want io.EOF", err)
	}
}

// TestExecWorkerExitsWhenMasterCloses: closing the master end is EOF on
// fd 3, and the worker exits.
func TestExecWorkerExitsWhenMasterCloses(t *testing.T) {
	m, cmd, stderr := startChild(t)
	ln, lf := listenerFile(t)
	defer ln.Close()
	in := Init{Config: json.RawMessage(`{"greeting":"hi"}`), Listeners: []Listener{{Key: "k", Addr: ln.Addr().String(), FD: 0}}, AccessLog: -1, ErrorLog: -1}
	if err := m.Send(MsgInit, in, lf); err != nil {
		t.Fatal(err)
	}
	lf.Close()
	if msg, err := m.Recv(); err != nil || msg.Type != MsgReady {
		t.Fatalf("got %v, %v; child stderr:\n%s", msg, err, stderr)
	}
	m.Close()
	waitExit(t, cmd, stderr, 0)
}
