package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolvePHPRoot(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "releases", "v2")
	if err := os.MkdirAll(real, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "current")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if got, err := ResolvePHPRoot(real, false); err != nil || got != real {
		t.Fatalf("real dir: %q %v", got, err)
	}
	if _, err := ResolvePHPRoot(link, false); err == nil || !strings.Contains(err.Error(), "resolve_root_symlink") {
		t.Fatalf("symlinked root accepted: %v", err)
	}
	if got, err := ResolvePHPRoot(link, true); err != nil || got != real {
		t.Fatalf("resolve_root_symlink: %q %v", got, err)
	}
	// Only the last component may be a symlink.
	if _, err := ResolvePHPRoot(filepath.Join(link, "."), true); err != nil {
		t.Fatalf("clean path: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(real, "public"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := ResolvePHPRoot(filepath.Join(link, "public"), true); err == nil {
		t.Fatal("a symlinked parent was accepted")
	}
	if _, err := ResolvePHPRoot(filepath.Join(dir, "missing"), true); err == nil {
		t.Fatal("a missing root was accepted")
	}
}

func TestCheckPHPFPMBinary(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "php-fpm")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := CheckPHPFPMBinary(bin); err != nil {
		t.Fatalf("good binary refused: %v", err)
	}
	if err := os.Chmod(bin, 0o775); err != nil {
		t.Fatal(err)
	}
	if err := CheckPHPFPMBinary(bin); err == nil || !strings.Contains(err.Error(), "group- or world-writable") {
		t.Fatalf("group-writable binary: %v", err)
	}
	_ = os.Chmod(bin, 0o644)
	if err := CheckPHPFPMBinary(bin); err == nil {
		t.Fatal("non-executable binary accepted")
	}
	_ = os.Chmod(bin, 0o755)
	link := filepath.Join(dir, "php-fpm-link")
	_ = os.Symlink(bin, link)
	if err := CheckPHPFPMBinary(link); err == nil {
		t.Fatal("symlink accepted")
	}
}

func TestPHPRuntimePaths(t *testing.T) {
	root := t.TempDir()
	spool := filepath.Join(root, "spool")
	if err := os.Mkdir(spool, 0o777); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(spool, 0o777)
	c, err := Parse(filepath.Join(root, "f.toml"), []byte(`
[[vhosts]]
name = "a"
hosts = ["a.test"]
[vhosts.php]
root = "missing"
request_body_spool_threshold_bytes = "1KiB"
request_body_spool_dir = "`+spool+`"
[vhosts.php.fpm]
socket = "/run/php.sock"
`))
	if err != nil {
		t.Fatal(err)
	}
	el := &errList{origins: newOrigins("f.toml")}
	checkPHPRuntimePaths(c, el)
	got := Errors(el.errs).Error()
	for _, want := range []string{"vhosts[0].php.root: PHP root " + filepath.Join(root, "missing"), "vhosts[0].php.request_body_spool_dir: " + spool + ": is group- or world-writable"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}
