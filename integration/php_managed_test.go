package integration

// Managed php-fpm ([vhosts.php.fpm] mode = "managed", issue 5): the real
// fluxheim binary (php-fpm build) starts Debian's php-fpm as a child of its
// master and supervises it through crashes, reloads, binary upgrades and
// shutdown, while PHP requests keep being served.
//
// Every test runs in a short directory under /tmp (pid file, control
// socket, the php-fpm state directory beside them, the web root) with the
// pool socket in another short directory: unix socket paths are limited to
// 107 bytes, the php-fpm state directory to 64, and t.TempDir() paths can
// be longer. When the tests run as root
// the fluxheim workers run as nobody (the pool socket is then owned by
// nobody) and php-fpm's workers as nobody/nogroup.
//
// The test scripts answer with posix_getppid(): the pid of the php-fpm
// master whose child served the request, so a response says which php-fpm
// instance it came from.
//
// The load classes and their rules are those of the process-model tests:
// keep-alive and new-connection GETs must not fail; keep-alive POSTs with a
// non-replayable body are reported (target zero). With FastCGI keep-alive a
// POST can get a 502 while a pool is replaced: a child of the old instance
// closes its kept connection (SIGQUIT) just as a request is written to it,
// and the FastCGI client retries such a stale connection for safe methods
// only.
//
// The tests are skipped with -short (real binary, signals, load). Names
// start with "phm" so they do not collide with other test files of this
// package.

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/integration/harness"
)

// phmScript answers "php ok ppid=<php-fpm master pid>", after sleeping
// ?ms=N milliseconds; a POST answers with the length of its body too.
const phmScript = `<?php
$ms = (int)($_GET['ms'] ?? 0);
if ($ms > 0) { usleep($ms * 1000); }
if ($_SERVER['REQUEST_METHOD'] === 'POST') {
  echo "php post n=", strlen(file_get_contents('php://input')), " ppid=", posix_getppid(), "\n";
  return;
}
echo "php ok ppid=", posix_getppid(), "\n";
`

// phmSite is a managed-PHP fluxheim under test.
type phmSite struct {
	t       *testing.T
	cfg     pmProcConfig
	sockDir string
	fpmBin  string
	workers int // the pool's workers
	extra   string
	m       *pmFhMaster
	addr    string

	mu      sync.Mutex
	fpmPids map[int]bool // every php-fpm master pid seen (for the leftovers scan)
}

// phmShortDir makes a directory /tmp/<prefix>XXXX, 0755, removed at the end.
func phmShortDir(t *testing.T, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", prefix)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// phmNewSite prepares the directories and the config (workers php-fpm
// children, static) without starting anything.
func phmNewSite(t *testing.T, workers int) *phmSite {
	t.Helper()
	pmSkipUnlessProcessTests(t)
	fpmBin := phpFPMBinary(t)
	if fpmBin != "/usr/sbin/php-fpm8.2" {
		t.Logf("using %s", fpmBin)
	}
	dir := phmShortDir(t, "fhpm-")
	sockDir := phmShortDir(t, "fhps-")
	phpWriteTree(t, filepath.Join(dir, "www"), map[string]string{
		"index.html": pmStaticBody,
		"hello.php":  phmScript,
	})
	s := &phmSite{t: t, sockDir: sockDir, fpmBin: fpmBin, workers: workers, fpmPids: map[int]bool{}}
	s.cfg = pmProcConfig{
		Dir:       dir,
		Listen:    []string{harness.FreeAddr(t)},
		Workers:   2,
		Gen:       1,
		Reuseport: true,
		Keepalive: 10,
		DrainSecs: 5,
		QuitSecs:  10,
	}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("nobody"); err == nil {
			s.cfg.User = "nobody"
		}
	}
	s.addr = s.cfg.Listen[0]
	s.render()
	// Runs after the master's own cleanup (cleanups run last-in first-out):
	// whatever php-fpm of this test is left goes, and the test says so.
	t.Cleanup(func() {
		if left := s.leftovers(); len(left) > 0 {
			t.Errorf("php-fpm processes left after the test: %v", left)
			for _, p := range left {
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
			}
		}
	})
	return s
}

// render puts the [vhosts.php] block of the current settings into the
// config. max_in_flight is raised above the default 8: the load's 9
// clients may all reach the same fluxheim worker.
func (s *phmSite) render() {
	owner := ""
	if os.Geteuid() == 0 {
		owner = "user = \"nobody\"\ngroup = \"nogroup\"\n"
	}
	s.cfg.ExtraLines = fmt.Sprintf(`
[vhosts.php]
root = "%s/www"
max_in_flight = 64

[vhosts.php.fpm]
mode = "managed"
php_fpm_binary = %q
socket_dir = %q
workers = %d
process_manager = "static"
%s%s`, s.cfg.Dir, s.fpmBin, s.sockDir, s.workers, owner, s.extra)
}

