package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// Options describe one fluxheim process for Start.
type Options struct {
	// Config is the text of the config file, written to Dir()/ConfigName and passed
	// as "-c PATH". When it contains "{{" it is a text/template first, with
	//   {{.Dir}}            the server's temporary directory
	//   {{.Vars.NAME}}      a value from Vars
	//   {{port "NAME"}}     a free port, the same one for every use of NAME
	//   {{addr "NAME"}}     "127.0.0.1:PORT" for that port
	//   {{listen "NAME"}}   like addr, and Start waits until it accepts TCP
	// Server.Port, Server.Addr and Server.URL return the ports by name later.
	Config string
	// ConfigName is the file name in Dir(); default "fluxheim.toml".
	ConfigName string
	// NoConfig starts the binary without -c (its embedded default config).
	NoConfig bool
	// Files are written into Dir() before the start (parent directories are
	// created), e.g. "www/index.html" or "conf.d/10-site.toml"; templated like Config.
	Files map[string]string
	// Vars are available to templates as {{.Vars.NAME}}.
	Vars map[string]any
	// Args are appended after "-c PATH"; Env ("KEY=VALUE") is added to the
	// test's environment. Both are templated like Config.
	Args []string
	Env  []string
	// WaitAddrs must accept TCP connections before Start returns, in addition to
	// the {{listen}} addresses. With none, Start returns once the process runs.
	WaitAddrs []string
	// WaitTimeout bounds the wait for the addresses; default 10 s.
	WaitTimeout time.Duration
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL; default 5 s.
	StopTimeout time.Duration
	// Binary overrides the executable (default Binary(t)).
	Binary string
}

// Server is a running fluxheim process started by Start.
type Server struct {
	t           testing.TB
	cmd         *exec.Cmd
	dir         string
	configPath  string
	ports       map[string]int
	out         *logBuffer
	stopTimeout time.Duration

	done    chan struct{}
	waitErr error

	stopOnce sync.Once
	dumped   bool // output already shown in a failure message
}

// Start writes the config, starts the binary with "-c PATH" plus opts.Args in
// its own process group, captures stdout and stderr, and waits for the listen
// addresses. When the test ends the process is stopped (SIGTERM, SIGKILL after
// StopTimeout) together with anything it started, and its output is logged if
// the test failed. Start fails the test when the process exits or an address
// does not accept connections within WaitTimeout, with the output in the log.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := opts.Binary
	if bin == "" {
		bin = Binary(t)
	}
	dir := tempDir(t)
	s := &Server{
		t:           t,
		dir:         dir,
		ports:       map[string]int{},
		out:         &logBuffer{},
		stopTimeout: opts.StopTimeout,
		done:        make(chan struct{}),
	}
	if s.stopTimeout <= 0 {
		s.stopTimeout = 5 * time.Second
	}
	var listens []string
	r := &renderer{t: t, s: s, vars: opts.Vars, listens: &listens}

	for name, text := range opts.Files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("harness: %v", err)
		}
		if err := os.WriteFile(path, []byte(r.render("file "+name, text)), 0o644); err != nil {
			t.Fatalf("harness: %v", err)
		}
	}
	var args []string
	if !opts.NoConfig {
		name := opts.ConfigName
		if name == "" {
			name = "fluxheim.toml"
		}
		s.configPath = filepath.Join(dir, name)
		if err := os.WriteFile(s.configPath, []byte(r.render("config", opts.Config)), 0o644); err != nil {
			t.Fatalf("harness: %v", err)
		}
		args = append(args, "-c", s.configPath)
	}
	for _, a := range opts.Args {
		args = append(args, r.render("arg", a))
	}
	env := os.Environ()
	for _, e := range opts.Env {
		env = append(env, r.render("env", e))
	}

	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = s.out // the same writer for both: one pipe, output stays in order
	cmd.Stderr = s.out
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // Stop can reach workers the master started
		Pdeathsig: syscall.SIGKILL, // no stray server if the test binary dies
	}
	// Workers that outlive the master keep the output pipe open; do not let
	// Wait block on them forever.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("harness: start %s: %v", bin, err)
	}
	s.cmd = cmd
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() && !s.dumped {
			t.Logf("harness: output of %s (pid %d):\n%s", filepath.Base(bin), s.Pid(), s.Logs())
		}
	})

	wait := append(append([]string(nil), listens...), opts.WaitAddrs...)
	if len(wait) > 0 {
		timeout := opts.WaitTimeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		if err := s.waitListening(wait, timeout); err != nil {
			s.Stop()
			s.dumped = true
			t.Fatalf("harness: %s did not become ready: %v\n--- output:\n%s", filepath.Base(bin), err, s.Logs())
		}
	}
	return s
}

