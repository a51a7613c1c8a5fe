package integration

// Helpers of the process-model tests (process_*_test.go): a fluxheim master
// started with its output in a log file (it outlives its first process on a
// binary upgrade, so the harness's pipe-based Start does not fit), a config
// template with the knobs the tests turn, a tiny upstream, the load
// generator that counts every failure by kind, and /proc readers.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/fluxheim/fluxheim/integration/harness"
)

// pmSkipUnlessProcessTests skips the slow process-model tests in -short mode.
func pmSkipUnlessProcessTests(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("process-model integration test (real binary, real signals, load); skipped with -short")
	}
}

// pmStaticBody is the file the load generator fetches.
const pmStaticBody = "fluxheim process-model test page\n"

// pmProcConfig is what the tests vary in the config.
type pmProcConfig struct {
	Dir        string
	Listen     []string
	Workers    int
	Gen        int
	Upstream   string // host:port of the test upstream ("" = no proxy route)
	User       string
	Reuseport  bool
	AccessLog  string // access log path ("" = access log off)
	Keepalive  int    // keepalive_timeout_secs
	DrainSecs  int    // worker_shutdown_timeout_secs
	QuitSecs   int    // graceful_shutdown_timeout_seconds
	ExtraLines string // appended at the end verbatim
}

var pmProcConfigTmpl = template.Must(template.New("cfg").Parse(`# process-model test config, generation {{.Gen}}
[server]
listen = [{{range $i, $a := .Listen}}{{if $i}}, {{end}}"{{$a}}"{{end}}]
default_vhost = "t"

[server.limits]
keepalive_timeout_secs = {{.Keepalive}}

[server.process]
workers = {{.Workers}}
pid_file = "{{.Dir}}/fluxheim.pid"
control_sock = "{{.Dir}}/fluxheim.ctl"
worker_shutdown_timeout_secs = {{.DrainSecs}}
graceful_shutdown_timeout_seconds = {{.QuitSecs}}
reuseport = {{.Reuseport}}
{{- if .User}}
user = "{{.User}}"
{{- end}}

[headers.response.add]
x-gen = "{{.Gen}}"

[logging]
format = "json"
level = "info"

[logging.access]
{{- if .AccessLog}}
enabled = true
path = "{{.AccessLog}}"
{{- else}}
enabled = false
{{- end}}

[[vhosts]]
name = "t"
hosts = ["t.test"]

[vhosts.web]
root = "{{.Dir}}/www"
{{- if .Upstream}}

[[vhosts.routes]]
name = "up"
path_prefix = "/up/"
[vhosts.routes.proxy]
upstreams = ["{{.Upstream}}"]
{{- end}}
{{.ExtraLines}}
`))

// pmNewProcConfig returns the defaults: one listen address, 2 workers,
// generation 1, short drain deadlines and keep-alive timeout.
func pmNewProcConfig(t *testing.T) pmProcConfig {
	t.Helper()
	return pmProcConfig{
		Dir:       pmProcTempDir(t),
		Listen:    []string{harness.FreeAddr(t)},
		Workers:   2,
		Gen:       1,
		Reuseport: true,
		Keepalive: 10,
		DrainSecs: 5,
		QuitSecs:  10,
	}
}

