package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func runCLI(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestVersionListsFeatures(t *testing.T) {
	out, _, code := runCLI("version")
	if code != 0 || !strings.HasPrefix(out, "fluxheim ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if !regexp.MustCompile(`(?m)^features: .*\bweb\b`).MatchString(out) || !strings.Contains(out, "go1.") {
		t.Fatalf("version output lacks features or Go version:\n%s", out)
	}
}

func TestCacheKeygen(t *testing.T) {
	a, _, code := runCLI("cache-keygen")
	b, _, _ := runCLI("cache-keygen")
	if code != 0 || !regexp.MustCompile(`^[0-9a-f]{64}\n$`).MatchString(a) || a == b {
		t.Fatalf("keys %q %q", a, b)
	}
}

func TestValidateExitCodes(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(good, []byte("[server]\nlisten = [\"127.0.0.1:8080\"]\n[server.process]\npid_file = \"\"\n[web]\nroot = \".\"\n"), 0o644)
	os.WriteFile(bad, []byte("[server]\nlisten = [\"127.0.0.1:8080\"]\nnope = 1\n"), 0o644)
	if _, errOut, code := runCLI("-t", "-c", good); code != 0 {
		t.Fatalf("good config: %d %s", code, errOut)
	}
	_, errOut, code := runCLI("--validate-config", "-c", bad)
	if code != 1 || !strings.Contains(errOut, "fluxheim: "+bad+":3: server.nope: unknown key") {
		t.Fatalf("bad config: %d %q", code, errOut)
	}
	out, _, code := runCLI("--check-config", "-c", good)
	if code != 0 || !strings.Contains(out, `"max_request_body_bytes": "16MiB"`) {
		t.Fatalf("check-config: %d %s", code, out)
	}
	t.Setenv("FLUXHEIM_CONFIG", bad)
	if _, _, code := runCLI("-t"); code != 1 {
		t.Fatal("FLUXHEIM_CONFIG not honoured")
	}
}

func TestUnknownCommand(t *testing.T) {
	if _, errOut, code := runCLI("frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Fatalf("%d %q", code, errOut)
	}
}
