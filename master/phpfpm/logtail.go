package phpfpm

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// Instance log following.
const (
	maxLogLine    = 8 << 10  // longer lines are split
	maxLogFile    = 16 << 20 // the file is truncated once forwarded past this
	tailFast      = 20 * time.Millisecond
	tailSlow      = 250 * time.Millisecond
	readyMarker   = "ready to handle connections"
	keptLastLines = 8
)

// logTail forwards the instance log (php-fpm's error_log, slowlog and
// stdout/stderr, all one file) to the manager's logger line by line,
// detects readiness, and keeps the file small: once everything was
// forwarded and it exceeds 16 MiB it is truncated (php-fpm appends with
// O_APPEND, so writing continues at the new end).
type logTail struct {
	path  string
	log   *slog.Logger
	ready chan struct{}
	quit  chan struct{}
	ended chan struct{}

	mu   sync.Mutex
	last []string
}

func newLogTail(path string, log *slog.Logger) *logTail {
	return &logTail{path: path, log: log, ready: make(chan struct{}), quit: make(chan struct{}), ended: make(chan struct{})}
}

func (t *logTail) run() {
	defer close(t.ended)
	f, err := os.Open(t.path)
	if err != nil {
		t.log.Error("php-fpm: cannot follow the instance log", "err", err.Error())
		return
	}
	defer f.Close()
	var (
		off     int64
		pending []byte
		buf     = make([]byte, 64<<10)
		isReady bool
	)
	emit := func(line []byte) {
		if !isReady && bytes.Contains(line, []byte(readyMarker)) {
			isReady = true
			close(t.ready)
		}
		t.forward(string(line))
	}
	pass := func() {
		for {
			n, _ := f.ReadAt(buf, off)
			if n == 0 {
				return
			}
			off += int64(n)
			pending = append(pending, buf[:n]...)
			for {
				i := bytes.IndexByte(pending, '\n')
				if i >= 0 && i <= maxLogLine {
					emit(pending[:i])
					pending = pending[i+1:]
					continue
				}
				if len(pending) < maxLogLine {
					break
				}
				emit(pending[:maxLogLine])
				pending = pending[maxLogLine:]
			}
			pending = append([]byte(nil), pending...)
		}
	}
	for {
		pass()
		if fi, err := f.Stat(); err == nil {
			switch {
			case fi.Size() < off: // truncated under us
				off = 0
			case fi.Size() == off && off > maxLogFile:
				if os.Truncate(t.path, 0) == nil {
					off = 0
				}
			}
		}
		wait := tailSlow
		if !isReady {
			wait = tailFast
		}
		select {
		case <-t.quit:
			// One last pass for what php-fpm wrote before it exited.
			pass()
			if len(pending) > 0 {
				emit(pending)
			}
			return
		case <-time.After(wait):
		}
	}
}

// stop ends following after a final read.
func (t *logTail) stop() {
	close(t.quit)
	<-t.ended
}

// forward logs one php-fpm line at its level ("[date] LEVEL: message").
func (t *logTail) forward(line string) {
	line = strings.TrimRight(line, "\r")
	if strings.TrimSpace(line) == "" {
		return
	}
	msg := line
	if strings.HasPrefix(msg, "[") {
		if i := strings.Index(msg, "] "); i > 0 && i < 32 {
			msg = msg[i+2:]
		}
	}
	level := slog.LevelInfo
	if lv, rest, ok := strings.Cut(msg, ": "); ok && len(lv) <= 7 {
		switch lv {
		case "DEBUG":
			level, msg = slog.LevelDebug, rest
		case "NOTICE":
			level, msg = slog.LevelInfo, rest
		case "WARNING":
			level, msg = slog.LevelWarn, rest
		case "ERROR", "ALERT", "EMERG":
			level, msg = slog.LevelError, rest
		}
	}
	t.mu.Lock()
	t.last = append(t.last, msg)
	if len(t.last) > keptLastLines {
		t.last = t.last[len(t.last)-keptLastLines:]
	}
	t.mu.Unlock()
	t.log.Log(context.Background(), level, "php-fpm: "+msg)
}

// lastLines is the end of the log, for error messages.
func (t *logTail) lastLines() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.last) == 0 {
		return "(no output)"
	}
	return strings.Join(t.last, " | ")
}
