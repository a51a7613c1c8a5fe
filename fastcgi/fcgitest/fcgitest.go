// Package fcgitest is a fake FastCGI application for tests: it decodes
// responder requests with its own record parser (written from the
// specification, independently of package fastcgi) and lets a handler
// answer with well-formed or deliberately broken records.
package fcgitest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// Request is one decoded responder request.
type Request struct {
	Role     uint16
	KeepConn bool
	ID       uint16
	// Pairs are the params in the order received; Params maps them (the
	// last value of a repeated name wins).
	Pairs  [][2]string
	Params map[string]string
	Stdin  []byte
}

// Handler answers a request through w. When it returns without calling
// End or Close, the server sends End(0, 0).
type Handler func(w *Writer, r *Request)

// Server is a running fake application.
type Server struct {
	Network, Addr string
	ln            net.Listener
	handler       Handler
	accepted      atomic.Int64
	requests      atomic.Int64
	wg            sync.WaitGroup
	mu            sync.Mutex
	conns         map[net.Conn]bool
}

// StartUnix serves handler on a unix socket in a temporary directory.
func StartUnix(t testing.TB, h Handler) *Server {
	t.Helper()
	dir, err := os.MkdirTemp("", "fcgitest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return start(t, "unix", filepath.Join(dir, "fpm.sock"), h)
}

// StartTCP serves handler on 127.0.0.1.
func StartTCP(t testing.TB, h Handler) *Server {
	t.Helper()
	return start(t, "tcp", "127.0.0.1:0", h)
}

func start(t testing.TB, network, addr string, h Handler) *Server {
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Network: network, Addr: ln.Addr().String(), ln: ln, handler: h, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// Accepted counts accepted connections; Requests counts decoded requests.
func (s *Server) Accepted() int64 { return s.accepted.Load() }
func (s *Server) Requests() int64 { return s.requests.Load() }

// Close stops the server and closes its connections.
func (s *Server) Close() {
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.accepted.Add(1)
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serveConn(c)
	}
}

func (s *Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		_ = c.Close()
	}()
	br := bufio.NewReader(c)
	for {
		req, err := readRequest(br)
		if err != nil {
			return
		}
		s.requests.Add(1)
		w := &Writer{c: c, id: req.ID}
		s.handler(w, req)
		if w.closed {
			return
		}
		if !w.ended {
			w.End(0, 0)
		}
		if !req.KeepConn {
			return
		}
	}
}

type record struct {
	typ     uint8
	id      uint16
	content []byte
}

func readRecord(r io.Reader) (record, error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return record{}, err
	}
	if h[0] != 1 {
		return record{}, fmt.Errorf("version %d", h[0])
	}
	n, pad := int(binary.BigEndian.Uint16(h[4:])), int(h[6])
	b := make([]byte, n+pad)
	if _, err := io.ReadFull(r, b); err != nil {
		return record{}, err
	}
	return record{typ: h[1], id: binary.BigEndian.Uint16(h[2:]), content: b[:n]}, nil
}

func readRequest(r io.Reader) (*Request, error) {
	rec, err := readRecord(r)
	if err != nil {
		return nil, err
	}
	if rec.typ != 1 || len(rec.content) != 8 {
		return nil, errors.New("want FCGI_BEGIN_REQUEST")
	}
	req := &Request{
		ID:       rec.id,
		Role:     binary.BigEndian.Uint16(rec.content),
		KeepConn: rec.content[2]&1 != 0,
		Params:   map[string]string{},
	}
	var params []byte
	for paramsDone, stdinDone := false, false; !paramsDone || !stdinDone; {
		rec, err := readRecord(r)
		if err != nil {
			return nil, err
		}
		if rec.id != req.ID {
			return nil, fmt.Errorf("record for id %d inside request %d", rec.id, req.ID)
		}
		switch rec.typ {
		case 4:
			if len(rec.content) == 0 {
				paramsDone = true
			}
			params = append(params, rec.content...)
		case 5:
			if len(rec.content) == 0 {
				stdinDone = true
			}
			req.Stdin = append(req.Stdin, rec.content...)
		default:
			return nil, fmt.Errorf("unexpected record type %d", rec.typ)
		}
	}
	pairs, err := decodePairs(params)
	if err != nil {
		return nil, err
	}
	req.Pairs = pairs
	for _, p := range pairs {
		req.Params[p[0]] = p[1]
	}
	return req, nil
}

func decodePairs(b []byte) ([][2]string, error) {
	var out [][2]string
	readLen := func() (int, error) {
		if len(b) == 0 {
			return 0, errors.New("truncated pair")
		}
		if b[0] < 0x80 {
			n := int(b[0])
			b = b[1:]
			return n, nil
		}
		if len(b) < 4 {
			return 0, errors.New("truncated length")
		}
		n := int(binary.BigEndian.Uint32(b) & 0x7fffffff)
		b = b[4:]
		return n, nil
	}
	for len(b) > 0 {
		nl, err := readLen()
		if err != nil {
			return nil, err
		}
		vl, err := readLen()
		if err != nil {
			return nil, err
		}
		if nl+vl > len(b) {
			return nil, errors.New("pair overruns the stream")
		}
		out = append(out, [2]string{string(b[:nl]), string(b[nl : nl+vl])})
		b = b[nl+vl:]
	}
	return out, nil
}