// waitListening is WaitListening that gives up as soon as the process exits.
func (s *Server) waitListening(addrs []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, addr := range addrs {
		for {
			select {
			case <-s.done:
				return fmt.Errorf("process exited (%v) before %s accepted connections", s.waitErr, addr)
			default:
			}
			c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
			if err == nil {
				_ = c.Close()
				break
			}
			if time.Now().After(deadline) {
				return &NotListeningError{Addr: addr, Err: err}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// Stop sends SIGTERM, waits up to StopTimeout, then SIGKILLs the process group,
// and finally kills anything left in the group (workers that outlived the
// master are reported in the test log). It is safe to call more than once.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		pid := s.cmd.Process.Pid
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(s.stopTimeout):
				s.t.Logf("harness: pid %d still running %v after SIGTERM; sending SIGKILL", pid, s.stopTimeout)
				_ = syscall.Kill(-pid, syscall.SIGKILL)
				<-s.done
			}
		}
		if syscall.Kill(-pid, 0) == nil {
			s.t.Logf("harness: processes left in group %d after the master exited; sending SIGKILL", pid)
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	})
}

// Signal sends sig to the master process.
func (s *Server) Signal(sig os.Signal) error { return s.cmd.Process.Signal(sig) }

// Pid is the master's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Dir is the server's temporary directory (config, Files; removed after the test).
func (s *Server) Dir() string { return s.dir }

// ConfigPath is the config file passed with -c ("" with NoConfig).
func (s *Server) ConfigPath() string { return s.configPath }

// Logs returns everything the process wrote to stdout and stderr so far.
func (s *Server) Logs() string { return s.out.String() }

// Port returns the port allocated for NAME by {{port}}, {{addr}} or {{listen}}.
func (s *Server) Port(name string) int {
	s.t.Helper()
	p, ok := s.ports[name]
	if !ok {
		s.t.Fatalf("harness: no port named %q in the config template", name)
	}
	return p
}

// Addr returns "127.0.0.1:PORT" for the port NAME.
func (s *Server) Addr(name string) string {
	s.t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port(name)))
}

// URL returns "http://127.0.0.1:PORT" for the port NAME.
func (s *Server) URL(name string) string {
	s.t.Helper()
	return "http://" + s.Addr(name)
}

// Exited is closed when the master process has exited.
func (s *Server) Exited() <-chan struct{} { return s.done }

// Wait waits up to timeout for the process to exit by itself and returns its
// exit code (-1 when killed by a signal); ok is false on timeout.
func (s *Server) Wait(timeout time.Duration) (exitCode int, ok bool) {
	select {
	case <-s.done:
		return s.cmd.ProcessState.ExitCode(), true
	case <-time.After(timeout):
		return 0, false
	}
}

