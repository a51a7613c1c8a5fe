package config

// Fluxheim's defaults, in one place.
const (
	DefaultListen                  = "127.0.0.1:8080"
	DefaultPidFile                 = "/run/fluxheim/fluxheim.pid"
	DefaultControlSock             = "/run/fluxheim/fluxheim.ctl"
	DefaultWorkerShutdownTimeout   = 30
	DefaultMaxRequestHeaderBytes   = 64 << 10
	DefaultMaxURIBytes             = 8 << 10
	DefaultMaxRequestHeaders       = 100
	DefaultMaxRequestBodyBytes     = 16 << 20
	DefaultRequestHeaderTimeout    = 20
	DefaultKeepaliveTimeout        = 75
	DefaultGracefulShutdownTimeout = 30
	DefaultUpstreamKeepalivePool   = 128
	DefaultCacheControl            = "public, max-age=60"
	DefaultConnectTimeout          = 5
	DefaultReadTimeout             = 60
	DefaultSendTimeout             = 30
	DefaultUpstreamIdleTimeout     = 120
	DefaultDownstreamReadTimeout   = 60
	DefaultRedirectStatus          = 308
	DefaultRequestIDHeader         = "x-request-id"
)

func ptr[T any](v T) *T { return &v }

// prefilled returns a Config holding the defaults of plain (non-pointer)
// scalar keys before decoding, so an explicit 0 stays 0 and is refused by
// validation instead of silently becoming the default.
func prefilled() *Config {
	c := &Config{}
	c.Server.Limits = Limits{
		MaxRequestHeaderBytes:    DefaultMaxRequestHeaderBytes,
		MaxURIBytes:              DefaultMaxURIBytes,
		MaxRequestHeaders:        DefaultMaxRequestHeaders,
		MaxRequestBodyBytes:      DefaultMaxRequestBodyBytes,
		RequestHeaderTimeoutSecs: DefaultRequestHeaderTimeout,
		KeepaliveTimeoutSecs:     DefaultKeepaliveTimeout,
	}
	p := &c.Server.Process
	p.GracefulShutdownTimeoutSeconds = DefaultGracefulShutdownTimeout
	p.UpstreamKeepalivePoolSize = DefaultUpstreamKeepalivePool
	p.WorkerShutdownTimeoutSecs = DefaultWorkerShutdownTimeout
	return c
}

func orDefault[T any](p *T, v T) *T {
	if p == nil {
		return ptr(v)
	}
	return p
}

// applyDefaults fills every unset key with Fluxheim's default and resolves
// inheritance: vhost and route web/proxy blocks take unset keys from the
// enclosing level. Header policies stay as written: the data plane merges
// global → vhost → route with worker/headers' Merge rules. It runs before
// validation, so validation sees effective values.
func applyDefaults(c *Config) {
	s := &c.Server
	if s.Listen == nil {
		s.Listen = []string{DefaultListen}
	}
	if s.ProxyProtocol == "" {
		s.ProxyProtocol = "off"
	}
	p := &s.Process
	p.PidFile = orDefault(p.PidFile, DefaultPidFile)
	p.ControlSock = orDefault(p.ControlSock, DefaultControlSock)
	p.Reuseport = orDefault(p.Reuseport, true)

	if c.TLS != nil {
		defaultTLS(c.TLS)
	}
	if r := s.HTTPSRedirect; r != nil {
		setIfZero(&r.Status, 308)
	}
	if c.Web != nil {
		c.Web = effectiveWeb(c.Web, nil)
	}
	if c.Proxy != nil {
		c.Proxy = effectiveProxy(c.Proxy, nil, p.UpstreamKeepalivePoolSize)
	}
	defaultLogging(&c.Logging)

	for i := range c.Vhosts {
		v := &c.Vhosts[i]
		if v.Web != nil {
			v.Web = effectiveWeb(v.Web, c.Web)
		}
		if v.Proxy != nil {
			v.Proxy = effectiveProxy(v.Proxy, c.Proxy, p.UpstreamKeepalivePoolSize)
		}
		if v.Redirect != nil {
			defaultRedirect(v.Redirect)
			v.Redirect.Enabled = orDefault(v.Redirect.Enabled, true)
		}
		for j := range v.Routes {
			r := &v.Routes[j]
			if r.Web != nil {
				r.Web = effectiveWeb(r.Web, firstWeb(v.Web, c.Web))
			}
			if r.Proxy != nil {
				r.Proxy = effectiveProxy(r.Proxy, firstProxy(v.Proxy, c.Proxy), p.UpstreamKeepalivePoolSize)
			}
			if r.Redirect != nil {
				defaultRedirect(r.Redirect)
			}
		}
	}
	defaultPHPBlocks(c)
}

