package integration

import (
	"encoding/json"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/integration/harness"
)

// fndCopyExamples copies etc/ into a temporary directory with every
// absolute /var/... path moved below it (and those directories created),
// so -t can check the examples' static roots and log directories.
func fndCopyExamples(t *testing.T) string {
	t.Helper()
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "etc")
	dst := filepath.Join(t.TempDir(), "etc")
	sandbox := filepath.Join(filepath.Dir(dst), "sandbox")
	pathRE := regexp.MustCompile(`"(/var/[^"]*)"`)
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		if !strings.HasSuffix(p, ".toml") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		text := pathRE.ReplaceAllStringFunc(string(data), func(m string) string {
			orig := strings.Trim(m, `"`)
			moved := filepath.Join(sandbox, orig)
			dir := moved
			if strings.HasSuffix(orig, ".log") || strings.HasSuffix(orig, ".pid") {
				dir = filepath.Dir(moved)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			return `"` + moved + `"`
		})
		return os.WriteFile(out, []byte(text), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// fndExamplePaths lists what -c is given for each example of dir: every
// top-level *.toml, and each subdirectory's fluxheim.toml or the
// directory itself.
func fndExamplePaths(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		switch {
		case e.IsDir():
			if _, err := os.Stat(filepath.Join(p, "fluxheim.toml")); err == nil {
				out = append(out, filepath.Join(p, "fluxheim.toml"))
			} else {
				out = append(out, p)
			}
		case strings.HasSuffix(e.Name(), ".toml"):
			out = append(out, p)
		}
	}
	if len(out) < 4 {
		t.Fatalf("only %d examples found in %s", len(out), dir)
	}
	return out
}

func TestFoundationCLIValidateExamples(t *testing.T) {
	t.Parallel()
	dir := fndCopyExamples(t)
	for _, p := range fndExamplePaths(t, dir) {
		name, _ := filepath.Rel(dir, p)
		// Examples of optional modules need a binary that has them.
		bin := harness.Binary(t)
		if strings.HasPrefix(filepath.Base(p), "php-") {
			bin = harness.BinaryWithFeatures(t, "profile-web-server,php-fpm")
		}
		run := func(args ...string) (string, string, int) {
			return harness.RunWith(t, harness.RunOptions{Binary: bin, Args: args})
		}
		stdout, stderr, code := run("-t", "-c", p)
		if code != 0 || !strings.Contains(stderr, "is valid") {
			t.Errorf("-t -c %s: exit %d\nstdout: %s\nstderr: %s", name, code, stdout, stderr)
		}
		if strings.Contains(stderr, "warning") {
			t.Errorf("-t -c %s warns: %s", name, stderr)
		}
		// --check-config prints the resolved config as JSON.
		stdout, stderr, code = run("--check-config", "-c", p)
		var cfg struct {
			Server struct {
				Listen []string `json:"listen"`
			} `json:"server"`
			Sources []string `json:"sources"`
		}
		if code != 0 {
			t.Errorf("--check-config -c %s: exit %d: %s", name, code, stderr)
			continue
		}
		if err := json.Unmarshal([]byte(stdout), &cfg); err != nil || len(cfg.Server.Listen) == 0 || len(cfg.Sources) == 0 {
			t.Errorf("--check-config -c %s: not the resolved config as JSON (%v): %.300s", name, err, stdout)
		}
	}
}

func TestFoundationCLIValidateErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.toml", `[server]
listen = ["127.0.0.1:8080"]
default_vhost = "nope"

[server.limits]
max_request_headers = -1

[server.process]
pid_file = ""

[[vhosts]]
name = "a"
hosts = ["a.test"]
[vhosts.proxy]
upstreams = ["http://x:1"]
`)
	unknown := write("unknown.toml", `[server]
listen = ["127.0.0.1:8080"]
bogus = 1

[web]
root = "/tmp"
also_bogus = true
`)
	typed := write("typed.toml", `[server]
listen = ["127.0.0.1:8080"]

[server.limits]
max_request_headers = "100"
`)
	syntax := write("syntax.toml", "[server]\nlisten = [\"127.0.0.1:8080\"\n")
	missingRoot := write("missing-root.toml", `[server]
listen = ["127.0.0.1:8080"]
[server.process]
pid_file = ""
[web]
root = "`+filepath.Join(dir, "no-such-dir")+`"
`)
	for _, tc := range []struct {
		name string
		path string
		want []string // every stderr line, in order
	}{
		{"validation errors, all at once", bad, []string{
			"fluxheim: " + bad + `:3: server.default_vhost: names no [[vhosts]] entry "nope"`,
			"fluxheim: " + bad + ":6: server.limits.max_request_headers: must be greater than 0",
			"fluxheim: " + bad + `:15: vhosts[0].proxy.upstreams[0]: want host:port without a scheme, got "http://x:1"`,
		}},
		{"unknown keys", unknown, []string{
			"fluxheim: " + unknown + ":3: server.bogus: unknown key",
			"fluxheim: " + unknown + ":7: web.also_bogus: unknown key",
		}},
		{"missing root", missingRoot, []string{
			"fluxheim: " + missingRoot + ":6: web.root: static root " + filepath.Join(dir, "no-such-dir") + ": no such file or directory",
		}},
	} {
		stdout, stderr, code := harness.Run(t, "-t", "-c", tc.path)
		got := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
		if code != 1 || stdout != "" || strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s: exit %d, stdout %q, stderr:\n%s\nwant exit 1 and:\n%s", tc.name, code, stdout, stderr, strings.Join(tc.want, "\n"))
		}
	}
	// Type and syntax errors carry file:line:column and the key.
	for _, tc := range []struct{ path, re string }{
		{typed, `^fluxheim: ` + regexp.QuoteMeta(typed) + `:5:\d+: server\.limits\.max_request_headers: .*\n$`},
		{syntax, `^fluxheim: ` + regexp.QuoteMeta(syntax) + `:\d+:\d+: .*\n$`},
	} {
		_, stderr, code := harness.Run(t, "-t", "-c", tc.path)
		if code != 1 || !regexp.MustCompile(tc.re).MatchString(stderr) {
			t.Errorf("-t -c %s: exit %d, stderr %q, want it to match %s", filepath.Base(tc.path), code, stderr, tc.re)
		}
	}
	// Starting with a broken config fails the same way, without serving.
	_, stderr, code := harness.RunWith(t, harness.RunOptions{Args: []string{"-c", bad}, Timeout: 10 * time.Second})
	if code != 1 || !strings.Contains(stderr, bad+":6: server.limits.max_request_headers: must be greater than 0") {
		t.Errorf("start with a broken config: exit %d, stderr %q", code, stderr)
	}
	// A missing file.
	_, stderr, code = harness.Run(t, "-t", "-c", filepath.Join(dir, "absent.toml"))
	if code != 1 || !strings.HasPrefix(stderr, "fluxheim: ") || !strings.Contains(stderr, "absent.toml") {
		t.Errorf("-t with a missing file: exit %d, stderr %q", code, stderr)
	}
}

func TestFoundationCLICheckConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "site.toml")
	if err := os.MkdirAll(filepath.Join(dir, "www"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(`[server]
listen = ["127.0.0.1:8081"]
[server.process]
pid_file = ""
[web]
root = "www"
[[vhosts]]
name = "Site"
hosts = ["WWW.Example.TEST."]
[vhosts.web]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--check-config", "-c", p}, {"--check-config"}} {
		env := []string{"FLUXHEIM_CONFIG="}
		if len(args) == 1 {
			env = []string{"FLUXHEIM_CONFIG=" + p} // -c from the environment
		}
		stdout, stderr, code := harness.RunWith(t, harness.RunOptions{Args: args, Env: env})
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		var cfg struct {
			Server struct {
				Listen []string `json:"listen"`
				Limits struct {
					MaxRequestHeaderBytes string `json:"max_request_header_bytes"`
					MaxRequestHeaders     int    `json:"max_request_headers"`
				} `json:"limits"`
			} `json:"server"`
			Web struct {
				Root         string   `json:"root"`
				IndexFiles   []string `json:"index_files"`
				CacheControl string   `json:"cache_control"`
			} `json:"web"`
			Vhosts []struct {
				Hosts []string `json:"hosts"`
				Web   struct {
					Root string `json:"root"`
				} `json:"web"`
			} `json:"vhosts"`
			Sources []string `json:"sources"`
		}
		if err := json.Unmarshal([]byte(stdout), &cfg); err != nil {
			t.Fatalf("%v: not JSON: %v\n%s", args, err, stdout)
		}
		www := filepath.Join(dir, "www")
		if len(cfg.Server.Listen) != 1 || cfg.Server.Listen[0] != "127.0.0.1:8081" ||
			cfg.Server.Limits.MaxRequestHeaderBytes != "64KiB" || cfg.Server.Limits.MaxRequestHeaders != 100 ||
			cfg.Web.Root != www || len(cfg.Web.IndexFiles) != 1 || cfg.Web.IndexFiles[0] != "index.html" ||
			cfg.Web.CacheControl != "public, max-age=60" ||
			len(cfg.Vhosts) != 1 || len(cfg.Vhosts[0].Hosts) != 1 || cfg.Vhosts[0].Hosts[0] != "www.example.test" ||
			cfg.Vhosts[0].Web.Root != www ||
			len(cfg.Sources) != 1 || cfg.Sources[0] != p {
			t.Errorf("%v: resolved config %+v", args, cfg)
		}
	}
	// No -c and no FLUXHEIM_CONFIG: the embedded default (demo page on
	// 127.0.0.1:8080).
	stdout, stderr, code := harness.RunWith(t, harness.RunOptions{Args: []string{"--check-config"}, Env: []string{"FLUXHEIM_CONFIG="}})
	var def struct {
		Server struct {
			Listen  []string `json:"listen"`
			Process struct {
				PidFile     *string `json:"pid_file"`
				ControlSock *string `json:"control_sock"`
			} `json:"process"`
		} `json:"server"`
		Demo    bool     `json:"demo"`
		Sources []string `json:"sources"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &def) != nil {
		t.Fatalf("--check-config without -c: exit %d: %s\n%s", code, stderr, stdout)
	}
	if len(def.Server.Listen) != 1 || def.Server.Listen[0] != "127.0.0.1:8080" || !def.Demo {
		t.Errorf("embedded default: listen %v demo %v, want [127.0.0.1:8080] and the demo page", def.Server.Listen, def.Demo)
	}
	if def.Server.Process.PidFile == nil || *def.Server.Process.PidFile != "" || def.Server.Process.ControlSock == nil || *def.Server.Process.ControlSock != "" {
		t.Errorf("embedded default writes a pid file or control socket: %+v", def.Server.Process)
	}
}

func TestFoundationCLIDefaultDemoPage(t *testing.T) {
	// Not parallel with anything that could take 8080; skipped when the
	// port is in use (the embedded default listens there only).
	ln, err := net.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		t.Skipf("127.0.0.1:8080 is in use: %v", err)
	}
	_ = ln.Close()
	srv := harness.Start(t, harness.Options{
		NoConfig:  true,
		Env:       []string{"FLUXHEIM_CONFIG="},
		WaitAddrs: []string{"127.0.0.1:8080"},
	})
	r := fndGet(t, "http://127.0.0.1:8080/", "localhost")
	if r.Status != 200 || r.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
		!strings.Contains(r.Body, "<title>Welcome to fluxheim</title>") || r.Header.Get("Server") != "fluxheim" {
		t.Errorf("demo page: %d %q %.200q", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	if r := fndGet(t, "http://127.0.0.1:8080/other", "any.test"); r.Status != 404 {
		t.Errorf("GET /other on the demo config = %d, want 404", r.Status)
	}
	if r := fndDo(t, "POST", "http://127.0.0.1:8080/", "any.test", "x"); r.Status != 405 || r.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST / on the demo config = %d Allow %q, want 405", r.Status, r.Header.Get("Allow"))
	}
	srv.Stop()
}

func TestFoundationCLIVersionAndKeygen(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"version"}, {"--version"}} {
		stdout, stderr, code := harness.Run(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		var features string
		for _, l := range strings.Split(stdout, "\n") {
			if rest, ok := strings.CutPrefix(l, "features: "); ok {
				features = rest
			}
		}
		if !regexp.MustCompile(`^[a-z0-9-]+(,[a-z0-9-]+)*$`).MatchString(features) {
			t.Errorf("%v: no usable features: line in %q", args, stdout)
		}
		if os.Getenv("FLUXHEIM_BUILD_TAGS") == "" && os.Getenv("FLUXHEIM_BIN") == "" {
			for _, m := range []string{"web", "proxy"} {
				if !strings.Contains(","+features+",", ","+m+",") {
					t.Errorf("default build lacks feature %q: %q", m, features)
				}
			}
		}
		if !strings.Contains(stdout, "go1.") {
			t.Errorf("%v: no Go version in %q", args, stdout)
		}
	}

	dir := t.TempDir()
	hexRE := regexp.MustCompile(`^[0-9a-f]{64}\n$`)
	var keys []string
	for i := 0; i < 2; i++ {
		stdout, stderr, code := harness.RunWith(t, harness.RunOptions{Args: []string{"cache-keygen"}, Dir: dir})
		if code != 0 || !hexRE.MatchString(stdout) || stderr != "" {
			t.Fatalf("cache-keygen: exit %d stdout %q stderr %q, want 64 lowercase hex characters", code, stdout, stderr)
		}
		keys = append(keys, stdout)
	}
	if keys[0] == keys[1] {
		t.Errorf("cache-keygen printed the same key twice: %q", keys[0])
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("cache-keygen wrote files: %v", ents)
	}
	// An unknown command is an error.
	_, stderr, code := harness.Run(t, "no-such-command")
	if code == 0 || !strings.HasPrefix(stderr, "fluxheim: ") {
		t.Errorf("unknown command: exit %d stderr %q", code, stderr)
	}
}

func TestFoundationCLIConfigTester(t *testing.T) {
	t.Parallel()
	tester := harness.Command(t, "fluxheim-config-tester")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "www"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	web := write("web.toml", `[server]
listen = ["127.0.0.1:8080"]
[server.process]
pid_file = ""
[web]
root = "www"
`)
	proxy := write("proxy.toml", `[server]
listen = ["127.0.0.1:8080"]
[server.process]
pid_file = ""
control_sock = ""
[proxy]
upstreams = ["127.0.0.1:9"]
`)
	run := func(args ...string) (string, string, int) {
		return harness.RunWith(t, harness.RunOptions{Binary: tester, Args: args})
	}
	stdout, stderr, code := run("-c", web, "--profile", "proxy")
	if code != 1 || !strings.Contains(stderr, `module "web"`) || strings.Contains(stdout, "config tester: ok") {
		t.Errorf("web config, profile proxy: exit %d stdout %q stderr %q, want exit 1 naming module \"web\"", code, stdout, stderr)
	}
	stdout, stderr, code = run("-c", proxy, "--profile", "proxy")
	if code != 0 || strings.TrimSpace(stdout) != "config tester: ok" {
		t.Errorf("proxy config, profile proxy: exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	// The full profile accepts the web config.
	stdout, stderr, code = run("-c", web, "--profile", "full")
	if code != 0 || strings.TrimSpace(stdout) != "config tester: ok" {
		t.Errorf("web config, profile full: exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	// An invalid config fails with file:line.
	bad := write("bad.toml", "[server]\nlisten = [\"127.0.0.1:8080\"]\n[server.limits]\nmax_request_headers = 0\nmax_uri_bytes = \"1MiB\"\n")
	_, stderr, code = run("-c", bad, "--profile", "proxy", "--no-runtime-paths")
	if code != 1 || !strings.Contains(stderr, bad+":") {
		t.Errorf("invalid config: exit %d stderr %q", code, stderr)
	}
}
