package acme

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSegment(t *testing.T) {
	seen := map[string]string{}
	for _, name := range []string{"example.com", "Example.com", "../etc", "..", ".", "", "a/b", "a_b", "a b",
		"ünïcode", strings.Repeat("x", 300), strings.Repeat("x", 301)} {
		s := Segment(name)
		if s == "" || strings.ContainsAny(s, "/\\ \x00") || strings.HasPrefix(s, ".") || len(s) > maxSegmentName+17 {
			t.Errorf("Segment(%q) = %q: unsafe", name, s)
		}
		if other, dup := seen[s]; dup {
			t.Errorf("Segment(%q) = Segment(%q) = %q", name, other, s)
		}
		seen[s] = name
	}
	if s := Segment("Example.COM"); !strings.HasPrefix(s, "example.com-") {
		t.Errorf("Segment keeps no readable prefix: %q", s)
	}
	if Segment("site") != Segment("site") {
		t.Error("Segment is not stable")
	}
}

func TestEnsureDirNarrowsMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	if err := ensureDir(dir); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Fatalf("mode %v", fi.Mode())
	}
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(dir, link)
	if err := ensureDir(link); err == nil {
		t.Fatal("symlink accepted as storage directory")
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	for _, content := range []string{"one", "two"} {
		if err := writeFileAtomic(p, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(p)
		if string(got) != content {
			t.Fatalf("content %q, want %q", got, content)
		}
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
}
