package phpfpm

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Process managers (php-fpm's pm).
const (
	PMStatic   = "static"
	PMDynamic  = "dynamic"
	PMOndemand = "ondemand"
)

// Defaults applied to zero fields of a Pool (the spec's defaults where it
// names one, php-fpm's otherwise).
const (
	DefaultWorkers            = 4
	DefaultProcessManager     = PMStatic
	DefaultSocketMode         = os.FileMode(0o600)
	DefaultListenBacklog      = 511 // php-fpm's default listen.backlog
	DefaultMaxSpawnRate       = 32  // php-fpm's pm.max_spawn_rate
	DefaultProcessIdleTimeout = 10 * time.Second
	DefaultSlowlogTraceDepth  = 20
	// DefaultStopGrace bounds a graceful stop of a replaced or removed
	// instance when the pool has no request_terminate_timeout: its
	// in-flight requests get this long, then the process group is killed.
	DefaultStopGrace = 60 * time.Second
	// maxSocketPath is sun_path's size minus the terminating NUL.
	maxSocketPath = 107
)

// Pool is one managed php-fpm pool ([vhosts.php.fpm] mode = "managed",
// one per vhost). The config package has validated it; Reconcile checks
// again what php-fpm would reject, fills zero fields with the defaults
// above and refuses the whole set on any error.
//
// Only the php-fpm process settings decide whether a running instance can
// stay (see Equal); SocketMode, ListenOwner, ListenGroup and ListenBacklog
// are applied to the socket in place.
type Pool struct {
	// Name is the pool's stable id (the vhost name). The php-fpm section
	// name is derived from it (see Slug).
	Name string
	// Binary is php_fpm_binary: absolute; a regular executable owned by
	// root or by us, not group/world-writable, in directories nobody else
	// can write (see OpenBinary). Re-validated before every spawn.
	Binary string
	// SocketPath is the unix socket fluxheim workers connect to:
	// socket_dir + "/" + a per-vhost name. The master creates it (php-fpm
	// inherits it); its directory is created 0755 when missing and must
	// not be writable by anyone but root or us.
	SocketPath string
	// SocketMode is listen_mode: 0600 (default) or 0660.
	SocketMode os.FileMode
	// ListenOwner and ListenGroup (listen_owner/listen_group, names or
	// numeric ids) are the socket file's owner and group; empty keeps the
	// master's. The fluxheim worker user must be able to connect: the
	// wiring defaults them to [server.process] user/group.
	ListenOwner, ListenGroup string
	// ListenBacklog is listen_backlog: 0 = 511, -1 = the kernel maximum
	// (net.core.somaxconn).
	ListenBacklog int
	// User and Group (user/group) run php-fpm's workers. Required when the
	// master is root (php-fpm refuses to run workers as root); ignored
	// otherwise (php-fpm runs as the master's user).
	User, Group string
	// ProcessManager is process_manager: static (default), dynamic or
	// ondemand.
	ProcessManager string
	// Workers is workers (pm.max_children): 1..256, default 4.
	Workers int
	// MaxRequests is max_requests_per_worker (pm.max_requests):
	// 0..1000000, 0 = never recycle.
	MaxRequests int
	// Dynamic only: start_servers, min_spare_servers, max_spare_servers,
	// max_spawn_rate. Zero = min 1, max max(min, ceil(workers/2)), start
	// as php-fpm computes it, spawn rate 32.
	StartServers, MinSpareServers, MaxSpareServers, MaxSpawnRate int
	// ProcessIdleTimeout is process_idle_timeout_secs (ondemand only;
	// 0 = 10 s).
	ProcessIdleTimeout time.Duration
	// RequestTerminateTimeout is request_terminate_timeout_secs (0 = off).
	// It also bounds a graceful stop: see StopGrace.
	RequestTerminateTimeout time.Duration
	// RequestTerminateTimeoutTrackFinished is
	// request_terminate_timeout_track_finished (nil = php-fpm's no).
	RequestTerminateTimeoutTrackFinished *bool
	// RequestSlowlogTimeout is request_slowlog_timeout_secs (0 = off); the
	// slow log goes to the instance's log, which is forwarded to ours.
	RequestSlowlogTimeout time.Duration
	// RequestSlowlogTraceDepth is request_slowlog_trace_depth (1..512,
	// 0 = 20).
	RequestSlowlogTraceDepth int
	// ClearEnv, CatchWorkersOutput and DecorateWorkersOutput are
	// clear_env, catch_workers_output and decorate_workers_output; nil
	// leaves php-fpm's default (yes, no, yes). php-fpm itself starts with
	// an empty environment plus a fixed PATH.
	ClearEnv, CatchWorkersOutput, DecorateWorkersOutput *bool
	// SessionSavePath and UploadTmpDir (absolute, optional) become
	// php_admin_value[session.save_path] and [upload_tmp_dir].
	SessionSavePath, UploadTmpDir string
}

// Equal reports whether a and b generate the same php-fpm config and
// binary, so a running instance of a can keep serving b. The socket's
// mode, owner, group and backlog do not count: they change in place.
// Both pools are compared after defaults are filled in.
func Equal(a, b Pool) bool {
	na, ea := a.normalized(os.Geteuid() == 0)
	nb, eb := b.normalized(os.Geteuid() == 0)
	if ea != nil || eb != nil {
		return false
	}
	return na.processKey() == nb.processKey()
}

// processKey is everything that requires a new php-fpm instance when it
// changes: the binary, the socket path and the rendered config (with a
// fixed instance directory).
func (p Pool) processKey() string {
	return p.Binary + "\x00" + p.SocketPath + "\x00" + renderConfig(p, instancePaths("/instance"), os.Geteuid() == 0)
}

// StopGrace is how long a graceful stop of this pool's instance waits for
// in-flight requests before it kills the process group:
// request_terminate_timeout + 5 s when set, DefaultStopGrace otherwise.
// It is also php-fpm's process_control_timeout, so php-fpm itself does
// not escalate to SIGTERM earlier.
func (p Pool) StopGrace() time.Duration {
	if p.RequestTerminateTimeout > 0 {
		return ceilSeconds(p.RequestTerminateTimeout) + 5*time.Second
	}
	return DefaultStopGrace
}

// Slug is the pool's php-fpm section name and the suffix of its instance
// directories: the name reduced to [A-Za-z0-9._-] (at most 48 bytes),
// with a hash of the full name appended when anything was changed.
func Slug(name string) string {
	var b strings.Builder
	changed := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			b.WriteByte(c)
		case c == '.' && i > 0:
			b.WriteByte(c)
		default:
			b.WriteByte('_')
			changed = true
		}
	}
	s := b.String()
	if len(s) > 48 {
		s, changed = s[:48], true
	}
	if s == "" || strings.EqualFold(s, "global") {
		changed = true
	}
	if changed {
		h := fnv.New32a()
		h.Write([]byte(name))
		s += "-" + strconv.FormatUint(uint64(h.Sum32()), 16)
	}
	return s
}

