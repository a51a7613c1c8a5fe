package harness

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests run this test binary itself as a stand-in for fluxheim
// (HARNESS_FAKE=mode), so they do not depend on the real binary.
func TestMain(m *testing.M) {
	if mode := os.Getenv("HARNESS_FAKE"); mode != "" {
		os.Exit(fakeMain(mode, os.Args[1:]))
	}
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

var listenRE = regexp.MustCompile(`listen\s*=\s*\["([^"]+)"\]`)

// fakeMain: "serve" reads -c FILE, serves HTTP on its listen address, logs
// SIGHUP, exits 0 on SIGTERM; "exit" fails like a bad config; "cli" echoes its
// arguments; "orphan" serves like "serve" but leaves a child process behind.
func fakeMain(mode string, args []string) int {
	switch mode {
	case "exit":
		fmt.Fprintln(os.Stderr, "fake: config error: bad config at line 3")
		return 1
	case "cli":
		fmt.Fprintf(os.Stdout, "args=%s\n", strings.Join(args, ","))
		fmt.Fprintln(os.Stderr, "to stderr")
		return 3
	}
	if len(args) < 2 || args[0] != "-c" {
		fmt.Fprintln(os.Stderr, "fake: usage: -c FILE")
		return 2
	}
	cfg, err := os.ReadFile(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake:", err)
		return 1
	}
	m := listenRE.FindSubmatch(cfg)
	if m == nil {
		fmt.Fprintln(os.Stderr, "fake: no listen address")
		return 1
	}
	if mode == "orphan" {
		child := exec.Command("sleep", "300")
		if err := child.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "fake:", err)
			return 1
		}
		fmt.Printf("fake: child %d\n", child.Process.Pid)
	}
	ln, err := net.Listen("tcp", string(m[1]))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake:", err)
		return 1
	}
	fmt.Printf("fake: listening on %s\n", ln.Addr())
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM)
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Host", r.Host)
			_, _ = w.Write(cfg)
		}))
	}()
	for sig := range sigs {
		if sig == syscall.SIGTERM {
			fmt.Println("fake: stopping")
			return 0
		}
		fmt.Println("fake: reload")
	}
	return 0
}

func fakeOptions(mode, config string) Options {
	return Options{
		Binary: os.Args[0],
		// A -race test binary sleeps 1 s at exit by default.
		Env:    []string{"HARNESS_FAKE=" + mode, "GORACE=atexit_sleep_ms=0"},
		Config: config,
	}
}

func TestFreePortIsUsable(t *testing.T) {
	p := FreePort(t)
	if p <= 0 || p > 65535 {
		t.Fatalf("FreePort = %d", p)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatalf("listen on FreePort %d: %v", p, err)
	}
	_ = ln.Close()
	addr := FreeAddr(t)
	if host, _, err := net.SplitHostPort(addr); err != nil || host != "127.0.0.1" {
		t.Fatalf("FreeAddr = %q (%v)", addr, err)
	}
}

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if got := modulePathOf(filepath.Join(root, "go.mod")); got != ModulePath {
		t.Fatalf("go.mod in %s declares %q", root, got)
	}
	if _, err := os.Stat(filepath.Join(root, "integration", "harness")); err != nil {
		t.Fatalf("module root %s does not hold integration/harness: %v", root, err)
	}
}

func TestBinaryHonoursFLUXHEIM_BIN(t *testing.T) {
	t.Setenv("FLUXHEIM_BIN", os.Args[0])
	abs, _ := filepath.Abs(os.Args[0])
	if got := Binary(t); got != abs {
		t.Fatalf("Binary = %q, want %q", got, abs)
	}
}

func TestRawRequest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, "path=%s", r.URL.Path)
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	t.Run("server closes", func(t *testing.T) {
		start := time.Now()
		got := RawRequest(t, addr, "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
		if !strings.HasPrefix(got, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(got, "path=/x") {
			t.Fatalf("response = %q", got)
		}
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Fatalf("took %v; should return at close, not after the silence period", d)
		}
	})
	t.Run("keep-alive ends after silence", func(t *testing.T) {
		start := time.Now()
		got, err := RawRequestTimeout(addr, "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n", 300*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(got, "HTTP/1.1 200 OK") != 2 || !strings.Contains(got, "path=/a") || !strings.HasSuffix(got, "path=/b") {
			t.Fatalf("response = %q", got)
		}
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Fatalf("returned after %v, before the silence period", d)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		got := RawRequest(t, addr, "GARBAGE\r\n\r\n")
		if !strings.HasPrefix(got, "HTTP/1.1 400 Bad Request") {
			t.Fatalf("response = %q", got)
		}
	})
}

func TestGet(t *testing.T) {
	var mu sync.Mutex
	var closeSeen bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		closeSeen = r.Close
		mu.Unlock()
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		w.Header().Set("X-Got-Host", r.Host)
		_, _ = fmt.Fprintf(w, "x-test=%s", r.Header.Get("X-Test"))
	}))
	defer srv.Close()

	status, hdr, body := Get(t, srv.URL+"/", "example.test", "X-Test: 1")
	if status != 200 || hdr.Get("X-Got-Host") != "example.test" || body != "x-test=1" {
		t.Fatalf("got %d %v %q", status, hdr, body)
	}
	mu.Lock()
	if !closeSeen {
		t.Error("keep-alive should be off (Connection: close)")
	}
	mu.Unlock()
	status, hdr, _ = Get(t, srv.URL+"/redirect", "")
	if status != http.StatusFound || hdr.Get("Location") != "/elsewhere" {
		t.Fatalf("redirect: got %d %v", status, hdr)
	}
	if _, err := TryGet(srv.URL, "", "no colon"); err == nil {
		t.Fatal("a header without ':' should be an error")
	}
}