// start starts the master and waits until PHP answers.
func (s *phmSite) start() {
	s.t.Helper()
	s.m = pmStartMaster(s.t, s.cfg, pmMasterOpts{Binary: harness.BinaryWithFeatures(s.t, phpFeatures)})
	s.waitPHP(0, 10*time.Second)
}

// write rewrites the config file.
func (s *phmSite) write() {
	s.t.Helper()
	s.render()
	s.cfg.write(s.t)
}

// socket is the pool's socket path.
func (s *phmSite) socket() string { return filepath.Join(s.sockDir, "t.sock") }

// ctl runs `fluxheim -s CMD` with the php-fpm build (the default build
// refuses a config with [vhosts.php]).
func (s *phmSite) ctl(cmd string) (stdout, stderr string, code int) {
	s.t.Helper()
	return harness.RunWith(s.t, harness.RunOptions{
		Args:    []string{"-s", cmd, "-c", s.m.cfgPath},
		Timeout: 90 * time.Second,
		Binary:  s.m.bin,
	})
}

func (s *phmSite) mustCtl(cmd string) string {
	s.t.Helper()
	out, errOut, code := s.ctl(cmd)
	if code != 0 {
		s.t.Fatalf("fluxheim -s %s: exit %d\nstdout: %s\nstderr: %s", cmd, code, out, errOut)
	}
	return out
}

// phmPoolStatus is a "php-fpm pool" line of -s status.
type phmPoolStatus struct {
	Name     string
	Pid      int
	Socket   string
	Restarts int
}

var phmPoolRE = regexp.MustCompile(`php-fpm pool (\S+)\s+pid (\d+)\s+socket (\S+)\s+restarts (\d+)`)

// status returns the master status and its php-fpm pools.
func (s *phmSite) status() (pmMasterStatus, []phmPoolStatus) {
	s.t.Helper()
	out := s.mustCtl("status")
	st, err := pmParseStatus(out)
	if err != nil {
		s.t.Fatal(err)
	}
	var pools []phmPoolStatus
	for _, m := range phmPoolRE.FindAllStringSubmatch(out, -1) {
		p := phmPoolStatus{Name: m[1], Socket: m[3]}
		p.Pid, _ = strconv.Atoi(m[2])
		p.Restarts, _ = strconv.Atoi(m[4])
		pools = append(pools, p)
		if p.Pid > 0 {
			s.mu.Lock()
			s.fpmPids[p.Pid] = true
			s.mu.Unlock()
		}
	}
	return st, pools
}

// pool returns the single pool "t" of -s status (pid 0 while a restart is
// pending).
func (s *phmSite) pool() phmPoolStatus {
	s.t.Helper()
	_, pools := s.status()
	if len(pools) != 1 || pools[0].Name != "t" {
		s.t.Fatalf("-s status lists php-fpm pools %+v, want the one pool \"t\"", pools)
	}
	return pools[0]
}

