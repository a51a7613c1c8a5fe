package tlsbackend

import (
	"crypto/fips140"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxheim/fluxheim/shared/features"
)

func TestReportMatchesRuntime(t *testing.T) {
	r := Report()
	if r.Backend != features.TLSBackend() {
		t.Errorf("Backend = %q, want %q", r.Backend, features.TLSBackend())
	}
	if r.FIPSEnabled != fips140.Enabled() || r.FIPSModule != fips140.Version() {
		t.Errorf("report %+v disagrees with crypto/fips140", r)
	}
	if r.GoVersion == "" || r.GOFIPS140 == "" || r.BuildDefault == "" || r.GODEBUG == "" {
		t.Errorf("empty fields in %+v", r)
	}
	if r.Backend != features.TLSGoFIPS && !r.OK() {
		t.Errorf("non-FIPS backend reports problems: %v", r.Problems)
	}
}

func TestCheck(t *testing.T) {
	certified := CryptoReport{Backend: features.TLSGoFIPS, FIPSEnabled: true,
		FIPSModule: "v1.0.0", GOFIPS140: "v1.0.0-c2097c7c", BuildDefault: "on", GODEBUG: "unset"}
	cases := []struct {
		name   string
		mutate func(*CryptoReport)
		want   []string // substrings, one per expected problem
	}{
		{"certified fips build", func(*CryptoReport) {}, nil},
		{"switched off at run time", func(r *CryptoReport) { r.FIPSEnabled, r.GODEBUG = false, "off" },
			[]string{"disabled by GODEBUG=fips140=off"}},
		{"built without GOFIPS140", func(r *CryptoReport) {
			r.FIPSEnabled, r.FIPSModule, r.GOFIPS140, r.BuildDefault = false, "latest", "off", "off"
		}, []string{"not built with GOFIPS140=v1.0.0", `module is "latest"`}},
		{"latest module switched on by GODEBUG", func(r *CryptoReport) {
			r.FIPSModule, r.GOFIPS140, r.BuildDefault, r.GODEBUG = "latest", "off", "off", "on"
		}, []string{`module is "latest", not the CMVP-certified v1.0.0`}},
		{"in-process snapshot", func(r *CryptoReport) { r.FIPSModule, r.GOFIPS140 = "v1.26.0", "v1.26.0" },
			[]string{`module is "v1.26.0"`}},
		{"plain tls-go, FIPS off", func(r *CryptoReport) {
			r.Backend, r.FIPSEnabled, r.FIPSModule = features.TLSGo, false, "latest"
		}, nil},
		{"plain tls-go, FIPS on by GODEBUG", func(r *CryptoReport) {
			r.Backend, r.FIPSModule = features.TLSGo, "latest"
		}, nil},
		{"no backend", func(r *CryptoReport) { r.Backend, r.FIPSEnabled = features.NoTLSBackend, false }, nil},
	}
	for _, c := range cases {
		r := certified
		c.mutate(&r)
		got := r.check()
		if len(got) != len(c.want) {
			t.Errorf("%s: problems = %q, want %d", c.name, got, len(c.want))
			continue
		}
		for i, w := range c.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s: problem %q lacks %q", c.name, got[i], w)
			}
		}
	}
}

func TestString(t *testing.T) {
	r := CryptoReport{Backend: "tls-go-fips", FIPSEnabled: true, FIPSModule: "v1.0.0",
		GOFIPS140: "v1.0.0-c2097c7c", BuildDefault: "on", GODEBUG: "unset", GoVersion: "go1.26.8"}
	want := `tls-backend: tls-go-fips
fips140-enabled: true
fips140-enforced: false
fips140-module: v1.0.0
gofips140: v1.0.0-c2097c7c
fips140-build-default: on
fips140-godebug-env: unset
go-version: go1.26.8
status: ok
`
	if got := r.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
	if r.Err() != nil {
		t.Errorf("Err() = %v", r.Err())
	}
	r.Problems = []string{"a", "b"}
	want = strings.Replace(want, "status: ok\n", "status: error\nproblem: a\nproblem: b\n", 1)
	if got := r.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
	if r.Err() == nil || r.Err().Error() != "a; b" {
		t.Errorf("Err() = %v", r.Err())
	}
}

func TestGodebugValue(t *testing.T) {
	cases := []struct{ list, want string }{
		{"", "def"},
		{"fips140=on", "on"},
		{"x=1,fips140=only", "only"},
		{"fips140=on, fips140=off", "off"},
		{"fips140x=on", "def"},
	}
	for _, c := range cases {
		if got := godebugValue(c.list, "fips140", "def"); got != c.want {
			t.Errorf("godebugValue(%q) = %q, want %q", c.list, got, c.want)
		}
	}
}

// TestBuiltBinaries builds testdata/cryptoreport as a tls-go and as a
// GOFIPS140=v1.0.0 tls-go-fips binary and checks what they report.
func TestBuiltBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries; skipped with -short")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	_, fipsTags, err := features.Expand([]string{"profile-fips-rustls"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	build := func(name, tags string, env ...string) string {
		bin := filepath.Join(dir, name)
		cmd := exec.Command(goCmd, "build", "-tags", tags, "-o", bin, "./testdata/cryptoreport")
		cmd.Env = append(append(os.Environ(), "GOFIPS140=off"), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, out)
		}
		return bin
	}
	run := func(bin string, godebug string) (string, error) {
		cmd := exec.Command(bin, "crypto")
		cmd.Env = append(os.Environ(), "GODEBUG="+godebug)
		out, err := cmd.Output()
		return string(out), err
	}
	plain := build("plain", "")
	fips := build("fips", strings.Join(fipsTags, ","), "GOFIPS140="+RequiredFIPSModule)

	out, err := run(plain, "")
	for _, l := range []string{"tls-backend: tls-go\n", "fips140-enabled: false\n", "gofips140: off\n", "status: ok\n"} {
		if err != nil || !strings.Contains(out, l) {
			t.Errorf("plain binary: err=%v, output lacks %q:\n%s", err, l, out)
		}
	}
	out, err = run(fips, "")
	for _, l := range []string{"tls-backend: tls-go-fips\n", "fips140-enabled: true\n", "fips140-module: v1.0.0\n",
		"gofips140: v1.0.0", "fips140-build-default: on\n", "status: ok\n"} {
		if err != nil || !strings.Contains(out, l) {
			t.Errorf("fips binary: err=%v, output lacks %q:\n%s", err, l, out)
		}
	}
	out, err = run(fips, "fips140=off")
	if err == nil || !strings.Contains(out, "fips140-enabled: false\n") || !strings.Contains(out, "status: error\n") {
		t.Errorf("fips binary with GODEBUG=fips140=off: err=%v\n%s", err, out)
	}
}
