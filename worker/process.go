package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/ipc"
	"github.com/fluxheim/fluxheim/shared/logx"
	"github.com/fluxheim/fluxheim/shared/tlsmat"
	"github.com/fluxheim/fluxheim/worker/accesslog"
	"github.com/fluxheim/fluxheim/worker/server"
	"github.com/fluxheim/fluxheim/worker/tlsserve"
)

// RoleEnv is the environment variable that makes the fluxheim binary run
// as a worker; IPCFD is the control channel's fd in the worker.
const (
	RoleEnv    = "FLUXHEIM_ROLE"
	RoleWorker = "worker"
	IPCFD      = 3
)

// ExitFatal is the exit code of a worker that cannot serve its config;
// the master does not respawn it in a loop.
const ExitFatal = 2

// RunWorker is the worker role's main: it reads its config snapshot,
// listeners and log files from the master over fd 3, serves, reports
// ready, and follows the master's drain/stop/reopen messages. It exits
// when the channel closes (the master is gone). It returns the exit code.
func RunWorker() int {
	// Signals belong to the master; a worker ignores the terminal's.
	signal.Ignore(syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPIPE)
	conn, err := ipc.FromFD(IPCFD)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fluxheim worker: %v\n", err)
		return ExitFatal
	}
	defer conn.Close()
	w, err := start(conn)
	if err != nil {
		_ = conn.Send(ipc.MsgFatal, ipc.Fatal{Error: err.Error()})
		fmt.Fprintf(os.Stderr, "fluxheim worker: %v\n", err)
		return ExitFatal
	}
	return w.loop(conn)
}

type workerState struct {
	tls    *tlsserve.Server // nil without TLS listeners
	srv    *server.Server
	log    *slog.Logger
	errLog *logx.ReopenWriter
	access *accesslog.Logger
	done   chan error
	gen    uint64
}

func start(conn *ipc.Conn) (*workerState, error) {
	msg, err := conn.Recv()
	if err != nil {
		return nil, fmt.Errorf("reading init: %w", err)
	}
	if msg.Type != ipc.MsgInit {
		return nil, fmt.Errorf("first message is %s, want init", msg.Type)
	}
	var in ipc.Init
	if err := msg.Decode(&in); err != nil {
		return nil, err
	}
	file := func(i int) *os.File {
		if i < 0 || i >= len(msg.Files) {
			return nil
		}
		return msg.Files[i]
	}
	cfg := &config.Config{}
	if err := json.Unmarshal(in.Config, cfg); err != nil {
		return nil, fmt.Errorf("decoding config snapshot: %w", err)
	}
	var errOut io.Writer = os.Stderr
	if f := file(in.ErrorLog); f != nil {
		errOut = f
	}
	errLog := logx.NewReopenWriter(errOut)
	lg := logx.NewLogger(cfg, errLog).With("worker", in.Slot, "gen", in.Gen)
	slog.SetDefault(lg)
	w := &workerState{log: lg, errLog: errLog, done: make(chan error, 1), gen: in.Gen}
	if f := file(in.AccessLog); f != nil {
		w.access = accesslog.FromFile(f)
	} else if *cfg.Logging.Access.Enabled {
		// No access log file: lines go to the error log's stream, as in
		// single-process mode.
		out := os.Stderr
		if cfg.Logging.Target == "stdout" {
			out = os.Stdout
		}
		w.access = accesslog.FromFile(out)
	}
	h, err := server.BuildHandler(cfg, lg, w.access)
	if err != nil {
		return nil, err
	}
	var lns []server.Listener
	for _, l := range in.Listeners {
		f := file(l.FD)
		if f == nil {
			return nil, fmt.Errorf("listener %s: no fd", l.Key)
		}
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("listener %s: %w", l.Key, err)
		}
		lns = append(lns, server.Listener{Key: l.Key, LN: ln, TLS: l.TLS})
	}
	w.srv = server.New(cfg, h, lg)
	if err := w.setupTLS(cfg, &in); err != nil {
		return nil, err
	}
	go func() { w.done <- w.srv.Serve(lns) }()
	if err := conn.Send(ipc.MsgReady, ipc.Ready{Pid: os.Getpid(), Gen: in.Gen}); err != nil {
		return nil, err
	}
	return w, nil
}

