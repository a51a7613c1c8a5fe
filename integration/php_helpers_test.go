package integration

// Shared helpers of the PHP tests (issue 5): a real php-fpm pool from
// Debian listening on a unix socket and on TCP, the fluxheim binary built
// with the php-fpm feature, PHP trees written into a directory php-fpm's
// unprivileged children can read, and small HTTP helpers.
//
// Names start with "php" so they do not collide with other test files of
// this package.

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/integration/harness"
)

// phpFeatures is the build the PHP tests run.
const phpFeatures = "profile-web-server,php-fpm"

// phpFPMBinary returns Debian's php-fpm, or skips the test when it is not
// installed (scripts/install-test-deps.sh installs it).
func phpFPMBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/php-fpm8.2"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if m, _ := filepath.Glob("/usr/sbin/php-fpm*"); len(m) > 0 {
		return m[0]
	}
	t.Skip("php-fpm is not installed (run scripts/install-test-deps.sh)")
	return ""
}

// phpDir makes a directory every user can read (php-fpm's children run as
// nobody when the tests run as root), removed at the end of the test.
func phpDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fluxheim-php-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// phpWriteTree writes files (path → content) below dir, readable by all.
func phpWriteTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// phpFPM is a running php-fpm master with two pools: "unix" on Socket and
// "tcp" on TCP, 4 static children each.
type phpFPM struct {
	Socket, TCP string
	dir         string
	cmd         *exec.Cmd
	done        chan struct{}
}

// phpStartFPM starts php-fpm in the foreground with its own config, pid
// and log in a private directory, and waits until both pools accept.
func phpStartFPM(t *testing.T) *phpFPM {
	t.Helper()
	bin := phpFPMBinary(t)
	dir := phpDir(t)
	f := &phpFPM{Socket: filepath.Join(dir, "fpm.sock"), TCP: harness.FreeAddr(t), dir: dir, done: make(chan struct{})}
	owner := ""
	if os.Geteuid() == 0 {
		owner = "user = nobody\ngroup = nogroup\n"
	}
	pool := func(name, listen string) string {
		return fmt.Sprintf(`[%s]
%slisten = %s
listen.mode = 0666
pm = static
pm.max_children = 4
catch_workers_output = yes
security.limit_extensions = .php
php_admin_value[upload_max_filesize] = 16M
php_admin_value[post_max_size] = 16M
php_admin_flag[display_errors] = off
php_admin_flag[log_errors] = on
php_admin_value[opcache.enable] = 0
`, name, owner, listen)
	}
	conf := fmt.Sprintf("[global]\npid = %s/fpm.pid\nerror_log = %s/fpm.log\ndaemonize = no\n\n%s\n%s",
		dir, dir, pool("unix", f.Socket), pool("tcp", f.TCP))
	confPath := filepath.Join(dir, "php-fpm.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	f.cmd = exec.Command(bin, "-F", "-y", confPath, "-p", dir)
	f.cmd.Stdout, f.cmd.Stderr = &out, &out
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := f.cmd.Start(); err != nil {
		t.Fatalf("start php-fpm: %v", err)
	}
	go func() { _ = f.cmd.Wait(); close(f.done) }()
	t.Cleanup(f.Stop)
	deadline := time.Now().Add(10 * time.Second)
	for _, a := range [][2]string{{"unix", f.Socket}, {"tcp", f.TCP}} {
		for {
			c, err := net.DialTimeout(a[0], a[1], 200*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-f.done:
				log, _ := os.ReadFile(filepath.Join(dir, "fpm.log"))
				t.Fatalf("php-fpm exited: %s\n%s", out.String(), log)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("php-fpm does not accept on %s %s: %v", a[0], a[1], err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return f
}

// Stop ends php-fpm (SIGQUIT, SIGKILL to its process group after 5 s).
func (f *phpFPM) Stop() {
	select {
	case <-f.done:
		return
	default:
	}
	_ = f.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-f.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
		<-f.done
	}
}

// phpFPMBlock renders a [vhosts.php.fpm] table for the pool of network
// "unix" or "tcp", plus extra keys.
func (f *phpFPM) block(network, extra string) string {
	if network == "tcp" {
		return fmt.Sprintf("tcp = %q\nallow_private_tcp_upstreams = true\n%s", f.TCP, extra)
	}
	return fmt.Sprintf("socket = %q\n%s", f.Socket, extra)
}

// phpStartFluxheim starts the php-fpm build of fluxheim with one worker on
// the listener "http" and the given vhosts (TOML of [[vhosts]] tables).
func phpStartFluxheim(t *testing.T, vhosts string) *harness.Server {
	t.Helper()
	cfg := `[server]
listen = ["{{listen "http"}}"]

[server.process]
workers = 1
pid_file = ""
control_sock = ""
graceful_shutdown_timeout_seconds = 2
worker_shutdown_timeout_secs = 2

[logging.access]
enabled = false

` + vhosts
	return harness.Start(t, harness.Options{Config: cfg, Binary: harness.BinaryWithFeatures(t, phpFeatures)})
}

// phpServer is a running fluxheim of the PHP tests.
type phpServer = *harness.Server

// phpResp is a fully read response.
type phpResp struct {
	Status int
	Header http.Header
	Body   string
}

var phpClient = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true, DisableCompression: true},
}

// phpDo sends one request to srv's listener with Host host.
func phpDo(t *testing.T, srv *harness.Server, method, host, target string, body io.Reader, headers ...string) phpResp {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL("http")+target, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(k, strings.TrimSpace(v))
	}
	resp, err := phpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s (Host %s): %v", method, target, host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, target, err)
	}
	return phpResp{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

func phpGet(t *testing.T, srv *harness.Server, host, target string, headers ...string) phpResp {
	t.Helper()
	return phpDo(t, srv, http.MethodGet, host, target, nil, headers...)
}

// phpExpect checks status and that the body contains want.
func phpExpect(t *testing.T, what string, r phpResp, status int, want string) {
	t.Helper()
	if r.Status != status || !strings.Contains(r.Body, want) {
		t.Errorf("%s: got %d %q, want %d with %q", what, r.Status, phpShort(r.Body), status, want)
	}
}

func phpShort(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
