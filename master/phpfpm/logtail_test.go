package phpfpm

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type capture struct {
	mu   sync.Mutex
	recs []string
}

func (c *capture) Enabled(context.Context, slog.Level) bool { return true }
func (c *capture) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, r.Level.String()+" "+r.Message)
	return nil
}
func (c *capture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *capture) WithGroup(string) slog.Handler      { return c }
func (c *capture) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.recs...)
}

// The follower forwards php-fpm's lines at their level, signals
// readiness, splits overlong lines and flushes the rest on stop.
func TestLogTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "php-fpm.log")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := &capture{}
	tail := newLogTail(path, slog.New(c))
	go tail.run()
	f.WriteString("[25-Nov-2026 10:00:00] NOTICE: fpm is running, pid 7\n[25-Nov-2026 10:00:00] NOTICE: ready to handle connections\n")
	select {
	case <-tail.ready:
	case <-time.After(5 * time.Second):
		t.Fatal("readiness not detected")
	}
	f.WriteString("[25-Nov-2026 10:00:01] WARNING: [pool x] server reached pm.max_children setting (2)\n")
	f.WriteString("[25-Nov-2026 10:00:02] ERROR: unable to read what child say: Bad file descriptor\n")
	f.WriteString("[25-Nov-2026 10:00:03] DEBUG: dbg\n")
	f.WriteString(strings.Repeat("x", maxLogLine+10) + "\n")
	f.WriteString("no newline at the end")
	time.Sleep(3 * tailSlow)
	tail.stop()
	got := c.all()
	want := []string{
		"INFO php-fpm: fpm is running, pid 7",
		"INFO php-fpm: ready to handle connections",
		"WARN php-fpm: [pool x] server reached pm.max_children setting (2)",
		"ERROR php-fpm: unable to read what child say: Bad file descriptor",
		"DEBUG php-fpm: dbg",
		"INFO php-fpm: " + strings.Repeat("x", maxLogLine),
		"INFO php-fpm: xxxxxxxxxx",
		"INFO php-fpm: no newline at the end",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records:\n%s", len(got), strings.Join(got, "\n"))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d = %.80q, want %.80q", i, got[i], want[i])
		}
	}
	if !strings.Contains(tail.lastLines(), "no newline at the end") {
		t.Errorf("lastLines = %q", tail.lastLines())
	}
}
