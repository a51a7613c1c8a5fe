package config

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"

	"github.com/fluxheim/fluxheim/shared/features"
	"github.com/fluxheim/fluxheim/shared/hostname"
	"github.com/fluxheim/fluxheim/shared/netutil"
	"github.com/fluxheim/fluxheim/shared/rewrite"
	"github.com/fluxheim/fluxheim/shared/tmpl"
)

// Fluxheim's caps.
const (
	maxListeners      = 64
	maxVhosts         = 1024
	maxHostsPerVhost  = 64
	maxRoutesPerVhost = 256
	maxNameBytes      = 128
	maxRegexBytes     = 4096
	maxRegexInsts     = 1 << 16 // stands in for Fluxheim's 1 MiB compiled-program cap
	maxRegexCaptures  = 15      // 16 slots including the whole match
	maxMethods        = 16
	maxIndexFiles     = 32
	maxUpstreams      = 64
	maxHeaderNames    = 128
	maxAppendValues   = 32
	maxSecs           = 86400
	maxPoolSize       = 16384
)

// validate checks an effective config and appends every problem to errs.
func validate(c *Config, errs *errList) {
	validateServer(c, errs)
	validateTLS(c, errs)
	if c.Web != nil {
		validateWeb(c.Web, "web", errs)
	}
	if c.Proxy != nil {
		validateProxy(c.Proxy, "proxy", errs)
	}
	validateLogging(&c.Logging, errs)
	validateVhosts(c, errs)
}

