package phpfpm

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// FDRegistry is where the master registers sockets so a binary upgrade
// hands them to the new master: cloudflare/tableflip's *Fds in
// production. File returns an inherited socket (nil, nil when there is
// none); AddFile registers ours (the registry keeps its own dup).
type FDRegistry interface {
	File(name string) (*os.File, error)
	AddFile(name string, f *os.File) error
}

// RegistryKey is the FDRegistry name of the socket at path. Every master
// uses the same key, so the new master of a binary upgrade finds the
// socket its predecessor's php-fpm serves.
func RegistryKey(path string) string { return "php-fpm:unix:" + path }

// socket is a listening unix socket the master owns and php-fpm inherits.
// pins and committed are guarded by Manager.mu; the rest is fixed.
type socket struct {
	path         string
	f            *os.File
	ino          uint64 // sockfs inode: finds the socket in /proc/<pid>/fd
	fromRegistry bool   // inherited from a previous master
	pins         int    // Reconcile steps using it before they commit
	committed    bool   // a committed pool used it
}

// acquireSocket returns the listening socket for p.SocketPath: one this
// manager already holds, the one a previous master registered (binary
// upgrade: nothing is bound, clients never see a refused connection), or
// a new one. It then applies p's mode, owner, group and backlog.
func (m *Manager) acquireSocket(p Pool) (*socket, error) {
	m.mu.Lock()
	s := m.sockets[p.SocketPath]
	if s != nil {
		s.pins++
	}
	m.mu.Unlock()
	if s == nil {
		var err error
		if s, err = m.openSocket(p); err != nil {
			return nil, err
		}
		m.mu.Lock()
		s.pins++
		m.sockets[p.SocketPath] = s
		m.mu.Unlock()
	}
	if err := applySocketSettings(s, p); err != nil {
		m.unpin(s)
		return nil, err
	}
	return s, nil
}

// openSocket inherits or creates the socket at p.SocketPath.
func (m *Manager) openSocket(p Pool) (*socket, error) {
	key := RegistryKey(p.SocketPath)
	f, err := m.reg.File(key)
	if err != nil {
		return nil, fmt.Errorf("php-fpm socket %s: registry: %w", p.SocketPath, err)
	}
	if f != nil {
		if err := checkInherited(f, p.SocketPath); err == nil {
			return newSocket(p.SocketPath, f, true)
		} else {
			m.log.Warn("php-fpm: inherited socket is unusable; creating a new one", "socket", p.SocketPath, "err", err.Error())
			f.Close()
		}
	}
	if err := ensureSocketDir(filepath.Dir(p.SocketPath)); err != nil {
		return nil, err
	}
	if f, err = createSocket(p.SocketPath, p.SocketMode, p.ListenBacklog); err != nil {
		return nil, err
	}
	if err := m.reg.AddFile(key, f); err != nil {
		shutdownClose(f)
		os.Remove(p.SocketPath)
		return nil, fmt.Errorf("php-fpm socket %s: registry: %w", p.SocketPath, err)
	}
	return newSocket(p.SocketPath, f, false)
}

func newSocket(path string, f *os.File, inherited bool) (*socket, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, err
	}
	return &socket{path: path, f: f, ino: st.Ino, fromRegistry: inherited}, nil
}

// unpin releases a Reconcile step's hold on s.
func (m *Manager) unpin(s *socket) {
	m.mu.Lock()
	s.pins--
	m.mu.Unlock()
	m.gcSockets()
}

// ensureSocketDir creates socket_dir (0755) when missing and checks that
// nobody but root or us can write to it or its parents, so nobody can
// put their own socket in place of ours.
func ensureSocketDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("php-fpm socket_dir: %w", err)
	}
	if err := checkDirChain(dir); err != nil {
		return fmt.Errorf("php-fpm socket_dir: %w", err)
	}
	return nil
}