// normalized fills defaults and checks what php-fpm (or the socket layer)
// would reject. root says whether the master runs as root.
func (p Pool) normalized(root bool) (Pool, error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if p.Name == "" || strings.ContainsRune(p.Name, 0) {
		bad("pool name must be non-empty")
	}
	if !filepath.IsAbs(p.Binary) || filepath.Clean(p.Binary) != p.Binary {
		bad("php_fpm_binary %q must be an absolute, clean path", p.Binary)
	}
	switch {
	case !filepath.IsAbs(p.SocketPath) || filepath.Clean(p.SocketPath) != p.SocketPath:
		bad("socket path %q must be an absolute, clean path", p.SocketPath)
	case len(p.SocketPath) > maxSocketPath:
		bad("socket path %q is %d bytes; a unix socket path has at most %d", p.SocketPath, len(p.SocketPath), maxSocketPath)
	}
	if p.SocketMode == 0 {
		p.SocketMode = DefaultSocketMode
	}
	if p.SocketMode != 0o600 && p.SocketMode != 0o660 {
		bad("listen_mode %#o: must be 0600 or 0660", p.SocketMode)
	}
	if (p.ListenOwner == "") != (p.ListenGroup == "") {
		bad("listen_owner and listen_group go together")
	}
	if p.ListenOwner != "" {
		if _, err := lookupUID(p.ListenOwner); err != nil {
			bad("listen_owner: %v", err)
		}
		if _, err := lookupGID(p.ListenGroup); err != nil {
			bad("listen_group: %v", err)
		}
	}
	switch {
	case p.ListenBacklog == 0:
		p.ListenBacklog = DefaultListenBacklog
	case p.ListenBacklog < -1 || p.ListenBacklog > 65535:
		bad("listen_backlog %d: must be -1..65535", p.ListenBacklog)
	}
	if root {
		if p.User == "" {
			bad("user is required: php-fpm workers must not run as root")
		} else if !validAccount(p.User) {
			bad("user %q is not a valid user name", p.User)
		} else if uid, err := lookupUID(p.User); err != nil {
			bad("user: %v", err)
		} else if uid == 0 {
			bad("user %q is root: php-fpm workers must not run as root", p.User)
		}
		if p.Group != "" {
			if !validAccount(p.Group) {
				bad("group %q is not a valid group name", p.Group)
			} else if _, err := lookupGID(p.Group); err != nil {
				bad("group: %v", err)
			}
		}
	}
	if p.ProcessManager == "" {
		p.ProcessManager = DefaultProcessManager
	}
	if p.Workers == 0 {
		p.Workers = DefaultWorkers
	}
	if p.Workers < 1 || p.Workers > 256 {
		bad("workers %d: must be 1..256", p.Workers)
	}
	if p.MaxRequests < 0 || p.MaxRequests > 1_000_000 {
		bad("max_requests_per_worker %d: must be 0..1000000", p.MaxRequests)
	}
	switch p.ProcessManager {
	case PMStatic:
		p.StartServers, p.MinSpareServers, p.MaxSpareServers, p.MaxSpawnRate, p.ProcessIdleTimeout = 0, 0, 0, 0, 0
	case PMOndemand:
		p.StartServers, p.MinSpareServers, p.MaxSpareServers, p.MaxSpawnRate = 0, 0, 0, 0
		if p.ProcessIdleTimeout == 0 {
			p.ProcessIdleTimeout = DefaultProcessIdleTimeout
		}
	case PMDynamic:
		p.ProcessIdleTimeout = 0
		p.fillDynamic(bad)
	default:
		bad("process_manager %q: must be static, dynamic or ondemand", p.ProcessManager)
	}
	if p.ProcessIdleTimeout < 0 || p.RequestTerminateTimeout < 0 || p.RequestSlowlogTimeout < 0 {
		bad("timeouts must not be negative")
	}
	if p.RequestSlowlogTraceDepth == 0 {
		p.RequestSlowlogTraceDepth = DefaultSlowlogTraceDepth
	}
	if p.RequestSlowlogTraceDepth < 1 || p.RequestSlowlogTraceDepth > 512 {
		bad("request_slowlog_trace_depth %d: must be 1..512", p.RequestSlowlogTraceDepth)
	}
	for _, kv := range [][2]string{{"session_save_path", p.SessionSavePath}, {"upload_tmp_dir", p.UploadTmpDir}} {
		if kv[1] != "" && (!filepath.IsAbs(kv[1]) || !iniSafe(kv[1])) {
			bad("%s %q: must be an absolute path without quotes, backslashes, '$' or control characters", kv[0], kv[1])
		}
	}
	if len(errs) > 0 {
		return p, fmt.Errorf("php-fpm pool %q: %w", p.Name, errors.Join(errs...))
	}
	return p, nil
}

