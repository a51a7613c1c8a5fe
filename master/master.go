// Package master is fluxheim's privileged supervisor: it loads and
// validates the config, owns every listening socket, the pid file, the
// control socket and the log files, and runs generations of worker
// processes (reload = new generation ready, then the old one drains;
// binary upgrade = cloudflare/tableflip hands every socket to a new
// master). See ../DESIGN.md §2 and docs/process-model.md.
package master

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cloudflare/tableflip"

	"github.com/fluxheim/fluxheim/master/phpfpm"
	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/logx"
	"github.com/fluxheim/fluxheim/shared/tlsmat"
)

// Timing of the process model.
const (
	// ReadyTimeout bounds how long a new generation may take to report
	// ready before the reload (or start) fails.
	ReadyTimeout = 30 * time.Second
	// UpgradeTimeout bounds how long a new binary may take to become ready.
	UpgradeTimeout = 60 * time.Second
	// retireDelay is how long retired sockets stay open after the old
	// workers were told to drain, so they accept what was queued.
	retireDelay = 500 * time.Millisecond
	// ackTimeout bounds how long a reload waits for the old workers to
	// confirm that they stopped accepting, and a reopen for every worker
	// to confirm that it writes to the new log files.
	ackTimeout = 2 * time.Second
	// stopGrace is how long a fast stop waits before SIGKILL.
	stopGrace = time.Second
	// healthyAfter resets a slot's crash backoff.
	healthyAfter = 60 * time.Second
	maxBackoff   = 30 * time.Second
)

type eventKind int

const (
	evExit eventKind = iota
	evRespawn
	evRetire
	evFunc // run fn on the loop, then close done
)

type event struct {
	kind  eventKind
	proc  *proc
	index int
	gen   uint64
	files []*os.File
	fn    func()
	done  chan struct{}
}

// Master is the running supervisor. All fields are owned by the loop
// goroutine.
type Master struct {
	path    string // config path ("" = embedded default)
	cfg     *config.Config
	cfgJSON []byte
	log     *logx.Log
	upg     *tableflip.Upgrader
	socks   *sockets
	ctl     *controlServer
	notify  notifier

	errFile *os.File // error log file (nil = stderr)

	fpm        *phpfpm.Manager   // managed php-fpm pools (nil until one is configured)
	acme       *acmeState        // ACME manager (nil without [tls.acme])
	ticket     ticketKeys        // session-ticket keys shared by every worker
	material   *tlsmat.Material  // current TLS material (nil without [tls])
	challenges tlsmat.Challenges // current ACME answers
	accessFile *os.File          // access log file (nil = stderr/stdout)

	gen      uint64
	cur      []*proc // current generation, by worker index
	procs    map[*proc]bool
	crashes  []slotCrash // by worker index
	restarts int
	started  time.Time
	events   chan event
	stopping bool
	// sigs is the loop's signal channel; waitAll watches it so that TERM
	// or INT during a graceful stop or drain escalates to a fast stop.
	sigs chan os.Signal
}

type slotCrash struct {
	backoff time.Duration
	pending bool
}

// Run starts the master and returns when it has stopped (or handed over
// to a new binary). path is the config source ("" = the embedded default).
func Run(path string, cfg *config.Config) error {
	// A closed stdout/stderr (the terminal or pipe that started us went
	// away, journald restarted) must not kill the master: Go's default for
	// EPIPE on fd 1 and 2 is death by SIGPIPE. Ignored, a log write just
	// fails (nginx ignores SIGPIPE too). Workers and a new master of a
	// binary upgrade inherit the setting.
	signal.Ignore(syscall.SIGPIPE)
	lg, err := logx.New(cfg)
	if err != nil {
		return err
	}
	defer lg.Close()
	m := &Master{path: path, cfg: cfg, log: lg, procs: map[*proc]bool{}, started: time.Now(), events: make(chan event, 64)}
	for _, w := range cfg.Warnings {
		lg.Warn(w)
	}
	if err := m.start(); err != nil {
		m.shutdownNow()
		return err
	}
	err = m.loop()
	if m.ctl != nil {
		// The loop closed the control socket; let the last answers out.
		m.ctl.flush(2 * time.Second)
	}
	return err
}

