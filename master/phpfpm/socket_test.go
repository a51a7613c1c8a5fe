package phpfpm

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func quietManager(t *testing.T, reg FDRegistry) *Manager {
	t.Helper()
	m, err := NewManager(filepath.Join(t.TempDir(), "state"), slog.New(slog.NewTextHandler(io.Discard, nil)), reg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCreateSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.sock")
	f, err := createSocket(path, 0o660, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket file %v %v", fi, err)
	}
	if fl, _ := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0); fl&unix.O_NONBLOCK != 0 {
		t.Error("socket is non-blocking; php-fpm expects blocking accept")
	}
	// Listening: a live socket at the path is refused.
	if _, err := createSocket(path, 0o600, 16); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("live socket: %v", err)
	}
	// Stale (nobody listens): replaced.
	f.Close()
	f2, err := createSocket(path, 0o600, 16)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	f2.Close()
	// Not a socket: refused.
	reg := filepath.Join(dir, "file")
	os.WriteFile(reg, nil, 0o600)
	if _, err := createSocket(reg, 0o600, 16); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("regular file: %v", err)
	}
}

func TestSocketDirMustBePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "open")
	os.Mkdir(dir, 0o777)
	os.Chmod(dir, 0o777)
	if err := ensureSocketDir(dir); err == nil {
		t.Error("world-writable socket_dir accepted")
	}
	ok := filepath.Join(t.TempDir(), "new", "php")
	if err := ensureSocketDir(ok); err != nil {
		t.Errorf("new socket_dir: %v", err)
	}
	if fi, _ := os.Stat(ok); fi.Mode().Perm() != 0o755 {
		t.Errorf("socket_dir mode %v", fi.Mode())
	}
}