func validateServer(c *Config, errs *errList) {
	s := &c.Server
	seen := map[netip.AddrPort]string{}
	checkAddrs := func(key string, addrs []string) {
		if len(addrs) > maxListeners {
			errs.add(key, "%d addresses exceed the limit of %d", len(addrs), maxListeners)
		}
		for i, a := range addrs {
			k := key + "[" + strconv.Itoa(i) + "]"
			ap, err := ParseListenAddr(a)
			if err != nil {
				errs.add(k, "%v", err)
				continue
			}
			if prev, dup := seen[ap]; dup {
				errs.add(k, "address %s is already listed in %s", a, prev)
			}
			seen[ap] = k
		}
	}
	checkAddrs("server.listen", s.Listen)
	checkAddrs("server.tls_listen", s.TLSListen)
	if r := s.HTTPSRedirect; r != nil && r.Enabled {
		if len(s.TLSListen) == 0 {
			errs.add("server.https_redirect.enabled", "needs at least one server.tls_listen address")
		}
		switch r.Status {
		case 301, 302, 307, 308:
		default:
			errs.add("server.https_redirect.status", "want 301, 302, 307 or 308, got %d", r.Status)
		}
		if r.TargetPort < 0 || r.TargetPort > 65535 {
			errs.add("server.https_redirect.target_port", "must be within 1..65535")
		}
	}
	if len(s.Listen)+len(s.TLSListen) == 0 {
		errs.add("server.listen", "no listener: listen and tls_listen are both empty")
	}
	if s.DefaultVhost != "" && vhostIndex(c, s.DefaultVhost) < 0 {
		errs.add("server.default_vhost", "names no [[vhosts]] entry %q", s.DefaultVhost)
	}
	if _, err := netutil.ParseTrustedProxies(s.TrustedProxies); err != nil {
		errs.add("server.trusted_proxies", "%s", strings.TrimPrefix(err.Error(), "trusted_proxies: "))
	}
	if s.ProxyProtocol != "off" {
		if s.ProxyProtocol == "v1" || s.ProxyProtocol == "v2" {
			errs.add("server.proxy_protocol", "PROXY protocol receive is not implemented yet in fluxheim")
		} else {
			errs.add("server.proxy_protocol", "want off, v1 or v2, got %q", s.ProxyProtocol)
		}
	}
	l := &s.Limits
	positive := func(key string, v int64) {
		if v <= 0 {
			errs.add(key, "must be greater than 0")
		}
	}
	positive("server.limits.max_request_header_bytes", int64(l.MaxRequestHeaderBytes))
	positive("server.limits.max_uri_bytes", int64(l.MaxURIBytes))
	positive("server.limits.max_request_headers", int64(l.MaxRequestHeaders))
	positive("server.limits.max_request_body_bytes", int64(l.MaxRequestBodyBytes))
	if l.MaxURIBytes > l.MaxRequestHeaderBytes {
		errs.add("server.limits.max_uri_bytes", "%s exceeds max_request_header_bytes (%s)", l.MaxURIBytes, l.MaxRequestHeaderBytes)
	}
	secs(errs, "server.limits.request_header_timeout_secs", l.RequestHeaderTimeoutSecs)
	secs(errs, "server.limits.keepalive_timeout_secs", l.KeepaliveTimeoutSecs)

	p := &s.Process
	if *p.PidFile != "" {
		checkProcessPath(errs, "server.process.pid_file", *p.PidFile)
	}
	if p.ErrorLog != "" {
		checkProcessPath(errs, "server.process.error_log", p.ErrorLog)
	}
	secs(errs, "server.process.graceful_shutdown_timeout_seconds", p.GracefulShutdownTimeoutSeconds)
	if p.GracePeriodSeconds < 0 || p.GracePeriodSeconds > maxSecs {
		errs.add("server.process.grace_period_seconds", "must be within 0..%d", maxSecs)
	}
	if p.UpstreamKeepalivePoolSize < 1 || p.UpstreamKeepalivePoolSize > maxPoolSize {
		errs.add("server.process.upstream_keepalive_pool_size", "must be within 1..%d", maxPoolSize)
	}
	if *p.ControlSock != "" {
		checkProcessPath(errs, "server.process.control_sock", *p.ControlSock)
	}
	secs(errs, "server.process.worker_shutdown_timeout_secs", p.WorkerShutdownTimeoutSecs)
	if p.Group != "" && p.User == "" {
		errs.add("server.process.group", "needs user")
	}
	if p.Daemon {
		errs.add("server.process.daemon", "fluxheim does not daemonise itself; run it under systemd (systemd/fluxheim.service) or a supervisor")
	}
	warnNoEffect := func(set bool, key, why string) {
		if set {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: accepted for Fluxheim compatibility but has no effect in fluxheim: %s", key, why))
		}
	}
	warnNoEffect(p.UpgradeSock != "", "server.process.upgrade_sock", "binary upgrades use SIGUSR2 or fluxheim -s upgrade")
	warnNoEffect(p.CertificateReloadSock != "", "server.process.certificate_reload_sock", "certificates reload with fluxheim -s reload")
	warnNoEffect(p.Threads != 0, "server.process.threads", "the Go runtime schedules goroutines; size the process model with [server.process] workers")
	warnNoEffect(p.ListenerTasksPerFD != 0, "server.process.listener_tasks_per_fd", "each worker accepts on its own SO_REUSEPORT socket")
	warnNoEffect(p.WorkStealing != nil, "server.process.work_stealing", "the Go scheduler always work-steals")
}

// ParseListenAddr parses a listen address: an IP literal and a port,
// "127.0.0.1:8080" or "[::1]:8080". Port 0 is refused.
func ParseListenAddr(a string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(a)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("invalid listen address %q: want ip:port such as 127.0.0.1:8080 or [::]:80", a)
	}
	if ap.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("invalid listen address %q: port 0", a)
	}
	if ap.Addr().Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("invalid listen address %q: zones are not supported", a)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

func secs(errs *errList, key string, v int) {
	if v < 1 || v > maxSecs {
		errs.add(key, "must be within 1..%d seconds, got %d", maxSecs, v)
	}
}

func secsPtr(errs *errList, key string, v *int) {
	if v != nil {
		secs(errs, key, *v)
	}
}

// checkProcessPath applies Fluxheim's process-path rules: absolute, no
// "..", no symlinked component; the writable-parent check happens when the
// file is created (runtime paths).
func checkProcessPath(errs *errList, key, p string) {
	if !path.IsAbs(p) {
		errs.add(key, "must be an absolute path")
		return
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			errs.add(key, "must not contain '..'")
			return
		}
	}
}

