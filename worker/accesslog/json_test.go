package accesslog

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAppendStringIsValidJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "quo\"te", "back\\slash", "nl\nline", "\x00\x01\x1f", "bad\xffutf8", "é✓", "\u2028x"} {
		b := AppendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q → %s: %v", s, b, err)
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if got != want {
			t.Errorf("%q round-tripped to %q", s, got)
		}
	}
}

func TestEntryAndReopen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "access.log")
	l, err := Open(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	var e Entry
	e.Begin()
	e.Str("path", "/a\"b")
	e.Int("status", 200)
	e.Time("ts", time.Unix(0, 0))
	l.Write(e.End())
	// Rotate: move the file away, reopen, write again.
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	e.Begin()
	e.Str("path", "/after")
	l.Write(e.End())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(p + ".1")
	cur, _ := os.ReadFile(p)
	var m map[string]any
	if err := json.Unmarshal(old, &m); err != nil || m["path"] != "/a\"b" || m["status"] != 200.0 {
		t.Fatalf("old log %q: %v %v", old, m, err)
	}
	if !strings.Contains(string(cur), `"/after"`) || strings.Contains(string(cur), "a\\\"b") {
		t.Fatalf("new log %q", cur)
	}
}
