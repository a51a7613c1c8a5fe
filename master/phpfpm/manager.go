package phpfpm

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Supervision timing.
const (
	// DefaultStartTimeout bounds how long a new php-fpm instance may take
	// to become ready.
	DefaultStartTimeout = 30 * time.Second
	// FastStopGrace is how long StopFast waits after SIGTERM before it
	// kills the process groups.
	FastStopGrace = time.Second
	firstBackoff  = 100 * time.Millisecond
	maxBackoff    = 30 * time.Second
	healthyAfter  = 60 * time.Second // resets the crash backoff
)

// Manager runs the managed php-fpm pools of one fluxheim master: one
// php-fpm instance (master process + workers, own process group) per
// pool, on a unix socket the manager owns. All methods are safe for
// concurrent use; lifecycle calls (Reconcile, StopGraceful, StopFast and
// crash restarts) run one at a time.
type Manager struct {
	// StartTimeout bounds how long an instance may take to become ready
	// (DefaultStartTimeout when 0). Set before the first Reconcile.
	StartTimeout time.Duration
	// RetireDelay is how long an instance keeps serving after Reconcile
	// dropped its socket (pool removed, or its socket path changed) before
	// it is stopped gracefully, so a draining worker generation still
	// reaches it. 0 = stop at once. Instances replaced on the same socket
	// stop at once regardless: their replacement serves that socket. Set
	// before the first Reconcile.
	RetireDelay time.Duration

	stateDir string
	log      *slog.Logger
	reg      FDRegistry

	op       sync.Mutex // serializes lifecycle operations
	mu       sync.Mutex // guards the fields below
	pools    map[string]*poolRun
	sockets  map[string]*socket // by path
	live     map[*instance]struct{}
	stopped  bool
	killNow  chan struct{} // closed: orphan reapers kill at once
	killOnce sync.Once
	reapers  sync.WaitGroup
}

// poolRun is a configured pool and its current instance (nil while a
// crash restart is pending).
type poolRun struct {
	pool     Pool
	sock     *socket
	cur      *instance
	restarts int
	backoff  time.Duration
}

// InstanceStatus describes one configured pool.
type InstanceStatus struct {
	Pool     string    `json:"pool"`
	PID      int       `json:"pid"` // php-fpm master; 0 while a restart is pending
	Socket   string    `json:"socket"`
	Started  time.Time `json:"started"`
	Restarts int       `json:"restarts"` // crashes of this pool's php-fpm
}

// NewManager returns a manager that keeps generated configs, pid and log
// files in stateDir (created 0700 if missing; it must be ours and private;
// every instance gets its own subdirectory, so an old and a new master
// can share stateDir during a binary upgrade). Keep it short (at most 64
// bytes; e.g. /run/fluxheim/php-fpm): php-fpm's listen key lives in it and
// must fit a unix socket path. reg is tableflip's Fds. Instance
// directories left by a master that is gone (it crashed or was killed
// during an upgrade) are removed here and at every Reconcile, and a
// php-fpm still running from one is stopped: it would otherwise keep
// serving unsupervised.
func NewManager(stateDir string, log *slog.Logger, reg FDRegistry) (*Manager, error) {
	if log == nil {
		log = slog.Default()
	}
	if reg == nil {
		return nil, errors.New("php-fpm manager: nil FDRegistry")
	}
	if !iniSafe(stateDir) || strings.ContainsAny(stateDir, ",=") || len(stateDir) > 64 {
		return nil, fmt.Errorf("php-fpm state directory %q: at most 64 bytes, without quotes, backslashes, '$', ',', '=' or control characters", stateDir)
	}
	if err := ensurePrivateDir(stateDir); err != nil {
		return nil, fmt.Errorf("php-fpm state directory: %w", err)
	}
	m := &Manager{
		stateDir: stateDir, log: log, reg: reg,
		pools: map[string]*poolRun{}, sockets: map[string]*socket{}, live: map[*instance]struct{}{},
		killNow: make(chan struct{}),
	}
	m.cleanStale()
	return m, nil
}