func validateWeb(w *Web, key string, errs *errList) {
	if !moduleBuilt("web") {
		errs.add(key, "needs module %q, which this binary was built without (build with FEATURES=%s)", "web", features.ProfileWith("web"))
		return
	}
	if w.Root == "" {
		errs.add(key+".root", "is required (here or in the global [web])")
	} else if strings.Contains(w.Root, "\x00") {
		errs.add(key+".root", "contains NUL")
	}
	if len(w.IndexFiles) > maxIndexFiles {
		errs.add(key+".index_files", "%d entries exceed the limit of %d", len(w.IndexFiles), maxIndexFiles)
	}
	for i, f := range w.IndexFiles {
		if f == "" || strings.ContainsAny(f, "/\\\x00") || f == "." || f == ".." {
			errs.add(fmt.Sprintf("%s.index_files[%d]", key, i), "must be a plain file name, got %q", f)
		}
	}
	if !headerSafe(*w.CacheControl) {
		errs.add(key+".cache_control", "contains control characters")
	}
	if w.Expires != "" {
		if _, err := http.ParseTime(w.Expires); err != nil || !headerSafe(w.Expires) {
			errs.add(key+".expires", "must be an HTTP date such as %q", "Thu, 01 Dec 1994 16:00:00 GMT")
		}
	}
}

func validateProxy(p *Proxy, key string, errs *errList) {
	if !moduleBuilt("proxy") {
		errs.add(key, "needs module %q, which this binary was built without (build with FEATURES=%s)", "proxy", features.ProfileWith("proxy"))
		return
	}
	switch {
	case p.Upstream != "" && len(p.Upstreams) > 0:
		errs.add(key+".upstreams", "set either upstream or upstreams, not both")
	case p.Upstream == "" && len(p.Upstreams) == 0:
		errs.add(key+".upstreams", "no upstream: set upstreams = [\"host:port\"] (here or in an enclosing [proxy])")
	case len(p.Upstreams) > maxUpstreams:
		errs.add(key+".upstreams", "%d entries exceed the limit of %d", len(p.Upstreams), maxUpstreams)
	case len(p.Upstreams) > 1:
		mod := "load-balancer"
		if moduleBuilt(mod) {
			errs.add(key+".upstreams", "two or more upstreams need the load balancer, which is not implemented yet in fluxheim; list one upstream")
		} else {
			errs.add(key+".upstreams", "two or more upstreams need module %q, which this binary was built without (build with FEATURES=%s)", mod, features.ProfileWith(mod))
		}
	}
	if p.Upstream != "" {
		checkAuthority(errs, key+".upstream", p.Upstream)
	}
	seen := map[string]bool{}
	for i, u := range p.Upstreams {
		k := fmt.Sprintf("%s.upstreams[%d]", key, i)
		checkAuthority(errs, k, u)
		if seen[strings.ToLower(u)] {
			errs.add(k, "duplicate upstream %q", u)
		}
		seen[strings.ToLower(u)] = true
	}
	secsPtr(errs, key+".connect_timeout_secs", p.ConnectTimeoutSecs)
	secsPtr(errs, key+".read_timeout_secs", p.ReadTimeoutSecs)
	secsPtr(errs, key+".send_timeout_secs", p.SendTimeoutSecs)
	secsPtr(errs, key+".upstream_idle_timeout_secs", p.UpstreamIdleTimeoutSecs)
	secsPtr(errs, key+".downstream_read_timeout_secs", p.DownstreamReadTimeoutSecs)
	if v := p.UpstreamKeepalivePoolSize; v != nil && (*v < 1 || *v > maxPoolSize) {
		errs.add(key+".upstream_keepalive_pool_size", "must be within 1..%d", maxPoolSize)
	}
	validateUpstreamTLS(p, key, errs)
}

