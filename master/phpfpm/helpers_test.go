package phpfpm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fcgiRequest sends one FCGI_RESPONDER request for script over the unix
// socket sock and returns the response body (headers stripped). A
// minimal client: enough to run a PHP script through php-fpm.
func fcgiRequest(sock, script, query string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("unix", sock, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	var out bytes.Buffer
	rec := func(typ byte, content []byte) {
		pad := (8 - len(content)%8) % 8
		out.Write([]byte{1, typ, 0, 1, byte(len(content) >> 8), byte(len(content)), byte(pad), 0})
		out.Write(content)
		out.Write(make([]byte, pad))
	}
	rec(1, []byte{0, 1, 0, 0, 0, 0, 0, 0}) // BEGIN_REQUEST, role RESPONDER, no keep-conn
	var params bytes.Buffer
	for _, kv := range [][2]string{
		{"SCRIPT_FILENAME", script}, {"SCRIPT_NAME", "/" + filepath.Base(script)},
		{"REQUEST_METHOD", "GET"}, {"QUERY_STRING", query}, {"SERVER_PROTOCOL", "HTTP/1.1"},
		{"GATEWAY_INTERFACE", "CGI/1.1"}, {"REDIRECT_STATUS", "200"}, {"CONTENT_LENGTH", "0"},
	} {
		for _, s := range kv {
			if len(s) < 128 {
				params.WriteByte(byte(len(s)))
			} else {
				binary.Write(&params, binary.BigEndian, uint32(len(s))|1<<31)
			}
		}
		params.WriteString(kv[0])
		params.WriteString(kv[1])
	}
	rec(4, params.Bytes()) // PARAMS
	rec(4, nil)
	rec(5, nil) // STDIN
	if _, err := c.Write(out.Bytes()); err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	for {
		var h [8]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			return "", fmt.Errorf("reading record: %w", err)
		}
		n := int(h[4])<<8 | int(h[5])
		body := make([]byte, n+int(h[6]))
		if _, err := io.ReadFull(c, body); err != nil {
			return "", fmt.Errorf("reading record body: %w", err)
		}
		switch h[1] {
		case 6:
			stdout.Write(body[:n])
		case 7:
			stderr.Write(body[:n])
		case 3: // END_REQUEST
			s := stdout.String()
			if i := strings.Index(s, "\r\n\r\n"); i >= 0 {
				head := s[:i]
				if strings.HasPrefix(head, "Status:") && !strings.HasPrefix(head, "Status: 200") {
					return "", fmt.Errorf("status %q: %s", strings.SplitN(head, "\r\n", 2)[0], stderr.String())
				}
				return s[i+4:], nil
			}
			return "", fmt.Errorf("no headers in %q (stderr %q)", s, stderr.String())
		}
	}
}

// env is a test environment for real php-fpm runs.
type env struct {
	t        *testing.T
	binary   string
	root     string // docroot, readable by the pool user
	sockDir  string
	stateDir string
	log      *slog.Logger
}

const phpFPM = "/usr/sbin/php-fpm8.2"

// needPHPFPM skips unless a php-fpm binary is installed (installing it
// with apt-get when running as root, as `make test` does).
func needPHPFPM(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("php-fpm tests are not short")
	}
	bin := phpFPMBinary()
	if bin == "" && os.Geteuid() == 0 {
		installOnce.Do(func() {
			out, err := exec.Command("sh", "-c", "DEBIAN_FRONTEND=noninteractive apt-get install -y php-fpm php-cli").CombinedOutput()
			if err != nil {
				installErr = fmt.Errorf("%v: %s", err, out)
			}
		})
		bin = phpFPMBinary()
	}
	if bin == "" {
		t.Skipf("php-fpm is not installed and could not be installed (%v): apt-get install php-fpm", installErr)
	}
	base := t.TempDir()
	// The pool user (nobody) must reach the scripts.
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(base), 0o755); err != nil {
		t.Fatal(err)
	}
	e := &env{
		t: t, binary: bin,
		root:     filepath.Join(base, "www"),
		sockDir:  filepath.Join(base, "run"),
		stateDir: filepath.Join(base, "state"),
		log:      slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	os.Mkdir(e.root, 0o755)
	e.script("hello.php", `<?php echo "hello ", getmypid(), " ", posix_getppid(), " ", posix_getpwuid(posix_geteuid())["name"];`)
	e.script("slow.php", `<?php usleep((int)($_GET["ms"] ?? 100) * 1000); echo "slow ", posix_getppid();`)
	e.script("env.php", `<?php echo json_encode(getenv());`)
	return e
}

var (
	installOnce sync.Once
	installErr  error
)