// pmProcTempDir is a temporary directory readable by every user (workers may
// run as nobody) and writable only by its owner (the config loader refuses
// group- or world-writable directories for the pid file and control socket).
func pmProcTempDir(t *testing.T) string {
	t.Helper()
	// t.TempDir() is DIR/NNN where DIR is the test's own os.MkdirTemp
	// directory (0700): open both for reading.
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	www := filepath.Join(dir, "www")
	if err := os.MkdirAll(www, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte(pmStaticBody), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func (c pmProcConfig) path() string { return filepath.Join(c.Dir, "fluxheim.toml") }

// write renders the config and replaces the file atomically (a master may
// read it at any moment on SIGHUP).
func (c pmProcConfig) write(t testing.TB) string {
	t.Helper()
	var b bytes.Buffer
	if err := pmProcConfigTmpl.Execute(&b, c); err != nil {
		t.Fatal(err)
	}
	pmWriteFileAtomic(t, c.path(), b.Bytes())
	return c.path()
}

func pmWriteFileAtomic(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// ---------------------------------------------------------------------------
// The master process.

// pmFhMaster is a running fluxheim master. Its output goes to a log file (not a
// pipe), so masters that replace it in a binary upgrade keep logging there.
type pmFhMaster struct {
	t       *testing.T
	bin     string
	cfgPath string
	dir     string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	code    int

	mu   sync.Mutex
	pids map[int]bool // every master pid seen (for cleanup)
}

type pmMasterOpts struct {
	// Wrapper runs before the binary (e.g. systemd-socket-activate ... ).
	Wrapper []string
	// Env is added to the environment.
	Env []string
	// NoWait returns as soon as the process runs.
	NoWait bool
	// Binary replaces the harness's binary.
	Binary string
	// Output receives stdout and stderr instead of the log file.
	Output *os.File
}

// pmStartMaster starts fluxheim -c cfg.path() and waits until every listen
// address answers with HTTP 200 (unless NoWait). The master and everything
// it started are stopped when the test ends.
func pmStartMaster(t *testing.T, cfg pmProcConfig, o pmMasterOpts) *pmFhMaster {
	t.Helper()
	bin := o.Binary
	if bin == "" {
		bin = harness.Binary(t)
	}
	cfgPath := cfg.write(t)
	m := &pmFhMaster{t: t, bin: bin, cfgPath: cfgPath, dir: cfg.Dir, logPath: filepath.Join(cfg.Dir, "master.log"),
		done: make(chan struct{}), pids: map[int]bool{}}
	logf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	argv := append(append([]string(nil), o.Wrapper...), bin, "-c", cfgPath)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = cfg.Dir
	cmd.Env = append(os.Environ(), o.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if o.Output != nil {
		cmd.Stdout, cmd.Stderr = o.Output, o.Output
	}
	// Its own process group: the test's terminal signals do not reach it.
	// Pdeathsig: no stray master when the test binary dies (masters started
	// by a binary upgrade are not covered; the cleanup stops them).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	m.cmd = cmd
	m.pids[cmd.Process.Pid] = true
	go func() {
		_ = cmd.Wait()
		m.code = cmd.ProcessState.ExitCode()
		close(m.done)
	}()
	t.Cleanup(func() {
		m.stopAll()
		if t.Failed() {
			t.Logf("master log %s (last 150 lines):\n%s", m.logPath, m.logTail(150))
		}
	})
	if !o.NoWait {
		for _, a := range cfg.Listen {
			m.waitServing(a, 15*time.Second)
		}
		m.waitReady(10 * time.Second)
	}
	return m
}

// waitReady waits for the pid file: the master writes it once all its
// workers are ready, a moment after they began to serve.
func (m *pmFhMaster) waitReady(timeout time.Duration) {
	m.t.Helper()
	deadline := time.Now().Add(timeout)
	for m.pidFromFile() == 0 {
		if time.Now().After(deadline) {
			m.t.Fatalf("no pid file %v after the master served; log:\n%s", timeout, m.logTail(60))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pid is the first master's pid.
func (m *pmFhMaster) pid() int { return m.cmd.Process.Pid }

func (m *pmFhMaster) logs() string {
	b, _ := os.ReadFile(m.logPath)
	return string(b)
}

func (m *pmFhMaster) logTail(n int) string {
	lines := strings.Split(strings.TrimRight(m.logs(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitServing waits until GET / on addr answers 200 (the first master may
// exit meanwhile only after a hand-over, which the caller handles).
func (m *pmFhMaster) waitServing(addr string, timeout time.Duration) {
	m.t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-m.done:
			m.t.Fatalf("fluxheim exited (code %d) before serving %s; log:\n%s", m.code, addr, m.logTail(60))
		default:
		}
		r, err := harness.TryGet("http://"+addr+"/index.html", "")
		if err == nil && r.Status == 200 {
			return
		}
		if err == nil {
			err = fmt.Errorf("status %d", r.Status)
		}
		last = err
		time.Sleep(25 * time.Millisecond)
	}
	m.t.Fatalf("fluxheim does not serve %s after %v: %v; log:\n%s", addr, timeout, last, m.logTail(60))
}

// waitLog waits until the master log contains substr.
func (m *pmFhMaster) waitLog(substr string, timeout time.Duration) {
	m.t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(m.logs(), substr) {
		if time.Now().After(deadline) {
			m.t.Fatalf("no %q in the master log after %v", substr, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wait waits for the first process's exit (ok=false on timeout).
func (m *pmFhMaster) wait(timeout time.Duration) (int, bool) {
	select {
	case <-m.done:
		return m.code, true
	case <-time.After(timeout):
		return 0, false
	}
}

// ctl runs `fluxheim -s CMD -c CONFIG`.
func (m *pmFhMaster) ctl(cmd string) (stdout, stderr string, code int) {
	m.t.Helper()
	return harness.RunWith(m.t, harness.RunOptions{Args: []string{"-s", cmd, "-c", m.cfgPath}, Timeout: 90 * time.Second})
}

// pidFromFile reads the pid file (0 when missing or malformed).
func (m *pmFhMaster) pidFromFile() int {
	b, err := os.ReadFile(filepath.Join(m.dir, "fluxheim.pid"))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// track remembers a master pid for the final cleanup.
func (m *pmFhMaster) track(pid int) {
	m.mu.Lock()
	m.pids[pid] = true
	m.mu.Unlock()
}

// stopAll SIGTERMs every master this test saw, waits up to 5 s, then
// SIGKILLs them and their workers.
func (m *pmFhMaster) stopAll() {
	if p := m.pidFromFile(); p > 0 {
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p)); strings.Contains(exe, "fluxheim") {
			m.track(p)
		}
	}
	m.mu.Lock()
	var pids []int
	for p := range m.pids {
		pids = append(pids, p)
	}
	m.mu.Unlock()
	var kids []int
	for _, p := range pids {
		if pmProcessAlive(p) {
			kids = append(kids, pmChildPids(p)...)
			_ = syscall.Kill(p, syscall.SIGTERM)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range pids {
		for pmProcessAlive(p) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if pmProcessAlive(p) {
			m.t.Logf("master %d still running 5 s after SIGTERM; SIGKILL", p)
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
	for _, k := range kids {
		if pmProcessAlive(k) {
			_ = syscall.Kill(k, syscall.SIGKILL)
		}
	}
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		_ = m.cmd.Process.Kill()
	}
}

// ---------------------------------------------------------------------------
// /proc readers.

// pmProcStat returns the state letter and parent pid of pid (ok=false when
// the process does not exist).
func pmProcStat(pid int) (state byte, ppid int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+4 >= len(s) {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	return f[0][0], ppid, true
}

// pmProcessAlive is true for a running (not zombie) process.
func pmProcessAlive(pid int) bool {
	st, _, ok := pmProcStat(pid)
	return ok && st != 'Z' && st != 'X'
}

// pmWaitGone waits until pid is gone or a zombie.
func pmWaitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for pmProcessAlive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// pmChildPids lists the live children of pid.
func pmChildPids(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, pp, ok := pmProcStat(p); ok && pp == pid && st != 'Z' && st != 'X' {
			out = append(out, p)
		}
	}
	sort.Ints(out)
	return out
}

// pmProcStatusField returns a field of /proc/PID/status ("Uid", "VmRSS").
func pmProcStatusField(pid int, field string) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// pmFdCount is the number of open descriptors of pid.
func pmFdCount(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// pmRssKiB is VmRSS of pid in KiB.
func pmRssKiB(t *testing.T, pid int) int {
	t.Helper()
	v := strings.TrimSuffix(pmProcStatusField(pid, "VmRSS"), " kB")
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		t.Fatalf("VmRSS of %d: %q", pid, v)
	}
	return n
}

// ---------------------------------------------------------------------------
// fluxheim -s status.

type pmStatusWorker struct {
	Pid, Gen, Index int
	State           string
}

type pmMasterStatus struct {
	Pid, Gen, Restarts, Sockets int
	Workers                     []pmStatusWorker
}

var (
	pmStatusMasterRE = regexp.MustCompile(`master pid (\d+), up \S+, generation (\d+), (\d+) restarts, (\d+) sockets`)
	pmStatusWorkerRE = regexp.MustCompile(`worker pid (\d+)\s+generation (\d+)\s+index (\d+)\s+(\w+)`)
)

func pmParseStatus(out string) (pmMasterStatus, error) {
	var st pmMasterStatus
	mm := pmStatusMasterRE.FindStringSubmatch(out)
	if mm == nil {
		return st, fmt.Errorf("no master line in %q", out)
	}
	st.Pid, _ = strconv.Atoi(mm[1])
	st.Gen, _ = strconv.Atoi(mm[2])
	st.Restarts, _ = strconv.Atoi(mm[3])
	st.Sockets, _ = strconv.Atoi(mm[4])
	for _, w := range pmStatusWorkerRE.FindAllStringSubmatch(out, -1) {
		var sw pmStatusWorker
		sw.Pid, _ = strconv.Atoi(w[1])
		sw.Gen, _ = strconv.Atoi(w[2])
		sw.Index, _ = strconv.Atoi(w[3])
		sw.State = w[4]
		st.Workers = append(st.Workers, sw)
	}
	return st, nil
}

// status runs -s status and parses it; the command must succeed.
func (m *pmFhMaster) status() pmMasterStatus {
	m.t.Helper()
	out, errOut, code := m.ctl("status")
	if code != 0 {
		m.t.Fatalf("fluxheim -s status: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	st, err := pmParseStatus(out)
	if err != nil {
		m.t.Fatal(err)
	}
	return st
}

// waitSettled waits until the master runs exactly want workers, all serving
// (no draining or starting one left), and returns the status.
func (m *pmFhMaster) waitSettled(want int, timeout time.Duration) pmMasterStatus {
	m.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := m.status()
		settled := len(st.Workers) == want
		for _, w := range st.Workers {
			settled = settled && w.State == "serving"
		}
		if settled || time.Now().After(deadline) {
			return st
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// Upstream.

// pmStartUpstream serves /up/echo (reads the body, answers n=LEN), /up/slow
// (?ms=N sleeps N ms) and anything else with "up".
func pmStartUpstream(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/up/echo":
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			fmt.Fprintf(w, "n=%d", n)
		case "/up/slow":
			ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
			select {
			case <-time.After(time.Duration(ms) * time.Millisecond):
			case <-r.Context().Done():
				return
			}
			fmt.Fprint(w, "slow done")
		default:
			fmt.Fprint(w, "up")
		}
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// ---------------------------------------------------------------------------
// Load generator.

type pmLoadClass int

const (
	pmClassKeepAlive pmLoadClass = iota // GET over keep-alive connections
	pmClassNewConn                      // GET, a new connection per request
	pmClassPost                         // POST over keep-alive, non-replayable body
	pmNumClasses
)

func (c pmLoadClass) String() string {
	return [...]string{"keep-alive GET", "new-connection GET", "keep-alive POST (no GetBody)"}[c]
}

var pmErrKinds = []string{"refused", "reset", "eof", "timeout", "retried", "other"}

// pmErrRetried marks a request the client had to send twice: the server
// closed the keep-alive connection it was sent on.
var pmErrRetried = errors.New("sent twice: the server closed the reused connection under the request (hidden by the client's automatic retry)")

// pmClassStats counts the outcomes of one class.
type pmClassStats struct {
	Total, OK, Non2xx int
	Errs              map[string]int
	Samples           []string // first failures, for the report
	MaxGen            int
	obs               []pmGenObs
}

type pmGenObs struct {
	start int64 // UnixNano when the request started
	gen   int
}

func (s *pmClassStats) failed() int {
	n := s.Non2xx
	for _, v := range s.Errs {
		n += v
	}
	return n
}

func (s *pmClassStats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests, %d ok, %d non-2xx", s.Total, s.OK, s.Non2xx)
	for _, k := range pmErrKinds {
		fmt.Fprintf(&b, ", %s %d", k, s.Errs[k])
	}
	return b.String()
}

type pmLoadOpts struct {
	KeepAlive, NewConn, Post int           // goroutines per class
	Pace                     time.Duration // pause between requests of a goroutine
	Timeout                  time.Duration // per request; default 10 s
}

// pmLoadGen runs continuous load on loopback against every target address.
type pmLoadGen struct {
	opts    pmLoadOpts
	mu      sync.Mutex
	targets []string
	stats   [pmNumClasses]*pmClassStats
	stop    chan struct{}
	wg      sync.WaitGroup
}

// pmStartLoad starts the load on addrs (host:port); add more with addTarget.
func pmStartLoad(t *testing.T, o pmLoadOpts, addrs ...string) *pmLoadGen {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	g := &pmLoadGen{opts: o, targets: append([]string(nil), addrs...), stop: make(chan struct{})}
	for i := range g.stats {
		g.stats[i] = &pmClassStats{Errs: map[string]int{}}
	}
	run := func(c pmLoadClass, n int) {
		for i := 0; i < n; i++ {
			g.wg.Add(1)
			go g.worker(c, i)
		}
	}
	run(pmClassKeepAlive, o.KeepAlive)
	run(pmClassNewConn, o.NewConn)
	run(pmClassPost, o.Post)
	t.Cleanup(func() { g.finish() })
	return g
}

func (g *pmLoadGen) addTarget(addr string) {
	g.mu.Lock()
	g.targets = append(g.targets, addr)
	g.mu.Unlock()
}

func (g *pmLoadGen) target(i int) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.targets[i%len(g.targets)]
}

// finish stops the load and returns the counts (idempotent).
func (g *pmLoadGen) finish() [pmNumClasses]*pmClassStats {
	select {
	case <-g.stop:
	default:
		close(g.stop)
	}
	g.wg.Wait()
	return g.stats
}

// pmPostBody is a plain io.Reader: http.NewRequest cannot set GetBody, so the
// transport never replays the request on another connection.
type pmPostBody struct{ io.Reader }

const pmPostSize = 4096

func (g *pmLoadGen) worker(c pmLoadClass, id int) {
	defer g.wg.Done()
	tr := &http.Transport{
		Proxy:               nil,
		DisableKeepAlives:   c == pmClassNewConn,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: g.opts.Timeout}
	payload := strings.Repeat("p", pmPostSize)
	for n := id; ; n++ {
		select {
		case <-g.stop:
			return
		default:
		}
		addr := g.target(n)
		var req *http.Request
		want := pmStaticBody
		if c == pmClassPost {
			req, _ = http.NewRequest(http.MethodPost, "http://"+addr+"/up/echo", pmPostBody{strings.NewReader(payload)})
			req.ContentLength = pmPostSize
			want = "n=" + strconv.Itoa(pmPostSize)
		} else {
			req, _ = http.NewRequest(http.MethodGet, "http://"+addr+"/index.html", nil)
		}
		// Go's transport silently repeats an idempotent request on a new
		// connection when a reused one was closed under it (the idle-close
		// race); other clients see that as an error, so count it as one.
		var conns atomic.Int32
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(httptrace.GotConnInfo) { conns.Add(1) },
		}))
		start := time.Now()
		status, gen, err := pmDoRequest(client, req, want)
		if err == nil && conns.Load() > 1 {
			err = pmErrRetried
		}
		g.record(c, start, status, gen, err)
		if g.opts.Pace > 0 {
			select {
			case <-g.stop:
				return
			case <-time.After(g.opts.Pace):
			}
		}
	}
}

func pmDoRequest(client *http.Client, req *http.Request, want string) (int, int, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, 0, err
	}
	gen, _ := strconv.Atoi(resp.Header.Get("X-Gen"))
	if resp.StatusCode/100 == 2 && string(body) != want {
		return resp.StatusCode, gen, fmt.Errorf("body %q, want %q", pmTruncate(string(body), 80), want)
	}
	return resp.StatusCode, gen, nil
}

func pmTruncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func (g *pmLoadGen) record(c pmLoadClass, start time.Time, status, gen int, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.stats[c]
	s.Total++
	switch {
	case err != nil:
		k := pmErrKind(err)
		s.Errs[k]++
		if len(s.Samples) < 8 {
			s.Samples = append(s.Samples, fmt.Sprintf("%s +%s: %s: %v", start.Format("15:04:05.000"), time.Since(start).Round(time.Millisecond), k, err))
		}
	case status/100 != 2:
		s.Non2xx++
		if len(s.Samples) < 8 {
			s.Samples = append(s.Samples, fmt.Sprintf("%s: status %d", start.Format("15:04:05.000"), status))
		}
	default:
		s.OK++
		if gen > s.MaxGen {
			s.MaxGen = gen
		}
		s.obs = append(s.obs, pmGenObs{start: start.UnixNano(), gen: gen})
	}
}

// pmErrKind sorts a transport error into refused, reset, eof, timeout, other.
func pmErrKind(err error) string {
	msg := err.Error()
	var ne net.Error
	switch {
	case errors.Is(err, pmErrRetried):
		return "retried"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), strings.Contains(msg, "connection reset"), strings.Contains(msg, "broken pipe"):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), strings.Contains(msg, "EOF"), strings.Contains(msg, "server closed idle connection"):
		return "eof"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "other"
}

// pmLoadReport is what pmReportLoad needs of a class's statistics.
type pmLoadReport interface {
	fmt.Stringer
	total() int
	failed() int
	samples() []string
}

func (s *pmClassStats) total() int        { return s.Total }
func (s *pmClassStats) samples() []string { return s.Samples }

// pmReportLoad logs every class and fails the test for failures in the
// classes that must be clean (the others are reported, target zero).
func pmReportLoad[S pmLoadReport](t *testing.T, stats [pmNumClasses]S, mustBeClean ...pmLoadClass) {
	t.Helper()
	clean := map[pmLoadClass]bool{}
	for _, c := range mustBeClean {
		clean[c] = true
	}
	for c := pmLoadClass(0); c < pmNumClasses; c++ {
		s := stats[c]
		if s.total() == 0 {
			continue
		}
		t.Logf("load %-30s %s", c.String()+":", s)
		if s.failed() == 0 {
			continue
		}
		detail := strings.Join(s.samples(), "\n    ")
		if clean[c] {
			t.Errorf("%s: %d failed requests (want 0):\n    %s", c, s.failed(), detail)
		} else {
			t.Logf("%s: %d failed requests (reported, target 0):\n    %s", c, s.failed(), detail)
		}
	}
}

// pmGenMark says: requests started after At+slack must see generation >= Gen.
type pmGenMark struct {
	Gen int
	At  time.Time
}

// pmCheckGenerations fails when a request that started after reload k had
// returned was answered by an older generation. A new connection must reach
// the new generation at once (the master answers only when the old workers
// stopped accepting); a keep-alive connection of the old generation may
// carry one more request (answered with Connection: close), hence slack for
// the keep-alive classes.
func pmCheckGenerations(t *testing.T, stats [pmNumClasses]*pmClassStats, marks []pmGenMark, slack time.Duration) {
	t.Helper()
	for c := pmLoadClass(0); c < pmNumClasses; c++ {
		slack := slack
		if c == pmClassNewConn {
			slack = 0
		}
		bad, first := 0, ""
		for _, o := range stats[c].obs {
			for i := len(marks) - 1; i >= 0; i-- {
				if o.start > marks[i].At.Add(slack).UnixNano() {
					if o.gen < marks[i].Gen {
						bad++
						if first == "" {
							first = fmt.Sprintf("request at %s got generation %d, reload to %d returned at %s",
								time.Unix(0, o.start).Format("15:04:05.000"), o.gen, marks[i].Gen, marks[i].At.Format("15:04:05.000"))
						}
					}
					break
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d responses from an older generation after a reload had completed; first: %s", c, bad, first)
		}
	}
}

// pmGetGen fetches /index.html on a new connection and returns X-Gen.
func pmGetGen(addr string) (int, error) {
	r, err := harness.TryGet("http://"+addr+"/index.html", "")
	if err != nil {
		return 0, err
	}
	if r.Status != 200 {
		return 0, fmt.Errorf("status %d", r.Status)
	}
	return strconv.Atoi(r.Header.Get("X-Gen"))
}

// pmWaitGen waits until new connections to every address see generation gen.
func pmWaitGen(t *testing.T, gen int, timeout time.Duration, addrs ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for _, a := range addrs {
		// Several connections: with SO_REUSEPORT each may reach another worker.
		for seen := 0; seen < 4; {
			g, err := pmGetGen(a)
			if err == nil && g >= gen {
				seen++
				continue
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: generation %d not served after %v (last: %d, %v)", a, gen, timeout, g, err)
			}
			seen = 0
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// pmBurstGen opens n connections to addr at once and returns the lowest
// generation they were answered by (or the first error).
func pmBurstGen(addr string, n int) (int, error) {
	type res struct {
		gen int
		err error
	}
	ch := make(chan res, n)
	for i := 0; i < n; i++ {
		go func() {
			g, err := pmGetGen(addr)
			ch <- res{g, err}
		}()
	}
	lowest := int(^uint(0) >> 1)
	var first error
	for i := 0; i < n; i++ {
		r := <-ch
		if r.err != nil && first == nil {
			first = r.err
		}
		if r.err == nil && r.gen < lowest {
			lowest = r.gen
		}
	}
	return lowest, first
}

// pmRandDuration is uniform in [lo, hi).
func pmRandDuration(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rand.Int64N(int64(hi-lo)))
}

// pmReadLines returns the non-empty lines of a file.
func pmReadLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}
