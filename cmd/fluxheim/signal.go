package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fluxheim/fluxheim/master"
	"github.com/fluxheim/fluxheim/shared/config"
)

// signals maps -s commands to the signal sent when no control socket
// answers (nginx's mapping).
var signals = map[string]syscall.Signal{
	"reload": syscall.SIGHUP, "stop": syscall.SIGTERM, "quit": syscall.SIGQUIT,
	"reopen": syscall.SIGUSR1, "upgrade": syscall.SIGUSR2,
}

// sendSignal implements `fluxheim -s CMD`: it asks the master over its
// control socket and waits for the real outcome (exit 0 only on success).
// reload validates the config locally first. Without a control socket it
// falls back to the pid file and a signal (and then cannot report the
// outcome).
func sendSignal(cmd, path string, stdout, stderr io.Writer) int {
	if _, ok := signals[cmd]; !ok && cmd != "status" {
		fmt.Fprintf(stderr, "fluxheim: unknown -s command %q (reload, stop, quit, reopen, upgrade, status)\n", cmd)
		return 2
	}
	ctl, pidFile := config.DefaultControlSock, config.DefaultPidFile
	if path != "" {
		cfg, err := config.Load(path, config.Options{SkipRuntimePaths: true})
		switch {
		case err == nil:
			ctl, pidFile = *cfg.Server.Process.ControlSock, *cfg.Server.Process.PidFile
		case cmd == "reload" || cmd == "upgrade":
			printConfigError(stderr, err)
			return 1
		default:
			// stop/quit/reopen/status must work with a broken config.
			ctl, pidFile = config.ProcessPaths(path)
		}
	}
	timeout := 5 * time.Minute
	if ctl != "" {
		msg, st, err := master.Command(ctl, cmd, timeout)
		if err == nil {
			if st != nil {
				printStatus(stdout, st)
			} else {
				fmt.Fprintf(stdout, "fluxheim: %s\n", msg)
			}
			return 0
		}
		if !errors.Is(err, master.ErrNoControlSocket) {
			fmt.Fprintf(stderr, "fluxheim: %s failed: %v\n", cmd, err)
			return 1
		}
	}
	if cmd == "status" {
		fmt.Fprintf(stderr, "fluxheim: status needs the control socket (%s): no master answers there\n", ctl)
		return 1
	}
	return signalPid(cmd, pidFile, stdout, stderr)
}

func signalPid(cmd, pidFile string, stdout, stderr io.Writer) int {
	if pidFile == "" {
		fmt.Fprintln(stderr, "fluxheim: no control socket and no pid file configured")
		return 1
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		fmt.Fprintf(stderr, "fluxheim: no master answers on the control socket, and the pid file: %v\n", err)
		return 1
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		fmt.Fprintf(stderr, "fluxheim: pid file %s holds %q\n", pidFile, strings.TrimSpace(string(b)))
		return 1
	}
	if exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe"); err == nil && !strings.Contains(exe, "fluxheim") {
		fmt.Fprintf(stderr, "fluxheim: pid %d from %s is %s, not fluxheim\n", pid, pidFile, exe)
		return 1
	}
	if err := syscall.Kill(pid, signals[cmd]); err != nil {
		fmt.Fprintf(stderr, "fluxheim: signalling pid %d: %v\n", pid, err)
		return 1
	}
	fmt.Fprintf(stdout, "fluxheim: sent %s to pid %d (no control socket: the outcome is in the error log)\n", signals[cmd], pid)
	return 0
}

func printStatus(w io.Writer, st *master.Status) {
	fmt.Fprintf(w, "master pid %d, up %s, generation %d, %d restarts, %d sockets\n", st.Pid, st.Uptime, st.Generation, st.Restarts, st.Sockets)
	for _, wk := range st.Workers {
		fmt.Fprintf(w, "  worker pid %d  generation %d  index %d  %s  up %s\n", wk.Pid, wk.Generation, wk.Index, wk.State, wk.Uptime)
	}
	for _, f := range st.PHPFPM {
		fmt.Fprintf(w, "  php-fpm pool %s  pid %d  socket %s  restarts %d\n", f.Pool, f.PID, f.Socket, f.Restarts)
	}
}
