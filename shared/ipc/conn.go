package ipc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sockBuf is the SO_SNDBUF/SO_RCVBUF Pair asks for on both ends.
const sockBuf = 1 << 20

// Conn is one end of a control channel. Send may be called from any
// number of goroutines; Recv from one goroutine at a time. Close may be
// called at any time and wakes a blocked Recv or Send.
//
// The socket is non-blocking and registered with the Go runtime poller
// (through an *os.File), so a blocked Recv parks its goroutine instead of
// a thread, deadlines work, and Close wakes it.
type Conn struct {
	f      *os.File
	rc     syscall.RawConn
	closed atomic.Bool

	wmu sync.Mutex // one frame at a time, in sequence order
	seq uint32     // last sequence number sent; guarded by wmu

	rbuf []byte // MaxFrame bytes; owned by the Recv goroutine
	oob  []byte // control buffer for MaxFDs+1 fds; owned by the Recv goroutine
}

// Pair creates a control channel: the master-side *Conn and the
// worker-side end as an *os.File for exec.Cmd.ExtraFiles (the caller
// closes it after cmd.Start). Both ends are close-on-exec (ExtraFiles
// clears that in the child only). Pair asks for 1 MiB send and receive
// buffers on both ends; it uses SO_SNDBUFFORCE/SO_RCVBUFFORCE when the
// process has CAP_NET_ADMIN and otherwise accepts the kernel's cap
// (net.core.wmem_max/rmem_max), which still fits a MaxFrame frame.
func Pair() (*Conn, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("ipc: socketpair: %w", err)
	}
	for _, fd := range fds {
		if err := setBuffers(fd); err != nil {
			unix.Close(fds[0])
			unix.Close(fds[1])
			return nil, nil, err
		}
	}
	c, err := newConn(fds[0], "fluxheim-ipc-master")
	if err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, nil, err
	}
	return c, os.NewFile(uintptr(fds[1]), "fluxheim-ipc-worker"), nil
}

func setBuffers(fd int) error {
	for _, o := range [][2]int{{unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}, {unix.SO_RCVBUFFORCE, unix.SO_RCVBUF}} {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, o[0], sockBuf) == nil {
			continue
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, o[1], sockBuf); err != nil {
			return fmt.Errorf("ipc: setting socket buffer: %w", err)
		}
	}
	return nil
}

// FromFD wraps an inherited fd (in a worker: 3) and takes ownership of it:
// Close closes it. It checks that fd is a connected AF_UNIX SOCK_SEQPACKET
// socket and on failure returns an error and leaves fd untouched. On
// success it marks fd close-on-exec (so the worker's own children do not
// inherit the channel) and switches it to non-blocking mode.
func FromFD(fd int) (*Conn, error) {
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return nil, fmt.Errorf("ipc: fd %d is not a socket: %w", fd, err)
	}
	dom, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return nil, fmt.Errorf("ipc: fd %d: SO_DOMAIN: %w", fd, err)
	}
	if dom != unix.AF_UNIX || typ != unix.SOCK_SEQPACKET {
		return nil, fmt.Errorf("ipc: fd %d is not a unix SOCK_SEQPACKET socket (domain %d, type %d)", fd, dom, typ)
	}
	if _, err := unix.Getpeername(fd); err != nil {
		return nil, fmt.Errorf("ipc: fd %d is not connected: %w", fd, err)
	}
	unix.CloseOnExec(fd)
	return newConn(fd, fmt.Sprintf("fluxheim-ipc-fd%d", fd))
}

func newConn(fd int, name string) (*Conn, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, fmt.Errorf("ipc: set non-blocking: %w", err)
	}
	// os.NewFile registers a non-blocking fd with the runtime poller.
	f := os.NewFile(uintptr(fd), name)
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("ipc: %w", err)
	}
	return &Conn{
		f:    f,
		rc:   rc,
		rbuf: make([]byte, MaxFrame),
		oob:  make([]byte, unix.CmsgSpace(4*(MaxFDs+1))),
	}, nil
}

