package master

import (
	"context"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// fdRegistry is where sockets are registered so a binary upgrade hands
// them to the new master (tableflip's Fds in production).
type fdRegistry interface {
	File(name string) (*os.File, error)
	AddFile(name string, f *os.File) error
}

// sockets owns every listening socket for the life of its address: one
// SO_REUSEPORT socket per worker slot and address (or one shared socket
// per address with reuseport = false or a systemd socket without
// SO_REUSEPORT). The slot count only grows, so fewer workers never
// orphan a socket: worker i serves every slot s with s % workers == i.
type sockets struct {
	reg   fdRegistry
	addrs map[string]*addrSockets // by listen address
}

type addrSockets struct {
	addr   string
	shared bool       // one socket for every worker
	slots  []*os.File // slot → socket (the master's copy)
}

func newSockets(reg fdRegistry) *sockets {
	return &sockets{reg: reg, addrs: map[string]*addrSockets{}}
}

// key names a socket for the registry and for workers.
func key(addr string, slot int) string { return "tcp:" + addr + "#" + strconv.Itoa(slot) }

// adopt takes over already open listening sockets (systemd socket
// activation) as slot 0 of their addresses. A socket with SO_REUSEPORT
// can get sibling slots; one without is shared by all workers.
func (s *sockets) adopt(addr string, f *os.File) error {
	rp, err := unix.GetsockoptInt(int(f.Fd()), unix.SOL_SOCKET, unix.SO_REUSEPORT)
	if err != nil {
		return err
	}
	s.addrs[addr] = &addrSockets{addr: addr, shared: rp == 0, slots: []*os.File{f}}
	return s.reg.AddFile(key(addr, 0), f)
}

// ensure makes sure every address has n slots (1 when not reuseport),
// taking sockets inherited from a previous master first. It returns the
// keys it created so a failed reload can roll them back.
//
// Inherited sockets (binary upgrade) are taken as they are: every slot the
// previous master had, even beyond n (tableflip closes the inherited fds
// nobody took, and connections queued on them would be reset), and the
// kind they were made with: a socket without SO_REUSEPORT (adopted from
// systemd, or reuseport = false) stays the one shared socket of its
// address, since no sibling slot can bind next to it.
func (s *sockets) ensure(addrs []string, n int, reuseport bool) ([]string, error) {
	var created []string
	for _, a := range addrs {
		as := s.addrs[a]
		if as == nil {
			as = &addrSockets{addr: a, shared: !reuseport}
			for slot := 0; ; slot++ {
				f, err := s.reg.File(key(a, slot))
				if err != nil {
					s.rollback(created)
					return nil, fmt.Errorf("inherited socket %s: %w", key(a, slot), err)
				}
				if f == nil {
					break
				}
				if slot == 0 {
					rp, err := unix.GetsockoptInt(int(f.Fd()), unix.SOL_SOCKET, unix.SO_REUSEPORT)
					if err != nil {
						f.Close()
						s.rollback(created)
						return nil, fmt.Errorf("inherited socket %s: %w", key(a, slot), err)
					}
					as.shared = rp == 0
				}
				as.slots = append(as.slots, f)
			}
			s.addrs[a] = as
		}
		want := n
		if as.shared {
			want = 1
		}
		for slot := len(as.slots); slot < want; slot++ {
			k := key(a, slot)
			f, err := s.reg.File(k)
			if err != nil {
				s.rollback(created)
				return nil, err
			}
			if f == nil {
				if f, err = listenSocket(a, !as.shared); err != nil {
					s.rollback(created)
					return nil, fmt.Errorf("listen %s: %w", a, err)
				}
				if err := s.reg.AddFile(k, f); err != nil {
					f.Close()
					s.rollback(created)
					return nil, err
				}
				created = append(created, k)
			}
			as.slots = append(as.slots, f)
		}
	}
	return created, nil
}

// rollback closes sockets made by a failed ensure.
func (s *sockets) rollback(keys []string) {
	for _, k := range keys {
		for _, as := range s.addrs {
			for i, f := range as.slots {
				if f != nil && key(as.addr, i) == k {
					shutdownClose(f)
					as.slots[i] = nil
				}
			}
		}
	}
	for a, as := range s.addrs {
		for len(as.slots) > 0 && as.slots[len(as.slots)-1] == nil {
			as.slots = as.slots[:len(as.slots)-1]
		}
		if len(as.slots) == 0 {
			delete(s.addrs, a)
		}
	}
}

// assignment is what one worker serves.
type assignment struct {
	keys  []string
	addrs []string
	files []*os.File
	tls   []bool
}

// forWorkerTLS lists the sockets of worker i of n for the given addresses;
// tlsAddrs marks the server.tls_listen ones.
func (s *sockets) forWorkerTLS(addrs []string, tlsAddrs map[string]bool, i, n int) assignment {
	var a assignment
	for _, addr := range addrs {
		as := s.addrs[addr]
		if as == nil {
			continue
		}
		for slot, f := range as.slots {
			if as.shared || slot%n == i {
				a.keys = append(a.keys, key(addr, slot))
				a.addrs = append(a.addrs, addr)
				a.files = append(a.files, f)
				a.tls = append(a.tls, tlsAddrs[addr])
			}
		}
	}
	return a
}

// retire removes addresses that left the config and returns their keys;
// close the sockets with closeRetired once the old workers have drained
// what was queued on them.
func (s *sockets) retire(keep []string) (keys []string, files []*os.File) {
	want := map[string]bool{}
	for _, a := range keep {
		want[a] = true
	}
	var gone []string
	for a := range s.addrs {
		if !want[a] {
			gone = append(gone, a)
		}
	}
	sort.Strings(gone)
	for _, a := range gone {
		for slot, f := range s.addrs[a].slots {
			keys = append(keys, key(a, slot))
			files = append(files, f)
		}
		delete(s.addrs, a)
	}
	return keys, files
}

// closeAll shuts every socket (final stop).
func (s *sockets) closeAll() {
	for _, as := range s.addrs {
		for _, f := range as.slots {
			f.Close()
		}
	}
	s.addrs = map[string]*addrSockets{}
}

// shutdownClose takes a retired listening socket out of LISTEN for every
// holder of a copy (tableflip keeps one), then closes ours.
func shutdownClose(f *os.File) {
	_ = unix.Shutdown(int(f.Fd()), unix.SHUT_RDWR)
	f.Close()
}

// listenSocket opens a TCP listening socket with SO_REUSEADDR (and
// SO_REUSEPORT) and returns it as a file (CLOEXEC, blocking mode is
// irrelevant: workers rebuild listeners from it).
func listenSocket(addr string, reuseport bool) (*os.File, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			if serr == nil && reuseport {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	return ln.(*net.TCPListener).File()
}

// count is the total number of sockets held.
func (s *sockets) count() int {
	n := 0
	for _, as := range s.addrs {
		n += len(as.slots)
	}
	return n
}