// Reconcile makes the running instances match pools, all or nothing:
//
//   - a new pool gets its socket (inherited through the FDRegistry after
//     a binary upgrade, else created) and an instance;
//   - an unchanged pool (Equal) keeps its instance (same pid); socket
//     mode, owner and backlog are updated in place;
//   - a changed pool gets a new instance on the same socket (a new one if
//     the path changed); once it is ready the old one gets SIGQUIT
//     (finishes its requests) and is killed after its StopGrace;
//   - a removed pool's instance stops the same way after RetireDelay, then
//     its socket is shut down and its path removed.
//
// Every new instance must be ready before anything is stopped; on any
// error the new instances are stopped and the running ones are left
// alone. After a binary upgrade the new master calls Reconcile with the
// same pools: its instances start on the inherited sockets and serve next
// to the old master's until that one calls StopGraceful.
func (m *Manager) Reconcile(pools []Pool) error {
	m.op.Lock()
	defer m.op.Unlock()
	if m.isStopped() {
		return errors.New("php-fpm manager is stopped")
	}
	want, err := normalizeAll(pools)
	if err != nil {
		return err
	}
	m.cleanStale()
	type step struct {
		p  Pool
		s  *socket
		in *instance
	}
	var steps []*step
	var keep []Pool
	abort := func(err error) error {
		for _, st := range steps {
			if st.in != nil {
				m.abandon(st.in)
			}
			m.unpin(st.s)
		}
		return err
	}
	for _, p := range want {
		m.mu.Lock()
		pr := m.pools[p.Name]
		m.mu.Unlock()
		if pr != nil && pr.pool.processKey() == p.processKey() {
			keep = append(keep, p)
			continue
		}
		s, err := m.acquireSocket(p)
		if err != nil {
			return abort(err)
		}
		st := &step{p: p, s: s}
		steps = append(steps, st)
		if st.in, err = m.spawn(p, s); err != nil {
			return abort(err)
		}
	}
	deadline := time.Now().Add(m.startTimeout())
	for _, st := range steps {
		if err := st.in.waitReady(time.Until(deadline)); err != nil {
			return abort(err)
		}
	}
	for _, p := range keep {
		m.mu.Lock()
		s := m.pools[p.Name].sock
		m.mu.Unlock()
		if err := applySocketSettings(s, p); err != nil {
			return abort(err)
		}
	}

	// Commit.
	m.mu.Lock()
	wanted := map[string]bool{}
	for _, p := range want {
		wanted[p.Name] = true
	}
	for _, st := range steps {
		pr := m.pools[st.p.Name]
		if pr == nil {
			pr = &poolRun{}
			m.pools[st.p.Name] = pr
		}
		old, oldSock := pr.cur, pr.sock
		pr.pool, pr.sock, pr.cur, pr.backoff = st.p, st.s, st.in, 0
		st.s.committed = true
		st.s.pins--
		if old != nil {
			delay := time.Duration(0)
			if oldSock != st.s {
				delay = m.RetireDelay
			}
			m.retireLocked(old, delay)
		}
		if old == nil {
			st.in.log.Info("php-fpm pool ready", "socket", st.s.path)
		} else {
			st.in.log.Info("php-fpm pool replaced; old instance stopping gracefully", "old_pid", old.pid, "socket", st.s.path)
		}
	}
	for _, p := range keep {
		m.pools[p.Name].pool = p
	}
	for name, pr := range m.pools {
		if wanted[name] {
			continue
		}
		if pr.cur != nil {
			pr.cur.log.Info("php-fpm pool removed; stopping gracefully", "after", m.RetireDelay.String())
			m.retireLocked(pr.cur, m.RetireDelay)
		}
		delete(m.pools, name)
	}
	m.mu.Unlock()
	m.gcSockets()
	return nil
}

