package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadDirectoryMergesFragments(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "00-server.toml"), `
[server]
listen = ["127.0.0.1:8080"]
trusted_proxies = ["10.0.0.1"]
[server.process]
pid_file = ""
[proxy]
upstream = "127.0.0.1:9000"
read_timeout_secs = 7
[logging]
level = "debug"
`)
	write(t, filepath.Join(dir, "conf.d", "10-a.toml"), `
[server]
trusted_proxies = ["10.0.0.2", "10.0.0.1"]
[proxy]
connect_timeout_secs = 3
[[vhosts]]
name = "a"
hosts = ["a.test"]
[vhosts.web]
root = "www-a"
`)
	write(t, filepath.Join(dir, "conf.d", "20-b.toml"), `
[logging]
format = "text"
[[vhosts]]
name = "b"
hosts = ["b.test"]
[vhosts.proxy]
`)
	write(t, filepath.Join(dir, "conf.d", ".hidden.toml"), "not = toml = at all")
	write(t, filepath.Join(dir, "conf.d", "notes.txt"), "ignored")
	if err := os.MkdirAll(filepath.Join(dir, "conf.d", "www-a"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Server.TrustedProxies, ","); got != "10.0.0.1,10.0.0.2" {
		t.Errorf("trusted_proxies = %s, want extended and deduplicated", got)
	}
	if len(c.Vhosts) != 2 || c.Vhosts[0].Name != "a" || c.Vhosts[1].Name != "b" {
		t.Fatalf("vhosts = %+v", c.Vhosts)
	}
	if p := c.Proxy; *p.ReadTimeoutSecs != 7 || *p.ConnectTimeoutSecs != 3 {
		t.Errorf("[proxy] not merged field by field: read %d connect %d", *p.ReadTimeoutSecs, *p.ConnectTimeoutSecs)
	}
	if c.Logging.Level != "info" || c.Logging.Format != "text" {
		t.Errorf("[logging] must be replaced as a whole by a later fragment, got level %q format %q", c.Logging.Level, c.Logging.Format)
	}
	if want := filepath.Join(dir, "conf.d", "www-a"); c.Vhosts[0].Web.Root != want {
		t.Errorf("relative root resolved to %q, want %q (against the declaring file)", c.Vhosts[0].Web.Root, want)
	}
	if got := c.Vhosts[1].Proxy.Target(); got != "127.0.0.1:9000" {
		t.Errorf("vhost proxy did not inherit the global upstream: %q", got)
	}
	if len(c.Sources) != 3 {
		t.Errorf("sources = %v", c.Sources)
	}
}

func TestLoadErrorsNameTheFragment(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "main.toml"), "include_conf_d = true\n[server]\nlisten = [\"127.0.0.1:8080\"]\n")
	write(t, filepath.Join(dir, "conf.d", "site.toml"), "\n\n[[vhosts]]\nname = \"x\"\nhosts = [\"x.test\"]\n[vhosts.web]\nroot = \"/srv\"\nindex_files = [\"a/b\"]\n")
	_, err := Load(filepath.Join(dir, "main.toml"), Options{SkipRuntimePaths: true})
	want := filepath.Join(dir, "conf.d", "site.toml") + ":8: vhosts[0].web.index_files[0]: must be a plain file name"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want it to contain %q", err, want)
	}
}

func TestLoadRefusesUnsafeSources(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "ok.toml")
	write(t, good, "[server]\n")
	cases := map[string]func() string{
		"symlink": func() string {
			p := filepath.Join(dir, "link.toml")
			_ = os.Symlink(good, p)
			return p
		},
		"world-writable": func() string {
			p := filepath.Join(dir, "ww.toml")
			write(t, p, "[server]\n")
			_ = os.Chmod(p, 0o666)
			return p
		},
		"too large": func() string {
			p := filepath.Join(dir, "big.toml")
			write(t, p, "# "+strings.Repeat("x", MaxFileBytes)+"\n")
			return p
		},
		"conf.d symlink": func() string {
			d := filepath.Join(dir, "cd")
			write(t, filepath.Join(d, "main.toml"), "include_conf_d = true\n")
			_ = os.Symlink(dir, filepath.Join(d, "conf.d"))
			return filepath.Join(d, "main.toml")
		},
		"missing": func() string { return filepath.Join(dir, "nope.toml") },
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Load(mk(), Options{SkipRuntimePaths: true}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestLoadFileCountCap(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i <= MaxFiles; i++ {
		write(t, filepath.Join(dir, strings.Repeat("a", 1+i/26)+string(rune('a'+i%26))+".toml"), "")
	}
	_, err := Load(dir, Options{SkipRuntimePaths: true})
	if err == nil || !strings.Contains(err.Error(), "exceed the limit of 256") {
		t.Fatalf("got %v", err)
	}
}

func TestRuntimePathChecks(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "f.toml"), "[server.process]\npid_file = \"/tmp/x.pid\"\n[web]\nroot = \"missing\"\n")
	_, err := Load(filepath.Join(dir, "f.toml"), Options{})
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("want 2 errors (missing root, world-writable pid dir), got %v", err)
	}
}

func TestDefaultConfig(t *testing.T) {
	c, err := LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	if !c.Demo || c.Server.Listen[0] != DefaultListen || *c.Server.Process.PidFile != "" {
		t.Fatalf("default config: %+v", c.Server)
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "512": 512, "512B": 512, "64KiB": 65536, "16MiB": 16 << 20, "1GiB": 1 << 30, "2TiB": 2 << 40} {
		got, err := ParseByteSize(in)
		if err != nil || int64(got) != want {
			t.Errorf("%s = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "KiB", "-1", "+1", "1KB", "1.5MiB", "99999999999TiB", "1 MB"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	if s := ByteSize(3 << 20).String(); s != "3MiB" {
		t.Errorf("String = %s", s)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.toml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("[[vhosts]]\n[[vhosts.routes]]\n[[vhosts]]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.toml", data)
		if err == nil && c == nil {
			t.Fatal("nil config without error")
		}
		if err != nil && err.Error() == "" {
			t.Fatal("empty error text")
		}
	})
}
