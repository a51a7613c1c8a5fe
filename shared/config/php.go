package config

// PHP is [vhosts.php] and [vhosts.routes.php]: PHP through php-fpm
// (Fluxheim's php-fpm build feature, spec §2.14). A route block does not
// inherit from its vhost's block: each block is complete on its own.
//
// Request flow (worker/php): existing non-PHP files are declined to the
// static handler; a path naming an existing script with an allowed
// extension runs it; missing paths go to the front controller (try_files);
// PHP source is never served as a file.
type PHP struct {
	// Enabled defaults to true when the table is present; false removes the
	// block (as if it were absent).
	Enabled *bool `toml:"enabled" json:"enabled,omitempty"`
	// Runtime must be "php-fpm" (the default).
	Runtime string `toml:"runtime" json:"runtime"`
	// Preset "wordpress" sets try_files = "front-controller" (unless set)
	// and adds "/wp-content/uploads/" and "/files/" to deny_path_prefixes.
	Preset string `toml:"preset" json:"preset,omitempty"`
	// Root is the script root on this machine: scripts must exist below it.
	// Required; relative paths resolve against the declaring file.
	Root string `toml:"root" json:"root"`
	// ResolveRootSymlink allows the root's final component (only) to be a
	// symlink, resolved once when the worker starts. Default false.
	ResolveRootSymlink bool `toml:"resolve_root_symlink" json:"resolve_root_symlink"`
	// FPMRoot is the root as php-fpm sees it (php-fpm in another container):
	// sent in DOCUMENT_ROOT, SCRIPT_FILENAME and PATH_TRANSLATED instead of
	// Root. Absolute; default: Root.
	FPMRoot string `toml:"fpm_root" json:"fpm_root,omitempty"`
	// Index is the directory index and front controller script: a plain file
	// name with an allowed extension. Default "index.php".
	Index string `toml:"index" json:"index"`
	// AllowedExtensions lists the extensions (without dot, compared
	// case-insensitively) a script may have. Default ["php"]; 1..16, no
	// duplicates.
	AllowedExtensions []string `toml:"allowed_extensions" json:"allowed_extensions"`
	// DenyPathPrefixes are absolute URI path prefixes below which no script
	// runs (403); static files there are still served. At most 128.
	DenyPathPrefixes []string `toml:"deny_path_prefixes" json:"deny_path_prefixes"`
	// TryFiles: "front-controller" (default; missing paths run Index at the
	// root), "wordpress" (an alias of front-controller) or "strict"
	// (missing paths are 404).
	TryFiles string `toml:"try_files" json:"try_files"`
	// PathInfo: "disabled" (default) or "split" (alias "strict"):
	// /index.php/a/b runs /index.php with PATH_INFO=/a/b.
	PathInfo string `toml:"path_info" json:"path_info"`
	// PassRequestHeaders sends request headers as HTTP_* variables.
	// Default true.
	PassRequestHeaders *bool `toml:"pass_request_headers" json:"pass_request_headers"`
	// PassRequestBody sends the request body. Default true; false drains it
	// and sends CONTENT_LENGTH=0.
	PassRequestBody *bool `toml:"pass_request_body" json:"pass_request_body"`
	// ServerPort is sent as SERVER_PORT. Default: the Host header's port,
	// else 443 for https and 80 for http. 1..65535.
	ServerPort *int `toml:"server_port" json:"server_port,omitempty"`
	// RequestTimeoutSecs is the absolute deadline of the php-fpm exchange
	// (with fpm read/write timeouts, the shortest wins). Default 30;
	// 1..86400.
	RequestTimeoutSecs *int `toml:"request_timeout_secs" json:"request_timeout_secs"`
	// MaxInFlight caps concurrent PHP requests of this block in one worker
	// process; more get 503 before the body is read. Default 8; 1..100000.
	MaxInFlight *int `toml:"max_in_flight" json:"max_in_flight"`
	// MaxRequestBodyBytes bounds the body sent to PHP (413), on top of the
	// route/vhost/server limit. Unset = those limits only.
	MaxRequestBodyBytes *ByteSize `toml:"max_request_body_bytes" json:"max_request_body_bytes,omitempty"`
	// RequestBodySpoolThresholdBytes and RequestBodySpoolDir (both or
	// neither) buffer request bodies before php-fpm sees them: in memory up
	// to the threshold, then in an unlinked file in the directory. The
	// threshold must be below the body limit. Without them a body of known
	// length is streamed and a chunked one is buffered in memory.
	RequestBodySpoolThresholdBytes *ByteSize `toml:"request_body_spool_threshold_bytes" json:"request_body_spool_threshold_bytes,omitempty"`
	RequestBodySpoolDir            string    `toml:"request_body_spool_dir" json:"request_body_spool_dir,omitempty"`
	// MaxResponseBytes bounds the response body (responses are buffered
	// whole; larger ones are 502). Default and cap 64MiB.
	MaxResponseBytes *ByteSize `toml:"max_response_bytes" json:"max_response_bytes"`
	// MaxResponseHeaderBytes bounds the response header section (502).
	// Default and cap 64KiB.
	MaxResponseHeaderBytes *ByteSize `toml:"max_response_header_bytes" json:"max_response_header_bytes"`
	// StderrLog logs what scripts write to stderr (at most StderrMaxBytes
	// per request) at StderrLogLevel (error, warn, info, debug). Defaults
	// true, "warn", 2KiB (1B..64KiB).
	StderrLog      *bool     `toml:"stderr_log" json:"stderr_log"`
	StderrLogLevel string    `toml:"stderr_log_level" json:"stderr_log_level"`
	StderrMaxBytes *ByteSize `toml:"stderr_max_bytes" json:"stderr_max_bytes"`
	// StderrFailurePatterns: a response whose stderr contains one of these
	// byte strings is invalid (502). At most 32, each 1..512 bytes.
	StderrFailurePatterns []string `toml:"stderr_failure_patterns" json:"stderr_failure_patterns,omitempty"`
	// HideResponseHeaders are removed from PHP responses. At most 64.
	HideResponseHeaders []string `toml:"hide_response_headers" json:"hide_response_headers,omitempty"`
	// IgnoreOriginCacheHeaders drops Cache-Control, Expires and Pragma set
	// by PHP. Default false.
	IgnoreOriginCacheHeaders bool `toml:"ignore_origin_cache_headers" json:"ignore_origin_cache_headers"`
	// InterceptErrorStatuses: PHP responses with these statuses are replaced
	// by the matching error page (or fluxheim's own error response).
	// 400..599, no duplicates, at most 200.
	InterceptErrorStatuses []int `toml:"intercept_error_statuses" json:"intercept_error_statuses,omitempty"`
	// ErrorPages are [[vhosts.php.error_pages]]: at most 64, one per status.
	ErrorPages []PHPErrorPage `toml:"error_pages" json:"error_pages,omitempty"`
	// Params are [vhosts.php.params]: extra FastCGI parameters, at most 128
	// (name ≤ 128 bytes, value ≤ 16KiB). They override fluxheim's CGI
	// variables except SCRIPT_FILENAME, CONTENT_LENGTH, HTTPS, PHP_VALUE,
	// PHP_ADMIN_VALUE, HTTP_PROXY and every HTTP_* name, which are refused.
	Params map[string]string `toml:"params" json:"params,omitempty"`
	// FPM is [vhosts.php.fpm]: where php-fpm listens, or the managed pool.
	FPM PHPFPM `toml:"fpm" json:"fpm"`
}