// loop follows the master's messages until the worker must exit. A drain
// runs in the background, so a draining worker still answers Reopen (its
// last lines go to the new files), Stop (a fast stop right after a reload)
// and the control channel's EOF (the master is gone).
func (w *workerState) loop(conn *ipc.Conn) int {
	msgs := make(chan *ipc.Msg)
	recvErr := make(chan error, 1)
	go func() {
		for {
			m, err := conn.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			msgs <- m
		}
	}()
	defer w.closeLogs()
	// ack answers a Drain or Reopen once it took effect (the master waits
	// for it: see master/proc.go).
	ack := func() {
		active, idle := w.srv.Stats()
		_ = conn.Send(ipc.MsgStats, ipc.Stats{Active: active, Idle: idle})
	}
	var drained chan struct{} // closed when a running drain finished
	for {
		select {
		case err := <-w.done:
			if err != nil {
				w.log.Error("serving stopped", "err", err)
				return 1
			}
		case <-drained:
			return 0
		case err := <-recvErr:
			if !errors.Is(err, io.EOF) {
				w.log.Error("control channel failed", "err", err)
			}
			// The master is gone: stop at once (a new master owns the
			// sockets now, or nobody does).
			_ = w.srv.Close()
			return 0
		case m := <-msgs:
			switch m.Type {
			case ipc.MsgDrain:
				var d ipc.Drain
				_ = m.Decode(&d)
				retired := map[string]bool{}
				for _, k := range d.Retired {
					retired[k] = true
				}
				// Stop accepting first and say so: the master answers a
				// reload only when no old worker accepts new connections
				// any more. A second Drain (a quit during a drain) is only
				// acknowledged; the master enforces its own deadline.
				w.srv.StopAccepting(retired)
				ack()
				if drained == nil {
					drained = make(chan struct{})
					go func() {
						w.srv.Drain(d.Deadline, retired)
						close(drained)
					}()
				}
			case ipc.MsgStop:
				_ = w.srv.Close()
				return 0
			case ipc.MsgReopen:
				w.reopen(m)
				ack()
			case ipc.MsgTLS:
				w.updateTLS(m)
				ack()
			case ipc.MsgChallenges:
				w.updateChallenges(m.Payload)
				ack()
			}
			for _, f := range m.Files {
				f.Close()
			}
		}
	}
}

func (w *workerState) reopen(m *ipc.Msg) {
	var r ipc.Reopen
	if err := m.Decode(&r); err != nil {
		return
	}
	if r.ErrorLog >= 0 && r.ErrorLog < len(m.Files) {
		w.errLog.Swap(dupFile(m.Files[r.ErrorLog]))
	}
	if w.access != nil && r.AccessLog >= 0 && r.AccessLog < len(m.Files) {
		w.access.SwapFile(dupFile(m.Files[r.AccessLog]))
	}
}

// dupFile keeps a received fd beyond the message (the loop closes
// m.Files).
func dupFile(f *os.File) *os.File {
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		return nil
	}
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), f.Name())
}

func (w *workerState) closeLogs() {
	if w.access != nil {
		_ = w.access.Close()
	}
	_ = w.errLog.Close()
	time.Sleep(0)
}

// setupTLS builds the TLS listeners' configuration from the material the
// master sent (certificates as bytes: workers never read key files).
func (w *workerState) setupTLS(cfg *config.Config, in *ipc.Init) error {
	w.updateChallenges(in.Challenges)
	if len(in.TLS) == 0 || cfg.TLS == nil || !cfg.TLS.Enabled {
		return nil
	}
	var m tlsmat.Material
	if err := json.Unmarshal(in.TLS, &m); err != nil {
		return fmt.Errorf("decoding TLS material: %w", err)
	}
	ts, err := tlsserve.New(cfg.TLS, &m)
	if err != nil {
		return err
	}
	w.tls = ts
	w.srv.EnableTLS(ts.Config(), cfg.TLS.ALPN != "http1")
	return nil
}

// updateTLS installs new certificates or ticket keys (renewal, rotation);
// new handshakes see them, open connections are untouched.
func (w *workerState) updateTLS(m *ipc.Msg) {
	if w.tls == nil {
		return
	}
	var mat tlsmat.Material
	if err := m.Decode(&mat); err != nil {
		w.log.Error("TLS update", "err", err)
		return
	}
	if err := w.tls.Update(&mat); err != nil {
		w.log.Error("TLS update refused; the previous certificates stay", "err", err)
	}
}

// updateChallenges installs the ACME answers: HTTP-01 tokens for the
// pipeline, TLS-ALPN-01 certificates for the TLS listeners.
func (w *workerState) updateChallenges(raw []byte) {
	var ch tlsmat.Challenges
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &ch); err != nil {
			w.log.Error("ACME challenges", "err", err)
			return
		}
	}
	w.srv.Challenges().Set(&ch)
	if w.tls != nil {
		if err := w.tls.SetChallenges(ch.TLSALPN01); err != nil {
			w.log.Error("ACME TLS-ALPN-01 challenge", "err", err)
		}
	}
}
