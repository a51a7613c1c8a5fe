package ipc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listenerFile opens a TCP listener on loopback and returns it with a
// dup of its socket as *os.File.
func listenerFile(t *testing.T) (net.Listener, *os.File) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	return ln, f
}

// acceptOne dials addr, accepts on ln and checks that bytes flow both ways.
func acceptOne(t *testing.T, ln net.Listener, addr string) {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := ln.Accept(); ch <- res{c, err} }()
	cc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var r res
	select {
	case r = <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("accept timed out")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.c.Close()
	if _, err := cc.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(r.c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("read %q, %v", buf, err)
	}
}

func TestPassTCPListener(t *testing.T) {
	m, w := newPair(t)
	ln, lf := listenerFile(t)
	addr := ln.Addr().String()
	in := Init{Gen: 1, Listeners: []Listener{{Key: "tcp:" + addr + "#0", Addr: addr, FD: 0}}, AccessLog: -1, ErrorLog: -1}
	if err := m.Send(MsgInit, in, lf); err != nil {
		t.Fatal(err)
	}
	// The sender's copies are its own business: close them all, so the
	// socket lives on only through the received fd.
	lf.Close()
	ln.Close()

	msg, err := w.Recv()
	if err != nil {
		t.Fatal(err)
	}
	defer msg.CloseFiles()
	var got Init
	if err := msg.Decode(&got); err != nil {
		t.Fatal(err)
	}
	f, err := msg.TakeFile(got.Listeners[0].FD)
	if err != nil {
		t.Fatal(err)
	}
	ln2, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	if ln2.Addr().String() != addr {
		t.Fatalf("received listener on %s, want %s", ln2.Addr(), addr)
	}
	acceptOne(t, ln2, addr)
}

func TestPassSeveralFDs(t *testing.T) {
	m, w := newPair(t)
	dir := t.TempDir()
	ln0, lf0 := listenerFile(t)
	ln1, lf1 := listenerFile(t)
	defer ln0.Close()
	defer ln1.Close()
	open := func(name string) *os.File {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	access, errlog := open("access.log"), open("error.log")
	in := Init{
		Gen: 3, Slot: 1, Config: json.RawMessage(`{}`),
		Listeners: []Listener{
			{Key: "a#1", Addr: ln0.Addr().String(), FD: 1},
			{Key: "b#1", Addr: ln1.Addr().String(), FD: 3},
		},
		AccessLog: 0, ErrorLog: 2,
	}
	if err := m.Send(MsgInit, in, access, lf0, errlog, lf1); err != nil {
		t.Fatal(err)
	}
	closeAll([]*os.File{access, lf0, errlog, lf1})

	msg, err := w.Recv()
	if err != nil {
		t.Fatal(err)
	}
	defer msg.CloseFiles()
	if len(msg.Files) != 4 {
		t.Fatalf("%d files, want 4", len(msg.Files))
	}
	var got Init
	if err := msg.Decode(&got); err != nil {
		t.Fatal(err)
	}
	for _, l := range got.Listeners {
		f, err := msg.TakeFile(l.FD)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if ln.Addr().String() != l.Addr {
			t.Fatalf("%s: listener on %s, want %s", l.Key, ln.Addr(), l.Addr)
		}
		acceptOne(t, ln, l.Addr)
		ln.Close()
	}
	for idx, name := range map[int]string{got.AccessLog: "access.log", got.ErrorLog: "error.log"} {
		f, err := msg.TakeFile(idx)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "line for %s\n", name)
		f.Close()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != "line for "+name+"\n" {
			t.Fatalf("%s holds %q, %v", name, b, err)
		}
	}

	// Reopen hands over new log files the same way.
	access2, errlog2 := open("access.log.new"), open("error.log.new")
	if err := m.Send(MsgReopen, Reopen{AccessLog: 1, ErrorLog: 0}, errlog2, access2); err != nil {
		t.Fatal(err)
	}
	closeAll([]*os.File{access2, errlog2})
	msg2, err := w.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var r Reopen
	if err := msg2.Decode(&r); err != nil {
		t.Fatal(err)
	}
	af, err := msg2.TakeFile(r.AccessLog)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := af.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := os.Stat(filepath.Join(dir, "access.log.new")); !os.SameFile(fi, want) {
		t.Fatal("reopened access log fd is not access.log.new")
	}
	af.Close()
	msg2.CloseFiles()
}