// PHPErrorPage is one [[vhosts.php.error_pages]] entry: the page served
// (with Status) when PHP answers an intercepted status, or when the PHP
// handler itself fails with Status (502, 503, 504, 404, ...).
type PHPErrorPage struct {
	// Status is 400..599.
	Status int `toml:"status" json:"status"`
	// Path is the page's URL path below Web.Root (not routable by itself).
	Path string `toml:"path" json:"path"`
	// Web is [vhosts.php.error_pages.web]: root (required) and the other
	// static keys, with the static defaults.
	Web *Web `toml:"web" json:"web,omitempty"`
}

// PHPFPM is [vhosts.php.fpm]. External mode (the default) names where
// php-fpm listens: exactly one of Socket, TCP and TCPUpstreams. Managed mode
// has the master run php-fpm with a generated pool listening on
// ManagedSocketPath; it must not set Socket, TCP or TCPUpstreams.
type PHPFPM struct {
	// Mode is "external" (default) or "managed".
	Mode string `toml:"mode" json:"mode"`

	// Socket is an absolute unix socket path.
	Socket string `toml:"socket" json:"socket,omitempty"`
	// TCP is one host:port.
	TCP string `toml:"tcp" json:"tcp,omitempty"`
	// TCPUpstreams are host:port entries (≤ 64) used round robin; a failed
	// connect of a method in RetryMethods fails over to the next one.
	TCPUpstreams []string `toml:"tcp_upstreams" json:"tcp_upstreams,omitempty"`
	// AllowPrivateTCPUpstreams must be true for loopback, private and
	// link-local addresses (literal, or resolved from a name at connect).
	AllowPrivateTCPUpstreams bool `toml:"allow_private_tcp_upstreams" json:"allow_private_tcp_upstreams"`

	// Timeouts in seconds, 1..86400, unset by default. Connect is bounded
	// by the request deadline; the shortest of read, write and the block's
	// request_timeout_secs is the absolute deadline of the exchange.
	ConnectTimeoutSecs *int `toml:"connect_timeout_secs" json:"connect_timeout_secs,omitempty"`
	ReadTimeoutSecs    *int `toml:"read_timeout_secs" json:"read_timeout_secs,omitempty"`
	WriteTimeoutSecs   *int `toml:"write_timeout_secs" json:"write_timeout_secs,omitempty"`

	// Keepalive reuses connections (FCGI_KEEP_CONN). Default false: one
	// connection per request. Each open connection pins a php-fpm child, so
	// a worker process never opens more than PoolMaxIdle connections to one
	// address; keep PoolMaxIdle × workers ≤ php-fpm's children.
	Keepalive bool `toml:"keepalive" json:"keepalive"`
	// PoolMaxIdle (default 8; 1..1024) and IdleTimeoutSecs (default 60;
	// 1..86400) shape the keep-alive pool.
	PoolMaxIdle     *int `toml:"pool_max_idle" json:"pool_max_idle"`
	IdleTimeoutSecs *int `toml:"idle_timeout_secs" json:"idle_timeout_secs"`

	// MaxRetries (default 0; 0..16) retries a request whose method is in
	// RetryMethods after a connect failure or timeout before any byte
	// reached php-fpm, after an invalid response when RetryInvalidResponse,
	// or after a status in RetryStatuses (500..599). Nothing has reached the
	// client at that point: responses are buffered.
	MaxRetries int `toml:"max_retries" json:"max_retries"`
	// RetryTimeoutSecs bounds the time spent on retries (1..86400).
	RetryTimeoutSecs *int `toml:"retry_timeout_secs" json:"retry_timeout_secs,omitempty"`
	// RetryMethods default ["GET", "HEAD", "OPTIONS"]; only GET, HEAD,
	// OPTIONS and TRACE are allowed.
	RetryMethods         []string `toml:"retry_methods" json:"retry_methods"`
	RetryInvalidResponse bool     `toml:"retry_invalid_response" json:"retry_invalid_response"`
	RetryStatuses        []int    `toml:"retry_statuses" json:"retry_statuses,omitempty"`

	// Managed mode only (refused in external mode); the master generates
	// the pool config from these keys.

	// PHPFPMBinary is the php-fpm executable: absolute, a regular file owned
	// by root (or the service user) with no group/world-writable ancestor.
	PHPFPMBinary string `toml:"php_fpm_binary" json:"php_fpm_binary,omitempty"`
	// SocketDir holds the pool sockets: absolute; see ManagedSocketPath.
	SocketDir string `toml:"socket_dir" json:"socket_dir,omitempty"`
	// Workers is the pool size (pm.max_children). Default 4; 1..256.
	Workers *int `toml:"workers" json:"workers,omitempty"`
	// MaxRequestsPerWorker is pm.max_requests. Default 1000; 0..1000000.
	MaxRequestsPerWorker *int `toml:"max_requests_per_worker" json:"max_requests_per_worker,omitempty"`
	// ProcessManager is "static" (default), "dynamic" or "ondemand".
	ProcessManager string `toml:"process_manager" json:"process_manager,omitempty"`
	// ListenBacklog is listen.backlog (-1..65535).
	ListenBacklog *int `toml:"listen_backlog" json:"listen_backlog,omitempty"`
	// ListenOwner and ListenGroup (together) own the socket; ListenMode is
	// "0600" (default) or "0660".
	ListenOwner string `toml:"listen_owner" json:"listen_owner,omitempty"`
	ListenGroup string `toml:"listen_group" json:"listen_group,omitempty"`
	ListenMode  string `toml:"listen_mode" json:"listen_mode,omitempty"`
	// Dynamic process manager: pm.start_servers, pm.min_spare_servers,
	// pm.max_spare_servers (each 1..workers), pm.max_spawn_rate (1..1024).
	StartServers    *int `toml:"start_servers" json:"start_servers,omitempty"`
	MinSpareServers *int `toml:"min_spare_servers" json:"min_spare_servers,omitempty"`
	MaxSpareServers *int `toml:"max_spare_servers" json:"max_spare_servers,omitempty"`
	MaxSpawnRate    *int `toml:"max_spawn_rate" json:"max_spawn_rate,omitempty"`
	// ProcessIdleTimeoutSecs is pm.process_idle_timeout (ondemand only).
	ProcessIdleTimeoutSecs *int `toml:"process_idle_timeout_secs" json:"process_idle_timeout_secs,omitempty"`
	// Request limits of the pool (seconds 1..86400; trace depth 1..512,
	// default 20).
	RequestTerminateTimeoutSecs          *int  `toml:"request_terminate_timeout_secs" json:"request_terminate_timeout_secs,omitempty"`
	RequestTerminateTimeoutTrackFinished *bool `toml:"request_terminate_timeout_track_finished" json:"request_terminate_timeout_track_finished,omitempty"`
	RequestSlowlogTimeoutSecs            *int  `toml:"request_slowlog_timeout_secs" json:"request_slowlog_timeout_secs,omitempty"`
	RequestSlowlogTraceDepth             *int  `toml:"request_slowlog_trace_depth" json:"request_slowlog_trace_depth,omitempty"`
	// ClearEnv (default true), CatchWorkersOutput (default true) and
	// DecorateWorkersOutput (default false) are the pool settings of the
	// same names.
	ClearEnv              *bool `toml:"clear_env" json:"clear_env,omitempty"`
	CatchWorkersOutput    *bool `toml:"catch_workers_output" json:"catch_workers_output,omitempty"`
	DecorateWorkersOutput *bool `toml:"decorate_workers_output" json:"decorate_workers_output,omitempty"`
	// SessionSavePath and UploadTmpDir (absolute) become php_admin_value
	// session.save_path and upload_tmp_dir.
	SessionSavePath string `toml:"session_save_path" json:"session_save_path,omitempty"`
	UploadTmpDir    string `toml:"upload_tmp_dir" json:"upload_tmp_dir,omitempty"`
	// User and Group (together) run the pool's children; required when the
	// master runs as root.
	User  string `toml:"user" json:"user,omitempty"`
	Group string `toml:"group" json:"group,omitempty"`
}

// IsManaged reports whether the master runs this block's php-fpm.
func (f *PHPFPM) IsManaged() bool { return f.Mode == PHPModeManaged }
