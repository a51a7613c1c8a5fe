package master

import (
	"github.com/fluxheim/fluxheim/worker/accesslog"
	"os"
	"path/filepath"

	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/ipc"
	"github.com/fluxheim/fluxheim/shared/logx"
)

// openLogs opens the access and error log files cfg names (the master
// owns log files; workers write to the descriptors they are given).
func (m *Master) openLogs(cfg *config.Config) error {
	var access *os.File
	if p := cfg.Logging.Access.Path; p != "" && *cfg.Logging.Access.Enabled {
		f, err := accesslog.OpenFile(p)
		if err != nil {
			return err
		}
		access = f
	}
	errFile, err := logx.OpenFile(cfg)
	if err != nil {
		if access != nil {
			access.Close()
		}
		return err
	}
	m.accessFile, m.errFile = access, errFile
	return nil
}

func (m *Master) closeLogs() {
	if m.accessFile != nil {
		m.accessFile.Close()
		m.accessFile = nil
	}
	if m.errFile != nil {
		m.errFile.Close()
		m.errFile = nil
	}
}

func closeIfOther(old, cur *os.File) {
	if old != nil && old != cur {
		old.Close()
	}
}

// reopen (SIGUSR1, -s reopen): reopen the master's own error log, open the
// log files again (after a rotation `mv`, new lines land in new files)
// and hand the new descriptors to every worker.
func (m *Master) reopen() error {
	if err := m.log.Reopen(); err != nil {
		return err
	}
	if m.fpm != nil {
		m.fpm.ReopenLogs()
	}
	oldAccess, oldErr := m.accessFile, m.errFile
	if err := m.openLogs(m.cfg); err != nil {
		m.accessFile, m.errFile = oldAccess, oldErr
		return err
	}
	msg := ipc.Reopen{AccessLog: -1, ErrorLog: -1}
	var files []*os.File
	if m.accessFile != nil {
		msg.AccessLog = len(files)
		files = append(files, m.accessFile)
	}
	if m.errFile != nil {
		msg.ErrorLog = len(files)
		files = append(files, m.errFile)
	}
	if len(files) > 0 {
		var asked []*proc
		for p := range m.procs {
			if p.alive() && p.sendAsk(ipc.MsgReopen, msg, files...) == nil {
				asked = append(asked, p)
			}
		}
		// Answer when every worker writes to the new files: after
		// `mv; fluxheim -s reopen` the moved file gets no more lines.
		for _, p := range waitAcked(asked, ackTimeout) {
			m.log.Warn("worker did not confirm the log reopen", "pid", p.pid, "generation", p.gen)
		}
	}
	closeIfOther(oldAccess, m.accessFile)
	closeIfOther(oldErr, m.errFile)
	m.log.Info("logs reopened")
	return nil
}

// ensureRunDir creates /run/fluxheim (0755) for the default pid file and
// control socket; other directories must exist (config validation says so).
func ensureRunDir(path string) error {
	dir := filepath.Dir(path)
	if dir != filepath.Dir(config.DefaultPidFile) {
		return nil
	}
	return os.MkdirAll(dir, 0o755)
}