// fillDynamic applies pm = dynamic's defaults and php-fpm's rules.
func (p *Pool) fillDynamic(bad func(string, ...any)) {
	if p.MinSpareServers == 0 {
		p.MinSpareServers = 1
	}
	if p.MaxSpareServers == 0 {
		p.MaxSpareServers = max(p.MinSpareServers, (p.Workers+1)/2)
	}
	if p.StartServers == 0 {
		p.StartServers = p.MinSpareServers + (p.MaxSpareServers-p.MinSpareServers)/2
	}
	if p.MaxSpawnRate == 0 {
		p.MaxSpawnRate = DefaultMaxSpawnRate
	}
	switch {
	case p.MinSpareServers < 1 || p.MaxSpareServers < 1:
		bad("min_spare_servers and max_spare_servers must be positive")
	case p.MinSpareServers > p.Workers || p.MaxSpareServers > p.Workers:
		bad("min_spare_servers (%d) and max_spare_servers (%d) must not exceed workers (%d)", p.MinSpareServers, p.MaxSpareServers, p.Workers)
	case p.MaxSpareServers < p.MinSpareServers:
		bad("max_spare_servers (%d) must not be less than min_spare_servers (%d)", p.MaxSpareServers, p.MinSpareServers)
	case p.StartServers < p.MinSpareServers || p.StartServers > p.MaxSpareServers:
		bad("start_servers (%d) must be between min_spare_servers (%d) and max_spare_servers (%d)", p.StartServers, p.MinSpareServers, p.MaxSpareServers)
	}
	if p.MaxSpawnRate < 1 || p.MaxSpawnRate > 1024 {
		bad("max_spawn_rate %d: must be 1..1024", p.MaxSpawnRate)
	}
}

// validAccount accepts user and group names php-fpm and getpwnam handle
// (and numeric ids), nothing that could break the generated INI line.
func validAccount(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// iniSafe reports whether s can be written inside double quotes of a
// php-fpm INI value without escaping or ${} expansion.
func iniSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c == '$' {
			return false
		}
	}
	return true
}

// lookupUID resolves a user name or numeric uid.
func lookupUID(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return n, nil
	}
	u, err := user.Lookup(s)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(u.Uid)
}

// lookupGID resolves a group name or numeric gid.
func lookupGID(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return n, nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(g.Gid)
}

// ceilSeconds rounds d up to whole seconds (php-fpm's unit).
func ceilSeconds(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}
