package acme

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	legolog "github.com/go-acme/lego/v4/log"
)

// lego logs through a package-global logger; every Manager points it at
// its own slog.Logger (the latest New wins).
var (
	legoTarget atomic.Pointer[slog.Logger]
	legoOnce   sync.Once
)

// routeLegoLog sends lego's messages to l: its [INFO] lines at Debug (they
// narrate every step), [WARN] at Warn, anything else at Info.
func routeLegoLog(l *slog.Logger) {
	legoTarget.Store(l.With("component", "acme-lego"))
	legoOnce.Do(func() { legolog.Logger = legoLogger{} })
}

// legoLogger implements lego's StdLogger. Its Fatal methods only log:
// nothing lego does may exit the master.
type legoLogger struct{}

func (legoLogger) Fatal(args ...any)   { emit(slog.LevelError, fmt.Sprint(args...)) }
func (legoLogger) Fatalln(args ...any) { emit(slog.LevelError, fmt.Sprintln(args...)) }
func (legoLogger) Fatalf(format string, args ...any) {
	emit(slog.LevelError, fmt.Sprintf(format, args...))
}
func (legoLogger) Print(args ...any)   { emit(slog.LevelInfo, fmt.Sprint(args...)) }
func (legoLogger) Println(args ...any) { emit(slog.LevelInfo, fmt.Sprintln(args...)) }
func (legoLogger) Printf(format string, args ...any) {
	emit(slog.LevelInfo, fmt.Sprintf(format, args...))
}

func emit(level slog.Level, msg string) {
	l := legoTarget.Load()
	if l == nil {
		return
	}
	msg = strings.TrimSpace(msg)
	switch {
	case strings.HasPrefix(msg, "[INFO] "):
		level, msg = slog.LevelDebug, strings.TrimPrefix(msg, "[INFO] ")
	case strings.HasPrefix(msg, "[WARN] "):
		level, msg = slog.LevelWarn, strings.TrimPrefix(msg, "[WARN] ")
	}
	l.Log(nil, level, msg) //nolint:staticcheck // no context in lego's logger
}