// checkAuthority accepts host:port with a DNS name or IP literal.
func checkAuthority(errs *errList, key, a string) {
	if strings.Contains(a, "://") {
		errs.add(key, "want host:port without a scheme, got %q", a)
		return
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil || host == "" {
		errs.add(key, "want host:port, got %q", a)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		errs.add(key, "invalid port in %q", a)
		return
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return
	}
	if _, err := hostname.Normalise(host); err != nil {
		errs.add(key, "invalid host in %q", a)
	}
}

func validateLogging(l *Logging, errs *errList) {
	oneOf(errs, "logging.level", l.Level, "error", "warn", "info", "debug", "trace")
	oneOf(errs, "logging.format", l.Format, "json", "text")
	oneOf(errs, "logging.target", l.Target, "stderr", "stdout")
	if l.File.Enabled {
		if l.File.Path == "" {
			errs.add("logging.file.path", "is required when [logging.file] is enabled")
		} else {
			checkProcessPath(errs, "logging.file.path", l.File.Path)
		}
	}
	if l.Access.Path != "" {
		checkProcessPath(errs, "logging.access.path", l.Access.Path)
	}
	if !isToken(l.Access.RequestIDHeader) {
		errs.add("logging.access.request_id_header", "%q is not a valid header name", l.Access.RequestIDHeader)
	}
}

func oneOf(errs *errList, key, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	errs.add(key, "want one of %s, got %q", strings.Join(allowed, ", "), v)
}

func vhostIndex(c *Config, name string) int {
	for i := range c.Vhosts {
		if c.Vhosts[i].Name == name {
			return i
		}
	}
	return -1
}

func validateVhosts(c *Config, errs *errList) {
	if len(c.Vhosts) > maxVhosts {
		errs.add("vhosts", "%d vhosts exceed the limit of %d", len(c.Vhosts), maxVhosts)
	}
	names := map[string]string{}
	hosts := map[string]string{}
	for i := range c.Vhosts {
		v := &c.Vhosts[i]
		key := fmt.Sprintf("vhosts[%d]", i)
		switch {
		case v.Name == "":
			errs.add(key+".name", "is required")
		case len(v.Name) > maxNameBytes:
			errs.add(key+".name", "longer than %d bytes", maxNameBytes)
		case names[v.Name] != "":
			errs.add(key+".name", "duplicate vhost name %q (also %s)", v.Name, names[v.Name])
		}
		names[v.Name] = key
		if len(v.Hosts) > maxHostsPerVhost {
			errs.add(key+".hosts", "%d hosts exceed the limit of %d", len(v.Hosts), maxHostsPerVhost)
		}
		for j, h := range v.Hosts {
			hk := fmt.Sprintf("%s.hosts[%d]", key, j)
			n, err := hostname.Pattern(h)
			if err != nil {
				errs.add(hk, "%q: %v", h, err)
				continue
			}
			if prev := hosts[n]; prev != "" {
				errs.add(hk, "host %q is already served by %s", h, prev)
			}
			hosts[n] = hk
			v.Hosts[j] = n
		}
		if v.MaxRequestBodyBytes != nil && *v.MaxRequestBodyBytes <= 0 {
			errs.add(key+".max_request_body_bytes", "must be greater than 0")
		}
		if v.Web != nil {
			validateWeb(v.Web, key+".web", errs)
		}
		if v.Proxy != nil {
			validateProxy(v.Proxy, key+".proxy", errs)
		}
		redirectOn := v.Redirect != nil && *v.Redirect.Enabled
		if v.Redirect != nil {
			validateRedirect(v.Redirect, key+".redirect", errs)
		}
		if redirectOn && (v.Web != nil || v.Proxy != nil) {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: [vhosts.redirect] is the vhost's fallback, so its web/proxy blocks only serve as defaults for routes", key))
		}
		if len(v.Hosts) == 0 && c.Server.DefaultVhost != v.Name {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: vhost %q has no hosts and is not default_vhost: no request can reach it", key, v.Name))
		}
		if v.PHP != nil {
			validatePHP(c, v.PHP, key+".php", errs)
		}
		validateVhostTLS(c, v, key, errs)
		if v.Web == nil && v.Proxy == nil && v.PHP == nil && !redirectOn && len(v.Routes) == 0 {
			errs.add(key, "vhost %q has nothing to serve: add [vhosts.web], [vhosts.proxy], [vhosts.php], [vhosts.redirect] or routes", v.Name)
		}
		validateRoutes(c, v, key, redirectOn, errs)
	}
}

func validateRedirect(r *Redirect, key string, errs *errList) {
	if r.To == "" {
		errs.add(key+".to", "is required")
	} else if _, err := tmpl.ParseRedirect(r.To); err != nil {
		errs.add(key+".to", "%v", err)
	}
	switch r.Status {
	case 301, 302, 303, 307, 308:
	default:
		errs.add(key+".status", "want 301, 302, 303, 307 or 308, got %d", r.Status)
	}
}

func validateRoutes(c *Config, v *Vhost, vkey string, vhostRedirect bool, errs *errList) {
	if len(v.Routes) > maxRoutesPerVhost {
		errs.add(vkey+".routes", "%d routes exceed the limit of %d", len(v.Routes), maxRoutesPerVhost)
	}
	exact := map[string]string{}
	prefix := map[string]string{}
	fallback := ""
	for i := range v.Routes {
		r := &v.Routes[i]
		key := fmt.Sprintf("%s.routes[%d]", vkey, i)
		if len(r.Name) > maxNameBytes {
			errs.add(key+".name", "longer than %d bytes", maxNameBytes)
		}
		matchers := 0
		if r.PathExact != "" {
			matchers++
			checkRoutePath(errs, key+".path_exact", r.PathExact)
			if prev := exact[r.PathExact]; prev != "" {
				errs.add(key+".path_exact", "duplicate of %s", prev)
			}
			exact[r.PathExact] = key
		}
		if r.PathPrefix != "" {
			matchers++
			checkRoutePath(errs, key+".path_prefix", r.PathPrefix)
			if prev := prefix[r.PathPrefix]; prev != "" {
				errs.add(key+".path_prefix", "duplicate of %s", prev)
			}
			prefix[r.PathPrefix] = key
		}
		var re *regexp.Regexp
		if r.PathRegex != "" {
			matchers++
			re = checkRegex(c, errs, key+".path_regex", r.PathRegex)
		}
		if r.Fallback {
			matchers++
			if fallback != "" {
				errs.add(key+".fallback", "only one fallback route per vhost (also %s)", fallback)
			}
			if vhostRedirect {
				errs.add(key+".fallback", "cannot be combined with [vhosts.redirect], which is the vhost's fallback")
			}
			fallback = key
		}
		if matchers != 1 {
			errs.add(key, "needs exactly one matcher (path_exact, path_prefix, path_regex or fallback = true), has %d", matchers)
		}
		checkMethods(errs, key+".methods", r.Methods)
		checkRewrites(errs, key, r, re)
		if r.MaxRequestBodyBytes != nil && *r.MaxRequestBodyBytes <= 0 {
			errs.add(key+".max_request_body_bytes", "must be greater than 0")
		}
		actions := 0
		if r.Redirect != nil {
			actions++
			validateRedirect(r.Redirect, key+".redirect", errs)
			if r.Redirect.Enabled != nil {
				errs.add(key+".redirect.enabled", "only [vhosts.redirect] has enabled; remove the route to turn its redirect off")
			}
		}
		if r.Proxy != nil {
			actions++
			validateProxy(r.Proxy, key+".proxy", errs)
		}
		if r.Web != nil {
			actions++
			validateWeb(r.Web, key+".web", errs)
		}
		if r.PHP != nil {
			actions++
			validatePHP(c, r.PHP, key+".php", errs)
		}
		if actions != 1 {
			errs.add(key, "needs exactly one action ([vhosts.routes.redirect], .proxy, .web or .php), has %d", actions)
		}
	}
}

// checkRoutePath applies Fluxheim's route path rules.
func checkRoutePath(errs *errList, key, p string) {
	if !strings.HasPrefix(p, "/") {
		errs.add(key, "must start with '/'")
		return
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < 0x20 || c == 0x7f || c == '\\' || c == '?' || c == '#' {
			errs.add(key, "must not contain control characters, '\\', '?' or '#'")
			return
		}
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			errs.add(key, "must not contain a '..' segment")
			return
		}
	}
}

