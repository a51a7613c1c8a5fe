package config

import "slices"

// PHP defaults and bounds (Fluxheim spec §2.14, §3.1).
const (
	PHPRuntimeFPM                   = "php-fpm"
	PHPPresetWordPress              = "wordpress"
	PHPTryFrontController           = "front-controller"
	PHPTryWordPress                 = "wordpress" // alias of front-controller
	PHPTryStrict                    = "strict"
	PHPPathInfoDisabled             = "disabled"
	PHPPathInfoSplit                = "split"
	PHPPathInfoStrict               = "strict" // alias of split
	PHPModeExternal                 = "external"
	PHPModeManaged                  = "managed"
	PHPPMStatic                     = "static"
	PHPPMDynamic                    = "dynamic"
	PHPPMOndemand                   = "ondemand"
	DefaultPHPIndex                 = "index.php"
	DefaultPHPTimeout               = 30
	DefaultPHPMaxInFlight           = 8
	DefaultPHPMaxResponse  ByteSize = 64 << 20
	DefaultPHPMaxHeader    ByteSize = 64 << 10
	DefaultPHPStderrLevel           = "warn"
	DefaultPHPStderrMax    ByteSize = 2 << 10
	DefaultPHPPoolMaxIdle           = 8
	DefaultPHPIdleTimeout           = 60
	DefaultPHPWorkers               = 4
	DefaultPHPMaxRequests           = 1000
	DefaultPHPSlowlogDepth          = 20
	DefaultPHPListenMode            = "0600"
)

// WordPressDenyPrefixes are the upload directories preset = "wordpress"
// adds to deny_path_prefixes.
var WordPressDenyPrefixes = []string{"/wp-content/uploads/", "/files/"}

// defaultRetryMethods is retry_methods' default.
var defaultRetryMethods = []string{"GET", "HEAD", "OPTIONS"}

// defaultPHPBlocks applies the PHP defaults (and the wordpress preset) to
// every vhost and route PHP block; a block with enabled = false is removed.
// Called from applyDefaults.
func defaultPHPBlocks(c *Config) {
	for i := range c.Vhosts {
		v := &c.Vhosts[i]
		v.PHP = DefaultPHP(v.PHP)
		for j := range v.Routes {
			v.Routes[j].PHP = DefaultPHP(v.Routes[j].PHP)
		}
	}
}

// DefaultPHP fills every unset key of p with its default (expanding
// preset = "wordpress") and returns p, or nil for an absent or disabled
// block. Load applies it; tests building blocks by hand use it too.
func DefaultPHP(p *PHP) *PHP {
	if p == nil || (p.Enabled != nil && !*p.Enabled) {
		return nil
	}
	p.Enabled = ptr(true)
	setIfZero(&p.Runtime, PHPRuntimeFPM)
	if p.Preset == PHPPresetWordPress {
		setIfZero(&p.TryFiles, PHPTryFrontController)
		for _, d := range WordPressDenyPrefixes {
			if !slices.Contains(p.DenyPathPrefixes, d) {
				p.DenyPathPrefixes = append(p.DenyPathPrefixes, d)
			}
		}
	}
	setIfZero(&p.Index, DefaultPHPIndex)
	if p.AllowedExtensions == nil {
		p.AllowedExtensions = []string{"php"}
	}
	if p.DenyPathPrefixes == nil {
		p.DenyPathPrefixes = []string{}
	}
	setIfZero(&p.TryFiles, PHPTryFrontController)
	setIfZero(&p.PathInfo, PHPPathInfoDisabled)
	p.PassRequestHeaders = orDefault(p.PassRequestHeaders, true)
	p.PassRequestBody = orDefault(p.PassRequestBody, true)
	p.StderrLog = orDefault(p.StderrLog, true)
	setIfZero(&p.StderrLogLevel, DefaultPHPStderrLevel)
	p.StderrMaxBytes = orDefault(p.StderrMaxBytes, DefaultPHPStderrMax)
	p.RequestTimeoutSecs = orDefault(p.RequestTimeoutSecs, DefaultPHPTimeout)
	p.MaxInFlight = orDefault(p.MaxInFlight, DefaultPHPMaxInFlight)
	p.MaxResponseBytes = orDefault(p.MaxResponseBytes, DefaultPHPMaxResponse)
	p.MaxResponseHeaderBytes = orDefault(p.MaxResponseHeaderBytes, DefaultPHPMaxHeader)
	for i := range p.ErrorPages {
		if w := p.ErrorPages[i].Web; w != nil {
			p.ErrorPages[i].Web = effectiveWeb(w, nil)
		}
	}
	defaultFPM(&p.FPM)
	return p
}

func defaultFPM(f *PHPFPM) {
	setIfZero(&f.Mode, PHPModeExternal)
	f.PoolMaxIdle = orDefault(f.PoolMaxIdle, DefaultPHPPoolMaxIdle)
	f.IdleTimeoutSecs = orDefault(f.IdleTimeoutSecs, DefaultPHPIdleTimeout)
	if f.RetryMethods == nil {
		f.RetryMethods = slices.Clone(defaultRetryMethods)
	}
	if f.Mode != PHPModeManaged {
		return
	}
	f.Workers = orDefault(f.Workers, DefaultPHPWorkers)
	f.MaxRequestsPerWorker = orDefault(f.MaxRequestsPerWorker, DefaultPHPMaxRequests)
	setIfZero(&f.ProcessManager, PHPPMStatic)
	setIfZero(&f.ListenMode, DefaultPHPListenMode)
	f.RequestSlowlogTraceDepth = orDefault(f.RequestSlowlogTraceDepth, DefaultPHPSlowlogDepth)
	f.ClearEnv = orDefault(f.ClearEnv, true)
	f.CatchWorkersOutput = orDefault(f.CatchWorkersOutput, true)
	f.DecorateWorkersOutput = orDefault(f.DecorateWorkersOutput, false)
}