// WaitLog waits up to timeout until the output contains substr.
func (s *Server) WaitLog(substr string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if strings.Contains(s.Logs(), substr) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// RunOptions configure RunWith.
type RunOptions struct {
	Args    []string
	Env     []string // added to the test's environment
	Dir     string   // working directory; default the test's
	Stdin   string
	Timeout time.Duration // default 60 s; the process is killed after it
	Binary  string        // default Binary(t)
}

// Run runs the binary as a CLI (e.g. "-t", "-c", path or "version") and returns
// its stdout, stderr and exit code.
func Run(t testing.TB, args ...string) (stdout, stderr string, exitCode int) {
	t.Helper()
	return RunWith(t, RunOptions{Args: args})
}

// RunWith is Run with an environment, working directory, stdin and timeout.
func RunWith(t testing.TB, o RunOptions) (stdout, stderr string, exitCode int) {
	t.Helper()
	bin := o.Binary
	if bin == "" {
		bin = Binary(t)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, o.Args...)
	cmd.Dir = o.Dir
	cmd.Env = append(os.Environ(), o.Env...)
	cmd.Stdin = strings.NewReader(o.Stdin)
	cmd.WaitDelay = 2 * time.Second
	var outBuf, errBuf bytes.Buffer
	cmd.Stdout = &outBuf
	cmd.Stderr = &errBuf
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("harness: %s %q timed out after %v\nstdout:\n%s\nstderr:\n%s", bin, o.Args, timeout, outBuf.String(), errBuf.String())
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
	default:
		t.Fatalf("harness: run %s %q: %v", bin, o.Args, err)
	}
	return outBuf.String(), errBuf.String(), cmd.ProcessState.ExitCode()
}

// tempDir makes a directory readable by other users (workers may run as an
// unprivileged user and read web roots from it), removed when the test ends.
// FLUXHEIM_KEEP_TMP=1 keeps it.
func tempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fluxheim-test-")
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("harness: %v", err)
	}
	t.Cleanup(func() {
		if os.Getenv("FLUXHEIM_KEEP_TMP") == "1" {
			t.Logf("harness: kept %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return dir
}

// renderer expands the templates of one Start call.
type renderer struct {
	t       testing.TB
	s       *Server
	vars    map[string]any
	listens *[]string
}

func (r *renderer) port(name string) int {
	if p, ok := r.s.ports[name]; ok {
		return p
	}
	// Avoid handing out the same port twice within one config.
	for {
		p := FreePort(r.t)
		dup := false
		for _, q := range r.s.ports {
			dup = dup || q == p
		}
		if !dup {
			r.s.ports[name] = p
			return p
		}
	}
}

func (r *renderer) render(what, text string) string {
	r.t.Helper()
	if !strings.Contains(text, "{{") {
		return text
	}
	addr := func(name string) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port(name))) }
	listened := map[string]bool{}
	for _, a := range *r.listens {
		listened[a] = true
	}
	funcs := template.FuncMap{
		"port": r.port,
		"addr": addr,
		"listen": func(name string) string {
			a := addr(name)
			if !listened[a] {
				listened[a] = true
				*r.listens = append(*r.listens, a)
			}
			return a
		},
	}
	tmpl, err := template.New(what).Funcs(funcs).Option("missingkey=error").Parse(text)
	if err != nil {
		r.t.Fatalf("harness: %s template: %v", what, err)
	}
	var b strings.Builder
	data := struct {
		Dir  string
		Vars map[string]any
	}{Dir: r.s.dir, Vars: r.vars}
	if err := tmpl.Execute(&b, data); err != nil {
		r.t.Fatalf("harness: %s template: %v", what, err)
	}
	return b.String()
}

// logBuffer collects process output safely for concurrent reads; it keeps at
// most 16 MiB.
type logBuffer struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	truncated bool
}

const maxLog = 16 << 20

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxLog - b.buf.Len(); room < len(p) {
		if room > 0 {
			b.buf.Write(p[:room])
		}
		b.truncated = true
		return len(p), nil
	}
	b.buf.Write(p)
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.truncated {
		return b.buf.String() + "\n[harness: output truncated at 16 MiB]\n"
	}
	return b.buf.String()
}
