// Package config loads, merges, validates and resolves fluxheim's TOML
// configuration. The shape, key names, defaults and bounds are Fluxheim's
// (see docs/config.md); fluxheim's own additions are marked "fluxheim
// addition" in their doc comments.
//
// The pipeline (Load): bounded read with path hygiene → strict decode of every
// file (unknown key = error with file:line:column) → merge of conf.d fragments
// → defaults → validation that collects every error, each naming file, line
// and key path → an immutable *Config. Readers never see a half-built config:
// a *Config returned by Load is not modified afterwards.
//
// Optional scalars are pointers so that "unset" can be told from "zero" for
// inheritance (route → vhost → global) and defaults; after Load every pointer
// the data plane reads has been filled with its effective value.
package config

// Config is a whole, validated fluxheim configuration.
type Config struct {
	// IncludeConfD loads visible *.toml files from the sibling conf.d/
	// directory after a single-file config. Default false.
	IncludeConfD bool `toml:"include_conf_d" json:"include_conf_d"`

	Server  Server   `toml:"server" json:"server"`
	Web     *Web     `toml:"web" json:"web,omitempty"`
	Proxy   *Proxy   `toml:"proxy" json:"proxy,omitempty"`
	Headers *Headers `toml:"headers" json:"headers,omitempty"`
	TLS     *TLS     `toml:"tls" json:"tls,omitempty"`
	Logging Logging  `toml:"logging" json:"logging"`
	Vhosts  []Vhost  `toml:"vhosts" json:"vhosts,omitempty"`

	// Sources lists the files the config was read from, in load order.
	Sources []string `toml:"-" json:"sources,omitempty"`
	// Demo is set only for the embedded default config: requests that match
	// no vhost get the built-in demo page.
	Demo bool `toml:"-" json:"demo,omitempty"`
	// Warnings are non-fatal findings (keys accepted with no effect, risky
	// settings). The server logs them at start; -t prints them.
	Warnings []string `toml:"-" json:"warnings,omitempty"`
}

// Server is [server].
type Server struct {
	// Listen lists cleartext HTTP listeners as ip:port. Default
	// ["127.0.0.1:8080"] when the key is absent; at most 64.
	Listen []string `toml:"listen" json:"listen"`
	// TLSListen lists HTTPS listeners; TLS is never inferred from the port.
	// Needs [tls] enabled = true and a fallback certificate. At most 64.
	TLSListen []string `toml:"tls_listen" json:"tls_listen,omitempty"`
	// DefaultVhost names the vhost that serves requests whose host matches
	// no vhost (non-strict host routing).
	DefaultVhost string `toml:"default_vhost" json:"default_vhost,omitempty"`
	// TrustedProxies lists IPs/CIDRs whose X-Forwarded-For is believed
	// (walked right to left, nginx real_ip_recursive). At most 512; nothing
	// broader than IPv4 /8 or IPv6 /29. Later conf.d fragments extend it.
	TrustedProxies []string `toml:"trusted_proxies" json:"trusted_proxies,omitempty"`
	// ProxyProtocol receives the HAProxy PROXY header. Only "off" (default)
	// is implemented.
	ProxyProtocol string `toml:"proxy_protocol" json:"proxy_protocol,omitempty"`
	// RegexEnabled must be true before any route may use path_regex.
	RegexEnabled bool `toml:"regex_enabled" json:"regex_enabled"`

	Limits      Limits      `toml:"limits" json:"limits"`
	Process     Process     `toml:"process" json:"process"`
	HostRouting HostRouting `toml:"host_routing" json:"host_routing"`
	// HTTPSRedirect sends cleartext requests to https (ACME HTTP-01 paths
	// and routes with https_redirect_exempt excepted).
	HTTPSRedirect *HTTPSRedirect `toml:"https_redirect" json:"https_redirect,omitempty"`
}

// Limits is [server.limits]: request bounds and downstream timeouts.
type Limits struct {
	// MaxRequestHeaderBytes bounds the request line plus headers (431).
	// Default 64KiB.
	MaxRequestHeaderBytes ByteSize `toml:"max_request_header_bytes" json:"max_request_header_bytes"`
	// MaxURIBytes bounds the request target (414). Default 8KiB.
	MaxURIBytes ByteSize `toml:"max_uri_bytes" json:"max_uri_bytes"`
	// MaxRequestHeaders bounds the number of header fields (431). Default 100.
	MaxRequestHeaders int `toml:"max_request_headers" json:"max_request_headers"`
	// MaxRequestBodyBytes bounds request bodies (413). Default 16MiB;
	// overridden per vhost, then per route.
	MaxRequestBodyBytes ByteSize `toml:"max_request_body_bytes" json:"max_request_body_bytes"`
	// RequestHeaderTimeoutSecs is the total time a client has to send the
	// request line and headers (slowloris guard). Default 20. Fluxheim
	// addition.
	RequestHeaderTimeoutSecs int `toml:"request_header_timeout_secs" json:"request_header_timeout_secs"`
	// KeepaliveTimeoutSecs closes idle keep-alive connections. Default 75
	// (nginx keepalive_timeout). Fluxheim addition.
	KeepaliveTimeoutSecs int `toml:"keepalive_timeout_secs" json:"keepalive_timeout_secs"`
}