// Send encodes payload as JSON (nil means an empty payload) and sends it
// with files as one message, numbered with the next sequence number.
// Safe for concurrent use: frames never interleave and sequence numbers
// reach the peer in increasing order. Send does not take ownership of
// files; they must stay open until Send returns. At most MaxFDs files.
// A payload larger than MaxInlinePayload travels in a sealed memfd; one
// larger than MaxPayload is refused. Send blocks while the peer's queue
// is full (see SetWriteDeadline); after Close it returns an error
// wrapping net.ErrClosed.
func (c *Conn) Send(t MsgType, payload any, files ...*os.File) error {
	if t == 0 {
		return errors.New("ipc: send: message type 0")
	}
	if len(files) > MaxFDs {
		return fmt.Errorf("ipc: send %s: %d fds, at most %d per message", t, len(files), MaxFDs)
	}
	var body []byte
	if payload != nil {
		var err error
		if body, err = json.Marshal(payload); err != nil {
			return fmt.Errorf("ipc: send %s: %w", t, err)
		}
	}
	if len(body) > MaxPayload {
		return fmt.Errorf("ipc: send %s: payload of %d bytes over the limit of %d", t, len(body), MaxPayload)
	}
	fds := make([]int, 0, len(files)+1)
	for i, f := range files {
		fd, err := rawFD(f)
		if err != nil {
			return fmt.Errorf("ipc: send %s: file %d: %w", t, i, err)
		}
		fds = append(fds, fd)
	}
	defer runtime.KeepAlive(files)

	h := header{typ: t, nfds: uint16(len(files)), length: uint32(len(body))}
	inline := body
	if len(body) > MaxInlinePayload {
		memfd, err := sealedMemfd(body)
		if err != nil {
			return err
		}
		defer unix.Close(memfd)
		h.flags |= flagMemfd
		inline = nil
		fds = append(fds, memfd)
	}
	frame := make([]byte, HeaderLen+len(inline))
	copy(frame[HeaderLen:], inline)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}

	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed.Load() {
		return fmt.Errorf("ipc: send %s: %w", t, net.ErrClosed)
	}
	h.seq = c.seq + 1
	h.put(frame)
	var n int
	var serr error
	err := c.rc.Write(func(fd uintptr) bool {
		for {
			n, serr = unix.SendmsgN(int(fd), frame, oob, nil, unix.MSG_NOSIGNAL)
			switch serr {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false
			}
			return true
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return c.wrapErr("send "+t.String(), err)
	}
	if n != len(frame) {
		return fmt.Errorf("ipc: send %s: short write %d of %d bytes", t, n, len(frame))
	}
	c.seq = h.seq
	return nil
}

// rawFD returns f's descriptor without switching it to blocking mode (as
// (*os.File).Fd would). The caller keeps f alive while using the fd.
func rawFD(f *os.File) (int, error) {
	if f == nil {
		return -1, errors.New("nil *os.File")
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		return -1, err
	}
	return fd, nil
}

// Recv blocks for the next message. It returns io.EOF once the peer has
// closed its end and every message it sent before has been read (a peer
// that died with unread input still delivers what it sent first). A frame
// that violates the protocol yields an error wrapping ErrProtocol, with
// all of its fds closed; the next Recv reads the next frame. After Close
// Recv returns an error wrapping net.ErrClosed, after a read deadline one
// wrapping os.ErrDeadlineExceeded. Not safe for concurrent Recv calls.
//
// A zero-length datagram is indistinguishable from end of stream on a
// SEQPACKET socket; Send never produces one, so it reads as io.EOF.
func (c *Conn) Recv() (*Msg, error) {
	if c.closed.Load() {
		return nil, fmt.Errorf("ipc: recv: %w", net.ErrClosed)
	}
	var n, oobn, rflags int
	var rerr error
	err := c.rc.Read(func(fd uintptr) bool {
		resets := 0
		for {
			n, oobn, rflags, _, rerr = unix.Recvmsg(int(fd), c.rbuf, c.oob, unix.MSG_CMSG_CLOEXEC)
			switch {
			case rerr == unix.EINTR:
				continue
			case rerr == unix.ECONNRESET && resets < 4:
				// The peer closed with unread input. The kernel reports
				// that once (and clears it) before the frames the peer
				// sent, which are still queued: read on.
				resets++
				continue
			case rerr == unix.EAGAIN:
				return false
			}
			return true
		}
	})
	if err != nil {
		return nil, c.wrapErr("recv", err)
	}
	fds := parseRights(c.oob[:oobn])
	if rerr != nil {
		closeFDs(fds)
		return nil, c.wrapErr("recv", rerr)
	}
	if n == 0 && len(fds) == 0 && rflags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) == 0 {
		if c.closed.Load() {
			// Close's shutdown(2) can wake us before the poller does.
			return nil, fmt.Errorf("ipc: recv: %w", net.ErrClosed)
		}
		return nil, io.EOF
	}
	if rflags&unix.MSG_TRUNC != 0 {
		closeFDs(fds)
		return nil, protoErr("frame truncated: larger than %d bytes", MaxFrame)
	}
	if rflags&unix.MSG_CTRUNC != 0 {
		closeFDs(fds)
		return nil, protoErr("control data truncated: more than %d fds", MaxFDs+1)
	}
	h, body, err := parseFrame(c.rbuf[:n], len(fds))
	if err != nil {
		closeFDs(fds)
		return nil, err
	}
	var payload []byte
	if h.flags&flagMemfd != 0 {
		memfd := fds[len(fds)-1]
		fds = fds[:len(fds)-1]
		payload, err = readSealedMemfd(memfd, h.length)
		unix.Close(memfd)
		if err != nil {
			closeFDs(fds)
			return nil, err
		}
	} else if len(body) > 0 {
		payload = append([]byte(nil), body...)
	}
	m := &Msg{Type: h.typ, Seq: h.seq, Payload: payload}
	if len(fds) > 0 {
		m.Files = make([]*os.File, len(fds))
		for i, fd := range fds {
			m.Files[i] = os.NewFile(uintptr(fd), fmt.Sprintf("ipc-%s-fd%d", h.typ, i))
		}
	}
	return m, nil
}