func (m *Master) start() error {
	cfg := m.cfg
	pid := *cfg.Server.Process.PidFile
	if pid != "" {
		if err := ensureRunDir(pid); err != nil {
			return err
		}
	}
	upg, err := tableflip.New(tableflip.Options{PIDFile: pid, UpgradeTimeout: UpgradeTimeout})
	if err != nil {
		return fmt.Errorf("upgrader: %w", err)
	}
	m.upg = upg
	m.socks = newSockets(upg.Fds)
	if !upg.HasParent() {
		if err := m.adoptActivated(); err != nil {
			return err
		}
	}
	if err := m.openLogs(cfg); err != nil {
		return err
	}
	if ctl := *cfg.Server.Process.ControlSock; ctl != "" {
		if err := ensureRunDir(ctl); err != nil {
			return err
		}
		if m.ctl, err = listenControl(ctl, upg.Fds); err != nil {
			return err
		}
	}
	n := cfg.Server.Process.Workers.Count()
	if err := m.ticket.rotate(); err != nil {
		return err
	}
	if err := m.startACME(cfg); err != nil {
		return err
	}
	if m.material, err = loadMaterial(cfg, &m.ticket, m.acmePairs()); err != nil {
		return err
	}
	if _, err := m.socks.ensure(listenAddrs(cfg), n, *cfg.Server.Process.Reuseport); err != nil {
		return err
	}
	if m.cfgJSON, err = json.Marshal(cfg); err != nil {
		return err
	}
	// Managed php-fpm first: during a binary upgrade the new instances take
	// the inherited sockets and serve before the old master stops its own.
	if err := m.reconcilePHP(cfg); err != nil {
		return err
	}
	procs, err := m.startGeneration(1, cfg, m.cfgJSON)
	if err != nil {
		return err
	}
	m.gen, m.cur = 1, procs
	m.crashes = make([]slotCrash, len(procs))
	if err := upg.Ready(); err != nil {
		return err
	}
	status := fmt.Sprintf("serving %s with %d workers", strings.Join(listenAddrs(cfg), " "), len(procs))
	if upg.HasParent() {
		// The old master tells systemd our pid (MAINPID) once we are
		// ready; it is still the main process until then.
		m.log.Info("binary upgrade: new master ready", "pid", os.Getpid())
	} else if err := m.notify.send("READY=1\nSTATUS=" + status); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	m.log.Info("fluxheim master ready", "pid", os.Getpid(), "workers", len(procs), "listen", cfg.Server.Listen, "config", cfg.Sources)
	return nil
}

// startGeneration spawns every worker of a generation and waits until
// all are ready; on any failure it stops the ones it started.
func (m *Master) startGeneration(gen uint64, cfg *config.Config, cfgJSON []byte) ([]*proc, error) {
	n := cfg.Server.Process.Workers.Count()
	cred, err := credential(&cfg.Server.Process)
	if err != nil {
		return nil, err
	}
	gomax := workerProcs(n)
	procs := make([]*proc, 0, n)
	fail := func(err error) ([]*proc, error) {
		for _, p := range procs {
			p.kill()
		}
		return nil, err
	}
	for i := 0; i < n; i++ {
		p, err := spawn(m.specFor(gen, i, n, cfg, cfgJSON, cred, gomax), m.events)
		if err != nil {
			return fail(err)
		}
		m.procs[p] = true
		procs = append(procs, p)
	}
	for _, p := range procs {
		if err := p.waitReady(ReadyTimeout); err != nil {
			return fail(err)
		}
	}
	return procs, nil
}

func (m *Master) specFor(gen uint64, i, n int, cfg *config.Config, cfgJSON []byte, cred *syscall.Credential, gomax int) spawnSpec {
	return spawnSpec{
		gen: gen, index: i, cfgJSON: cfgJSON,
		assign:  m.socks.forWorkerTLS(listenAddrs(cfg), tlsAddrs(cfg), i, n),
		tlsJSON: m.pendingTLS(cfg), challengesJSON: m.challengesJSON(),
		accessLog: m.accessFile, errorLog: m.errFile, cred: cred, gomaxprocs: gomax,
	}
}

