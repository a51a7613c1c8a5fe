// Package harness runs the real fluxheim binary for end-to-end tests: it builds
// the binary once per test process, starts it with a config written to a
// temporary directory, waits for its listeners, captures its output, and stops
// it (and every process it started) when the test ends. It also has small
// network helpers: free ports, a no-redirect HTTP GET and raw TCP requests.
//
// Environment:
//
//	FLUXHEIM_BIN         use this prebuilt binary instead of building ./cmd/fluxheim
//	FLUXHEIM_BUILD_TAGS  -tags for the build (a build profile, comma-separated)
package harness

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// ModulePath is the module the harness belongs to; ModuleRoot looks for its go.mod.
const ModulePath = "github.com/fluxheim/fluxheim"

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// ModuleRoot returns the directory holding fluxheim's go.mod, found by walking up
// from the working directory (a test runs in its package directory) and, failing
// that, from this source file's directory.
func ModuleRoot() (string, error) {
	rootOnce.Do(func() {
		var starts []string
		if wd, err := os.Getwd(); err == nil {
			starts = append(starts, wd)
		}
		if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
			starts = append(starts, filepath.Dir(file))
		}
		for _, start := range starts {
			if dir, ok := findModuleRoot(start); ok {
				rootDir = dir
				return
			}
		}
		rootErr = fmt.Errorf("harness: no go.mod for module %s above %v", ModulePath, starts)
	})
	return rootDir, rootErr
}

func findModuleRoot(dir string) (string, bool) {
	for {
		if modulePathOf(filepath.Join(dir, "go.mod")) == ModulePath {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// modulePathOf returns the module path declared in a go.mod file, or "".
func modulePathOf(gomod string) string {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

type buildResult struct {
	once sync.Once
	path string
	err  error
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*buildResult{}

	buildDirOnce sync.Once
	buildDir     string
	buildDirErr  error
)

// Binary returns the path of the fluxheim binary under test: $FLUXHEIM_BIN when
// set, otherwise ./cmd/fluxheim built once per test process (plain build, no
// -race, -tags from $FLUXHEIM_BUILD_TAGS). A build failure fails the test.
func Binary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("FLUXHEIM_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			t.Fatalf("harness: FLUXHEIM_BIN=%q: %v", bin, err)
		}
		if fi, err := os.Stat(abs); err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			t.Fatalf("harness: FLUXHEIM_BIN=%q is not an executable file (%v)", bin, err)
		}
		return abs
	}
	return Command(t, "fluxheim")
}

// Command builds ./cmd/NAME once per test process (e.g. "fluxheim-config-tester")
// and returns the binary's path.
func Command(t testing.TB, name string) string {
	t.Helper()
	buildsMu.Lock()
	b := builds[name]
	if b == nil {
		b = &buildResult{}
		builds[name] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() { b.path, b.err = build(name) })
	if b.err != nil {
		t.Fatalf("harness: %v", b.err)
	}
	return b.path
}

func build(name string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	dir, err := binDir()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, name)
	args := []string{"build", "-o", out}
	if tags := os.Getenv("FLUXHEIM_BUILD_TAGS"); tags != "" {
		args = append(args, "-tags", tags)
	}
	args = append(args, "./cmd/"+name)
	gobin := "go"
	if p, err := exec.LookPath("go"); err == nil {
		gobin = p
	}
	cmd := exec.Command(gobin, args...)
	cmd.Dir = root
	// GOFLAGS from the environment (e.g. -race from a CI wrapper) would slow every
	// build; the binary under test is always a plain build.
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	output, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go %s (in %s): %v\n%s", strings.Join(args, " "), root, err, output)
	}
	return out, nil
}

// binDir is this process's directory for built binaries:
// $TMPDIR/fluxheim-harness-<uid>/<pid>. Directories of processes that no longer
// exist are removed, so aborted test runs do not pile up binaries.
func binDir() (string, error) {
	buildDirOnce.Do(func() {
		base := filepath.Join(os.TempDir(), "fluxheim-harness-"+strconv.Itoa(os.Getuid()))
		if err := os.MkdirAll(base, 0o700); err != nil {
			buildDirErr = err
			return
		}
		sweepStale(base)
		buildDir = filepath.Join(base, strconv.Itoa(os.Getpid()))
		buildDirErr = os.MkdirAll(buildDir, 0o700)
	})
	return buildDir, buildDirErr
}

func sweepStale(base string) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(filepath.Join("/proc", e.Name())); errors.Is(err, os.ErrNotExist) {
			_ = os.RemoveAll(filepath.Join(base, e.Name()))
		}
	}
}

// Cleanup removes the binaries built by this test process. Call it from TestMain
// after m.Run; without it the next test process removes them.
func Cleanup() {
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
}