// waitPool waits until -s status shows a php-fpm pid for which ok is true.
func (s *phmSite) waitPool(ok func(phmPoolStatus) bool, timeout time.Duration) phmPoolStatus {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		p := s.pool()
		if p.Pid > 0 && ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("php-fpm pool after %v: %+v", timeout, p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// get fetches /hello.php on a new connection and returns the status, the
// body and the ppid it names.
func (s *phmSite) get(query string) (int, string, int, error) {
	r, err := harness.TryGet("http://"+s.addr+"/hello.php"+query, "")
	if err != nil {
		return 0, "", 0, err
	}
	return r.Status, r.Body, phmPPid(r.Body), nil
}

var phmPPidRE = regexp.MustCompile(`ppid=(\d+)`)

func phmPPid(body string) int {
	m := phmPPidRE.FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// waitPHP waits until /hello.php answers 200 from the php-fpm master fpm
// (any, with 0) and returns that pid.
func (s *phmSite) waitPHP(fpm int, timeout time.Duration) int {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, body, ppid, err := s.get("")
		if err == nil && code == 200 && strings.HasPrefix(body, "php ok ppid=") && ppid > 0 && (fpm == 0 || ppid == fpm) {
			return ppid
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("GET /hello.php from php-fpm %d: %d %q %v (after %v)", fpm, code, pmTruncate(body, 200), err, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// phmProc is a process of /proc.
type phmProc struct {
	pid, ppid, pgid int
	cmdline         string
}

func (p phmProc) String() string {
	return fmt.Sprintf("%d(ppid %d, pgid %d, %q)", p.pid, p.ppid, p.pgid, p.cmdline)
}

// phmPHPFPMProcs lists the live php-fpm processes (by /proc/PID/exe: php-fpm
// rewrites its command line and runs from /proc/self/fd/N).
func phmPHPFPMProcs() []phmProc {
	ents, _ := os.ReadDir("/proc")
	var out []phmProc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil || !strings.Contains(filepath.Base(exe), "php-fpm") {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		st := string(b)
		i := strings.LastIndexByte(st, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(st[i+1:])
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		p := phmProc{pid: pid}
		p.ppid, _ = strconv.Atoi(f[1])
		p.pgid, _ = strconv.Atoi(f[2])
		cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		p.cmdline = strings.TrimSpace(strings.ReplaceAll(string(cl), "\x00", " "))
		out = append(out, p)
	}
	return out
}

// leftovers lists the php-fpm processes of this test: a command line that
// names the test directory (a php-fpm master names its config), a process
// group of a php-fpm master seen in -s status or found so, or a fluxheim
// master of this test as parent.
func (s *phmSite) leftovers() []phmProc {
	procs := phmPHPFPMProcs()
	s.mu.Lock()
	groups := map[int]bool{}
	for p := range s.fpmPids {
		groups[p] = true
	}
	s.mu.Unlock()
	for _, p := range procs {
		if strings.Contains(p.cmdline, s.cfg.Dir) {
			groups[p.pid] = true
		}
	}
	masters := map[int]bool{}
	if s.m != nil {
		s.m.mu.Lock()
		for p := range s.m.pids {
			masters[p] = true
		}
		s.m.mu.Unlock()
	}
	var out []phmProc
	for _, p := range procs {
		if strings.Contains(p.cmdline, s.cfg.Dir) || groups[p.pgid] || masters[p.ppid] {
			out = append(out, p)
		}
	}
	return out
}

// checkInstance checks a php-fpm master: a child of fluxheim master
// master, leader of its own process group, with exactly want children
// (its workers, in its group, running as nobody when we are root).
func (s *phmSite) checkInstance(what string, fpm, master, want int) {
	s.t.Helper()
	if _, ppid, ok := pmProcStat(fpm); !ok || ppid != master {
		s.t.Errorf("%s: php-fpm master %d has parent %d (exists %v), want the fluxheim master %d", what, fpm, ppid, ok, master)
	}
	var kids []phmProc
	for _, p := range phmPHPFPMProcs() {
		if p.pid == fpm && p.pgid != fpm {
			s.t.Errorf("%s: php-fpm master %d is in process group %d, want its own", what, fpm, p.pgid)
		}
		if p.ppid == fpm {
			kids = append(kids, p)
		}
	}
	// A static pool forks its children right after "ready"; give it a moment.
	deadline := time.Now().Add(3 * time.Second)
	for len(kids) != want && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		kids = kids[:0]
		for _, p := range phmPHPFPMProcs() {
			if p.ppid == fpm {
				kids = append(kids, p)
			}
		}
	}
	if len(kids) != want {
		s.t.Errorf("%s: php-fpm master %d has %d children %v, want %d", what, fpm, len(kids), kids, want)
	}
	if os.Geteuid() != 0 {
		return
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		return
	}
	for _, k := range kids {
		if k.pgid != fpm {
			s.t.Errorf("%s: php-fpm child %v is not in its master's process group", what, k)
		}
		if uid := strings.Fields(pmProcStatusField(k.pid, "Uid")); len(uid) == 0 || uid[1] != nobody.Uid {
			s.t.Errorf("%s: php-fpm child %d runs as uid %v, want nobody (%s)", what, k.pid, uid, nobody.Uid)
		}
	}
}

// socketIno is the inode of the pool's socket file.
func (s *phmSite) socketIno() uint64 {
	s.t.Helper()
	fi, err := os.Stat(s.socket())
	if err != nil {
		s.t.Fatalf("pool socket: %v", err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		s.t.Fatalf("%s is not a socket: %v", s.socket(), fi.Mode())
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// ---------------------------------------------------------------------------
// PHP load.

// phmStats counts the outcomes of one load class.
type phmStats struct {
	Total, OK int
	Errs      map[string]int // by pmErrKind, plus "status" and "body"
	Samples   []string
	ByFPM     map[int]int // OK responses by the php-fpm master that served them
}

func (s *phmStats) failed() int {
	n := 0
	for _, v := range s.Errs {
		n += v
	}
	return n
}

func (s *phmStats) String() string {
	var fpm []string
	for p, n := range s.ByFPM {
		fpm = append(fpm, fmt.Sprintf("php-fpm %d: %d", p, n))
	}
	sort.Strings(fpm)
	return fmt.Sprintf("%d requests, %d ok, %d failed %v; served by %s", s.Total, s.OK, s.failed(), s.Errs, strings.Join(fpm, ", "))
}

// phmLoad sends PHP requests continuously: keep-alive GETs, GETs on a new
// connection each, keep-alive POSTs with a non-replayable body. Every
// request sleeps ms milliseconds in PHP, so some are always in flight in
// php-fpm.
type phmLoad struct {
	addr  string
	ms    int
	stop  chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	stats [pmNumClasses]*phmStats
}

func phmStartLoad(t *testing.T, addr string, ms int, keepAlive, newConn, post int) *phmLoad {
	t.Helper()
	l := &phmLoad{addr: addr, ms: ms, stop: make(chan struct{})}
	for i := range l.stats {
		l.stats[i] = &phmStats{Errs: map[string]int{}, ByFPM: map[int]int{}}
	}
	for c, n := range map[pmLoadClass]int{pmClassKeepAlive: keepAlive, pmClassNewConn: newConn, pmClassPost: post} {
		for i := 0; i < n; i++ {
			l.wg.Add(1)
			go l.worker(c)
		}
	}
	t.Cleanup(func() { l.finish() })
	return l
}

func (l *phmLoad) finish() [pmNumClasses]*phmStats {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
	return l.stats
}

// total is the number of requests so far.
func (l *phmLoad) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.stats {
		n += s.Total
	}
	return n
}

func (l *phmLoad) worker(c pmLoadClass) {
	defer l.wg.Done()
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: c == pmClassNewConn, MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	const postSize = 4096
	payload := strings.Repeat("p", postSize)
	url := fmt.Sprintf("http://%s/hello.php?ms=%d", l.addr, l.ms)
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		var req *http.Request
		want := "php ok ppid="
		if c == pmClassPost {
			req, _ = http.NewRequest(http.MethodPost, url, pmPostBody{strings.NewReader(payload)})
			req.ContentLength = postSize
			req.Header.Set("Content-Type", "application/octet-stream")
			want = fmt.Sprintf("php post n=%d ppid=", postSize)
		} else {
			req, _ = http.NewRequest(http.MethodGet, url, nil)
		}
		// Go's transport silently resends an idempotent request when a
		// reused connection was closed under it; count that as a failure.
		var conns atomic.Int32
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(httptrace.GotConnInfo) { conns.Add(1) },
		}))
		start := time.Now()
		kind, detail, fpm := "", "", 0
		resp, err := client.Do(req)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case rerr != nil:
				err = rerr
			case resp.StatusCode != 200:
				kind, detail = "status", fmt.Sprintf("status %d: %q", resp.StatusCode, pmTruncate(string(body), 120))
			case !strings.HasPrefix(string(body), want):
				kind, detail = "body", fmt.Sprintf("body %q", pmTruncate(string(body), 120))
			default:
				fpm = phmPPid(string(body))
			}
		}
		if err == nil && kind == "" && conns.Load() > 1 {
			err = pmErrRetried
		}
		if err != nil {
			kind, detail = pmErrKind(err), err.Error()
		}
		l.mu.Lock()
		s := l.stats[c]
		s.Total++
		if kind == "" {
			s.OK++
			s.ByFPM[fpm]++
		} else {
			s.Errs[kind]++
			if len(s.Samples) < 8 {
				s.Samples = append(s.Samples, fmt.Sprintf("%s +%s: %s: %s", start.Format("15:04:05.000"), time.Since(start).Round(time.Millisecond), kind, detail))
			}
		}
		l.mu.Unlock()
	}
}

func (s *phmStats) total() int        { return s.Total }
func (s *phmStats) samples() []string { return s.Samples }

// waitRequests waits until the load made n more requests.
func (l *phmLoad) waitRequests(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	target := l.total() + n
	deadline := time.Now().Add(timeout)
	for l.total() < target {
		if time.Now().After(deadline) {
			t.Fatalf("load: only %d of %d requests after %v", l.total(), target, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// Tests.

// TestPHPManagedStartsPHPFPMAsChild: the master starts php-fpm as its own
// child, in its own process group, with the configured number of workers
// running as the pool user; -s status names it; PHP requests are served
// by its children; the pool socket is owned by the fluxheim worker user
// (private mode 0600).
func TestPHPManagedStartsPHPFPMAsChild(t *testing.T) {
	s := phmNewSite(t, 2)
	s.start()
	p := s.pool()
	if p.Socket != s.socket() || p.Restarts != 0 {
		t.Errorf("-s status: pool %+v, want socket %s and 0 restarts", p, s.socket())
	}
	s.checkInstance("after start", p.Pid, s.m.pid(), 2)
	if got := s.waitPHP(0, 5*time.Second); got != p.Pid {
		t.Errorf("/hello.php was served by a child of php-fpm %d, -s status names %d", got, p.Pid)
	}
	for i := 0; i < 20; i++ {
		code, body, ppid, err := s.get(fmt.Sprintf("?i=%d", i))
		if err != nil || code != 200 || ppid != p.Pid {
			t.Fatalf("GET /hello.php #%d: %d %q %v (want 200 from php-fpm %d)", i, code, body, err, p.Pid)
		}
	}
	// The static file next to the scripts still comes from the web root.
	if r, err := harness.TryGet("http://"+s.addr+"/index.html", ""); err != nil || r.Status != 200 || r.Body != pmStaticBody {
		t.Errorf("GET /index.html: %v %v", r, err)
	}

	fi, err := os.Stat(s.socket())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("pool socket mode %v, want a socket with 0600", fi.Mode())
	}
	if s.cfg.User != "" {
		nobody, _ := user.Lookup(s.cfg.User)
		if uid := fmt.Sprint(fi.Sys().(*syscall.Stat_t).Uid); nobody != nil && uid != nobody.Uid {
			t.Errorf("pool socket owned by uid %s, want the worker user %s (%s)", uid, s.cfg.User, nobody.Uid)
		}
	}
	// The php-fpm state directory lives beside the pid file.
	ents, err := os.ReadDir(filepath.Join(s.cfg.Dir, "php-fpm"))
	if err != nil || len(ents) != 1 || !strings.HasPrefix(ents[0].Name(), fmt.Sprintf("i-%d-", s.m.pid())) {
		t.Errorf("php-fpm state directory: %v, %v; want one instance directory of master %d", ents, err, s.m.pid())
	}
}

// TestPHPManagedRestartsAfterKill: kill -9 of the php-fpm master → the
// fluxheim master starts a new one on the same socket (new pid, restarts 1
// in -s status) that serves within a few seconds; the orphaned workers of
// the killed one go away. PHP load (20 ms per request) runs meanwhile: the
// orphaned workers finish the requests they hold (they get SIGQUIT) and
// new connections wait in the socket's backlog until the new instance
// accepts, so no keep-alive or new-connection request may fail.
func TestPHPManagedRestartsAfterKill(t *testing.T) {
	s := phmNewSite(t, 2)
	s.start()
	old := s.pool()
	ino := s.socketIno()
	load := phmStartLoad(t, s.addr, 20, 3, 3, 2)
	load.waitRequests(t, 50, 10*time.Second)

	killed := time.Now()
	if err := syscall.Kill(old.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p := s.waitPool(func(p phmPoolStatus) bool { return p.Pid != old.Pid }, 5*time.Second)
	s.waitPHP(p.Pid, 5*time.Second)
	t.Logf("php-fpm %d killed; %d serving %v later", old.Pid, p.Pid, time.Since(killed).Round(time.Millisecond))
	if p.Restarts != 1 {
		t.Errorf("-s status after the crash: %+v, want restarts 1", p)
	}
	s.checkInstance("after the restart", p.Pid, s.m.pid(), 2)
	if got := s.socketIno(); got != ino {
		t.Errorf("pool socket replaced (inode %d -> %d), want the same socket", ino, got)
	}
	// The old instance's workers finish their request and exit.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var left []phmProc
		for _, q := range phmPHPFPMProcs() {
			if q.pgid == old.Pid {
				left = append(left, q)
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("workers of the killed php-fpm %d still run: %v", old.Pid, left)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	load.waitRequests(t, 50, 10*time.Second)
	stats := load.finish()
	pmReportLoad(t, stats, pmClassKeepAlive, pmClassNewConn)
	for c := pmLoadClass(0); c < pmNumClasses; c++ {
		if stats[c].Total > 0 && stats[c].ByFPM[p.Pid] == 0 {
			t.Errorf("%s: no request served by the restarted php-fpm %d", c, p.Pid)
		}
	}
	if !strings.Contains(s.m.logs(), "php-fpm master died; restarting it") {
		t.Errorf("the master log does not report the crash")
	}
}

// TestPHPManagedReloadKeepsUnchangedPool: reloads that do not touch the
// pool (a response header, then the worker count of fluxheim) keep the
// php-fpm instance: same pid, same children, same socket.
func TestPHPManagedReloadKeepsUnchangedPool(t *testing.T) {
	s := phmNewSite(t, 2)
	s.start()
	p := s.pool()
	kids := pmChildPids(p.Pid)
	ino := s.socketIno()
	for i, change := range []func(){
		func() { s.cfg.Gen = 2 },
		func() { s.cfg.Gen = 3; s.cfg.Workers = 3 },
	} {
		change()
		s.write()
		s.mustCtl("reload")
		if g, err := pmGetGen(s.addr); err != nil || g != s.cfg.Gen {
			t.Fatalf("reload %d: generation %d, %v; want %d", i+1, g, err, s.cfg.Gen)
		}
		st, pools := s.status()
		if st.Gen != s.cfg.Gen || len(pools) != 1 || pools[0].Pid != p.Pid || pools[0].Restarts != 0 {
			t.Errorf("reload %d: status generation %d, pools %+v; want generation %d with php-fpm %d kept", i+1, st.Gen, pools, s.cfg.Gen, p.Pid)
		}
		if got := s.waitPHP(0, 5*time.Second); got != p.Pid {
			t.Errorf("reload %d: PHP served by php-fpm %d, want %d", i+1, got, p.Pid)
		}
		if got := pmChildPids(p.Pid); fmt.Sprint(got) != fmt.Sprint(kids) {
			t.Errorf("reload %d: php-fpm children %v, want the same %v", i+1, got, kids)
		}
		if got := s.socketIno(); got != ino {
			t.Errorf("reload %d: pool socket replaced", i+1)
		}
	}
	if !pmProcessAlive(p.Pid) {
		t.Errorf("php-fpm %d is gone", p.Pid)
	}
}

// TestPHPManagedPoolChangeUnderLoad: reloads that change the pool under
// continuous PHP load: workers 2 → 3 by -s reload, then
// max_requests_per_worker, workers 3 → 2 and 2 → 3 again, alternating
// SIGHUP and -s reload. Every request sleeps 10 ms in PHP, so some are in
// flight while an old instance stops. No keep-alive or new-connection
// request may fail; each reload starts a new php-fpm on the same socket and
// the old one exits; the last one runs 3 children. Once with a FastCGI
// connection per request, once with FastCGI keep-alive (idle connections
// to the old instance's children when it stops).
func TestPHPManagedPoolChangeUnderLoad(t *testing.T) {
	for _, tc := range []struct{ name, fastcgi string }{
		{"new-fastcgi-connections", ""},
		{"fastcgi-keepalive", "keepalive = true\npool_max_idle = 1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := phmNewSite(t, 2)
			s.extra = tc.fastcgi
			s.render()
			s.start()
			first := s.pool()
			ino := s.socketIno()
			load := phmStartLoad(t, s.addr, 10, 4, 3, 2)
			load.waitRequests(t, 100, 10*time.Second)

			instances := []int{first.Pid}
			steps := []struct {
				what    string
				workers int
				extra   string
				sighup  bool
			}{
				{"workers 2 -> 3", 3, "", false},
				{"max_requests_per_worker 500", 3, "max_requests_per_worker = 500\n", true},
				{"workers 3 -> 2", 2, "max_requests_per_worker = 500\n", false},
				{"workers 2 -> 3 again", 3, "", true},
			}
			for i, st := range steps {
				prev := instances[len(instances)-1]
				s.workers, s.extra = st.workers, tc.fastcgi+st.extra
				s.cfg.Gen = i + 2
				s.write()
				start := time.Now()
				if st.sighup {
					if err := syscall.Kill(s.m.pid(), syscall.SIGHUP); err != nil {
						t.Fatal(err)
					}
					s.m.waitLog(fmt.Sprintf(`"msg":"reloaded","generation":%d,`, s.cfg.Gen), 10*time.Second)
				} else {
					s.mustCtl("reload")
				}
				p := s.pool()
				if p.Pid == prev {
					t.Fatalf("%s: the pool changed but php-fpm %d was kept", st.what, prev)
				}
				t.Logf("%s (%s): php-fpm %d -> %d in %v", st.what, map[bool]string{true: "SIGHUP", false: "-s reload"}[st.sighup],
					prev, p.Pid, time.Since(start).Round(time.Millisecond))
				instances = append(instances, p.Pid)
				if !pmWaitGone(prev, 10*time.Second) {
					t.Errorf("%s: the replaced php-fpm %d still runs 10 s after the reload", st.what, prev)
				}
				s.checkInstance(st.what, p.Pid, s.m.pid(), st.workers)
				if p.Restarts != 0 {
					t.Errorf("%s: pool restarts %d, want 0 (no crash)", st.what, p.Restarts)
				}
				load.waitRequests(t, 150, 10*time.Second)
			}

			stats := load.finish()
			pmReportLoad(t, stats, pmClassKeepAlive, pmClassNewConn)
			for c := pmLoadClass(0); c < pmNumClasses; c++ {
				for _, fpm := range instances {
					if stats[c].ByFPM[fpm] == 0 {
						t.Errorf("%s: no request served by php-fpm %d (instances %v)", c, fpm, instances)
					}
				}
			}
			if got := s.socketIno(); got != ino {
				t.Errorf("pool socket replaced (inode %d -> %d), want the same socket for every instance", ino, got)
			}
			if strings.Contains(s.m.logs(), "reload failed") {
				t.Errorf("a reload failed:\n%s", pmGrepLines(s.m.logs(), "reload failed"))
			}
		})
	}
}

// TestPHPManagedShutdownLeavesNoPHPFPM: `-s quit` (graceful: a PHP request
// in flight completes) and `-s stop` end the master and every php-fpm
// process it started; the instance directories are removed.
func TestPHPManagedShutdownLeavesNoPHPFPM(t *testing.T) {
	for _, cmd := range []string{"quit", "stop"} {
		t.Run(cmd, func(t *testing.T) {
			s := phmNewSite(t, 2)
			s.start()
			p := s.pool()
			s.checkInstance("after start", p.Pid, s.m.pid(), 2)
			// The scan finds the running instance: master and 2 children.
			if running := s.leftovers(); len(running) != 3 {
				t.Fatalf("php-fpm processes of this test before -s %s: %v, want php-fpm %d and its 2 children", cmd, running, p.Pid)
			}
			type result struct {
				code int
				body string
				err  error
			}
			inflight := make(chan result, 1)
			if cmd == "quit" {
				go func() {
					code, body, _, err := s.get("?ms=800")
					inflight <- result{code, body, err}
				}()
				time.Sleep(200 * time.Millisecond)
			}
			stopStart := time.Now()
			s.mustCtl(cmd)
			code, ok := s.m.wait(20 * time.Second)
			t.Logf("-s %s: the master exited %v after the command", cmd, time.Since(stopStart).Round(time.Millisecond))
			if !ok {
				t.Fatalf("-s %s: the master still runs 20 s later", cmd)
			}
			if code != 0 {
				t.Errorf("-s %s: master exit %d, want 0", cmd, code)
			}
			if cmd == "quit" {
				r := <-inflight
				if r.err != nil || r.code != 200 || phmPPid(r.body) != p.Pid {
					t.Errorf("request in flight during -s quit: %d %q %v; want 200 from php-fpm %d", r.code, r.body, r.err, p.Pid)
				}
			}
			// The master waits for its instances: nothing may be left
			// the moment it is gone (a short grace for the reaper).
			deadline := time.Now().Add(time.Second)
			for len(s.leftovers()) > 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if left := s.leftovers(); len(left) > 0 {
				t.Errorf("-s %s: php-fpm processes left behind: %v", cmd, left)
			}
			if pmProcessAlive(p.Pid) {
				t.Errorf("-s %s: php-fpm %d still runs", cmd, p.Pid)
			}
			if ents, _ := os.ReadDir(filepath.Join(s.cfg.Dir, "php-fpm")); len(ents) != 0 {
				t.Errorf("-s %s: instance directories left: %v", cmd, ents)
			}
		})
	}
}

// TestPHPManagedBinaryUpgradeUnderLoad: two binary upgrades (`-s
// upgrade`) under PHP load (10 ms per request). No keep-alive or
// new-connection request may fail; each new master runs its own php-fpm
// (its child) on the same socket, the old master's php-fpm is gone, and
// PHP is served by the new instance. Once with a FastCGI connection per
// request, once with FastCGI keep-alive.
func TestPHPManagedBinaryUpgradeUnderLoad(t *testing.T) {
	for _, tc := range []struct{ name, fastcgi string }{
		{"new-fastcgi-connections", ""},
		{"fastcgi-keepalive", "keepalive = true\npool_max_idle = 1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) { phmUpgradeUnderLoad(t, tc.fastcgi) })
	}
}

func phmUpgradeUnderLoad(t *testing.T, fastcgi string) {
	s := phmNewSite(t, 2)
	s.extra = fastcgi
	s.render()
	s.start()
	cur, fpm := s.m.pid(), s.pool().Pid
	ino := s.socketIno()
	load := phmStartLoad(t, s.addr, 10, 4, 3, 2)
	load.waitRequests(t, 100, 10*time.Second)
	seen := []int{fpm}
	for i := 1; i <= 2; i++ {
		s.cfg.Gen = i + 1
		s.write()
		start := time.Now()
		s.mustCtl("upgrade")
		next := s.m.pidFromFile()
		if next == 0 || next == cur {
			t.Fatalf("upgrade %d: pid file names %d, the old master was %d", i, next, cur)
		}
		s.m.track(next)
		if !pmWaitGone(cur, 15*time.Second) {
			t.Fatalf("upgrade %d: the old master %d still runs 15 s later", i, cur)
		}
		if !pmWaitGone(fpm, 10*time.Second) {
			t.Errorf("upgrade %d: the old master's php-fpm %d still runs", i, fpm)
		}
		st, pools := s.status()
		if st.Pid != next || len(pools) != 1 || pools[0].Pid == 0 || pools[0].Pid == fpm {
			t.Fatalf("upgrade %d: status from %d with pools %+v; want master %d with a new php-fpm (old %d)", i, st.Pid, pools, next, fpm)
		}
		t.Logf("upgrade %d: master %d -> %d, php-fpm %d -> %d, %v", i, cur, next, fpm, pools[0].Pid, time.Since(start).Round(time.Millisecond))
		cur, fpm = next, pools[0].Pid
		seen = append(seen, fpm)
		s.checkInstance(fmt.Sprintf("upgrade %d", i), fpm, cur, 2)
		if got := s.socketIno(); got != ino {
			t.Errorf("upgrade %d: pool socket replaced (inode %d -> %d)", i, ino, got)
		}
		if g, err := pmGetGen(s.addr); err != nil || g != s.cfg.Gen {
			t.Errorf("upgrade %d: generation %d, %v; want %d", i, g, err, s.cfg.Gen)
		}
		s.waitPHP(fpm, 5*time.Second)
		load.waitRequests(t, 100, 10*time.Second)
	}
	stats := load.finish()
	pmReportLoad(t, stats, pmClassKeepAlive, pmClassNewConn)
	for c := pmLoadClass(0); c < pmNumClasses; c++ {
		for _, p := range seen {
			if stats[c].ByFPM[p] == 0 {
				t.Errorf("%s: no request served by php-fpm %d (instances %v)", c, p, seen)
			}
		}
	}
	if code, ok := s.m.wait(time.Second); !ok || code != 0 {
		t.Errorf("the first master: exit %d (exited %v), want 0", code, ok)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.cfg.Dir, "php-fpm")); len(ents) != 1 || !strings.HasPrefix(ents[0].Name(), fmt.Sprintf("i-%d-", cur)) {
		t.Errorf("php-fpm state directory after the upgrades: %v; want the one instance of master %d", ents, cur)
	}
}

// TestPHPManagedReopenUnderLoad: `-s reopen` reaches php-fpm (SIGUSR1:
// it reopens its error log, which the master forwards) under PHP load: the
// php-fpm instance stays and no keep-alive or new-connection request fails.
func TestPHPManagedReopenUnderLoad(t *testing.T) {
	s := phmNewSite(t, 2)
	s.start()
	p := s.pool()
	load := phmStartLoad(t, s.addr, 10, 4, 3, 2)
	load.waitRequests(t, 50, 10*time.Second)
	const reopens = 3
	for i := 0; i < reopens; i++ {
		s.mustCtl("reopen")
		load.waitRequests(t, 50, 10*time.Second)
	}
	stats := load.finish()
	pmReportLoad(t, stats, pmClassKeepAlive, pmClassNewConn)
	if q := s.pool(); q.Pid != p.Pid || q.Restarts != 0 {
		t.Errorf("after -s reopen: pool %+v, want php-fpm %d kept", q, p.Pid)
	}
	s.checkInstance("after -s reopen", p.Pid, s.m.pid(), 2)
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(s.m.logs(), "php-fpm: error log file re-opened") < reopens {
		if time.Now().After(deadline) {
			t.Errorf("php-fpm reopened its log %d times after %d -s reopen, want %d", strings.Count(s.m.logs(), "php-fpm: error log file re-opened"), reopens, reopens)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}