func TestStartServeSignalStop(t *testing.T) {
	opts := fakeOptions("serve", "[server]\nlisten = [\"{{listen \"http\"}}\"]\n# {{.Vars.Note}} in {{.Dir}}\n")
	opts.Vars = map[string]any{"Note": "hello"}
	opts.Files = map[string]string{"www/index.html": "port {{port \"http\"}}"}
	srv := Start(t, opts)

	if !strings.Contains(srv.Logs(), "fake: listening on "+srv.Addr("http")) {
		t.Fatalf("logs = %q", srv.Logs())
	}
	status, hdr, body := Get(t, srv.URL("http")+"/", "h.test")
	if status != 200 || hdr.Get("X-Host") != "h.test" {
		t.Fatalf("got %d %v", status, hdr)
	}
	if want := "# hello in " + srv.Dir(); !strings.Contains(body, want) {
		t.Fatalf("config served = %q, want it to contain %q", body, want)
	}
	www, err := os.ReadFile(filepath.Join(srv.Dir(), "www", "index.html"))
	if err != nil || string(www) != fmt.Sprintf("port %d", srv.Port("http")) {
		t.Fatalf("www/index.html = %q, %v", www, err)
	}
	if srv.ConfigPath() != filepath.Join(srv.Dir(), "fluxheim.toml") {
		t.Fatalf("ConfigPath = %q", srv.ConfigPath())
	}

	if err := srv.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !srv.WaitLog("fake: reload", 5*time.Second) {
		t.Fatalf("no reload in logs: %q", srv.Logs())
	}
	srv.Stop()
	if code, ok := srv.Wait(time.Second); !ok || code != 0 {
		t.Fatalf("exit = %d, %v; logs %q", code, ok, srv.Logs())
	}
	if !strings.Contains(srv.Logs(), "fake: stopping") {
		t.Fatalf("logs = %q", srv.Logs())
	}
	srv.Stop() // idempotent
}

func TestStopKillsLeftoverChildren(t *testing.T) {
	srv := Start(t, fakeOptions("orphan", "listen = [\"{{listen \"http\"}}\"]\n"))
	var child int
	if _, err := fmt.Sscanf(srv.Logs()[strings.Index(srv.Logs(), "fake: child "):], "fake: child %d", &child); err != nil {
		t.Fatalf("no child pid in %q: %v", srv.Logs(), err)
	}
	srv.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(child, 0) == nil {
		// Reaped by init; until then it may linger as a zombie.
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child)); err == nil && strings.Contains(string(st), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d still running after Stop", child)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fatalTB records Fatalf instead of failing the real test.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fatalTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

func TestStartFailsFastWithOutput(t *testing.T) {
	for _, tc := range []struct {
		name, mode string
		want       string
		timeout    time.Duration
	}{
		{"process exits", "exit", "bad config at line 3", 10 * time.Second},
		{"never listens", "serve", "did not become ready", 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ftb := &fatalTB{TB: t}
			opts := fakeOptions(tc.mode, "listen = [\"127.0.0.1:1\"]\n")
			// The fake serve mode cannot bind port 1 as non-root; as root it can, so
			// wait on an address nobody serves instead.
			opts.WaitAddrs = []string{FreeAddr(t)}
			opts.WaitTimeout = tc.timeout
			start := time.Now()
			done := make(chan struct{})
			go func() {
				defer close(done)
				Start(ftb, opts)
			}()
			<-done
			if ftb.msg == "" || !strings.Contains(ftb.msg, tc.want) {
				t.Fatalf("Start failure message = %q, want it to contain %q", ftb.msg, tc.want)
			}
			if d := time.Since(start); d > 8*time.Second {
				t.Fatalf("Start took %v to notice", d)
			}
		})
	}
}

func TestRunWith(t *testing.T) {
	stdout, stderr, code := RunWith(t, RunOptions{
		Binary: os.Args[0],
		Args:   []string{"version", "--x"},
		Env:    []string{"HARNESS_FAKE=cli"},
	})
	if stdout != "args=version,--x\n" || stderr != "to stderr\n" || code != 3 {
		t.Fatalf("got %q %q %d", stdout, stderr, code)
	}
}
