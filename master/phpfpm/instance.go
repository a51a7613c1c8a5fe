package phpfpm

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// FixedPATH is the whole environment php-fpm starts with, besides
// FPM_SOCKETS.
const FixedPATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// socketFD is the fd number of the inherited socket in php-fpm: the first
// ExtraFiles entry.
const socketFD = 3

// instanceSeq numbers instance directories (unique within this process).
var instanceSeq atomic.Uint64

// instance is one php-fpm master process (and its workers, in its process
// group, pgid = pid).
type instance struct {
	pool     Pool
	sock     *socket
	paths    paths
	cmd      *exec.Cmd
	pid      int
	started  time.Time
	log      *slog.Logger
	tail     *logTail
	exited   chan struct{} // closed when the master process was reaped
	done     chan struct{} // closed after exit handling (group cleaned, dir removed)
	exitErr  error         // valid after exited
	stopping atomic.Bool   // asked to stop: an exit is not a crash
	retire   *time.Timer   // pending delayed stop; guarded by Manager.mu
}

// spawn writes the instance's config and starts php-fpm on socket s:
// `php-fpm -F -y <conf> -p <dir>` executed from the validated, held-open
// binary (/proc/self/fd/N), in its own process group, with the
// environment FixedPATH + FPM_SOCKETS=<listen alias>=3 and s as fd 3,
// stdout/stderr appended to the instance log. php-fpm runs as the
// master's user; its workers switch to pool.User/Group.
func (m *Manager) spawn(p Pool, s *socket) (*instance, error) {
	slug := Slug(p.Name)
	if len(slug) > 24 {
		slug = slug[:24]
	}
	dir := filepath.Join(m.stateDir, fmt.Sprintf("i-%d-%d-%s", os.Getpid(), instanceSeq.Add(1), slug))
	ip := instancePaths(dir)
	if len(ip.listen) > maxSocketPath {
		// php-fpm would truncate the key and miss the inherited socket.
		return nil, fmt.Errorf("php-fpm pool %q: state directory %s is too long for a socket path (%s); use a shorter one", p.Name, m.stateDir, ip.listen)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("php-fpm pool %q: %w", p.Name, err)
	}
	fail := func(err error) (*instance, error) {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("php-fpm pool %q: %w", p.Name, err)
	}
	if err := writeNew(ip.conf, renderConfig(p, ip, os.Geteuid() == 0)); err != nil {
		return fail(err)
	}
	logf, err := os.OpenFile(ip.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fail(err)
	}
	defer logf.Close()
	bin, err := OpenBinary(p.Binary)
	if err != nil {
		return fail(err)
	}
	defer bin.Close()
	cmd := &exec.Cmd{
		Path:        "/proc/self/fd/" + strconv.Itoa(int(bin.Fd())),
		Args:        []string{p.Binary, "-F", "-y", ip.conf, "-p", dir},
		Env:         []string{FixedPATH, "FPM_SOCKETS=" + ip.listen + "=" + strconv.Itoa(socketFD)},
		Dir:         "/",
		Stdout:      logf,
		Stderr:      logf,
		ExtraFiles:  []*os.File{s.f}, // fd 3 = socketFD
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("starting %s: %w", p.Binary, err))
	}
	in := &instance{
		pool: p, sock: s, paths: ip, cmd: cmd, pid: cmd.Process.Pid, started: time.Now(),
		exited: make(chan struct{}), done: make(chan struct{}),
	}
	in.log = m.log.With("php_fpm_pool", p.Name, "pid", in.pid)
	in.tail = newLogTail(ip.log, in.log)
	m.mu.Lock()
	m.live[in] = struct{}{}
	m.mu.Unlock()
	go in.tail.run()
	go m.watch(in)
	in.log.Info("php-fpm started", "socket", s.path, "pm", p.ProcessManager, "workers", p.Workers, "config", ip.conf)
	return in, nil
}