// Process is [server.process].
type Process struct {
	// PidFile is written at start and removed at exit. Default
	// /run/fluxheim/fluxheim.pid; "" disables it.
	PidFile *string `toml:"pid_file" json:"pid_file"`
	// ErrorLog, when set, sends the error log to this file instead of
	// logging.target.
	ErrorLog string `toml:"error_log" json:"error_log,omitempty"`
	// GracePeriodSeconds delays draining after a stop signal (lets a load
	// balancer notice). Unset = no delay.
	GracePeriodSeconds int `toml:"grace_period_seconds" json:"grace_period_seconds,omitempty"`
	// GracefulShutdownTimeoutSeconds bounds a graceful stop; then the
	// remaining connections are closed. Default 30.
	GracefulShutdownTimeoutSeconds int `toml:"graceful_shutdown_timeout_seconds" json:"graceful_shutdown_timeout_seconds"`
	// UpstreamKeepalivePoolSize is the default idle upstream connection cap
	// per proxy upstream. Default 128; 1..16384.
	UpstreamKeepalivePoolSize int `toml:"upstream_keepalive_pool_size" json:"upstream_keepalive_pool_size"`

	// Workers is the number of worker processes: "auto" (default: one per
	// CPU the process may run on) or 1..1024. Fluxheim addition.
	Workers Workers `toml:"workers" json:"workers"`
	// User and Group run the workers unprivileged when the master runs as
	// root (nginx's user directive). Default: the master's own user.
	// Fluxheim addition.
	User  string `toml:"user" json:"user,omitempty"`
	Group string `toml:"group" json:"group,omitempty"`
	// Reuseport gives each worker its own SO_REUSEPORT socket per address
	// (the kernel spreads connections); false = one socket per address
	// shared by every worker. Default true. Fluxheim addition.
	Reuseport *bool `toml:"reuseport" json:"reuseport"`
	// WorkerShutdownTimeoutSecs bounds how long a draining worker (after a
	// reload or upgrade) may finish its requests before it is killed.
	// Default 30; 1..86400. Fluxheim addition.
	WorkerShutdownTimeoutSecs int `toml:"worker_shutdown_timeout_secs" json:"worker_shutdown_timeout_secs"`
	// ControlSock is the master's control socket (0600) that
	// fluxheim -s talks to. Default /run/fluxheim/fluxheim.ctl; "" disables
	// it (-s then falls back to the pid file and a signal). Fluxheim
	// addition.
	ControlSock *string `toml:"control_sock" json:"control_sock"`

	// Fluxheim runtime knobs with no meaning in fluxheim's process model.
	// Accepted so Fluxheim configs load; each one set produces a warning.
	Daemon                bool   `toml:"daemon" json:"-"`
	UpgradeSock           string `toml:"upgrade_sock" json:"-"`
	Threads               int    `toml:"threads" json:"-"`
	ListenerTasksPerFD    int    `toml:"listener_tasks_per_fd" json:"-"`
	WorkStealing          *bool  `toml:"work_stealing" json:"-"`
	CertificateReloadSock string `toml:"certificate_reload_sock" json:"-"`
}

// HostRouting is [server.host_routing].
type HostRouting struct {
	// Strict: missing or invalid Host → 400, unknown host → 421. Default
	// false: such requests go to default_vhost (or the global [web]/[proxy]).
	Strict bool `toml:"strict" json:"strict"`
}