// normalizeAll validates a pool set: each pool, unique names and socket
// paths, and the binaries (opened and checked, then closed: spawn checks
// again).
func normalizeAll(pools []Pool) ([]Pool, error) {
	root := os.Geteuid() == 0
	var errs []error
	names, paths := map[string]bool{}, map[string]string{}
	out := make([]Pool, 0, len(pools))
	for _, p := range pools {
		n, err := p.normalized(root)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if names[n.Name] {
			errs = append(errs, fmt.Errorf("php-fpm pool %q configured twice", n.Name))
		}
		if other, dup := paths[n.SocketPath]; dup {
			errs = append(errs, fmt.Errorf("php-fpm pools %q and %q use the same socket %s", other, n.Name, n.SocketPath))
		}
		names[n.Name], paths[n.SocketPath] = true, n.Name
		if f, err := OpenBinary(n.Binary); err != nil {
			errs = append(errs, fmt.Errorf("php-fpm pool %q: %w", n.Name, err))
		} else {
			f.Close()
		}
		out = append(out, n)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// retireLocked stops in gracefully after delay (m.mu held).
func (m *Manager) retireLocked(in *instance, delay time.Duration) {
	in.stopping.Store(true)
	if delay <= 0 {
		go in.stop(syscall.SIGQUIT, in.pool.StopGrace())
		return
	}
	in.retire = time.AfterFunc(delay, func() { in.stop(syscall.SIGQUIT, in.pool.StopGrace()) })
}

// abandon stops an instance that never went into service. It may already
// accept on a shared socket, so it stops gracefully too.
func (m *Manager) abandon(in *instance) {
	in.stopping.Store(true)
	go in.stop(syscall.SIGQUIT, min(in.pool.StopGrace(), 10*time.Second))
}

// onExit handles an instance's exit: a crash of a pool's current
// instance schedules a restart with backoff (100 ms doubling to 30 s,
// reset after 60 s of health).
func (m *Manager) onExit(in *instance) {
	m.mu.Lock()
	delete(m.live, in)
	pr := m.pools[in.pool.Name]
	crashed := pr != nil && pr.cur == in && !in.stopping.Load() && !m.stopped
	var delay time.Duration
	var restarts int
	if crashed {
		pr.cur = nil
		pr.restarts++
		if time.Since(in.started) >= healthyAfter {
			pr.backoff = 0
		}
		pr.backoff = nextBackoff(pr.backoff)
		delay, restarts = pr.backoff, pr.restarts
	}
	m.mu.Unlock()
	if crashed {
		in.log.Error("php-fpm master died; restarting it", "exit", fmt.Sprint(in.exitErr), "uptime", time.Since(in.started).Round(time.Millisecond).String(),
			"backoff", delay.String(), "restarts", restarts, "last_output", in.tail.lastLines())
		if delay >= maxBackoff {
			in.log.Error("php-fpm pool is crash-looping", "restarts", restarts)
		}
		time.AfterFunc(delay, func() { m.restart(pr) })
	}
	m.gcSockets()
}

// restart starts a new instance for a pool whose instance crashed.
func (m *Manager) restart(pr *poolRun) {
	m.op.Lock()
	defer m.op.Unlock()
	m.mu.Lock()
	if m.stopped || m.pools[pr.pool.Name] != pr || pr.cur != nil {
		m.mu.Unlock()
		return
	}
	p, s := pr.pool, pr.sock
	s.pins++
	m.mu.Unlock()
	defer m.unpin(s)
	in, err := m.spawn(p, s)
	if err == nil {
		if err = in.waitReady(m.startTimeout()); err != nil {
			m.abandon(in)
		}
	}
	m.mu.Lock()
	if err != nil {
		pr.backoff = nextBackoff(pr.backoff)
		delay := pr.backoff
		m.mu.Unlock()
		m.log.Error("php-fpm restart failed; retrying", "php_fpm_pool", p.Name, "err", err.Error(), "backoff", delay.String())
		time.AfterFunc(delay, func() { m.restart(pr) })
		return
	}
	pr.cur = in
	m.mu.Unlock()
	in.log.Warn("php-fpm restarted and serving", "socket", s.path)
}

// nextBackoff: 100 ms, doubling to 30 s.
func nextBackoff(d time.Duration) time.Duration {
	if d < firstBackoff {
		return firstBackoff
	}
	return min(2*d, maxBackoff)
}

// StopGraceful stops every instance: SIGQUIT (workers finish their
// requests), then SIGKILL to the whole process group of whatever is left
// after timeout. No crash restarts happen afterwards; the manager cannot
// be used again. Sockets are closed but neither shut down nor unlinked:
// after a binary upgrade the new master's instances serve on them (the old
// master calls StopGraceful in its handover path, after the new master is
// ready); after a final stop the leftover path refuses connections and is
// replaced at the next start.
func (m *Manager) StopGraceful(timeout time.Duration) {
	m.stopAll(syscall.SIGQUIT, timeout)
}

// StopFast stops every instance with SIGTERM (php-fpm stops at once) and
// kills the process groups after FastStopGrace.
func (m *Manager) StopFast() {
	m.stopAll(syscall.SIGTERM, FastStopGrace)
}

func (m *Manager) stopAll(sig syscall.Signal, timeout time.Duration) {
	m.op.Lock()
	defer m.op.Unlock()
	m.mu.Lock()
	m.stopped = true
	var all []*instance
	for in := range m.live {
		if in.retire != nil {
			in.retire.Stop()
		}
		all = append(all, in)
	}
	m.pools = map[string]*poolRun{}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, in := range all {
		wg.Go(func() { in.stop(sig, timeout) })
	}
	// Workers orphaned by a crash get the same deadline.
	wg.Go(func() {
		t := time.NewTimer(timeout)
		defer t.Stop()
		reaped := make(chan struct{})
		go func() { m.reapers.Wait(); close(reaped) }()
		select {
		case <-reaped:
		case <-t.C:
		}
		m.killOnce.Do(func() { close(m.killNow) })
	})
	wg.Wait()
	m.reapers.Wait()
	m.gcSockets()
	m.log.Info("php-fpm: all instances stopped", "instances", len(all))
}

// ReopenLogs sends SIGUSR1 to every instance: php-fpm reopens its error
// log; its workers keep running (php-fpm 8.2 does not recycle them).
func (m *Manager) ReopenLogs() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for in := range m.live {
		select {
		case <-in.exited:
		default:
			_ = in.cmd.Process.Signal(syscall.SIGUSR1)
		}
	}
}

// Status lists the configured pools by name.
func (m *Manager) Status() []InstanceStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]InstanceStatus, 0, len(m.pools))
	for name, pr := range m.pools {
		st := InstanceStatus{Pool: name, Socket: pr.pool.SocketPath, Restarts: pr.restarts}
		if pr.cur != nil {
			st.PID, st.Started = pr.cur.pid, pr.cur.started
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pool < out[j].Pool })
	return out
}

func (m *Manager) isStopped() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stopped
}

func (m *Manager) startTimeout() time.Duration {
	if m.StartTimeout > 0 {
		return m.StartTimeout
	}
	return DefaultStartTimeout
}
