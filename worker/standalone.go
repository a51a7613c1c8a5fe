// Package worker is the data-plane side of fluxheim: it turns a config
// snapshot into a serving HTTP server on listeners handed to it.
package worker

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/logx"
	"github.com/fluxheim/fluxheim/worker/accesslog"
	"github.com/fluxheim/fluxheim/worker/server"
)

// CheckBuild builds the whole data plane for cfg without serving (what
// -t adds to static validation: static roots open, upstreams parse,
// policies compile) and releases it.
func CheckBuild(cfg *config.Config) error {
	h, err := server.BuildHandler(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		return err
	}
	h.Close()
	return nil
}

// openAccessLog opens the access log of cfg (nil when disabled).
func openAccessLog(cfg *config.Config) (*accesslog.Logger, error) {
	a := &cfg.Logging.Access
	if !*a.Enabled {
		return nil, nil
	}
	var out io.Writer = os.Stderr
	if cfg.Logging.Target == "stdout" {
		out = os.Stdout
	}
	return accesslog.Open(a.Path, out)
}

// RunStandalone serves cfg from this one process until a stop signal:
// SIGTERM/SIGINT stop at once, SIGQUIT stops gracefully, SIGHUP reloads
// the config from path (a bad config is logged and the old one keeps
// serving), SIGUSR1 reopens the log files.
func RunStandalone(cfg *config.Config, path string) error {
	if len(cfg.Server.TLSListen) > 0 || cfg.TLS != nil && cfg.TLS.ACME != nil && cfg.TLS.ACME.Enabled {
		// TLS material, ticket keys and ACME live in the master.
		return fmt.Errorf("--single-process does not serve server.tls_listen or ACME; run with the master (drop --single-process)")
	}
	lg, err := logx.New(cfg)
	if err != nil {
		return err
	}
	defer lg.Close()
	for _, w := range cfg.Warnings {
		lg.Warn(w)
	}
	access, err := openAccessLog(cfg)
	if err != nil {
		return err
	}
	if access != nil {
		defer access.Close()
	}
	h, err := server.BuildHandler(cfg, lg.Logger, access)
	if err != nil {
		return err
	}
	lns, err := listenAll(cfg.Server.Listen)
	if err != nil {
		h.Close()
		return err
	}
	pid := *cfg.Server.Process.PidFile
	if pid != "" {
		if err := WritePidFile(pid); err != nil {
			h.Close()
			return err
		}
		defer os.Remove(pid)
	}
	srv := server.New(cfg, h, lg.Logger)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lns) }()
	lg.Info("fluxheim serving", "listen", cfg.Server.Listen, "pid", os.Getpid(), "config", cfg.Sources)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	grace := time.Duration(cfg.Server.Process.GracefulShutdownTimeoutSeconds) * time.Second
	for {
		select {
		case err := <-done:
			return err
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				reload(srv, path, lg, access, grace)
			case syscall.SIGUSR1:
				if err := lg.Reopen(); err != nil {
					lg.Error("reopening error log", "err", err)
				}
				if access != nil {
					if err := access.Reopen(); err != nil {
						lg.Error("reopening access log", "err", err)
					}
				}
			case syscall.SIGQUIT:
				lg.Info("graceful stop", "timeout", grace.String())
				time.Sleep(time.Duration(cfg.Server.Process.GracePeriodSeconds) * time.Second)
				srv.Drain(time.Now().Add(grace), nil)
				<-done
				return nil
			default:
				lg.Info("fast stop", "signal", sig.String())
				_ = srv.Close()
				<-done
				return nil
			}
		}
	}
}

// reload swaps in a freshly loaded config's handler. Listener and process
// changes need a restart in this mode (the master/worker model handles
// them).
func reload(srv *server.Server, path string, lg *logx.Log, access *accesslog.Logger, grace time.Duration) {
	if path == "" {
		lg.Warn("reload: running on the embedded default config; nothing to reload")
		return
	}
	cfg, err := config.Load(path, config.Options{})
	if err != nil {
		lg.Error("reload refused; the old config keeps serving", "err", err.Error())
		return
	}
	h, err := server.BuildHandler(cfg, lg.Logger, access)
	if err != nil {
		lg.Error("reload refused; the old config keeps serving", "err", err.Error())
		return
	}
	srv.Swap(h, grace)
	lg.Info("config reloaded", "config", cfg.Sources)
}

// listenAll opens a TCP listener per address.
func listenAll(addrs []string) ([]server.Listener, error) {
	var lns []server.Listener
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range lns {
				l.LN.Close()
			}
			return nil, fmt.Errorf("listen %s: %w", a, err)
		}
		lns = append(lns, server.Listener{Key: "tcp:" + a, LN: ln})
	}
	return lns, nil
}

// WritePidFile writes the pid atomically (temp file + rename), creating
// /run/fluxheim (0755) when that is the directory and it is missing.
func WritePidFile(path string) error {
	dir := filepath.Dir(path)
	if dir == filepath.Dir(config.DefaultPidFile) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("pid file: %w", err)
		}
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("pid file: %w", err)
	}
	return nil
}
