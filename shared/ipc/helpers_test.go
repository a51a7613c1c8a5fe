package ipc

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// newPair returns both ends of a channel as Conns, the worker end built
// through FromFD as in a real worker.
func newPair(t *testing.T) (master, worker *Conn) {
	t.Helper()
	m, wf, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := rawFD(wf)
	if err != nil {
		t.Fatal(err)
	}
	dup, err := unix.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	wf.Close()
	w, err := FromFD(dup)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); w.Close() })
	return m, w
}

// rawPair returns the master Conn and the worker end as a plain blocking
// fd, for writing or reading frames by hand.
func rawPair(t *testing.T) (*Conn, int) {
	t.Helper()
	m, wf, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Dup(int(wf.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	wf.Close()
	t.Cleanup(func() { m.Close(); unix.Close(fd) })
	return m, fd
}

// countFDs returns the number of open fds of this process.
func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// devNulls opens n fds on /dev/null.
func devNulls(t *testing.T, n int) []*os.File {
	t.Helper()
	fs := make([]*os.File, n)
	for i := range fs {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		fs[i] = f
	}
	return fs
}

// rawNulls opens n raw fds (not wrapped in *os.File) on /dev/null; the
// caller closes them with closeFDs.
func rawNulls(t *testing.T, n int) []int {
	t.Helper()
	fds := make([]int, n)
	for i := range fds {
		fd, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds[i] = fd
	}
	return fds
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		if f != nil {
			f.Close()
		}
	}
}

func fdsOf(t *testing.T, fs []*os.File) []int {
	t.Helper()
	out := make([]int, len(fs))
	for i, f := range fs {
		fd, err := rawFD(f)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = fd
	}
	return out
}

// frame builds a raw frame with the given header and inline body.
func frame(h header, body []byte) []byte {
	b := make([]byte, HeaderLen+len(body))
	h.put(b)
	copy(b[HeaderLen:], body)
	return b
}

// sendRaw writes one datagram with the given fds on a raw fd.
func sendRaw(t *testing.T, fd int, b []byte, fds []int) {
	t.Helper()
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if err := unix.Sendmsg(fd, b, oob, nil, 0); err != nil {
		t.Fatalf("sendmsg: %v", err)
	}
}

// recvRaw reads one datagram on a raw (blocking) fd and returns its bytes
// and fds.
func recvRaw(t *testing.T, fd int) ([]byte, []int) {
	t.Helper()
	buf := make([]byte, MaxFrame)
	oob := make([]byte, unix.CmsgSpace(4*(MaxFDs+1)))
	n, oobn, flags, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		t.Fatalf("recvmsg: %v", err)
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		t.Fatalf("recvmsg flags %#x", flags)
	}
	return buf[:n], parseRights(oob[:oobn])
}