// loop is the master's event loop.
func (m *Master) loop() error {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	m.sigs = sigs
	var ctlReqs <-chan ctlRequest
	if m.ctl != nil {
		ctlReqs = m.ctl.reqs
	}
	rotate := time.NewTicker(TicketRotation)
	defer rotate.Stop()
	for {
		select {
		case <-rotate.C:
			if err := m.ticket.rotate(); err != nil {
				m.log.Error("rotating session-ticket keys", "err", err)
				continue
			}
			m.pushTLS()
		case sig := <-sigs:
			if done := m.onSignal(sig); done {
				return nil // onSignal already released what it had to
			}
		case req := <-ctlReqs:
			if strings.HasPrefix(req.cmd, "acme-") {
				st := m.acme
				go func(r ctlRequest) { r.reply <- acmeCommand(st, r.cmd) }(req)
				continue
			}
			res, exit := m.onControl(req.cmd)
			req.reply <- res
			switch exit {
			case exitStopped:
				m.finish()
				return nil
			case exitUpgraded:
				return nil
			}
		case ev := <-m.events:
			m.onEvent(ev)
		case <-m.upg.Exit():
			// A new master took over (upgrade requested elsewhere).
			m.handOver()
			return nil
		}
	}
}

func (m *Master) onSignal(sig os.Signal) bool {
	switch sig {
	case syscall.SIGHUP:
		if err := m.reload(); err != nil {
			m.log.Error("reload failed; the old configuration keeps serving", "err", err.Error())
		}
	case syscall.SIGUSR1:
		m.reopen()
	case syscall.SIGUSR2:
		if err := m.upgrade(); err != nil {
			m.log.Error("binary upgrade failed; this master keeps serving", "err", err.Error())
			return false
		}
		return true
	case syscall.SIGQUIT:
		m.gracefulStop()
		m.finish()
		return true
	default:
		m.fastStop()
		m.finish()
		return true
	}
	return false
}

type exitKind int

const (
	keepRunning  exitKind = iota
	exitStopped           // final stop: release everything
	exitUpgraded          // a new master owns the sockets now
)

// onControl runs a control-socket command and says whether the master
// exits.
func (m *Master) onControl(cmd string) (ctlResponse, exitKind) {
	switch cmd {
	case "reload":
		if err := m.reload(); err != nil {
			return ctlResponse{Error: err.Error()}, keepRunning
		}
		return ctlResponse{OK: true, Message: fmt.Sprintf("reloaded: generation %d serving", m.gen)}, keepRunning
	case "reopen":
		if err := m.reopen(); err != nil {
			return ctlResponse{Error: err.Error()}, keepRunning
		}
		return ctlResponse{OK: true, Message: "logs reopened"}, keepRunning
	case "status":
		st := m.status()
		return ctlResponse{OK: true, Status: &st}, keepRunning
	case "upgrade":
		if err := m.upgrade(); err != nil {
			return ctlResponse{Error: err.Error()}, keepRunning
		}
		return ctlResponse{OK: true, Message: "upgraded: new master " + strconv.Itoa(m.newMasterPid()) + " serving"}, exitUpgraded
	case "quit":
		m.gracefulStop()
		return ctlResponse{OK: true, Message: "stopped gracefully"}, exitStopped
	case "stop":
		m.fastStop()
		return ctlResponse{OK: true, Message: "stopped"}, exitStopped
	}
	return ctlResponse{Error: "unknown command " + strconv.Quote(cmd)}, keepRunning
}