// parseRights collects the fds of every SCM_RIGHTS control message in oob.
// Other control messages are ignored.
func parseRights(oob []byte) []int {
	var fds []int
	for len(oob) > 0 {
		hdr, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			break
		}
		if hdr.Level == unix.SOL_SOCKET && hdr.Type == unix.SCM_RIGHTS {
			rights, err := unix.ParseUnixRights(&unix.SocketControlMessage{Header: hdr, Data: data})
			if err == nil {
				fds = append(fds, rights...)
			}
		}
		oob = rest
	}
	return fds
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// wrapErr names the operation and turns the poller's "file closed" into
// net.ErrClosed once Close has been called.
func (c *Conn) wrapErr(op string, err error) error {
	if c.closed.Load() && !errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("ipc: %s: %w", op, net.ErrClosed)
	}
	return fmt.Errorf("ipc: %s: %w", op, err)
}

// Close shuts the socket down (so the peer sees EOF even if the fd was
// duplicated somewhere) and closes it. It wakes a pending Recv or Send,
// which then return an error wrapping net.ErrClosed. Closing twice
// returns an error wrapping net.ErrClosed.
func (c *Conn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return fmt.Errorf("ipc: close: %w", net.ErrClosed)
	}
	_ = c.rc.Control(func(fd uintptr) { _ = unix.Shutdown(int(fd), unix.SHUT_RDWR) })
	return c.f.Close()
}

// SetReadDeadline makes a pending and future Recv fail with an error
// wrapping os.ErrDeadlineExceeded after t; the zero time clears it.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.f.SetReadDeadline(t) }

// SetWriteDeadline makes a Send blocked on a full peer queue fail with an
// error wrapping os.ErrDeadlineExceeded after t; the zero time clears it.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }

// PeerCred returns SO_PEERCRED of the peer (pid, uid, gid). On a
// socketpair the kernel records the process that created the pair for
// both ends: in a worker it identifies the master (pid = getppid()), in
// the master it is the master itself, so the master learns a worker's
// pid from exec.Cmd.Process (and Ready), not from PeerCred.
func (c *Conn) PeerCred() (*unix.Ucred, error) {
	var cred *unix.Ucred
	var gerr error
	if err := c.rc.Control(func(fd uintptr) {
		cred, gerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, c.wrapErr("peercred", err)
	}
	if gerr != nil {
		return nil, fmt.Errorf("ipc: SO_PEERCRED: %w", gerr)
	}
	return cred, nil
}