// createSocket binds and listens on a new unix stream socket at path. A
// stale socket file (nobody accepts: left by a crashed master) is
// replaced; a live one or any other file is an error. The socket's inode
// mode is set before bind, so the file never exists with wider
// permissions than mode (Linux creates it with the socket inode's mode
// minus umask), then chmod sets it exactly. The fd is blocking, as
// php-fpm expects.
func createSocket(path string, mode os.FileMode, backlog int) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("php-fpm socket %s: exists and is not a socket", path)
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("php-fpm socket %s: another process is listening on it", path)
		}
		if !errors.Is(err, unix.ECONNREFUSED) {
			return nil, fmt.Errorf("php-fpm socket %s: probing the existing socket: %w", path, err)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("php-fpm socket %s: removing the stale socket: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("php-fpm socket %s: %w", path, err)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("php-fpm socket %s: %w", path, err)
	}
	fail := func(err error) (*os.File, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("php-fpm socket %s: %w", path, err)
	}
	_ = unix.Fchmod(fd, uint32(mode.Perm()))
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return fail(err)
	}
	if err := unix.Listen(fd, backlog); err != nil {
		os.Remove(path)
		return fail(err)
	}
	if err := os.Chmod(path, mode.Perm()); err != nil {
		os.Remove(path)
		return fail(err)
	}
	return os.NewFile(uintptr(fd), "php-fpm:"+path), nil
}

// applySocketSettings sets mode, owner/group and backlog on a socket that
// may already be serving (listen(2) again only changes the backlog).
func applySocketSettings(s *socket, p Pool) error {
	fi, err := os.Lstat(s.path)
	if err != nil {
		return fmt.Errorf("php-fpm socket %s: %w", s.path, err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("php-fpm socket %s: not a socket any more", s.path)
	}
	if err := os.Chmod(s.path, p.SocketMode.Perm()); err != nil {
		return fmt.Errorf("php-fpm socket %s: %w", s.path, err)
	}
	if p.ListenOwner != "" {
		uid, err := lookupUID(p.ListenOwner)
		if err != nil {
			return fmt.Errorf("listen_owner: %w", err)
		}
		gid, err := lookupGID(p.ListenGroup)
		if err != nil {
			return fmt.Errorf("listen_group: %w", err)
		}
		if err := unix.Fchownat(unix.AT_FDCWD, s.path, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("php-fpm socket %s: chown %s:%s: %w", s.path, p.ListenOwner, p.ListenGroup, err)
		}
	}
	if err := unix.Listen(int(s.f.Fd()), p.ListenBacklog); err != nil {
		return fmt.Errorf("php-fpm socket %s: listen: %w", s.path, err)
	}
	return nil
}

// checkInherited accepts a socket from the registry only if it is a
// listening unix stream socket bound to path, not shut down (a previous
// master retired it), and path still names a socket file.
func checkInherited(f *os.File, path string) error {
	fd := int(f.Fd())
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN); err != nil || v != unix.AF_UNIX {
		return fmt.Errorf("not a unix socket")
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || v != unix.SOCK_STREAM {
		return fmt.Errorf("not a stream socket")
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
		return fmt.Errorf("not listening")
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return err
	}
	if u, ok := sa.(*unix.SockaddrUnix); !ok || u.Name != path {
		return fmt.Errorf("bound to another address")
	}
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if _, err := unix.Poll(pfd, 0); err != nil {
		return err
	}
	if pfd[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
		return fmt.Errorf("shut down")
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("%s is not a socket file", path)
	}
	return nil
}

// usesSocket reports whether process pid holds the socket (php-fpm keeps
// the inherited fd open in its master).
func usesSocket(pid int, ino uint64) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	want := "socket:[" + strconv.FormatUint(ino, 10) + "]"
	for _, e := range ents {
		if l, err := os.Readlink(dir + "/" + e.Name()); err == nil && l == want {
			return true
		}
	}
	return false
}

// shutdownClose takes a retired socket out of LISTEN for every holder of
// a copy (the registry keeps one) and closes ours.
func shutdownClose(f *os.File) {
	_ = unix.Shutdown(int(f.Fd()), unix.SHUT_RDWR)
	f.Close()
}

// gcSockets releases sockets nothing uses any more: no pool, no live
// instance, no pending Reconcile step. A socket the config dropped is shut
// down and its path removed. One inherited from a previous master and
// never taken into service is only closed: that master still serves on it
// (a failed upgrade). After a stop, sockets are only closed: after a
// binary upgrade the new master serves on them.
func (m *Manager) gcSockets() {
	m.mu.Lock()
	defer m.mu.Unlock()
	used := map[*socket]bool{}
	for _, pr := range m.pools {
		used[pr.sock] = true
	}
	for in := range m.live {
		used[in.sock] = true
	}
	for path, s := range m.sockets {
		if used[s] || s.pins > 0 {
			continue
		}
		delete(m.sockets, path)
		if m.stopped || (s.fromRegistry && !s.committed) {
			s.f.Close()
			continue
		}
		if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() == os.ModeSocket {
			os.Remove(path)
		}
		shutdownClose(s.f)
		m.log.Info("php-fpm: socket retired", "socket", path)
	}
}
