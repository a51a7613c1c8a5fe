// Package logx builds the structured error log (log/slog) from [logging]
// and [server.process] error_log: level error|warn|info|debug|trace, format
// json|text, target stderr|stdout, or a file ([logging.file] or error_log,
// the latter winning) that Reopen opens again after a rotation.
package logx

import (
	"io"
	"log/slog"
	"os"
	"sync"
	"syscall"

	"github.com/fluxheim/fluxheim/shared/config"
)

// LevelTrace is below debug.
const LevelTrace = slog.LevelDebug - 4

// ParseLevel maps Fluxheim's level names.
func ParseLevel(s string) slog.Level {
	switch s {
	case "error":
		return slog.LevelError
	case "warn":
		return slog.LevelWarn
	case "debug":
		return slog.LevelDebug
	case "trace":
		return LevelTrace
	default:
		return slog.LevelInfo
	}
}

// Log is the error log and the writer behind it.
type Log struct {
	*slog.Logger
	out *ReopenWriter
}

// New builds the error log described by c. Without a file, it writes to
// stderr or stdout.
func New(c *config.Config) (*Log, error) {
	l := &c.Logging
	var w io.Writer = os.Stderr
	if l.Target == "stdout" {
		w = os.Stdout
	}
	path := ""
	if l.File.Enabled {
		path = l.File.Path
	}
	if c.Server.Process.ErrorLog != "" {
		path = c.Server.Process.ErrorLog
	}
	rw := &ReopenWriter{w: w}
	if path != "" {
		f, err := openLog(path, *l.File.Append || c.Server.Process.ErrorLog != "")
		if err != nil {
			return nil, err
		}
		rw = &ReopenWriter{path: path, w: f, f: f}
	}
	return &Log{Logger: NewLogger(c, rw), out: rw}, nil
}

// NewLogger returns a logger in c's level and format writing to w.
func NewLogger(c *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: ParseLevel(c.Logging.Level)}
	if c.Logging.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// OpenFile opens the error log file c names (error_log or
// [logging.file]), or returns nil when the log goes to stderr/stdout.
func OpenFile(c *config.Config) (*os.File, error) {
	switch {
	case c.Server.Process.ErrorLog != "":
		return openLog(c.Server.Process.ErrorLog, true)
	case c.Logging.File.Enabled:
		return openLog(c.Logging.File.Path, *c.Logging.File.Append)
	}
	return nil, nil
}

// NewReopenWriter wraps w; Swap replaces it (a worker receiving a reopened
// log file from the master).
func NewReopenWriter(w io.Writer) *ReopenWriter {
	rw := &ReopenWriter{w: w}
	if f, ok := w.(*os.File); ok && f != os.Stderr && f != os.Stdout {
		rw.f = f
	}
	return rw
}

// Swap writes to f from now on and closes the previous file.
func (r *ReopenWriter) Swap(f *os.File) {
	if f == nil {
		return
	}
	r.mu.Lock()
	old := r.f
	r.f, r.w = f, f
	r.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
}

// Reopen reopens the log file (no-op for stderr/stdout).
func (l *Log) Reopen() error { return l.out.Reopen() }

// Close closes the log file, if any.
func (l *Log) Close() error { return l.out.Close() }

func openLog(path string, appendMode bool) (*os.File, error) {
	flags := os.O_WRONLY | os.O_CREATE | syscall.O_CLOEXEC
	if appendMode {
		flags |= os.O_APPEND
	} else {
		flags |= os.O_TRUNC
	}
	return os.OpenFile(path, flags, 0o640)
}

// ReopenWriter is an io.Writer whose file can be reopened while in use.
type ReopenWriter struct {
	mu   sync.Mutex
	path string
	w    io.Writer
	f    *os.File
}

func (r *ReopenWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.w.Write(p)
}

// Reopen opens the path again in append mode and closes the old file.
func (r *ReopenWriter) Reopen() error {
	if r.path == "" {
		return nil
	}
	f, err := openLog(r.path, true)
	if err != nil {
		return err
	}
	r.mu.Lock()
	old := r.f
	r.f, r.w = f, f
	r.mu.Unlock()
	return old.Close()
}

// Close closes the file, if any.
func (r *ReopenWriter) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	return r.f.Close()
}