func phpFPMBinary() string {
	for _, p := range []string{phpFPM, "/usr/sbin/php-fpm"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	matches, _ := filepath.Glob("/usr/sbin/php-fpm*")
	for _, p := range matches {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

func (e *env) script(name, body string) string {
	p := filepath.Join(e.root, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// pool is a minimal valid pool named name.
func (e *env) pool(name string) Pool {
	p := Pool{
		Name:           name,
		Binary:         e.binary,
		SocketPath:     filepath.Join(e.sockDir, name+".sock"),
		ProcessManager: PMStatic,
		Workers:        2,
	}
	if os.Geteuid() == 0 {
		p.User, p.Group = "nobody", "nogroup"
		if _, err := lookupGID("nogroup"); err != nil {
			p.Group = "nobody"
		}
	}
	return p
}

func (e *env) manager(reg FDRegistry) *Manager {
	e.t.Helper()
	return e.managerIn(e.stateDir, reg)
}

func (e *env) managerIn(dir string, reg FDRegistry) *Manager {
	e.t.Helper()
	if reg == nil {
		reg = newFakeRegistry()
	}
	m, err := NewManager(dir, e.log, reg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { m.StopFast() })
	return m
}

// get runs hello.php on sock and returns its fields: worker pid, php-fpm
// master pid (the worker's parent), worker user.
func (e *env) get(sock string) (worker, master int, user string, err error) {
	body, err := fcgiRequest(sock, filepath.Join(e.root, "hello.php"), "", 5*time.Second)
	if err != nil {
		return 0, 0, "", err
	}
	f := strings.Fields(body)
	if len(f) != 4 || f[0] != "hello" {
		return 0, 0, "", fmt.Errorf("unexpected body %q", body)
	}
	worker, _ = strconv.Atoi(f[1])
	master, _ = strconv.Atoi(f[2])
	return worker, master, f[3], nil
}

func (e *env) mustGet(sock string) (worker, master int) {
	e.t.Helper()
	w, m, _, err := e.get(sock)
	if err != nil {
		e.t.Fatalf("request to %s: %v", sock, err)
	}
	return w, m
}

// load runs n goroutines sending slow.php?ms=ms requests to sock until
// stop is closed; it returns the number of requests and the failures.
func (e *env) load(sock string, n, ms int, stop <-chan struct{}) (wait func() (ok int, failures []string)) {
	var mu sync.Mutex
	var okCount int
	var fails []string
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				body, err := fcgiRequest(sock, filepath.Join(e.root, "slow.php"), "ms="+strconv.Itoa(ms), 10*time.Second)
				mu.Lock()
				if err != nil || !strings.HasPrefix(body, "slow ") {
					fails = append(fails, fmt.Sprintf("%v %q", err, body))
				} else {
					okCount++
				}
				mu.Unlock()
			}
		})
	}
	return func() (int, []string) {
		wg.Wait()
		return okCount, fails
	}
}

// fakeRegistry is tableflip's Fds reduced to what the manager uses:
// inherited files are handed out once (as dups), added files are kept.
type fakeRegistry struct {
	mu        sync.Mutex
	inherited map[string]*os.File
	used      map[string]*os.File
}

func newFakeRegistry() *fakeRegistry {
	return &fakeRegistry{inherited: map[string]*os.File{}, used: map[string]*os.File{}}
}

func (r *fakeRegistry) File(name string) (*os.File, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.inherited[name]
	if f == nil {
		return nil, nil
	}
	delete(r.inherited, name)
	r.used[name] = f
	return dupFile(f)
}

func (r *fakeRegistry) AddFile(name string, f *os.File) error {
	d, err := dupFile(f)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.used[name] = d
	return nil
}

// handOver is what a binary upgrade passes to the new master: a dup of
// every registered file.
func (r *fakeRegistry) handOver() *fakeRegistry {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := newFakeRegistry()
	for k, f := range r.used {
		d, err := dupFile(f)
		if err == nil {
			n.inherited[k] = d
		}
	}
	return n
}

func (r *fakeRegistry) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.used {
		f.Close()
	}
	for _, f := range r.inherited {
		f.Close()
	}
}

func dupFile(f *os.File) (*os.File, error) {
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var nfd int
	var derr error
	err = sc.Control(func(fd uintptr) { nfd, derr = dupCloexec(int(fd)) })
	if err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	return os.NewFile(uintptr(nfd), f.Name()), nil
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// groupMembers lists the pids in process group pgid (from /proc).
func groupMembers(pgid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			out = append(out, pid)
		}
	}
	return out
}

// phpFPMProcessesUnder lists live php-fpm processes whose command line
// or group points into dir (the state directory).
func phpFPMProcessesUnder(dir string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(b), dir) {
			if st, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil && !strings.Contains(string(st), ") Z ") {
				out = append(out, pid)
			}
		}
	}
	return out
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func dupCloexec(fd int) (int, error) {
	return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
}