func checkRegex(c *Config, errs *errList, key, src string) *regexp.Regexp {
	if !c.Server.RegexEnabled {
		errs.add(key, "regex routes need server.regex_enabled = true")
		return nil
	}
	if len(src) > maxRegexBytes {
		errs.add(key, "longer than %d bytes", maxRegexBytes)
		return nil
	}
	re, err := compileRouteRegex(src)
	if err != nil {
		errs.add(key, "%v", err)
		return nil
	}
	if re.NumSubexp() > maxRegexCaptures {
		errs.add(key, "%d capture groups exceed the limit of %d", re.NumSubexp(), maxRegexCaptures)
	}
	if p, err := syntax.Parse(src, syntax.Perl); err == nil {
		if prog, err := syntax.Compile(p.Simplify()); err == nil && len(prog.Inst) > maxRegexInsts {
			errs.add(key, "compiles to %d instructions, over the limit of %d", len(prog.Inst), maxRegexInsts)
		}
	}
	return re
}

func checkMethods(errs *errList, key string, ms []string) {
	if len(ms) > maxMethods {
		errs.add(key, "%d methods exceed the limit of %d", len(ms), maxMethods)
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if !isToken(m) || strings.ToUpper(m) != m {
			errs.add(key, "%q is not an uppercase method token", m)
		}
		if seen[m] {
			errs.add(key, "duplicate method %q", m)
		}
		seen[m] = true
	}
}

