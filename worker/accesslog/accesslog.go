// Package accesslog writes the JSON access log: one object per request,
// one line each. Lines are buffered (64 KiB) and flushed at least once a
// second and on Close, so a busy server makes one write syscall per buffer,
// not per request. Reopen (SIGUSR1 after a log rotation `mv`) flushes and
// opens the path again.
package accesslog

import (
	"bufio"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// Logger is safe for concurrent use.
type Logger struct {
	mu     sync.Mutex
	path   string // "" = w is stdout/stderr and is never closed
	f      *os.File
	w      *bufio.Writer
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

// FlushInterval bounds how long a line waits in the buffer.
const FlushInterval = time.Second

// Open returns a Logger appending to path (created 0640), or writing to
// out when path is "".
func Open(path string, out io.Writer) (*Logger, error) {
	l := &Logger{path: path, stop: make(chan struct{}), done: make(chan struct{})}
	if path != "" {
		f, err := OpenFile(path)
		if err != nil {
			return nil, err
		}
		l.f = f
		out = f
	}
	l.w = bufio.NewWriterSize(out, 64<<10)
	go l.flusher()
	return l, nil
}

// OpenFile opens an access log for appending (created 0640, close-on-exec).
// The master opens the file workers write to with it.
func OpenFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_CLOEXEC, 0o640)
}

func (l *Logger) flusher() {
	defer close(l.done)
	t := time.NewTicker(FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.mu.Lock()
			_ = l.w.Flush()
			l.mu.Unlock()
		case <-l.stop:
			return
		}
	}
}

// Write appends one line (line must end with '\n'). The buffer is flushed
// before a line that does not fit, so every write(2) holds whole lines:
// several workers appending to one O_APPEND file never interleave inside
// a line.
func (l *Logger) Write(line []byte) {
	l.mu.Lock()
	if !l.closed {
		if l.w.Available() < len(line) && l.w.Buffered() > 0 {
			_ = l.w.Flush()
		}
		_, _ = l.w.Write(line)
	}
	l.mu.Unlock()
}

// FromFile returns a Logger writing to an already open file (a worker's
// access log, opened by the master). Reopen is a no-op; SwapFile replaces
// the file.
func FromFile(f *os.File) *Logger {
	l := &Logger{f: f, stop: make(chan struct{}), done: make(chan struct{})}
	l.w = bufio.NewWriterSize(f, 64<<10)
	go l.flusher()
	return l
}

// SwapFile flushes and writes to f from now on, closing the old file.
func (l *Logger) SwapFile(f *os.File) {
	if f == nil {
		return
	}
	l.mu.Lock()
	_ = l.w.Flush()
	old := l.f
	l.f = f
	l.w.Reset(f)
	l.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
}

// Reopen flushes and reopens the file (no-op for stdout/stderr).
func (l *Logger) Reopen() error {
	if l.path == "" {
		return nil
	}
	f, err := OpenFile(l.path)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.w.Flush()
	old := l.f
	l.f = f
	l.w.Reset(f)
	return old.Close()
}

// Close flushes and closes the log. Later writes are dropped.
func (l *Logger) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	err := l.w.Flush()
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	if l.f != nil {
		if cerr := l.f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