func (m *Master) onEvent(ev event) {
	switch ev.kind {
	case evExit:
		p := ev.proc
		delete(m.procs, p)
		if p.stopping || m.stopping || p.gen != m.gen || p.index >= len(m.cur) || m.cur[p.index] != p {
			return
		}
		m.restarts++
		if f := p.fatal.Load(); f != nil {
			m.log.Error("worker reported a fatal error; not respawning it", "pid", p.pid, "index", p.index, "err", *f)
			m.notify.send("STATUS=degraded: worker " + strconv.Itoa(p.index) + " failed: " + *f)
			return
		}
		c := &m.crashes[p.index]
		if time.Since(p.started) > healthyAfter {
			c.backoff = 0
		}
		m.log.Error("worker died; respawning", "pid", p.pid, "index", p.index, "exit", fmt.Sprint(p.exitErr), "backoff", c.backoff.String(), "restarts", m.restarts)
		if c.backoff >= maxBackoff {
			m.log.Error("worker is crash-looping", "index", p.index, "restarts", m.restarts)
		}
		delay := c.backoff
		c.backoff = nextBackoff(c.backoff)
		c.pending = true
		idx, gen := p.index, m.gen
		time.AfterFunc(delay, func() { m.events <- event{kind: evRespawn, index: idx, gen: gen} })
	case evRespawn:
		if ev.gen != m.gen || m.stopping || ev.index >= len(m.cur) {
			return
		}
		m.crashes[ev.index].pending = false
		n := len(m.cur)
		cred, err := credential(&m.cfg.Server.Process)
		if err != nil {
			m.log.Error("respawn", "err", err)
			return
		}
		p, err := spawn(m.specFor(m.gen, ev.index, n, m.cfg, m.cfgJSON, cred, workerProcs(n)), m.events)
		if err != nil {
			m.log.Error("respawn failed", "index", ev.index, "err", err)
			time.AfterFunc(m.crashes[ev.index].backoff, func() { m.events <- event{kind: evRespawn, index: ev.index, gen: ev.gen} })
			return
		}
		m.procs[p] = true
		m.cur[ev.index] = p
	case evFunc:
		ev.fn()
		close(ev.done)
	case evRetire:
		for _, f := range ev.files {
			shutdownClose(f)
		}
	}
}

// nextBackoff: 0 for the first crash, then 100 ms doubling to 30 s.
func nextBackoff(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return 100 * time.Millisecond
	case d*2 > maxBackoff:
		return maxBackoff
	}
	return d * 2
}

// reload validates the new config and swaps generations: the new one is
// ready before the old one drains. On any error nothing changes.
func (m *Master) reload() error {
	if m.path == "" {
		return errors.New("running on the embedded default config; nothing to reload (start with -c PATH)")
	}
	m.notify.send("RELOADING=1\n" + monotonicUsec() + "STATUS=reloading")
	err := m.reloadLocked()
	if err != nil {
		m.notify.send("READY=1\nSTATUS=reload failed: " + firstLine(err.Error()))
		return err
	}
	m.notify.send(fmt.Sprintf("READY=1\nSTATUS=generation %d serving with %d workers", m.gen, len(m.cur)))
	return nil
}