// Web is [web], [vhosts.web] and [vhosts.routes.web]: static files. A vhost
// or route block inherits every key it leaves unset from the global [web].
type Web struct {
	// Root is the directory served; must exist; no symlinked component.
	Root string `toml:"root" json:"root"`
	// IndexFiles are tried for directory requests. Default ["index.html"];
	// at most 32.
	IndexFiles []string `toml:"index_files" json:"index_files"`
	// DenyDotfiles answers 404 for any path segment starting with ".".
	// Default true.
	DenyDotfiles *bool `toml:"deny_dotfiles" json:"deny_dotfiles"`
	// CacheControl is sent on static responses. Default "public, max-age=60";
	// "" sends none.
	CacheControl *string `toml:"cache_control" json:"cache_control"`
	// Expires is an optional HTTP-date sent as Expires.
	Expires string `toml:"expires" json:"expires,omitempty"`
	// DirectoryListing is opt-in.
	DirectoryListing *DirectoryListing `toml:"directory_listing" json:"directory_listing,omitempty"`
	// Precompressed serves file.br / file.zst / file.gz sidecars to clients
	// that accept them. Default true. Fluxheim addition.
	Precompressed *bool `toml:"precompressed" json:"precompressed"`
}

// DirectoryListing is [web.directory_listing].
type DirectoryListing struct {
	Enabled   bool `toml:"enabled" json:"enabled"`
	ExactSize bool `toml:"exact_size" json:"exact_size"`
	LocalTime bool `toml:"local_time" json:"local_time"`
}

// Proxy is [proxy], [vhosts.proxy] and [vhosts.routes.proxy]. A vhost block
// inherits unset keys from the global [proxy]; a route block from its vhost's
// block, then the global one.
type Proxy struct {
	// Upstream is the legacy single target (host:port).
	Upstream string `toml:"upstream" json:"upstream,omitempty"`
	// Upstreams is the preferred form; one entry = a single target (two or
	// more need the load-balancer module, not implemented yet).
	Upstreams []string `toml:"upstreams" json:"upstreams,omitempty"`
	// Timeouts in seconds, 1..86400. Defaults: connect 5, read 60, send 30,
	// upstream idle 120, downstream read 60.
	ConnectTimeoutSecs        *int `toml:"connect_timeout_secs" json:"connect_timeout_secs"`
	ReadTimeoutSecs           *int `toml:"read_timeout_secs" json:"read_timeout_secs"`
	SendTimeoutSecs           *int `toml:"send_timeout_secs" json:"send_timeout_secs"`
	UpstreamIdleTimeoutSecs   *int `toml:"upstream_idle_timeout_secs" json:"upstream_idle_timeout_secs"`
	DownstreamReadTimeoutSecs *int `toml:"downstream_read_timeout_secs" json:"downstream_read_timeout_secs"`
	// Websocket allows HTTP/1.1 WebSocket upgrades. Default false: Upgrade
	// and Connection upgrade tokens are stripped.
	Websocket *bool `toml:"websocket" json:"websocket"`
	// UpstreamKeepalivePoolSize caps idle upstream connections. Default
	// [server.process] upstream_keepalive_pool_size (128). Fluxheim addition
	// at this level.
	UpstreamKeepalivePoolSize *int `toml:"upstream_keepalive_pool_size" json:"upstream_keepalive_pool_size"`

	// Upstream TLS (see upstream_tls.go). UpstreamTLS (default false)
	// speaks TLS to the origin; UpstreamSNI defaults to the upstream's host
	// name and is required for an IP-literal upstream while verification
	// is on; UpstreamVerifyCert and UpstreamVerifyHostname default to true
	// (turning the first off requires turning the second off);
	// UpstreamAlternativeCN is one more acceptable name (no wildcards);
	// UpstreamCAPath replaces the system roots; the client pair is origin
	// mTLS (both or neither). UpstreamHTTPVersion: http1 (default), http2
	// (ALPN h2, or h2c prior knowledge in cleartext), http1-and-http2.
	UpstreamTLS            *bool  `toml:"upstream_tls" json:"upstream_tls,omitempty"`
	UpstreamSNI            string `toml:"upstream_sni" json:"upstream_sni,omitempty"`
	UpstreamVerifyCert     *bool  `toml:"upstream_verify_cert" json:"upstream_verify_cert,omitempty"`
	UpstreamVerifyHostname *bool  `toml:"upstream_verify_hostname" json:"upstream_verify_hostname,omitempty"`
	UpstreamAlternativeCN  string `toml:"upstream_alternative_cn" json:"upstream_alternative_cn,omitempty"`
	UpstreamCAPath         string `toml:"upstream_ca_path" json:"upstream_ca_path,omitempty"`
	UpstreamClientCertPath string `toml:"upstream_client_cert_path" json:"upstream_client_cert_path,omitempty"`
	UpstreamClientKeyPath  string `toml:"upstream_client_key_path" json:"upstream_client_key_path,omitempty"`
	UpstreamHTTPVersion    string `toml:"upstream_http_version" json:"upstream_http_version,omitempty"`

	// Bytes of the files above, read by the master when it loads the
	// config (workers never read key files); not TOML keys.
	UpstreamCAPEM         []byte `toml:"-" json:"upstream_ca_pem,omitempty"`
	UpstreamClientCertPEM []byte `toml:"-" json:"upstream_client_cert_pem,omitempty"`
	UpstreamClientKeyPEM  []byte `toml:"-" json:"upstream_client_key_pem,omitempty"`
}