func TestMaxFDs(t *testing.T) {
	m, w := newPair(t)
	before := countFDs(t)
	fs := devNulls(t, MaxFDs+1)

	if err := m.Send(MsgReopen, Reopen{AccessLog: -1, ErrorLog: -1}, fs...); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("sending %d fds: %v, want an error", len(fs), err)
	}
	// MaxFDs fds plus the memfd of a large payload fit in one message.
	big := Init{Config: json.RawMessage(`"` + strings.Repeat("x", 100<<10) + `"`), AccessLog: -1, ErrorLog: -1}
	for _, payload := range []any{Reopen{AccessLog: 0, ErrorLog: MaxFDs - 1}, big} {
		if err := m.Send(MsgInit, payload, fs[:MaxFDs]...); err != nil {
			t.Fatal(err)
		}
		msg, err := w.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.Files) != MaxFDs {
			t.Fatalf("%d files, want %d", len(msg.Files), MaxFDs)
		}
		msg.CloseFiles()
	}
	closeAll(fs)
	if after := countFDs(t); after != before {
		t.Fatalf("open fds %d before, %d after", before, after)
	}
}

func TestSendRejectsBadArgs(t *testing.T) {
	m, _ := newPair(t)
	closed := devNulls(t, 1)[0]
	closed.Close()
	cases := []struct {
		name    string
		typ     MsgType
		payload any
		files   []*os.File
	}{
		{"type 0", 0, nil, nil},
		{"unmarshalable", MsgStats, func() {}, nil},
		{"nil file", MsgReopen, nil, []*os.File{nil}},
		{"closed file", MsgReopen, nil, []*os.File{closed}},
		{"payload over 64 MiB", MsgInit, make([]byte, MaxPayload/4*3), nil}, // base64: MaxPayload+2 bytes
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := m.Send(tc.typ, tc.payload, tc.files...); err == nil {
				t.Fatal("Send succeeded")
			}
		})
	}
}