// writeNew creates path (0600, must not exist) with content.
func writeNew(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// waitReady waits until php-fpm logged "ready to handle connections",
// holds the inherited socket (not one it bound itself) and the socket
// path accepts a connection. On failure the caller stops the instance.
func (in *instance) waitReady(timeout time.Duration) error {
	t := time.NewTimer(max(timeout, 0))
	defer t.Stop()
	select {
	case <-in.tail.ready: // already ready: never lose to an expired timer
	default:
		select {
		case <-in.tail.ready:
		case <-in.exited:
			return fmt.Errorf("php-fpm pool %q (pid %d) exited during startup (%v): %s", in.pool.Name, in.pid, in.exitErr, in.tail.lastLines())
		case <-t.C:
			return fmt.Errorf("php-fpm pool %q (pid %d) not ready in time: %s", in.pool.Name, in.pid, in.tail.lastLines())
		}
	}
	select {
	case <-in.exited:
		return fmt.Errorf("php-fpm pool %q (pid %d) exited during startup (%v): %s", in.pool.Name, in.pid, in.exitErr, in.tail.lastLines())
	default:
	}
	if !usesSocket(in.pid, in.sock.ino) {
		return fmt.Errorf("php-fpm pool %q (pid %d) does not hold the inherited socket %s", in.pool.Name, in.pid, in.sock.path)
	}
	c, err := net.DialTimeout("unix", in.sock.path, time.Second)
	if err != nil {
		return fmt.Errorf("php-fpm pool %q: socket does not accept: %w", in.pool.Name, err)
	}
	c.Close()
	return nil
}

// watch reaps the instance, cleans its process group and directory, and
// reports the exit to the manager.
func (m *Manager) watch(in *instance) {
	in.exitErr = in.cmd.Wait()
	close(in.exited)
	in.tail.stop()
	if in.stopping.Load() {
		// php-fpm exits after its workers; anything left (a daemon a
		// script started) goes now.
		signalGroup(in.pid, unix.SIGKILL, true)
	} else {
		m.reapOrphans(in)
	}
	m.onExit(in)
	os.RemoveAll(in.paths.dir)
	close(in.done)
}

// reapOrphans handles the workers of a php-fpm master that died: they
// would go on serving unsupervised, so they are asked to finish their
// request and exit (SIGQUIT), and killed after the pool's StopGrace or
// when the manager stops.
func (m *Manager) reapOrphans(in *instance) {
	if !groupAlive(in.pid) {
		return
	}
	m.mu.Lock()
	stopped := m.stopped
	if !stopped {
		m.reapers.Add(1) // under mu: before stopAll can Wait
	}
	m.mu.Unlock()
	if stopped {
		signalGroup(in.pid, unix.SIGKILL, true)
		return
	}
	signalGroup(in.pid, unix.SIGQUIT, true)
	go func() {
		defer m.reapers.Done()
		deadline := time.After(in.pool.StopGrace())
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for groupAlive(in.pid) {
			select {
			case <-tick.C:
				continue
			case <-deadline:
			case <-m.killNow:
			}
			in.log.Warn("php-fpm: killing workers left by the dead php-fpm master")
			signalGroup(in.pid, unix.SIGKILL, true)
			return
		}
	}()
}

// stop asks the instance to stop with sig (SIGQUIT graceful, SIGTERM
// fast) and kills its whole process group after grace. It returns when
// the instance is gone (or 10 s after the SIGKILL).
func (in *instance) stop(sig syscall.Signal, grace time.Duration) {
	in.stopping.Store(true)
	select {
	case <-in.exited:
	default:
		_ = in.cmd.Process.Signal(sig)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-in.done:
		return
	case <-t.C:
	}
	in.kill()
	select {
	case <-in.done:
	case <-time.After(10 * time.Second):
		in.log.Error("php-fpm: process group still alive 10s after SIGKILL")
	}
}

// kill sends SIGKILL to the instance's whole process group.
func (in *instance) kill() {
	in.stopping.Store(true)
	select {
	case <-in.exited:
		signalGroup(in.pid, unix.SIGKILL, true)
	default:
		in.log.Warn("php-fpm did not stop in time; killing its process group")
		signalGroup(in.pid, unix.SIGKILL, false)
	}
}

// signalGroup sends sig to process group pgid. Before the group leader is
// reaped its pid cannot be reused, so the group is ours. After, the id
// stays reserved while members live; a process whose pid equals pgid can
// then only be an unrelated one that reused the number, and nothing is
// sent.
func signalGroup(pgid int, sig syscall.Signal, leaderReaped bool) {
	if pgid <= 1 {
		return
	}
	if leaderReaped {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pgid)); err == nil {
			return
		}
	}
	_ = unix.Kill(-pgid, sig)
}

// groupAlive reports whether process group pgid has members.
func groupAlive(pgid int) bool {
	err := unix.Kill(-pgid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}
