package master

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The control socket protocol: the client sends one JSON line
// {"cmd":"reload"} and reads one JSON line back, written only when the
// command has really finished (or failed).
type ctlRequestWire struct {
	Cmd string `json:"cmd"`
}

type ctlResponse struct {
	OK      bool    `json:"ok"`
	Message string  `json:"message,omitempty"`
	Error   string  `json:"error,omitempty"`
	Status  *Status `json:"status,omitempty"`
}

type ctlRequest struct {
	cmd   string
	reply chan ctlResponse
}

// controlServer accepts control connections and hands commands to the
// master loop.
type controlServer struct {
	ln       *net.UnixListener
	reqs     chan ctlRequest
	done     chan struct{}
	handlers sync.WaitGroup // connections being answered
}

// listener source: tableflip's Fds in production, so the socket survives
// a binary upgrade.
type unixListenerSource interface {
	Listener(network, addr string) (net.Listener, error)
	Listen(network, addr string) (net.Listener, error)
}

// listenControl opens (or inherits) the control socket, mode 0600. A
// stale socket file nobody answers on (left by a crashed master) is
// replaced; a live one means another master runs: an error.
func listenControl(path string, src unixListenerSource) (*controlServer, error) {
	ln, err := src.Listener("unix", path)
	if err == nil && ln == nil {
		if c, derr := net.DialTimeout("unix", path, time.Second); derr == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s: another fluxheim master is running", path)
		} else if errors.Is(derr, unix.ECONNREFUSED) {
			_ = os.Remove(path)
		}
		ln, err = src.Listen("unix", path)
	}
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	c := &controlServer{ln: ln.(*net.UnixListener), reqs: make(chan ctlRequest), done: make(chan struct{})}
	go c.serve()
	return c, nil
}

func (c *controlServer) serve() {
	for {
		conn, err := c.ln.AcceptUnix()
		if err != nil {
			return
		}
		c.handlers.Add(1)
		go func() {
			defer c.handlers.Done()
			c.handle(conn)
		}()
	}
}

// handle checks the peer (root or the master's own uid), reads one
// command, waits for the master's answer and writes it.
func (c *controlServer) handle(conn *net.UnixConn) {
	defer conn.Close()
	if err := checkPeer(conn); err != nil {
		writeResp(conn, ctlResponse{Error: err.Error()})
		return
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReaderSize(conn, 1024).ReadBytes('\n')
	if err != nil {
		return
	}
	var req ctlRequestWire
	if err := json.Unmarshal(line, &req); err != nil {
		writeResp(conn, ctlResponse{Error: "malformed request"})
		return
	}
	r := ctlRequest{cmd: req.Cmd, reply: make(chan ctlResponse, 1)}
	select {
	case c.reqs <- r:
	case <-c.done:
		writeResp(conn, ctlResponse{Error: "master is shutting down"})
		return
	}
	writeResp(conn, <-r.reply)
}

func writeResp(conn net.Conn, r ctlResponse) {
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	b, _ := json.Marshal(r)
	_, _ = conn.Write(append(b, '\n'))
}

// checkPeer allows root and the master's own user.
func checkPeer(conn *net.UnixConn) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return cerr
	}
	if cred.Uid != 0 && int(cred.Uid) != os.Geteuid() {
		return fmt.Errorf("uid %d may not control this master", cred.Uid)
	}
	return nil
}

// flush waits (at most timeout) until every answer the master gave has
// been written: the master calls it before it exits, so a client of
// `-s stop|quit|upgrade` reads the outcome instead of EOF.
func (c *controlServer) flush(timeout time.Duration) {
	done := make(chan struct{})
	go func() {
		c.handlers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(timeout):
	}
}

// remove deletes the socket file (final stop, not after an upgrade).
func (c *controlServer) remove() { _ = os.Remove(c.ln.Addr().String()) }

// close stops accepting; the socket file stays (a new master may own it).
func (c *controlServer) close() {
	select {
	case <-c.done:
	default:
		close(c.done)
	}
	c.ln.Close()
}

// ErrNoControlSocket means nothing listens on the control socket.
var ErrNoControlSocket = errors.New("no master listening on the control socket")

// Command sends cmd to the master at the control socket path and waits
// for its answer (as long as timeout). It returns the master's message,
// or an error carrying the master's error text.
func Command(path, cmd string, timeout time.Duration) (string, *Status, error) {
	conn, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED) {
			return "", nil, ErrNoControlSocket
		}
		return "", nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	b, _ := json.Marshal(ctlRequestWire{Cmd: cmd})
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return "", nil, err
	}
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		return "", nil, fmt.Errorf("no answer from the master: %w", err)
	}
	var r ctlResponse
	if err := json.Unmarshal(line, &r); err != nil {
		return "", nil, fmt.Errorf("malformed answer from the master: %w", err)
	}
	if !r.OK {
		return "", nil, errors.New(r.Error)
	}
	return r.Message, r.Status, nil
}
