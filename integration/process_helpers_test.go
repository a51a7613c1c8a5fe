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

// skipUnlessProcessTests skips the slow process-model tests in -short mode.
func skipUnlessProcessTests(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("process-model integration test (real binary, real signals, load); skipped with -short")
	}
}

// staticBody is the file the load generator fetches.
const staticBody = "fluxheim process-model test page\n"

// procConfig is what the tests vary in the config.
type procConfig struct {
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

var procConfigTmpl = template.Must(template.New("cfg").Parse(`# process-model test config, generation {{.Gen}}
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

// newProcConfig returns the defaults: one listen address, 2 workers,
// generation 1, short drain deadlines and keep-alive timeout.
func newProcConfig(t *testing.T) procConfig {
	t.Helper()
	return procConfig{
		Dir:       procTempDir(t),
		Listen:    []string{harness.FreeAddr(t)},
		Workers:   2,
		Gen:       1,
		Reuseport: true,
		Keepalive: 10,
		DrainSecs: 5,
		QuitSecs:  10,
	}
}

// procTempDir is a temporary directory readable by every user (workers may
// run as nobody) and writable only by its owner (the config loader refuses
// group- or world-writable directories for the pid file and control socket).
func procTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/" && d != "."; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(d) == os.TempDir() {
			break
		}
	}
	www := filepath.Join(dir, "www")
	if err := os.MkdirAll(www, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte(staticBody), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func (c procConfig) path() string { return filepath.Join(c.Dir, "fluxheim.toml") }

// write renders the config and replaces the file atomically (a master may
// read it at any moment on SIGHUP).
func (c procConfig) write(t testing.TB) string {
	t.Helper()
	var b bytes.Buffer
	if err := procConfigTmpl.Execute(&b, c); err != nil {
		t.Fatal(err)
	}
	writeFileAtomic(t, c.path(), b.Bytes())
	return c.path()
}

func writeFileAtomic(t testing.TB, path string, data []byte) {
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

// fhMaster is a running fluxheim master. Its output goes to a log file (not a
// pipe), so masters that replace it in a binary upgrade keep logging there.
type fhMaster struct {
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

type masterOpts struct {
	// Wrapper runs before the binary (e.g. systemd-socket-activate ... ).
	Wrapper []string
	// Env is added to the environment.
	Env []string
	// NoWait returns as soon as the process runs.
	NoWait bool
}

// startMaster starts fluxheim -c cfg.path() and waits until every listen
// address answers with HTTP 200 (unless NoWait). The master and everything
// it started are stopped when the test ends.
func startMaster(t *testing.T, cfg procConfig, o masterOpts) *fhMaster {
	t.Helper()
	bin := harness.Binary(t)
	cfgPath := cfg.write(t)
	m := &fhMaster{t: t, bin: bin, cfgPath: cfgPath, dir: cfg.Dir, logPath: filepath.Join(cfg.Dir, "master.log"),
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
	// Its own process group: the test's terminal signals do not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
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
	}
	return m
}

// pid is the first master's pid.
func (m *fhMaster) pid() int { return m.cmd.Process.Pid }

func (m *fhMaster) logs() string {
	b, _ := os.ReadFile(m.logPath)
	return string(b)
}

func (m *fhMaster) logTail(n int) string {
	lines := strings.Split(strings.TrimRight(m.logs(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitServing waits until GET / on addr answers 200 (the first master may
// exit meanwhile only after a hand-over, which the caller handles).
func (m *fhMaster) waitServing(addr string, timeout time.Duration) {
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

// exited reports the first process's exit (ok=false on timeout).
func (m *fhMaster) wait(timeout time.Duration) (int, bool) {
	select {
	case <-m.done:
		return m.code, true
	case <-time.After(timeout):
		return 0, false
	}
}

// ctl runs `fluxheim -s CMD -c CONFIG`.
func (m *fhMaster) ctl(cmd string) (stdout, stderr string, code int) {
	m.t.Helper()
	return harness.RunWith(m.t, harness.RunOptions{Args: []string{"-s", cmd, "-c", m.cfgPath}, Timeout: 90 * time.Second})
}

// pidFromFile reads the pid file (0 when missing or malformed).
func (m *fhMaster) pidFromFile() int {
	b, err := os.ReadFile(filepath.Join(m.dir, "fluxheim.pid"))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// track remembers a master pid for the final cleanup.
func (m *fhMaster) track(pid int) {
	m.mu.Lock()
	m.pids[pid] = true
	m.mu.Unlock()
}

// stopAll SIGTERMs every master this test saw, waits up to 5 s, then
// SIGKILLs them and their workers.
func (m *fhMaster) stopAll() {
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
		if processAlive(p) {
			kids = append(kids, childPids(p)...)
			_ = syscall.Kill(p, syscall.SIGTERM)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range pids {
		for processAlive(p) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if processAlive(p) {
			m.t.Logf("master %d still running 5 s after SIGTERM; SIGKILL", p)
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
	for _, k := range kids {
		if processAlive(k) {
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

// procStat returns the state letter and parent pid of pid (ok=false when
// the process does not exist).
func procStat(pid int) (state byte, ppid int, ok bool) {
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

// processAlive is true for a running (not zombie) process.
func processAlive(pid int) bool {
	st, _, ok := procStat(pid)
	return ok && st != 'Z' && st != 'X'
}

// waitGone waits until pid is gone or a zombie.
func waitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// childPids lists the live children of pid.
func childPids(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, pp, ok := procStat(p); ok && pp == pid && st != 'Z' && st != 'X' {
			out = append(out, p)
		}
	}
	sort.Ints(out)
	return out
}

// procStatusField returns a field of /proc/PID/status ("Uid", "VmRSS").
func procStatusField(pid int, field string) string {
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

// fdCount is the number of open descriptors of pid.
func fdCount(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// rssKiB is VmRSS of pid in KiB.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	v := strings.TrimSuffix(procStatusField(pid, "VmRSS"), " kB")
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		t.Fatalf("VmRSS of %d: %q", pid, v)
	}
	return n
}

// ---------------------------------------------------------------------------
// fluxheim -s status.

type statusWorker struct {
	Pid, Gen, Index int
	State           string
}

type masterStatus struct {
	Pid, Gen, Restarts, Sockets int
	Workers                     []statusWorker
}

var (
	statusMasterRE = regexp.MustCompile(`master pid (\d+), up \S+, generation (\d+), (\d+) restarts, (\d+) sockets`)
	statusWorkerRE = regexp.MustCompile(`worker pid (\d+)\s+generation (\d+)\s+index (\d+)\s+(\w+)`)
)

func parseStatus(out string) (masterStatus, error) {
	var st masterStatus
	mm := statusMasterRE.FindStringSubmatch(out)
	if mm == nil {
		return st, fmt.Errorf("no master line in %q", out)
	}
	st.Pid, _ = strconv.Atoi(mm[1])
	st.Gen, _ = strconv.Atoi(mm[2])
	st.Restarts, _ = strconv.Atoi(mm[3])
	st.Sockets, _ = strconv.Atoi(mm[4])
	for _, w := range statusWorkerRE.FindAllStringSubmatch(out, -1) {
		var sw statusWorker
		sw.Pid, _ = strconv.Atoi(w[1])
		sw.Gen, _ = strconv.Atoi(w[2])
		sw.Index, _ = strconv.Atoi(w[3])
		sw.State = w[4]
		st.Workers = append(st.Workers, sw)
	}
	return st, nil
}

// status runs -s status and parses it; the command must succeed.
func (m *fhMaster) status() masterStatus {
	m.t.Helper()
	out, errOut, code := m.ctl("status")
	if code != 0 {
		m.t.Fatalf("fluxheim -s status: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	st, err := parseStatus(out)
	if err != nil {
		m.t.Fatal(err)
	}
	return st
}

// waitSettled waits until the master runs exactly want workers, all serving
// (no draining or starting one left), and returns the status.
func (m *fhMaster) waitSettled(want int, timeout time.Duration) masterStatus {
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

// startUpstream serves /up/echo (reads the body, answers n=LEN), /up/slow
// (?ms=N sleeps N ms) and anything else with "up".
func startUpstream(t *testing.T) string {
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

type loadClass int

const (
	classKeepAlive loadClass = iota // GET over keep-alive connections
	classNewConn                    // GET, a new connection per request
	classPost                       // POST over keep-alive, non-replayable body
	numClasses
)

func (c loadClass) String() string {
	return [...]string{"keep-alive GET", "new-connection GET", "keep-alive POST (no GetBody)"}[c]
}

var errKinds = []string{"refused", "reset", "eof", "timeout", "retried", "other"}

// errRetried marks a request the client had to send twice: the server
// closed the keep-alive connection it was sent on.
var errRetried = errors.New("sent twice: the server closed the reused connection under the request (hidden by the client's automatic retry)")

// classStats counts the outcomes of one class.
type classStats struct {
	Total, OK, Non2xx int
	Errs              map[string]int
	Samples           []string // first failures, for the report
	MaxGen            int
	obs               []genObs
}

type genObs struct {
	start int64 // UnixNano when the request started
	gen   int
}

func (s *classStats) failed() int {
	n := s.Non2xx
	for _, v := range s.Errs {
		n += v
	}
	return n
}

func (s *classStats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests, %d ok, %d non-2xx", s.Total, s.OK, s.Non2xx)
	for _, k := range errKinds {
		fmt.Fprintf(&b, ", %s %d", k, s.Errs[k])
	}
	return b.String()
}

type loadOpts struct {
	KeepAlive, NewConn, Post int           // goroutines per class
	Pace                     time.Duration // pause between requests of a goroutine
	Timeout                  time.Duration // per request; default 10 s
}

// loadGen runs continuous load on loopback against every target address.
type loadGen struct {
	opts    loadOpts
	mu      sync.Mutex
	targets []string
	stats   [numClasses]*classStats
	stop    chan struct{}
	wg      sync.WaitGroup
}

// startLoad starts the load on addrs (host:port); add more with addTarget.
func startLoad(t *testing.T, o loadOpts, addrs ...string) *loadGen {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	g := &loadGen{opts: o, targets: append([]string(nil), addrs...), stop: make(chan struct{})}
	for i := range g.stats {
		g.stats[i] = &classStats{Errs: map[string]int{}}
	}
	run := func(c loadClass, n int) {
		for i := 0; i < n; i++ {
			g.wg.Add(1)
			go g.worker(c, i)
		}
	}
	run(classKeepAlive, o.KeepAlive)
	run(classNewConn, o.NewConn)
	run(classPost, o.Post)
	t.Cleanup(func() { g.finish() })
	return g
}

func (g *loadGen) addTarget(addr string) {
	g.mu.Lock()
	g.targets = append(g.targets, addr)
	g.mu.Unlock()
}

func (g *loadGen) target(i int) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.targets[i%len(g.targets)]
}

// finish stops the load and returns the counts (idempotent).
func (g *loadGen) finish() [numClasses]*classStats {
	select {
	case <-g.stop:
	default:
		close(g.stop)
	}
	g.wg.Wait()
	return g.stats
}

// postBody is a plain io.Reader: http.NewRequest cannot set GetBody, so the
// transport never replays the request on another connection.
type postBody struct{ io.Reader }

const postSize = 4096

func (g *loadGen) worker(c loadClass, id int) {
	defer g.wg.Done()
	tr := &http.Transport{
		Proxy:               nil,
		DisableKeepAlives:   c == classNewConn,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: g.opts.Timeout}
	payload := strings.Repeat("p", postSize)
	for n := id; ; n++ {
		select {
		case <-g.stop:
			return
		default:
		}
		addr := g.target(n)
		var req *http.Request
		want := staticBody
		if c == classPost {
			req, _ = http.NewRequest(http.MethodPost, "http://"+addr+"/up/echo", postBody{strings.NewReader(payload)})
			req.ContentLength = postSize
			want = "n=" + strconv.Itoa(postSize)
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
		status, gen, err := doRequest(client, req, want)
		if err == nil && conns.Load() > 1 {
			err = errRetried
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

func doRequest(client *http.Client, req *http.Request, want string) (int, int, error) {
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
		return resp.StatusCode, gen, fmt.Errorf("body %q, want %q", truncate(string(body), 80), want)
	}
	return resp.StatusCode, gen, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func (g *loadGen) record(c loadClass, start time.Time, status, gen int, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.stats[c]
	s.Total++
	switch {
	case err != nil:
		k := errKind(err)
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
		s.obs = append(s.obs, genObs{start: start.UnixNano(), gen: gen})
	}
}

// errKind sorts a transport error into refused, reset, eof, timeout, other.
func errKind(err error) string {
	msg := err.Error()
	var ne net.Error
	switch {
	case errors.Is(err, errRetried):
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

// report logs every class and fails the test for failures in the classes
// that must be clean.
func reportLoad(t *testing.T, stats [numClasses]*classStats, mustBeClean ...loadClass) {
	t.Helper()
	clean := map[loadClass]bool{}
	for _, c := range mustBeClean {
		clean[c] = true
	}
	for c := loadClass(0); c < numClasses; c++ {
		s := stats[c]
		if s.Total == 0 {
			continue
		}
		t.Logf("load %-30s %s", c.String()+":", s)
		if s.failed() == 0 {
			continue
		}
		detail := strings.Join(s.Samples, "\n    ")
		if clean[c] {
			t.Errorf("%s: %d failed requests (want 0):\n    %s", c, s.failed(), detail)
		} else {
			t.Logf("%s: %d failed requests (reported, target 0):\n    %s", c, s.failed(), detail)
		}
	}
}

// genMark says: requests started after At+slack must see generation >= Gen.
type genMark struct {
	Gen int
	At  time.Time
}

// checkGenerations fails when a request that started well after reload k
// had returned was answered by an older generation.
func checkGenerations(t *testing.T, stats [numClasses]*classStats, marks []genMark, slack time.Duration) {
	t.Helper()
	for c := loadClass(0); c < numClasses; c++ {
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

// getGen fetches /index.html on a new connection and returns X-Gen.
func getGen(addr string) (int, error) {
	r, err := harness.TryGet("http://"+addr+"/index.html", "")
	if err != nil {
		return 0, err
	}
	if r.Status != 200 {
		return 0, fmt.Errorf("status %d", r.Status)
	}
	return strconv.Atoi(r.Header.Get("X-Gen"))
}

// waitGen waits until new connections to every address see generation gen.
func waitGen(t *testing.T, gen int, timeout time.Duration, addrs ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for _, a := range addrs {
		// Several connections: with SO_REUSEPORT each may reach another worker.
		for seen := 0; seen < 4; {
			g, err := getGen(a)
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

// randDuration is uniform in [lo, hi).
func randDuration(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rand.Int64N(int64(hi-lo)))
}

// readLines returns the non-empty lines of a file.
func readLines(t *testing.T, path string) []string {
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