// A socket registered by one manager is inherited (same socket, nothing
// bound) by the next through the registry; a shut-down one or one bound
// elsewhere is replaced by a new socket.
func TestSocketInheritance(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	p := Pool{Name: "x", SocketPath: filepath.Join(dir, "run", "x.sock"), SocketMode: 0o600, ListenBacklog: 64}
	reg1 := newFakeRegistry()
	defer reg1.close()
	m1 := quietManager(t, reg1)
	s1, err := m1.acquireSocket(p)
	if err != nil {
		t.Fatal(err)
	}
	if s1.fromRegistry {
		t.Error("first socket claims to be inherited")
	}
	reg2 := reg1.handOver()
	defer reg2.close()
	m2 := quietManager(t, reg2)
	s2, err := m2.acquireSocket(p)
	if err != nil {
		t.Fatal(err)
	}
	if !s2.fromRegistry || s2.ino != s1.ino {
		t.Fatalf("second manager did not inherit the socket (inherited %v, ino %d vs %d)", s2.fromRegistry, s2.ino, s1.ino)
	}
	// A connection made now is queued on the one shared socket.
	c, err := net.Dial("unix", p.SocketPath)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	// Shut down (a retired socket): rejected, a new one is made.
	reg3 := reg2.handOver()
	defer reg3.close()
	unix.Shutdown(int(s2.f.Fd()), unix.SHUT_RDWR)
	os.Remove(p.SocketPath)
	m3 := quietManager(t, reg3)
	s3, err := m3.acquireSocket(p)
	if err != nil {
		t.Fatal(err)
	}
	if s3.fromRegistry || s3.ino == s1.ino {
		t.Error("a shut-down inherited socket was adopted")
	}

	// Bound to another path: rejected.
	other := filepath.Join(dir, "run", "other.sock")
	f, err := createSocket(other, 0o600, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := checkInherited(f, p.SocketPath); err == nil {
		t.Error("socket bound elsewhere accepted")
	}
	if err := checkInherited(f, other); err != nil {
		t.Errorf("good socket rejected: %v", err)
	}
	os.Remove(other)
	if err := checkInherited(f, other); err == nil {
		t.Error("socket whose path is gone accepted")
	}
}

// Sockets are released once nothing uses them: a retired one is shut
// down for every holder (the registry's copy too) and its path removed.
func TestSocketRetire(t *testing.T) {
	dir := t.TempDir()
	p := Pool{Name: "x", SocketPath: filepath.Join(dir, "x.sock"), SocketMode: 0o600, ListenBacklog: 4}
	reg := newFakeRegistry()
	defer reg.close()
	m := quietManager(t, reg)
	s, err := m.acquireSocket(p)
	if err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	s.committed = true
	m.mu.Unlock()
	m.unpin(s)
	if _, err := os.Lstat(p.SocketPath); !os.IsNotExist(err) {
		t.Errorf("retired socket path still there: %v", err)
	}
	regCopy := reg.used[RegistryKey(p.SocketPath)]
	if err := checkInherited(regCopy, p.SocketPath); err == nil {
		t.Error("registry copy of a retired socket still usable")
	}
	pfd := []unix.PollFd{{Fd: int32(regCopy.Fd()), Events: unix.POLLIN}}
	unix.Poll(pfd, 0)
	if pfd[0].Revents&unix.POLLHUP == 0 {
		t.Error("retired socket not shut down")
	}
}

func TestOpenBinary(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	exe := filepath.Join(dir, "php-fpm")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	f, err := OpenBinary(exe)
	if err != nil {
		t.Fatal(err)
	}
	if f.Fd() < minBinaryFD {
		t.Errorf("binary fd %d below %d", f.Fd(), minBinaryFD)
	}
	if fl, _ := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0); fl&unix.FD_CLOEXEC == 0 {
		t.Error("binary fd not close-on-exec")
	}
	f.Close()
	link := filepath.Join(dir, "link")
	os.Symlink(exe, link)
	if f, err := OpenBinary(link); err != nil {
		t.Errorf("symlink to a good binary: %v", err)
	} else {
		f.Close()
	}
	bad := map[string]func() string{
		"relative": func() string { return "php-fpm" },
		"missing":  func() string { return filepath.Join(dir, "nope") },
		"dir":      func() string { return dir },
		"group-writable": func() string {
			p := filepath.Join(dir, "gw")
			os.WriteFile(p, nil, 0o775)
			os.Chmod(p, 0o775)
			return p
		},
		"not executable": func() string {
			p := filepath.Join(dir, "nx")
			os.WriteFile(p, nil, 0o644)
			return p
		},
		"writable directory": func() string {
			d := filepath.Join(dir, "open")
			os.Mkdir(d, 0o777)
			os.Chmod(d, 0o777)
			p := filepath.Join(d, "php-fpm")
			os.WriteFile(p, nil, 0o755)
			return p
		},
		"symlink into writable directory": func() string {
			l := filepath.Join(dir, "link2")
			os.Symlink(filepath.Join(dir, "open", "php-fpm"), l)
			return l
		},
	}
	if os.Geteuid() == 0 {
		bad["foreign owner"] = func() string {
			p := filepath.Join(dir, "foreign")
			os.WriteFile(p, nil, 0o755)
			os.Chown(p, 65534, 65534)
			return p
		}
	}
	for name, mk := range bad {
		if f, err := OpenBinary(mk()); err == nil {
			f.Close()
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestStateDirIsPrivate(t *testing.T) {
	base := t.TempDir()
	d := filepath.Join(base, "state")
	os.Mkdir(d, 0o755)
	if err := ensurePrivateDir(d); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(d); fi.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode %v", fi.Mode())
	}
	l := filepath.Join(base, "link")
	os.Symlink(d, l)
	if err := ensurePrivateDir(l); err == nil {
		t.Error("symlinked state dir accepted")
	}
	if os.Geteuid() == 0 {
		f := filepath.Join(base, "foreign")
		os.Mkdir(f, 0o700)
		os.Chown(f, 65534, 65534)
		if err := ensurePrivateDir(f); err == nil {
			t.Error("state dir owned by someone else accepted")
		}
	}
}
