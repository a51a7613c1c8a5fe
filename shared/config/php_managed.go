package config

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Managed php-fpm pools: how the master and the workers agree on where a
// pool listens.
//
// Every managed PHP block is one pool. Its name is ManagedPoolName(vhost,
// route): the sanitised vhost name for a [vhosts.php] block, and the
// sanitised vhost name, "--" and the sanitised route name for a
// [vhosts.routes.php] block (such a route needs a name). The pool listens on
// the unix socket ManagedSocketPath(name) = <socket_dir>/<name>.sock, which
// the master creates and the workers dial. Validation refuses two managed
// blocks with the same socket path and paths over the unix limit.

// ManagedPool is one managed php-fpm pool of a config.
type ManagedPool struct {
	// Name is ManagedPoolName(Vhost, Route).
	Name string
	// Vhost and Route name the block's scope (Route "" for a vhost block).
	Vhost, Route string
	// Socket is the FastCGI address: PHP.FPM.ManagedSocketPath(Name).
	Socket string
	// PHP is the block (FPM holds the pool settings).
	PHP *PHP
}

// ManagedPools lists the managed pools of c in config order.
func ManagedPools(c *Config) []ManagedPool {
	var out []ManagedPool
	add := func(p *PHP, vhost, route string) {
		if p != nil && p.FPM.IsManaged() {
			name := ManagedPoolName(vhost, route)
			out = append(out, ManagedPool{Name: name, Vhost: vhost, Route: route, Socket: p.FPM.ManagedSocketPath(name), PHP: p})
		}
	}
	for i := range c.Vhosts {
		v := &c.Vhosts[i]
		add(v.PHP, v.Name, "")
		for j := range v.Routes {
			add(v.Routes[j].PHP, v.Name, v.Routes[j].Name)
		}
	}
	return out
}

// ManagedPoolName is the pool name of a managed block: the vhost name, and
// for a route block "--" plus the route name, each sanitised (bytes other
// than ASCII letters, digits, '.', '_' and '-' become '_'; a leading '.'
// becomes '_').
func ManagedPoolName(vhost, route string) string {
	if route == "" {
		return sanitisePoolPart(vhost)
	}
	return sanitisePoolPart(vhost) + "--" + sanitisePoolPart(route)
}

// ManagedSocketPath returns the unix socket a managed pool listens on:
// <socket_dir>/<pool>.sock, pool being ManagedPoolName(vhost, route).
func (f *PHPFPM) ManagedSocketPath(pool string) string {
	return filepath.Join(f.SocketDir, pool+".sock")
}