func (m *Master) reloadLocked() error {
	cfg, err := config.Load(m.path, config.Options{})
	if err != nil {
		return err
	}
	if *cfg.Server.Process.PidFile != *m.cfg.Server.Process.PidFile || *cfg.Server.Process.ControlSock != *m.cfg.Server.Process.ControlSock {
		return errors.New("server.process.pid_file and control_sock belong to the running master: change them with a binary upgrade (fluxheim -s upgrade) or a restart")
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	n := cfg.Server.Process.Workers.Count()
	if err := m.startACME(cfg); err != nil {
		return err
	}
	defer func() {
		if m.cfg != cfg { // the reload failed: back to the old ACME targets
			if err := m.startACME(m.cfg); err != nil {
				m.log.Error("restoring ACME after a failed reload", "err", err)
			}
		}
	}()
	mat, err := loadMaterial(cfg, &m.ticket, m.acmePairs())
	if err != nil {
		return err
	}
	oldMat := m.material
	m.material = mat // the new generation starts with it; restored on failure below
	defer func() {
		if m.cfg != cfg {
			m.material = oldMat
		}
	}()
	created, err := m.socks.ensure(listenAddrs(cfg), n, *cfg.Server.Process.Reuseport)
	if err != nil {
		return err
	}
	oldAccess, oldErr := m.accessFile, m.errFile
	if err := m.openLogs(cfg); err != nil {
		m.socks.rollback(created)
		return err
	}
	gen := m.gen + 1
	if err := m.reconcilePHP(cfg); err != nil {
		m.socks.rollback(created)
		m.closeLogs()
		m.accessFile, m.errFile = oldAccess, oldErr
		return err
	}
	procs, err := m.startGeneration(gen, cfg, cfgJSON)
	if err != nil {
		if perr := m.reconcilePHP(m.cfg); perr != nil {
			m.log.Error("restoring php-fpm pools after a failed reload", "err", perr)
		}
		m.socks.rollback(created)
		m.closeLogs()
		m.accessFile, m.errFile = oldAccess, oldErr
		return err
	}
	old := m.cur
	m.cfg, m.cfgJSON, m.gen, m.cur = cfg, cfgJSON, gen, procs
	m.crashes = make([]slotCrash, len(procs))
	retiredKeys, retiredFiles := m.socks.retire(listenAddrs(cfg))
	deadline := time.Now().Add(time.Duration(cfg.Server.Process.WorkerShutdownTimeoutSecs) * time.Second)
	var draining []*proc
	for _, p := range old {
		if p != nil && p.alive() {
			p.drain(deadline, retiredKeys)
			go killAt(p, deadline)
			draining = append(draining, p)
		}
	}
	// Answer only when the old generation stopped accepting: from then on
	// every new connection reaches generation gen.
	for _, p := range waitAcked(draining, ackTimeout) {
		m.log.Warn("draining worker did not confirm that it stopped accepting", "pid", p.pid, "generation", p.gen)
	}
	if len(retiredFiles) > 0 {
		time.AfterFunc(retireDelay, func() { m.events <- event{kind: evRetire, files: retiredFiles} })
	}
	closeIfOther(oldAccess, m.accessFile)
	closeIfOther(oldErr, m.errFile)
	m.log.Info("reloaded", "generation", gen, "workers", len(procs), "listen", cfg.Server.Listen)
	return nil
}

// killAt kills a draining worker that outlives its deadline.
func killAt(p *proc, deadline time.Time) {
	select {
	case <-p.exited:
	case <-time.After(time.Until(deadline) + stopGrace):
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(stopGrace):
			p.kill()
		}
	}
}

// upgrade hands over to a new binary (tableflip). On success the old
// master drains its workers and returns true to exit.
func (m *Master) upgrade() error {
	if err := m.upg.Upgrade(); err != nil {
		return fmt.Errorf("new binary did not take over: %w", err)
	}
	m.handOver()
	return nil
}

// handOver is what the old master does after a successful upgrade:
// tell systemd the new main pid, stop answering the control socket,
// drain the workers, exit (leaving the pid file to the new master).
func (m *Master) handOver() {
	if pid := m.newMasterPid(); pid > 0 {
		m.notify.send("MAINPID=" + strconv.Itoa(pid) + "\nSTATUS=upgraded to pid " + strconv.Itoa(pid))
	}
	m.log.Info("binary upgrade done; old master draining", "new_pid", m.newMasterPid())
	if m.ctl != nil {
		m.ctl.close()
	}
	m.drainAll(time.Duration(m.cfg.Server.Process.WorkerShutdownTimeoutSecs)*time.Second, false)
	m.stopPHP(true, time.Duration(m.cfg.Server.Process.WorkerShutdownTimeoutSecs)*time.Second)
	m.socks.closeAll()
	m.closeLogs()
}

