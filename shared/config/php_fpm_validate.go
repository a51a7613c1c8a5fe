package config

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Bounds of [vhosts.php.fpm].
const (
	maxPHPUpstreams    = 64
	maxPHPPoolMaxIdle  = 1024
	maxPHPRetries      = 16
	maxPHPWorkers      = 256
	maxPHPMaxRequests  = 1000000
	maxPHPSpawnRate    = 1024
	maxPHPSlowlogDepth = 512
	maxPHPBacklog      = 65535
	// maxUnixSocketPath is sun_path's 108 bytes minus the terminating NUL.
	maxUnixSocketPath = 107
)

func validatePHPFPM(c *Config, p *PHP, key string, errs *errList) {
	f := &p.FPM
	key += ".fpm"
	secsPtr(errs, key+".connect_timeout_secs", f.ConnectTimeoutSecs)
	secsPtr(errs, key+".read_timeout_secs", f.ReadTimeoutSecs)
	secsPtr(errs, key+".write_timeout_secs", f.WriteTimeoutSecs)
	if v := *f.PoolMaxIdle; v < 1 || v > maxPHPPoolMaxIdle {
		errs.add(key+".pool_max_idle", "must be within 1..%d, got %d", maxPHPPoolMaxIdle, v)
	}
	secs(errs, key+".idle_timeout_secs", *f.IdleTimeoutSecs)
	if f.MaxRetries < 0 || f.MaxRetries > maxPHPRetries {
		errs.add(key+".max_retries", "must be within 0..%d, got %d", maxPHPRetries, f.MaxRetries)
	}
	secsPtr(errs, key+".retry_timeout_secs", f.RetryTimeoutSecs)
	seen := map[string]bool{}
	for i, m := range f.RetryMethods {
		k := fmt.Sprintf("%s.retry_methods[%d]", key, i)
		if !phpRetryMethods[m] {
			errs.add(k, "only GET, HEAD, OPTIONS and TRACE may be retried, got %q", m)
		}
		if seen[m] {
			errs.add(k, "duplicate method %q", m)
		}
		seen[m] = true
	}
	checkStatuses(errs, key+".retry_statuses", f.RetryStatuses, 500, 599)
	switch f.Mode {
	case PHPModeExternal:
		validatePHPExternal(c, f, key, errs)
	case PHPModeManaged:
		validatePHPManaged(c, p, key, errs)
	default:
		errs.add(key+".mode", "want %q or %q, got %q", PHPModeExternal, PHPModeManaged, f.Mode)
	}
}

func validatePHPExternal(c *Config, f *PHPFPM, key string, errs *errList) {
	n := 0
	for _, set := range []bool{f.Socket != "", f.TCP != "", len(f.TCPUpstreams) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		errs.add(key, "set exactly one of socket, tcp and tcp_upstreams (external mode), or mode = \"managed\"; has %d", n)
	}
	if f.Socket != "" {
		checkAbsPath(errs, key+".socket", f.Socket)
		if len(f.Socket) > maxUnixSocketPath {
			errs.add(key+".socket", "longer than %d bytes, the limit of a unix socket path", maxUnixSocketPath)
		}
	}
	if f.TCP != "" {
		checkFPMAddr(errs, key+".tcp", f.TCP, f.AllowPrivateTCPUpstreams)
	}
	if len(f.TCPUpstreams) > maxPHPUpstreams {
		errs.add(key+".tcp_upstreams", "%d entries exceed the limit of %d", len(f.TCPUpstreams), maxPHPUpstreams)
	}
	seen := map[string]bool{}
	for i, u := range f.TCPUpstreams {
		k := fmt.Sprintf("%s.tcp_upstreams[%d]", key, i)
		checkFPMAddr(errs, k, u, f.AllowPrivateTCPUpstreams)
		if seen[strings.ToLower(u)] {
			errs.add(k, "duplicate upstream %q", u)
		}
		seen[strings.ToLower(u)] = true
	}
	for _, k := range setManagedKeys(f) {
		errs.add(key+"."+k, "is a managed-mode key; set mode = \"managed\" or remove it")
	}
	if f.Keepalive {
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s.keepalive: every open php-fpm connection pins a php-fpm child: keep pool_max_idle (%d) × worker processes at or below php-fpm's pm.max_children", key, *f.PoolMaxIdle))
	}
}

// checkFPMAddr checks a php-fpm TCP address: host:port; an IP literal must
// not be unspecified or multicast, and loopback, private and link-local
// literals need allow_private_tcp_upstreams (names are checked when they
// are resolved, at connect).
func checkFPMAddr(errs *errList, key, a string, allowPrivate bool) {
	checkAuthority(errs, key, a)
	host, _, err := net.SplitHostPort(a)
	if err != nil {
		return
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return
	}
	ip = ip.Unmap()
	switch {
	case ip.IsUnspecified() || ip.IsMulticast():
		errs.add(key, "%s is an unspecified or multicast address", host)
	case !allowPrivate && IsPrivateAddr(ip):
		errs.add(key, "%s is a loopback, private or link-local address: set allow_private_tcp_upstreams = true to use it", host)
	}
}

// IsPrivateAddr reports whether ip is loopback, private (RFC 1918, RFC
// 4193), link-local, shared (RFC 6598) or unspecified: the addresses
// php-fpm TCP upstreams may use only with allow_private_tcp_upstreams. The
// worker applies it to resolved addresses too.
func IsPrivateAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || netip.MustParsePrefix("100.64.0.0/10").Contains(ip)
}

// setManagedKeys lists the managed-mode keys set in f (after defaults,
// which leave them unset in external mode).
func setManagedKeys(f *PHPFPM) []string {
	var out []string
	add := func(set bool, k string) {
		if set {
			out = append(out, k)
		}
	}
	add(f.PHPFPMBinary != "", "php_fpm_binary")
	add(f.SocketDir != "", "socket_dir")
	add(f.Workers != nil, "workers")
	add(f.MaxRequestsPerWorker != nil, "max_requests_per_worker")
	add(f.ProcessManager != "", "process_manager")
	add(f.ListenBacklog != nil, "listen_backlog")
	add(f.ListenOwner != "", "listen_owner")
	add(f.ListenGroup != "", "listen_group")
	add(f.ListenMode != "", "listen_mode")
	add(f.StartServers != nil, "start_servers")
	add(f.MinSpareServers != nil, "min_spare_servers")
	add(f.MaxSpareServers != nil, "max_spare_servers")
	add(f.MaxSpawnRate != nil, "max_spawn_rate")
	add(f.ProcessIdleTimeoutSecs != nil, "process_idle_timeout_secs")
	add(f.RequestTerminateTimeoutSecs != nil, "request_terminate_timeout_secs")
	add(f.RequestTerminateTimeoutTrackFinished != nil, "request_terminate_timeout_track_finished")
	add(f.RequestSlowlogTimeoutSecs != nil, "request_slowlog_timeout_secs")
	add(f.RequestSlowlogTraceDepth != nil, "request_slowlog_trace_depth")
	add(f.ClearEnv != nil, "clear_env")
	add(f.CatchWorkersOutput != nil, "catch_workers_output")
	add(f.DecorateWorkersOutput != nil, "decorate_workers_output")
	add(f.SessionSavePath != "", "session_save_path")
	add(f.UploadTmpDir != "", "upload_tmp_dir")
	add(f.User != "", "user")
	add(f.Group != "", "group")
	return out
}