func TestLargePayloadViaMemfd(t *testing.T) {
	// A 1 MiB config snapshot.
	var sb strings.Builder
	sb.WriteString(`{"vhosts":[`)
	for i := 0; sb.Len() < 1<<20; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"domains":["host%d.example"],"routes":[{"path":"/p%d","proxy":{"upstream":"http://10.0.%d.%d:8080"}}]}`, i, i, i/256%256, i%256)
	}
	sb.WriteString(`]}`)
	cfg := json.RawMessage(sb.String())
	if !json.Valid(cfg) || len(cfg) < 1<<20 {
		t.Fatalf("bad test config (%d bytes)", len(cfg))
	}
	in := Init{Gen: 9, Config: cfg, AccessLog: -1, ErrorLog: -1}

	t.Run("wire", func(t *testing.T) {
		m, peer := rawPair(t)
		if err := m.Send(MsgInit, in); err != nil {
			t.Fatal(err)
		}
		b, fds := recvRaw(t, peer)
		defer closeFDs(fds)
		h, body, err := parseFrame(b, len(fds))
		if err != nil {
			t.Fatal(err)
		}
		if h.flags&flagMemfd == 0 || len(body) != 0 || len(fds) != 1 || h.nfds != 0 {
			t.Fatalf("flags %#x, %d inline bytes, %d fds, nfds %d: want the payload in one memfd", h.flags, len(body), len(fds), h.nfds)
		}
		seals, err := unix.FcntlInt(uintptr(fds[0]), unix.F_GET_SEALS, 0)
		if err != nil || seals&memfdSeals != memfdSeals {
			t.Fatalf("seals %#x, %v", seals, err)
		}
		if _, err := unix.Write(fds[0], []byte("x")); err == nil {
			t.Fatal("sealed memfd is writable")
		}
	})
	t.Run("roundtrip", func(t *testing.T) {
		m, w := newPair(t)
		before := countFDs(t)
		if err := m.Send(MsgInit, in); err != nil {
			t.Fatal(err)
		}
		msg, err := w.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.Files) != 0 {
			t.Fatalf("memfd leaked into Files (%d)", len(msg.Files))
		}
		var got Init
		if err := msg.Decode(&got); err != nil {
			t.Fatal(err)
		}
		if got.Gen != 9 || !bytes.Equal(got.Config, cfg) {
			t.Fatalf("config differs (gen %d, %d bytes, want %d)", got.Gen, len(got.Config), len(cfg))
		}
		if after := countFDs(t); after != before {
			t.Fatalf("open fds %d before, %d after", before, after)
		}
	})
	t.Run("inline boundary", func(t *testing.T) {
		m, peer := rawPair(t)
		for _, size := range []int{MaxInlinePayload, MaxInlinePayload + 1} {
			// json.Marshal of a string adds two quotes.
			if err := m.Send(MsgFatal, strings.Repeat("e", size-2)); err != nil {
				t.Fatal(err)
			}
			b, fds := recvRaw(t, peer)
			closeFDs(fds)
			h, body, err := parseFrame(b, len(fds))
			if err != nil {
				t.Fatal(err)
			}
			viaMemfd := h.flags&flagMemfd != 0
			if viaMemfd != (size > MaxInlinePayload) || int(h.length) != size || (!viaMemfd && len(body) != size) {
				t.Fatalf("size %d: memfd %v, length %d, inline %d", size, viaMemfd, h.length, len(body))
			}
		}
	})
}

func TestEOFWhenPeerCloses(t *testing.T) {
	m, w := newPair(t)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := m.Recv(); err != io.EOF {
			t.Fatalf("Recv = %v, want io.EOF", err)
		}
	}
	if err := m.Send(MsgStop, nil); err == nil {
		t.Fatal("Send to a closed peer succeeded")
	}
}

// A worker that sends Fatal and exits without reading what the master
// sent last must still deliver the Fatal (the kernel reports ECONNRESET
// first), then EOF.
func TestPeerClosedWithUnreadInput(t *testing.T) {
	for _, how := range []string{"Close", "close(2)"} {
		t.Run(how, func(t *testing.T) {
			m, wf, err := Pair()
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			peer, err := unix.Dup(int(wf.Fd()))
			if err != nil {
				t.Fatal(err)
			}
			wf.Close()
			if err := m.Send(MsgDrain, Drain{Deadline: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if how == "Close" {
				w, err := FromFD(peer)
				if err != nil {
					t.Fatal(err)
				}
				if err := w.Send(MsgFatal, Fatal{Error: "bad config"}); err != nil {
					t.Fatal(err)
				}
				w.Close()
			} else {
				sendRaw(t, peer, frame(header{typ: MsgFatal, seq: 1, length: 2}, []byte("{}")), nil)
				unix.Close(peer)
			}
			msg, err := m.Recv()
			if err != nil {
				t.Fatalf("Recv = %v, want the fatal message", err)
			}
			if msg.Type != MsgFatal {
				t.Fatalf("got %s, want fatal", msg.Type)
			}
			if _, err := m.Recv(); err != io.EOF {
				t.Fatalf("Recv = %v, want io.EOF", err)
			}
		})
	}
}

func TestCloseUnblocksRecv(t *testing.T) {
	m, _ := newPair(t)
	done := make(chan error, 1)
	go func() {
		_, err := m.Recv()
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Recv returned early: %v", err)
	default:
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Recv = %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Recv")
	}
	if _, err := m.Recv(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Recv after Close = %v", err)
	}
	if err := m.Send(MsgStop, nil); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Send after Close = %v", err)
	}
	if err := m.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
}

// fillQueue sends until the peer's queue is full (a short write deadline
// expires) and clears the deadline again.
func fillQueue(t *testing.T, c *Conn) int {
	t.Helper()
	for n := 0; ; n++ {
		c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		err := c.Send(MsgStats, Stats{Active: n})
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.SetWriteDeadline(time.Time{})
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		if n > 1<<20 {
			t.Fatal("queue never filled")
		}
	}
}

func TestCloseUnblocksSend(t *testing.T) {
	m, w := newPair(t)
	if n := fillQueue(t, m); n == 0 {
		t.Fatal("no message fit")
	}
	done := make(chan error, 1)
	go func() { done <- m.Send(MsgStats, Stats{}) }()
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Send returned early: %v", err)
	default:
	}
	m.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Send = %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Send")
	}
	// Everything sent before Close is still delivered, then EOF.
	for {
		msg, err := w.Recv()
		if err == io.EOF {
			break
		}
		if err != nil || msg.Type != MsgStats {
			t.Fatalf("Recv = %v, %v", msg, err)
		}
	}
}

func TestReadDeadline(t *testing.T) {
	m, w := newPair(t)
	m.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	if _, err := m.Recv(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Recv = %v, want a deadline error", err)
	}
	m.SetReadDeadline(time.Time{})
	if err := w.Send(MsgReady, Ready{Pid: 1}); err != nil {
		t.Fatal(err)
	}
	if msg, err := m.Recv(); err != nil || msg.Type != MsgReady {
		t.Fatalf("Recv after clearing the deadline = %v, %v", msg, err)
	}
}

func TestConcurrentSends(t *testing.T) {
	m, w := newPair(t)
	const senders, each = 8, 150
	type payload struct {
		G, I int
		Pad  string `json:",omitempty"`
	}
	before := countFDs(t)
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for g := range senders {
		wg.Go(func() {
			f, err := os.Open(os.DevNull)
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			for i := range each {
				p := payload{G: g, I: i}
				var files []*os.File
				switch {
				case i%50 == 7:
					p.Pad = strings.Repeat("p", 40<<10) // via memfd
				case i%10 == 3:
					files = []*os.File{f}
				case i%5 == 1:
					p.Pad = strings.Repeat("q", 20<<10) // big inline frame
				}
				if err := m.Send(MsgStats, p, files...); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	next := make([]int, senders)
	var lastSeq uint32
	for range senders * each {
		msg, err := w.Recv()
		if err != nil {
			t.Fatal(err)
		}
		var p payload
		if err := msg.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if msg.Seq != lastSeq+1 {
			t.Fatalf("seq %d after %d", msg.Seq, lastSeq)
		}
		lastSeq = msg.Seq
		if p.I != next[p.G] {
			t.Fatalf("sender %d: message %d, want %d", p.G, p.I, next[p.G])
		}
		next[p.G]++
		wantFiles := 0
		if p.I%10 == 3 && p.I%50 != 7 {
			wantFiles = 1
		}
		if len(msg.Files) != wantFiles {
			t.Fatalf("sender %d message %d: %d files", p.G, p.I, len(msg.Files))
		}
		msg.CloseFiles()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if after := countFDs(t); after != before {
		t.Fatalf("open fds %d before, %d after", before, after)
	}
}

func TestPeerCred(t *testing.T) {
	m, w := newPair(t)
	for _, c := range []*Conn{m, w} {
		cred, err := c.PeerCred()
		if err != nil {
			t.Fatal(err)
		}
		// A socketpair records its creator for both ends.
		if int(cred.Pid) != os.Getpid() || int(cred.Uid) != os.Getuid() || int(cred.Gid) != os.Getgid() {
			t.Fatalf("cred %+v, want pid %d uid %d gid %d", cred, os.Getpid(), os.Getuid(), os.Getgid())
		}
	}
}

func TestFromFDRejectsOtherFDs(t *testing.T) {
	pair := func(typ int) int {
		fds, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fds[1]) })
		return fds[0]
	}
	sock := func(dom, typ int) int {
		fd, err := unix.Socket(dom, typ|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[1]) })
	file, err := os.CreateTemp(t.TempDir(), "f")
	if err != nil {
		t.Fatal(err)
	}
	fileFD, _ := unix.Dup(int(file.Fd()))
	file.Close()

	cases := []struct {
		name string
		fd   int
	}{
		{"unix stream", pair(unix.SOCK_STREAM)},
		{"unix dgram", pair(unix.SOCK_DGRAM)},
		{"unconnected seqpacket", sock(unix.AF_UNIX, unix.SOCK_SEQPACKET)},
		{"tcp", sock(unix.AF_INET, unix.SOCK_STREAM)},
		{"pipe", p[0]},
		{"regular file", fileFD},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer unix.Close(tc.fd)
			if c, err := FromFD(tc.fd); err == nil {
				c.Close()
				t.Fatal("FromFD accepted it")
			}
			// The fd is left open for the caller.
			if _, err := unix.FcntlInt(uintptr(tc.fd), unix.F_GETFD, 0); err != nil {
				t.Fatalf("fd closed by FromFD: %v", err)
			}
		})
	}
	t.Run("bad fd", func(t *testing.T) {
		if _, err := FromFD(1 << 20); err == nil {
			t.Fatal("FromFD accepted a bad fd")
		}
	})
}

func TestFromFDSetsCloexec(t *testing.T) {
	_, wf, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	defer wf.Close()
	fd, err := unix.Dup(int(wf.Fd())) // dup: no FD_CLOEXEC, like an inherited fd 3
	if err != nil {
		t.Fatal(err)
	}
	c, err := FromFD(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Fatalf("F_GETFD = %#x, %v: want FD_CLOEXEC", flags, err)
	}
}

func TestPairBuffers(t *testing.T) {
	m, wf, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	defer wf.Close()
	wfd, err := rawFD(wf)
	if err != nil {
		t.Fatal(err)
	}
	mfd, err := rawFD(m.f)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range []int{mfd, wfd} {
		for _, opt := range []int{unix.SO_SNDBUF, unix.SO_RCVBUF} {
			v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, opt)
			if err != nil {
				t.Fatal(err)
			}
			// The kernel reports twice the requested size; without
			// CAP_NET_ADMIN it caps the request at wmem_max/rmem_max.
			if v < sockBuf {
				t.Skipf("socket buffer %d < %d: kernel cap without CAP_NET_ADMIN", v, sockBuf)
			}
		}
	}
}