// Target returns the single upstream authority of p ("" if none).
func (p *Proxy) Target() string {
	if p == nil {
		return ""
	}
	if p.Upstream != "" {
		return p.Upstream
	}
	if len(p.Upstreams) == 1 {
		return p.Upstreams[0]
	}
	return ""
}

// Headers is [headers], [vhosts.headers] and [vhosts.routes.headers]. Vhost
// and route policies overlay the global one key by key.
type Headers struct {
	Request  *RequestHeaders  `toml:"request" json:"request,omitempty"`
	Response *ResponseHeaders `toml:"response" json:"response,omitempty"`
}

// RequestHeaders is [headers.request]: what the proxy sends upstream.
type RequestHeaders struct {
	Enabled                     *bool               `toml:"enabled" json:"enabled,omitempty"`
	StripInboundClientIPHeaders *bool               `toml:"strip_inbound_client_ip_headers" json:"strip_inbound_client_ip_headers,omitempty"`
	XForwardedFor               string              `toml:"x_forwarded_for" json:"x_forwarded_for,omitempty"`
	XRealIP                     *bool               `toml:"x_real_ip" json:"x_real_ip,omitempty"`
	XForwardedHost              *bool               `toml:"x_forwarded_host" json:"x_forwarded_host,omitempty"`
	XForwardedProto             *bool               `toml:"x_forwarded_proto" json:"x_forwarded_proto,omitempty"`
	Forwarded                   *bool               `toml:"forwarded" json:"forwarded,omitempty"`
	Remove                      []string            `toml:"remove" json:"remove,omitempty"`
	Unset                       []string            `toml:"unset" json:"unset,omitempty"`
	Add                         map[string]string   `toml:"add" json:"add,omitempty"`
	Set                         map[string]string   `toml:"set" json:"set,omitempty"`
	Append                      map[string][]string `toml:"append" json:"append,omitempty"`
}

// ResponseHeaders is [headers.response]: applied to every response.
type ResponseHeaders struct {
	Enabled                 *bool               `toml:"enabled" json:"enabled,omitempty"`
	XContentTypeOptions     *string             `toml:"x_content_type_options" json:"x_content_type_options,omitempty"`
	XFrameOptions           *string             `toml:"x_frame_options" json:"x_frame_options,omitempty"`
	ReferrerPolicy          *string             `toml:"referrer_policy" json:"referrer_policy,omitempty"`
	ContentSecurityPolicy   *string             `toml:"content_security_policy" json:"content_security_policy,omitempty"`
	StrictTransportSecurity *string             `toml:"strict_transport_security" json:"strict_transport_security,omitempty"`
	HSTS                    *HSTS               `toml:"hsts" json:"hsts,omitempty"`
	Remove                  []string            `toml:"remove" json:"remove,omitempty"`
	Unset                   []string            `toml:"unset" json:"unset,omitempty"`
	Add                     map[string]string   `toml:"add" json:"add,omitempty"`
	Set                     map[string]string   `toml:"set" json:"set,omitempty"`
	Append                  map[string][]string `toml:"append" json:"append,omitempty"`
}

// Logging is [logging].
type Logging struct {
	// Level: error, warn, info (default), debug, trace.
	Level string `toml:"level" json:"level"`
	// Format: json (default) or text.
	Format string `toml:"format" json:"format"`
	// Target: stderr (default) or stdout; [logging.file] overrides.
	Target string    `toml:"target" json:"target"`
	File   LogFile   `toml:"file" json:"file"`
	Access AccessLog `toml:"access" json:"access"`
}

// LogFile is [logging.file].
type LogFile struct {
	Enabled bool   `toml:"enabled" json:"enabled"`
	Path    string `toml:"path" json:"path,omitempty"`
	// Append (default true) appends; false truncates at open.
	Append *bool `toml:"append" json:"append"`
}