func checkRewrites(errs *errList, key string, r *Route, re *regexp.Regexp) {
	if r.StripPrefix.Set {
		if r.StripPrefix.Prefix == "" && r.PathPrefix == "" {
			errs.add(key+".strip_prefix", "true needs a path_prefix route; give the prefix to strip as a string otherwise")
		}
		if r.StripPrefix.Prefix != "" {
			checkRoutePath(errs, key+".strip_prefix", r.StripPrefix.Prefix)
		}
	}
	if r.RewritePrefix != "" {
		if !r.StripPrefix.Set {
			errs.add(key+".rewrite_prefix", "needs strip_prefix")
		}
		checkRoutePath(errs, key+".rewrite_prefix", r.RewritePrefix)
		if strings.ContainsAny(r.RewritePrefix, "% \t") {
			errs.add(key+".rewrite_prefix", "must not contain '%%' or whitespace")
		}
	}
	if r.RewriteTemplate != "" {
		if r.PathRegex == "" {
			errs.add(key+".rewrite_template", "only regex routes may use rewrite_template")
		}
		if r.StripPrefix.Set || r.RewritePrefix != "" {
			errs.add(key+".rewrite_template", "cannot be combined with strip_prefix or rewrite_prefix")
		}
		if !strings.HasPrefix(r.RewriteTemplate, "/") || strings.ContainsAny(r.RewriteTemplate, "?#") {
			errs.add(key+".rewrite_template", "must be an absolute path without '?' or '#'")
		}
		if re != nil {
			if _, err := rewrite.Parse(r.RewriteTemplate, re.SubexpNames()); err != nil {
				errs.add(key+".rewrite_template", "%v", err)
			}
		}
	}
}

// headerSafe reports whether v can be sent as a header value.
func headerSafe(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// isToken reports whether s is an RFC 9110 token (header name, method).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// compileRouteRegex compiles a path_regex (Go RE2: linear time, like
// Fluxheim's Rust regex).
func compileRouteRegex(src string) (*regexp.Regexp, error) { return regexp.Compile(src) }