func setIfZero[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

func defaultRedirect(r *Redirect) {
	setIfZero(&r.Status, DefaultRedirectStatus)
}

func firstWeb(ws ...*Web) *Web {
	for _, w := range ws {
		if w != nil {
			return w
		}
	}
	return nil
}

func firstProxy(ps ...*Proxy) *Proxy {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

// effectiveWeb returns a copy of w with unset keys taken from parent (an
// already-effective block, or nil) and then from the defaults.
func effectiveWeb(w, parent *Web) *Web {
	out := *w
	if parent != nil {
		if out.Root == "" {
			out.Root = parent.Root
		}
		if out.IndexFiles == nil {
			out.IndexFiles = parent.IndexFiles
		}
		if out.DenyDotfiles == nil {
			out.DenyDotfiles = parent.DenyDotfiles
		}
		if out.CacheControl == nil {
			out.CacheControl = parent.CacheControl
		}
		if out.Expires == "" {
			out.Expires = parent.Expires
		}
		if out.DirectoryListing == nil {
			out.DirectoryListing = parent.DirectoryListing
		}
		if out.Precompressed == nil {
			out.Precompressed = parent.Precompressed
		}
	}
	if out.IndexFiles == nil {
		out.IndexFiles = []string{"index.html"}
	}
	out.DenyDotfiles = orDefault(out.DenyDotfiles, true)
	out.CacheControl = orDefault(out.CacheControl, DefaultCacheControl)
	out.Precompressed = orDefault(out.Precompressed, true)
	if out.DirectoryListing == nil {
		out.DirectoryListing = &DirectoryListing{}
	}
	return &out
}

// effectiveProxy is effectiveWeb for proxy blocks. The upstream is
// inherited only when p names none.
func effectiveProxy(p, parent *Proxy, pool int) *Proxy {
	out := *p
	if parent != nil {
		if out.Upstream == "" && out.Upstreams == nil {
			out.Upstream, out.Upstreams = parent.Upstream, parent.Upstreams
		}
		inherit(&out.ConnectTimeoutSecs, parent.ConnectTimeoutSecs)
		inherit(&out.ReadTimeoutSecs, parent.ReadTimeoutSecs)
		inherit(&out.SendTimeoutSecs, parent.SendTimeoutSecs)
		inherit(&out.UpstreamIdleTimeoutSecs, parent.UpstreamIdleTimeoutSecs)
		inherit(&out.DownstreamReadTimeoutSecs, parent.DownstreamReadTimeoutSecs)
		inherit(&out.Websocket, parent.Websocket)
		inherit(&out.UpstreamKeepalivePoolSize, parent.UpstreamKeepalivePoolSize)
		if ownUpstream := p.Upstream != "" || p.Upstreams != nil; !ownUpstream {
			// TLS settings travel with the upstream they belong to.
			inheritUpstreamTLS(&out, parent)
		}
	}
	defaultUpstreamTLS(&out)
	out.ConnectTimeoutSecs = orDefault(out.ConnectTimeoutSecs, DefaultConnectTimeout)
	out.ReadTimeoutSecs = orDefault(out.ReadTimeoutSecs, DefaultReadTimeout)
	out.SendTimeoutSecs = orDefault(out.SendTimeoutSecs, DefaultSendTimeout)
	out.UpstreamIdleTimeoutSecs = orDefault(out.UpstreamIdleTimeoutSecs, DefaultUpstreamIdleTimeout)
	out.DownstreamReadTimeoutSecs = orDefault(out.DownstreamReadTimeoutSecs, DefaultDownstreamReadTimeout)
	out.Websocket = orDefault(out.Websocket, false)
	out.UpstreamKeepalivePoolSize = orDefault(out.UpstreamKeepalivePoolSize, pool)
	return &out
}

func inherit[T any](dst **T, parent *T) {
	if *dst == nil {
		*dst = parent
	}
}

func defaultLogging(l *Logging) {
	setIfZero(&l.Level, "info")
	setIfZero(&l.Format, "json")
	setIfZero(&l.Target, "stderr")
	l.File.Append = orDefault(l.File.Append, true)
	a := &l.Access
	a.Enabled = orDefault(a.Enabled, true)
	for _, b := range []**bool{&a.IncludeHost, &a.IncludePath, &a.IncludeClientIP, &a.IncludeCachePhase, &a.IncludeRoute, &a.IncludeUpstream, &a.RequestID} {
		*b = orDefault(*b, true)
	}
	setIfZero(&a.RequestIDHeader, DefaultRequestIDHeader)
}
