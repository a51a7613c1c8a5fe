package master

import (
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/fluxheim/fluxheim/master/phpfpm"
	"github.com/fluxheim/fluxheim/shared/config"
)

// phpStateDir is the private directory for managed php-fpm instances:
// beside the pid file or control socket (php-fpm socket and state paths
// must stay short), else /run/fluxheim/php-fpm.
func phpStateDir(cfg *config.Config) string {
	p := &cfg.Server.Process
	for _, f := range []string{*p.PidFile, *p.ControlSock} {
		if f != "" {
			return filepath.Join(filepath.Dir(f), "php-fpm")
		}
	}
	return filepath.Join(filepath.Dir(config.DefaultPidFile), "php-fpm")
}

// managedPools turns the config's managed [vhosts.php.fpm] blocks into
// php-fpm pools. The socket is owned by the workers' user when the master
// runs as root and listen_owner is unset, so unprivileged workers can dial
// a 0600 socket.
func managedPools(cfg *config.Config) []phpfpm.Pool {
	var out []phpfpm.Pool
	for _, mp := range config.ManagedPools(cfg) {
		f := &mp.PHP.FPM
		p := phpfpm.Pool{
			Name:                                 mp.Name,
			Binary:                               f.PHPFPMBinary,
			SocketPath:                           mp.Socket,
			ListenOwner:                          f.ListenOwner,
			ListenGroup:                          f.ListenGroup,
			User:                                 f.User,
			Group:                                f.Group,
			ProcessManager:                       f.ProcessManager,
			Workers:                              intOr(f.Workers, 0),
			MaxRequests:                          intOr(f.MaxRequestsPerWorker, 1000),
			ListenBacklog:                        intOr(f.ListenBacklog, 0),
			StartServers:                         intOr(f.StartServers, 0),
			MinSpareServers:                      intOr(f.MinSpareServers, 0),
			MaxSpareServers:                      intOr(f.MaxSpareServers, 0),
			MaxSpawnRate:                         intOr(f.MaxSpawnRate, 0),
			ProcessIdleTimeout:                   secsOr(f.ProcessIdleTimeoutSecs),
			RequestTerminateTimeout:              secsOr(f.RequestTerminateTimeoutSecs),
			RequestSlowlogTimeout:                secsOr(f.RequestSlowlogTimeoutSecs),
			RequestTerminateTimeoutTrackFinished: f.RequestTerminateTimeoutTrackFinished,
			RequestSlowlogTraceDepth:             intOr(f.RequestSlowlogTraceDepth, 0),
			ClearEnv:                             f.ClearEnv,
			CatchWorkersOutput:                   f.CatchWorkersOutput,
			DecorateWorkersOutput:                f.DecorateWorkersOutput,
			SessionSavePath:                      f.SessionSavePath,
			UploadTmpDir:                         f.UploadTmpDir,
		}
		if f.ListenMode == "0660" {
			p.SocketMode = 0o660
		}
		if p.ListenOwner == "" && os.Geteuid() == 0 && cfg.Server.Process.User != "" {
			p.ListenOwner, p.ListenGroup = cfg.Server.Process.User, cfg.Server.Process.Group
			if p.ListenGroup == "" {
				if u, err := user.Lookup(p.ListenOwner); err == nil {
					if g, err := user.LookupGroupId(u.Gid); err == nil {
						p.ListenGroup = g.Name
					}
				}
			}
		}
		out = append(out, p)
	}
	return out
}

func intOr(p *int, d int) int {
	if p == nil {
		return d
	}
	return *p
}

func secsOr(p *int) time.Duration {
	if p == nil {
		return 0
	}
	return time.Duration(*p) * time.Second
}

// reconcilePHP starts, keeps, replaces or stops managed php-fpm pools to
// match cfg. The manager is created on first use.
func (m *Master) reconcilePHP(cfg *config.Config) error {
	pools := managedPools(cfg)
	if m.fpm == nil {
		if len(pools) == 0 {
			return nil
		}
		dir := phpStateDir(cfg)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		mgr, err := phpfpm.NewManager(dir, m.log.Logger, m.upg.Fds)
		if err != nil {
			return err
		}
		m.fpm = mgr
	}
	m.fpm.RetireDelay = time.Duration(cfg.Server.Process.WorkerShutdownTimeoutSecs) * time.Second
	return m.fpm.Reconcile(pools)
}

// stopPHP stops the managed pools (graceful with a timeout, or fast).
func (m *Master) stopPHP(graceful bool, timeout time.Duration) {
	if m.fpm == nil {
		return
	}
	if graceful {
		m.fpm.StopGraceful(timeout)
	} else {
		m.fpm.StopFast()
	}
}
