package master

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/ipc"
	"github.com/fluxheim/fluxheim/worker"
)

// proc is one worker process.
type proc struct {
	gen      uint64
	index    int // worker index within its generation
	pid      int
	cmd      *exec.Cmd
	conn     *ipc.Conn
	started  time.Time
	ready    chan struct{}          // closed on READY
	exited   chan struct{}          // closed when the process is reaped
	fatal    atomic.Pointer[string] // FATAL message, if any
	stopping bool                   // asked to drain or stop: not respawned
	exitErr  error
	// A worker answers every Drain and Reopen with one Stats message once
	// it has acted on it (after a Drain: it no longer accepts; after a
	// Reopen: it writes to the new files). asked counts the messages that
	// want an answer (loop goroutine only), acks the answers received.
	asked   uint64
	acks    atomic.Uint64
	ackWake chan struct{} // signalled on every ack
}

// spawnSpec is everything a worker needs.
type spawnSpec struct {
	gen        uint64
	index      int
	cfgJSON    []byte
	assign     assignment
	accessLog  *os.File // nil = stderr/stdout
	errorLog   *os.File // nil = stderr
	cred       *syscall.Credential
	gomaxprocs int
	// tlsJSON is the tlsmat.Material for TLS listeners; challengesJSON the
	// current ACME answers (both may be nil).
	tlsJSON, challengesJSON json.RawMessage
}

// spawn starts a worker: the same executable re-run with the worker role,
// its control channel on fd 3, its own process group (terminal signals go
// to the master only), the configured user when the master is root.
func spawn(s spawnSpec, events chan<- event) (*proc, error) {
	conn, child, err := ipc.Pair()
	if err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil || strings.HasSuffix(exe, " (deleted)") {
		exe = "/proc/self/exe"
	}
	cmd := exec.Command("/proc/self/exe")
	cmd.Path = "/proc/self/exe"
	cmd.Args = []string{exe}
	cmd.Env = workerEnv(s.gomaxprocs)
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.ExtraFiles = []*os.File{child}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: s.cred}
	if err := cmd.Start(); err != nil {
		conn.Close()
		child.Close()
		return nil, fmt.Errorf("starting worker: %w", err)
	}
	child.Close()
	p := &proc{gen: s.gen, index: s.index, pid: cmd.Process.Pid, cmd: cmd, conn: conn, started: time.Now(),
		ready: make(chan struct{}), exited: make(chan struct{}), ackWake: make(chan struct{}, 1)}
	go p.read(events)
	go func() {
		p.exitErr = cmd.Wait()
		conn.Close()
		close(p.exited)
		events <- event{kind: evExit, proc: p}
	}()

	init := ipc.Init{Gen: s.gen, Slot: s.index, Config: json.RawMessage(s.cfgJSON), AccessLog: -1, ErrorLog: -1,
		TLS: s.tlsJSON, Challenges: s.challengesJSON}
	files := append([]*os.File(nil), s.assign.files...)
	for i := range s.assign.keys {
		init.Listeners = append(init.Listeners, ipc.Listener{Key: s.assign.keys[i], Addr: s.assign.addrs[i], FD: i, TLS: s.assign.tls[i]})
	}
	if s.accessLog != nil {
		init.AccessLog = len(files)
		files = append(files, s.accessLog)
	}
	if s.errorLog != nil {
		init.ErrorLog = len(files)
		files = append(files, s.errorLog)
	}
	if err := conn.Send(ipc.MsgInit, init, files...); err != nil {
		p.kill()
		return nil, fmt.Errorf("sending init to worker %d: %w", p.pid, err)
	}
	return p, nil
}

// read follows the worker's messages.
func (p *proc) read(events chan<- event) {
	for {
		m, err := p.conn.Recv()
		if err != nil {
			return
		}
		for _, f := range m.Files {
			f.Close()
		}
		switch m.Type {
		case ipc.MsgReady:
			close(p.ready)
		case ipc.MsgFatal:
			var f ipc.Fatal
			_ = m.Decode(&f)
			p.fatal.Store(&f.Error)
		case ipc.MsgStats:
			p.acks.Add(1)
			select {
			case p.ackWake <- struct{}{}:
			default:
			}
		}
	}
}

// waitReady waits for READY, the process's exit or the timeout.
func (p *proc) waitReady(timeout time.Duration) error {
	select {
	case <-p.ready:
		return nil
	case <-p.exited:
		if f := p.fatal.Load(); f != nil {
			return fmt.Errorf("worker %d: %s", p.pid, *f)
		}
		return fmt.Errorf("worker %d exited before it was ready: %v", p.pid, p.exitErr)
	case <-time.After(timeout):
		return fmt.Errorf("worker %d not ready after %s", p.pid, timeout)
	}
}

func (p *proc) drain(deadline time.Time, retired []string) {
	p.stopping = true
	_ = p.sendAsk(ipc.MsgDrain, ipc.Drain{Deadline: deadline, Retired: retired})
}

// send sends a message the worker answers with an ack (Drain, Reopen).
func (p *proc) sendAsk(t ipc.MsgType, payload any, files ...*os.File) error {
	err := p.conn.Send(t, payload, files...)
	if err == nil {
		p.asked++
	}
	return err
}

// waitAcked waits until every one of procs answered everything it was
// asked (or exited), at most timeout in total; it returns the ones that
// did not.
func waitAcked(procs []*proc, timeout time.Duration) []*proc {
	t := time.NewTimer(timeout)
	defer t.Stop()
	var late []*proc
	for _, p := range procs {
	wait:
		for p.acks.Load() < p.asked {
			select {
			case <-p.ackWake:
			case <-p.exited:
				break wait
			case <-t.C:
				late = append(late, p)
				// The timer fired: the rest get no more time.
				t.Reset(0)
				break wait
			}
		}
	}
	return late
}

func (p *proc) stop() {
	p.stopping = true
	_ = p.conn.Send(ipc.MsgStop, nil)
}

func (p *proc) kill() {
	p.stopping = true
	_ = p.cmd.Process.Kill()
}

func (p *proc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// workerEnv is the master's environment minus what belongs to the master
// (systemd notify/activation, tableflip), plus the worker role and its
// GOMAXPROCS.
func workerEnv(gomaxprocs int) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "NOTIFY_SOCKET", k == "LISTEN_FDS", k == "LISTEN_PID", k == "LISTEN_FDNAMES",
			k == "GOMAXPROCS", k == worker.RoleEnv, strings.HasPrefix(k, "TABLEFLIP_"):
			continue
		}
		env = append(env, kv)
	}
	return append(env, worker.RoleEnv+"="+worker.RoleWorker, "GOMAXPROCS="+strconv.Itoa(gomaxprocs))
}

// workerProcs is GOMAXPROCS per worker so that n workers together do not
// oversubscribe the CPUs (at least 1).
func workerProcs(n int) int {
	p := runtime.NumCPU() / n
	if p < 1 {
		p = 1
	}
	return p
}

// credential resolves [server.process] user/group. It is nil (run as the
// master's user) when no user is set or the master is not root.
func credential(p *config.Process) (*syscall.Credential, error) {
	if p.User == "" || os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(p.User)
	if err != nil {
		return nil, fmt.Errorf("server.process.user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if p.Group != "" {
		g, err := user.LookupGroup(p.Group)
		if err != nil {
			return nil, fmt.Errorf("server.process.group: %w", err)
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}
