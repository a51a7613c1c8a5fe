package fastcgi

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// readBufSize is the read buffer of a connection: one full record.
const readBufSize = 64 << 10

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufSize) }}

// conn is one connection to the application. A pooled conn keeps its read
// buffer; a one-shot conn returns it to readerPool when closed.
type conn struct {
	net.Conn
	br        *bufio.Reader
	addr      string
	idleSince time.Time
	reused    bool // it served an earlier request
}

func newConn(c net.Conn, addr string) *conn {
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(c)
	return &conn{Conn: c, br: br, addr: addr}
}

// close closes the connection and recycles its read buffer.
func (c *conn) close() {
	_ = c.Conn.Close()
	if c.br != nil {
		c.br.Reset(nil)
		readerPool.Put(c.br)
		c.br = nil
	}
}

// alive reports whether an idle connection can be reused: nothing is
// buffered, and a non-blocking peek finds neither EOF nor unexpected data
// (php-fpm closes a kept connection when its child exits, e.g. after
// pm.max_requests).
func (c *conn) alive() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := unix.Recvfrom(int(fd), buf[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		alive = errors.Is(rerr, unix.EAGAIN) // EOF or data: not reusable
		return true                          // never wait for readiness
	})
	return err == nil && alive
}