func sanitisePoolPart(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok || (i == 0 && c == '.') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

func validatePHPManaged(c *Config, p *PHP, key string, errs *errList) {
	f := &p.FPM
	for _, k := range []struct {
		set  bool
		name string
	}{{f.Socket != "", "socket"}, {f.TCP != "", "tcp"}, {len(f.TCPUpstreams) > 0, "tcp_upstreams"}} {
		if k.set {
			errs.add(key+"."+k.name, "must not be set with mode = \"managed\": the pool listens on a socket in socket_dir")
		}
	}
	if f.PHPFPMBinary == "" {
		errs.add(key+".php_fpm_binary", "is required in managed mode, such as \"/usr/sbin/php-fpm8.2\"")
	} else {
		checkAbsPath(errs, key+".php_fpm_binary", f.PHPFPMBinary)
	}
	if f.SocketDir == "" {
		errs.add(key+".socket_dir", "is required in managed mode, such as \"/run/fluxheim/php\"")
	} else {
		checkAbsPath(errs, key+".socket_dir", f.SocketDir)
		checkManagedSocket(c, p, key, errs)
	}
	validatePHPPool(c, f, key, errs)
	optional := []struct {
		v    *int
		name string
	}{
		{f.RequestTerminateTimeoutSecs, "request_terminate_timeout_secs"},
		{f.RequestSlowlogTimeoutSecs, "request_slowlog_timeout_secs"},
		{f.ProcessIdleTimeoutSecs, "process_idle_timeout_secs"},
	}
	for _, o := range optional {
		secsPtr(errs, key+"."+o.name, o.v)
	}
	if v := *f.RequestSlowlogTraceDepth; v < 1 || v > maxPHPSlowlogDepth {
		errs.add(key+".request_slowlog_trace_depth", "must be within 1..%d, got %d", maxPHPSlowlogDepth, v)
	}
	if f.SessionSavePath != "" {
		checkAbsPath(errs, key+".session_save_path", f.SessionSavePath)
	}
	if f.UploadTmpDir != "" {
		checkAbsPath(errs, key+".upload_tmp_dir", f.UploadTmpDir)
	}
	if (f.User == "") != (f.Group == "") {
		errs.add(key+".user", "user and group must be set together")
	}
	if (f.ListenOwner == "") != (f.ListenGroup == "") {
		errs.add(key+".listen_owner", "listen_owner and listen_group must be set together")
	}
	oneOf(errs, key+".listen_mode", f.ListenMode, "0600", "0660")
	if v := f.ListenBacklog; v != nil && (*v < -1 || *v > maxPHPBacklog) {
		errs.add(key+".listen_backlog", "must be within -1..%d, got %d", maxPHPBacklog, *v)
	}
	if f.Keepalive {
		if procs := c.Server.Process.Workers.Count(); *f.PoolMaxIdle*procs > *f.Workers {
			errs.add(key+".pool_max_idle", "keepalive: pool_max_idle (%d) × worker processes (%d) exceeds the pool's workers (%d); every open connection pins a php-fpm child, so requests would stall: lower pool_max_idle or raise workers", *f.PoolMaxIdle, procs, *f.Workers)
		}
	}
}

// validatePHPPool checks the process manager keys.
func validatePHPPool(c *Config, f *PHPFPM, key string, errs *errList) {
	w := *f.Workers
	if w < 1 || w > maxPHPWorkers {
		errs.add(key+".workers", "must be within 1..%d, got %d", maxPHPWorkers, w)
	}
	if v := *f.MaxRequestsPerWorker; v < 0 || v > maxPHPMaxRequests {
		errs.add(key+".max_requests_per_worker", "must be within 0..%d, got %d", maxPHPMaxRequests, v)
	}
	oneOf(errs, key+".process_manager", f.ProcessManager, PHPPMStatic, PHPPMDynamic, PHPPMOndemand)
	onlyFor := func(set bool, name, pm string) {
		if set && f.ProcessManager != pm {
			errs.add(key+"."+name, "only applies to process_manager = %q", pm)
		}
	}
	onlyFor(f.StartServers != nil, "start_servers", PHPPMDynamic)
	onlyFor(f.MinSpareServers != nil, "min_spare_servers", PHPPMDynamic)
	onlyFor(f.MaxSpareServers != nil, "max_spare_servers", PHPPMDynamic)
	onlyFor(f.MaxSpawnRate != nil, "max_spawn_rate", PHPPMDynamic)
	onlyFor(f.ProcessIdleTimeoutSecs != nil, "process_idle_timeout_secs", PHPPMOndemand)
	inWorkers := func(v *int, name string) {
		if v != nil && (*v < 1 || *v > w) {
			errs.add(key+"."+name, "must be within 1..workers (%d), got %d", w, *v)
		}
	}
	inWorkers(f.StartServers, "start_servers")
	inWorkers(f.MinSpareServers, "min_spare_servers")
	inWorkers(f.MaxSpareServers, "max_spare_servers")
	if f.MinSpareServers != nil && f.MaxSpareServers != nil && *f.MinSpareServers > *f.MaxSpareServers {
		errs.add(key+".min_spare_servers", "exceeds max_spare_servers")
	}
	if s := f.StartServers; s != nil && f.MinSpareServers != nil && f.MaxSpareServers != nil &&
		(*s < *f.MinSpareServers || *s > *f.MaxSpareServers) {
		errs.add(key+".start_servers", "must be within min_spare_servers..max_spare_servers")
	}
	if v := f.MaxSpawnRate; v != nil && (*v < 1 || *v > maxPHPSpawnRate) {
		errs.add(key+".max_spawn_rate", "must be within 1..%d, got %d", maxPHPSpawnRate, *v)
	}
}

// checkManagedSocket checks the block's socket path: a route block needs a
// route name, the path must fit a unix socket address, and no earlier
// managed block may use the same path.
func checkManagedSocket(c *Config, p *PHP, key string, errs *errList) {
	pools := ManagedPools(c)
	for i, mp := range pools {
		if mp.PHP != p {
			continue
		}
		if strings.Contains(key, ".routes[") && mp.Route == "" {
			errs.add(strings.TrimSuffix(key, ".php.fpm")+".name", "a route with a managed php-fpm pool needs a name (it names the pool's socket)")
			return
		}
		if len(mp.Socket) > maxUnixSocketPath {
			errs.add(key+".socket_dir", "the pool socket %s is longer than %d bytes; use a shorter socket_dir or vhost name", mp.Socket, maxUnixSocketPath)
		}
		for _, prev := range pools[:i] {
			if prev.Socket == mp.Socket {
				errs.add(key, "managed pool socket %s is also used by vhost %q%s: vhost and route names must differ after sanitising", mp.Socket, prev.Vhost, routeSuffix(prev.Route))
			}
		}
		return
	}
}

func routeSuffix(route string) string {
	if route == "" {
		return ""
	}
	return fmt.Sprintf(" route %q", route)
}
