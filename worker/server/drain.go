package server

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// Drain timing. A connection idle for IdleQuiet while draining is closed:
// by then its client has either sent its next request (answered with
// Connection: close) or gone quiet, so closing it races with nothing.
// Retired listeners keep accepting until no connection arrived for
// RetireQuiet.
const (
	IdleQuiet   = time.Second
	RetireQuiet = 100 * time.Millisecond
	drainTick   = 50 * time.Millisecond
)

// connTracker follows every connection's state (http.Server.ConnState).
type connTracker struct {
	mu    sync.Mutex
	conns map[net.Conn]*connState
}

type connState struct {
	state http.ConnState
	since time.Time
}

func newConnTracker() *connTracker { return &connTracker{conns: map[net.Conn]*connState{}} }

func (t *connTracker) track(c net.Conn, s http.ConnState) {
	t.mu.Lock()
	switch s {
	case http.StateClosed, http.StateHijacked:
		delete(t.conns, c)
	default:
		cs := t.conns[c]
		if cs == nil {
			cs = &connState{}
			t.conns[c] = cs
		}
		cs.state, cs.since = s, time.Now()
	}
	t.mu.Unlock()
}

// closeQuiet closes connections that have been idle (or accepted without a
// request) for at least quiet, counting from notBefore at the earliest (the
// start of the drain: a client gets the whole quiet period to send its next
// request, which is then answered with Connection: close); it returns how
// many connections remain.
func (t *connTracker) closeQuiet(quiet time.Duration, notBefore time.Time) int {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for c, cs := range t.conns {
		since := cs.since
		if since.Before(notBefore) {
			since = notBefore
		}
		if (cs.state == http.StateIdle || cs.state == http.StateNew) && now.Sub(since) >= quiet {
			_ = c.Close()
			delete(t.conns, c)
		}
	}
	return len(t.conns)
}

// Counts reports active and idle connections.
func (t *connTracker) counts() (active, idle int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, cs := range t.conns {
		if cs.state == http.StateActive {
			active++
		} else {
			idle++
		}
	}
	return
}

// listener wraps a listener so Drain can stop it: at once (Close), or
// after it has been quiet (retire: accept what is queued first).
type listener struct {
	*net.TCPListener
	mu       sync.Mutex
	retiring bool
}

var errRetired = errors.New("listener retired")

func (l *listener) Accept() (net.Conn, error) {
	l.mu.Lock()
	retiring := l.retiring
	l.mu.Unlock()
	if retiring {
		_ = l.TCPListener.SetDeadline(time.Now().Add(RetireQuiet))
	}
	c, err := l.TCPListener.Accept()
	if err != nil && retiring {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			_ = l.TCPListener.Close()
			return nil, errRetired
		}
	}
	return c, err
}

func (l *listener) retire() {
	l.mu.Lock()
	l.retiring = true
	l.mu.Unlock()
	// Wake a blocked Accept so it picks up the quiet deadline.
	_ = l.TCPListener.SetDeadline(time.Now())
}

// Drain stops the server gracefully: listeners stop accepting (retired
// ones after they have been quiet), every further response carries
// Connection: close, connections idle for IdleQuiet are closed, and
// whatever is left at deadline is closed. It returns when no connection
// remains.
func (s *Server) Drain(deadline time.Time, retired map[string]bool) {
	start := s.StopAccepting(retired)
	t := time.NewTicker(drainTick)
	defer t.Stop()
	for time.Now().Before(deadline) {
		if s.conns.closeQuiet(IdleQuiet, start) == 0 && s.acceptorsDone() {
			break
		}
		<-t.C
	}
	_ = s.srv.Close()
	s.closeHandler()
}

// StopAccepting begins a drain: every further response carries
// Connection: close, listeners are closed (retired ones after they have been
// quiet), and a Serve that has not started yet serves nothing. When it
// returns, this process no longer accepts on any non-retired listener, so a
// connection the kernel queues from now on goes to another process sharing
// the socket. It is idempotent and returns when the drain began.
func (s *Server) StopAccepting(retired map[string]bool) time.Time {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if s.stopped {
		return s.drainStart
	}
	s.stopped, s.drainStart = true, time.Now()
	s.draining.Store(true)
	for _, l := range s.lns {
		if retired[l.key] {
			l.ln.retire()
		} else {
			_ = l.ln.Close()
		}
	}
	return s.drainStart
}

// Draining reports whether Drain has begun.
func (s *Server) Draining() bool { return s.draining.Load() }

// Stats reports active and idle connections.
func (s *Server) Stats() (active, idle int) { return s.conns.counts() }