// newMasterPid reads the pid file the new master wrote (0 if unknown).
func (m *Master) newMasterPid() int {
	p := *m.cfg.Server.Process.PidFile
	if p == "" {
		return 0
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if n == os.Getpid() {
		return 0
	}
	return n
}

// gracefulStop drains every worker (in-flight requests finish) within
// graceful_shutdown_timeout_seconds.
func (m *Master) gracefulStop() {
	m.stopping = true
	m.notify.send("STOPPING=1\nSTATUS=stopping gracefully")
	if gp := m.cfg.Server.Process.GracePeriodSeconds; gp > 0 {
		time.Sleep(time.Duration(gp) * time.Second)
	}
	m.drainAll(time.Duration(m.cfg.Server.Process.GracefulShutdownTimeoutSeconds)*time.Second, true)
	m.stopPHP(true, time.Duration(m.cfg.Server.Process.GracefulShutdownTimeoutSeconds)*time.Second)
}

// drainAll drains every worker. With closeSockets (a final stop) the
// listening sockets close as soon as the workers stopped accepting, so new
// clients are refused at once instead of queueing; after an upgrade the
// new master owns them.
func (m *Master) drainAll(timeout time.Duration, closeSockets bool) {
	m.stopping = true
	deadline := time.Now().Add(timeout)
	for p := range m.procs {
		if p.alive() {
			p.drain(deadline, nil)
		}
	}
	if closeSockets {
		m.upg.Stop()
		m.socks.closeAll()
	}
	m.waitAll(time.Until(deadline) + stopGrace)
}

// fastStop stops every worker at once.
func (m *Master) fastStop() {
	m.stopping = true
	m.notify.send("STOPPING=1\nSTATUS=stopping")
	for p := range m.procs {
		p.stop()
	}
	m.waitAll(stopGrace)
	m.stopPHP(false, 0)
}

// waitAll waits for every worker to exit, killing what is left after d.
// SIGTERM or SIGINT meanwhile (nginx: TERM after QUIT) stops the workers at
// once and kills what is left after stopGrace.
func (m *Master) waitAll(d time.Duration) {
	timeout := time.After(d)
	fast := false
	for p := range m.procs {
	wait:
		for {
			select {
			case <-p.exited:
				break wait
			case sig := <-m.sigs:
				if fast || (sig != syscall.SIGTERM && sig != syscall.SIGINT) {
					continue
				}
				fast = true
				m.log.Info("fast stop while draining", "signal", sig.String())
				m.notify.send("STATUS=stopping")
				for q := range m.procs {
					q.stop()
				}
				timeout = time.After(stopGrace)
			case <-timeout:
				for q := range m.procs {
					q.kill()
				}
				for q := range m.procs {
					<-q.exited
				}
				return
			}
		}
	}
}

// finish releases what the master owns on a final stop.
func (m *Master) finish() {
	if m.ctl != nil {
		m.ctl.close()
		m.ctl.remove()
	}
	m.upg.Stop()
	m.socks.closeAll()
	if p := *m.cfg.Server.Process.PidFile; p != "" {
		removeOwnPidFile(p)
	}
	m.closeLogs()
	m.log.Info("fluxheim master stopped")
}

// shutdownNow cleans up after a failed start.
func (m *Master) shutdownNow() {
	for p := range m.procs {
		p.kill()
	}
	// Graceful: during a failed upgrade these instances may already
	// accept on sockets shared with the old master.
	m.stopPHP(true, 10*time.Second)
	if m.upg != nil {
		m.upg.Stop()
	}
	if m.socks != nil {
		m.socks.closeAll()
	}
	m.closeLogs()
}

// removeOwnPidFile removes the pid file only if it names this process.
func removeOwnPidFile(p string) {
	b, err := os.ReadFile(p)
	if err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(os.Getpid()) {
		os.Remove(p)
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// onLoop runs fn on the master loop (which owns the master's state) and
// waits for it, for callbacks from other goroutines (ACME). It gives up
// after loopWait.
func (m *Master) onLoop(fn func()) bool {
	done := make(chan struct{})
	select {
	case m.events <- event{kind: evFunc, fn: fn, done: done}:
	case <-time.After(loopWait):
		return false
	}
	select {
	case <-done:
		return true
	case <-time.After(loopWait):
		return false
	}
}

// onLoopErr is onLoop for a function that can fail.
func (m *Master) onLoopErr(fn func() error) error {
	var err error
	if !m.onLoop(func() { err = fn() }) {
		return errors.New("the master loop did not run the request in time")
	}
	return err
}

// loopWait bounds onLoop.
const loopWait = 60 * time.Second