// AccessLog is [logging.access]: one JSON object per request.
type AccessLog struct {
	// Enabled defaults to true.
	Enabled *bool `toml:"enabled" json:"enabled"`
	// Path writes the access log to this file (fluxheim addition); default:
	// the error log's target.
	Path string `toml:"path" json:"path,omitempty"`
	// Include* (default true): false emits the field empty.
	IncludeHost       *bool `toml:"include_host" json:"include_host"`
	IncludePath       *bool `toml:"include_path" json:"include_path"`
	IncludeClientIP   *bool `toml:"include_client_ip" json:"include_client_ip"`
	IncludeCachePhase *bool `toml:"include_cache_phase" json:"include_cache_phase"`
	IncludeRoute      *bool `toml:"include_route" json:"include_route"`
	IncludeUpstream   *bool `toml:"include_upstream" json:"include_upstream"`
	// RequestID (default true) assigns each request an id, sent upstream and
	// back to the client in RequestIDHeader (default x-request-id).
	RequestID       *bool  `toml:"request_id" json:"request_id"`
	RequestIDHeader string `toml:"request_id_header" json:"request_id_header"`
}

// Vhost is one [[vhosts]] entry.
type Vhost struct {
	// Name labels the vhost in logs; ≤ 128 bytes; unique.
	Name string `toml:"name" json:"name"`
	// Hosts lists host names (lower-cased; one left-most wildcard label
	// allowed, "*.example.test"); ≤ 64; no duplicates across vhosts.
	Hosts []string `toml:"hosts" json:"hosts"`
	// MaxRequestBodyBytes overrides [server.limits].
	MaxRequestBodyBytes *ByteSize `toml:"max_request_body_bytes" json:"max_request_body_bytes,omitempty"`

	Web      *Web      `toml:"web" json:"web,omitempty"`
	Proxy    *Proxy    `toml:"proxy" json:"proxy,omitempty"`
	Redirect *Redirect `toml:"redirect" json:"redirect,omitempty"`
	Headers  *Headers  `toml:"headers" json:"headers,omitempty"`
	// TLS is the vhost's certificate, selected by SNI from its hosts.
	TLS *VhostTLS `toml:"tls" json:"tls,omitempty"`
	// PHP serves PHP through php-fpm (build feature php-fpm); see php.go.
	PHP    *PHP    `toml:"php" json:"php,omitempty"`
	Routes []Route `toml:"routes" json:"routes,omitempty"`
}

// Redirect is [vhosts.redirect] and [vhosts.routes.redirect].
type Redirect struct {
	// Enabled (vhost level only; default true when the table is present).
	Enabled *bool `toml:"enabled" json:"enabled,omitempty"`
	// To is an absolute http(s) URL template with {uri}, {path}, {query},
	// {host}.
	To string `toml:"to" json:"to"`
	// Status is 301, 302, 303, 307 or 308 (default 308).
	Status int `toml:"status" json:"status"`
}

// Route is one [[vhosts.routes]] entry: exactly one matcher, one action.
type Route struct {
	Name string `toml:"name" json:"name,omitempty"`

	PathExact  string `toml:"path_exact" json:"path_exact,omitempty"`
	PathPrefix string `toml:"path_prefix" json:"path_prefix,omitempty"`
	PathRegex  string `toml:"path_regex" json:"path_regex,omitempty"`
	Fallback   bool   `toml:"fallback" json:"fallback,omitempty"`

	// Methods restricts the route (≤ 16 uppercase tokens); others get 405.
	Methods []string `toml:"methods" json:"methods,omitempty"`
	// StripPrefix removes the route's path_prefix before the action sees
	// the path (true), or removes the given prefix (a string).
	StripPrefix StripPrefix `toml:"strip_prefix" json:"strip_prefix,omitempty"`
	// RewritePrefix is prepended after strip_prefix.
	RewritePrefix string `toml:"rewrite_prefix" json:"rewrite_prefix,omitempty"`
	// RewriteTemplate (regex routes) builds the new path from captures.
	RewriteTemplate string `toml:"rewrite_template" json:"rewrite_template,omitempty"`

	MaxRequestBodyBytes *ByteSize `toml:"max_request_body_bytes" json:"max_request_body_bytes,omitempty"`
	// HTTPSRedirectExempt exempts the route from [server.https_redirect].
	HTTPSRedirectExempt bool `toml:"https_redirect_exempt" json:"https_redirect_exempt,omitempty"`

	Redirect *Redirect `toml:"redirect" json:"redirect,omitempty"`
	Proxy    *Proxy    `toml:"proxy" json:"proxy,omitempty"`
	Web      *Web      `toml:"web" json:"web,omitempty"`
	Headers  *Headers  `toml:"headers" json:"headers,omitempty"`
	PHP      *PHP      `toml:"php" json:"php,omitempty"`
}
