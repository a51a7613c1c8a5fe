package config

import (
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/fluxheim/fluxheim/shared/features"
)

// PHP caps (Fluxheim spec §3.1).
const (
	MaxPHPResponseBytes       ByteSize = 64 << 20
	MaxPHPResponseHeaderBytes ByteSize = 64 << 10
	MaxPHPStderrBytes         ByteSize = 64 << 10
	maxPHPExtensions                   = 16
	maxPHPDenyPrefixes                 = 128
	maxPHPParams                       = 128
	maxPHPParamName                    = 128
	maxPHPParamValue                   = 16 << 10
	maxPHPFailurePatterns              = 32
	maxPHPFailurePattern               = 512
	maxPHPHideHeaders                  = 64
	maxPHPInterceptStatuses            = 200
	maxPHPErrorPages                   = 64
	maxPHPInFlight                     = 100000
)

// phpModule reports whether the php-fpm module is compiled in (see
// moduleBuilt). Tests of
// this package replace it so PHP fixtures validate in every build.
var phpModule = func() bool { return moduleBuilt("php-fpm") }

// forbiddenPHPParams cannot be set in [vhosts.php.params] (compared
// upper-cased); neither can any HTTP_* name.
var forbiddenPHPParams = map[string]bool{
	"SCRIPT_FILENAME": true, "CONTENT_LENGTH": true, "HTTPS": true,
	"PHP_VALUE": true, "PHP_ADMIN_VALUE": true, "HTTP_PROXY": true,
}

// validatePHP checks a vhost or route PHP block (already defaulted) at key
// path key ("vhosts[0].php", "vhosts[0].routes[1].php").
func validatePHP(c *Config, p *PHP, key string, errs *errList) {
	if !phpModule() {
		errs.add(key, "needs module %q, which this binary was built without (build with FEATURES=%s)", "php-fpm", features.ProfileWith("php-fpm"))
		return
	}
	if p.Runtime != PHPRuntimeFPM {
		errs.add(key+".runtime", "want %q, got %q", PHPRuntimeFPM, p.Runtime)
	}
	if p.Preset != "" && p.Preset != PHPPresetWordPress {
		errs.add(key+".preset", "want %q, got %q", PHPPresetWordPress, p.Preset)
	}
	validatePHPPaths(p, key, errs)
	validatePHPScripts(p, key, errs)
	validatePHPLimits(c, p, key, errs)
	validatePHPResponse(p, key, errs)
	validatePHPParams(p, key, errs)
	validatePHPFPM(c, p, key, errs)
}

func validatePHPPaths(p *PHP, key string, errs *errList) {
	switch {
	case p.Root == "":
		errs.add(key+".root", "is required: the directory holding the scripts")
	case strings.Contains(p.Root, "\x00"):
		errs.add(key+".root", "contains NUL")
	}
	if p.FPMRoot != "" {
		checkAbsPath(errs, key+".fpm_root", p.FPMRoot)
	}
	if p.RequestBodySpoolDir != "" {
		checkAbsPath(errs, key+".request_body_spool_dir", p.RequestBodySpoolDir)
	}
}

// validatePHPScripts checks what decides which scripts run.
func validatePHPScripts(p *PHP, key string, errs *errList) {
	n := len(p.AllowedExtensions)
	if n < 1 || n > maxPHPExtensions {
		errs.add(key+".allowed_extensions", "want 1..%d extensions, got %d", maxPHPExtensions, n)
	}
	seen := map[string]bool{}
	for i, e := range p.AllowedExtensions {
		k := fmt.Sprintf("%s.allowed_extensions[%d]", key, i)
		if !isAlnum(e) {
			errs.add(k, "must be letters and digits without the dot, such as \"php\", got %q", e)
		}
		if seen[strings.ToLower(e)] {
			errs.add(k, "duplicate extension %q", e)
		}
		seen[strings.ToLower(e)] = true
	}
	if !isPlainFileName(p.Index) {
		errs.add(key+".index", "must be a plain file name such as \"index.php\", got %q", p.Index)
	} else if ext := path.Ext(p.Index); ext == "" || !seen[strings.ToLower(ext[1:])] {
		errs.add(key+".index", "%q does not have an allowed extension (%s)", p.Index, strings.Join(p.AllowedExtensions, ", "))
	}
	if len(p.DenyPathPrefixes) > maxPHPDenyPrefixes {
		errs.add(key+".deny_path_prefixes", "%d entries exceed the limit of %d", len(p.DenyPathPrefixes), maxPHPDenyPrefixes)
	}
	for i, d := range p.DenyPathPrefixes {
		checkRoutePath(errs, fmt.Sprintf("%s.deny_path_prefixes[%d]", key, i), d)
	}
	oneOf(errs, key+".try_files", p.TryFiles, PHPTryFrontController, PHPTryWordPress, PHPTryStrict)
	oneOf(errs, key+".path_info", p.PathInfo, PHPPathInfoDisabled, PHPPathInfoSplit, PHPPathInfoStrict)
}

func validatePHPLimits(c *Config, p *PHP, key string, errs *errList) {
	if v := p.ServerPort; v != nil && (*v < 1 || *v > 65535) {
		errs.add(key+".server_port", "must be within 1..65535, got %d", *v)
	}
	secs(errs, key+".request_timeout_secs", *p.RequestTimeoutSecs)
	if v := *p.MaxInFlight; v < 1 || v > maxPHPInFlight {
		errs.add(key+".max_in_flight", "must be within 1..%d, got %d", maxPHPInFlight, v)
	}
	limit := c.Server.Limits.MaxRequestBodyBytes
	if v := p.MaxRequestBodyBytes; v != nil {
		if *v <= 0 {
			errs.add(key+".max_request_body_bytes", "must be greater than 0")
		}
		limit = *v
	}
	th, dir := p.RequestBodySpoolThresholdBytes, p.RequestBodySpoolDir
	switch {
	case th == nil && dir != "":
		errs.add(key+".request_body_spool_dir", "needs request_body_spool_threshold_bytes")
	case th != nil && dir == "":
		errs.add(key+".request_body_spool_threshold_bytes", "needs request_body_spool_dir")
	case th != nil && (*th <= 0 || *th >= limit):
		errs.add(key+".request_body_spool_threshold_bytes", "must be greater than 0 and below the request body limit (%s)", limit)
	}
}

func validatePHPResponse(p *PHP, key string, errs *errList) {
	sizeIn(errs, key+".max_response_bytes", *p.MaxResponseBytes, MaxPHPResponseBytes)
	sizeIn(errs, key+".max_response_header_bytes", *p.MaxResponseHeaderBytes, MaxPHPResponseHeaderBytes)
	sizeIn(errs, key+".stderr_max_bytes", *p.StderrMaxBytes, MaxPHPStderrBytes)
	oneOf(errs, key+".stderr_log_level", p.StderrLogLevel, "error", "warn", "info", "debug")
	if len(p.StderrFailurePatterns) > maxPHPFailurePatterns {
		errs.add(key+".stderr_failure_patterns", "%d entries exceed the limit of %d", len(p.StderrFailurePatterns), maxPHPFailurePatterns)
	}
	for i, s := range p.StderrFailurePatterns {
		if len(s) < 1 || len(s) > maxPHPFailurePattern {
			errs.add(fmt.Sprintf("%s.stderr_failure_patterns[%d]", key, i), "must be 1..%d bytes long, got %d", maxPHPFailurePattern, len(s))
		}
	}
	if len(p.HideResponseHeaders) > maxPHPHideHeaders {
		errs.add(key+".hide_response_headers", "%d entries exceed the limit of %d", len(p.HideResponseHeaders), maxPHPHideHeaders)
	}
	for i, h := range p.HideResponseHeaders {
		if !isToken(h) {
			errs.add(fmt.Sprintf("%s.hide_response_headers[%d]", key, i), "%q is not a valid header name", h)
		}
	}
	if len(p.InterceptErrorStatuses) > maxPHPInterceptStatuses {
		errs.add(key+".intercept_error_statuses", "%d entries exceed the limit of %d", len(p.InterceptErrorStatuses), maxPHPInterceptStatuses)
	}
	checkStatuses(errs, key+".intercept_error_statuses", p.InterceptErrorStatuses, 400, 599)
	validatePHPErrorPages(p, key, errs)
}

func validatePHPErrorPages(p *PHP, key string, errs *errList) {
	if len(p.ErrorPages) > maxPHPErrorPages {
		errs.add(key+".error_pages", "%d entries exceed the limit of %d", len(p.ErrorPages), maxPHPErrorPages)
	}
	seen := map[int]string{}
	for i, ep := range p.ErrorPages {
		k := fmt.Sprintf("%s.error_pages[%d]", key, i)
		switch {
		case ep.Status < 400 || ep.Status > 599:
			errs.add(k+".status", "must be within 400..599, got %d", ep.Status)
		case seen[ep.Status] != "":
			errs.add(k+".status", "status %d already has a page (%s)", ep.Status, seen[ep.Status])
		}
		seen[ep.Status] = k
		if ep.Path == "" {
			errs.add(k+".path", "is required: the page's path below web.root, such as \"/50x.html\"")
		} else {
			checkRoutePath(errs, k+".path", ep.Path)
			if strings.HasSuffix(ep.Path, "/") {
				errs.add(k+".path", "must name a file, not a directory")
			}
		}
		if ep.Web == nil {
			errs.add(k, "needs [vhosts.php.error_pages.web] with the root holding the page")
			continue
		}
		validateWeb(ep.Web, k+".web", errs)
	}
}

func validatePHPParams(p *PHP, key string, errs *errList) {
	if len(p.Params) > maxPHPParams {
		errs.add(key+".params", "%d entries exceed the limit of %d", len(p.Params), maxPHPParams)
	}
	for name, v := range p.Params {
		k := key + ".params." + name
		up := strings.ToUpper(name)
		switch {
		case len(name) > maxPHPParamName:
			errs.add(k, "name longer than %d bytes", maxPHPParamName)
		case !isParamName(name):
			errs.add(k, "name must be letters, digits and '_', not starting with a digit")
		case forbiddenPHPParams[up] || strings.HasPrefix(up, "HTTP_"):
			errs.add(k, "%s is set by fluxheim and cannot be overridden (forbidden: SCRIPT_FILENAME, CONTENT_LENGTH, HTTPS, PHP_VALUE, PHP_ADMIN_VALUE, HTTP_PROXY, HTTP_*)", name)
		}
		if len(v) > maxPHPParamValue {
			errs.add(k, "value longer than %d bytes", maxPHPParamValue)
		}
		if strings.Contains(v, "\x00") {
			errs.add(k, "value contains NUL")
		}
	}
}

// checkStatuses checks a list of HTTP statuses: each within lo..hi, no
// duplicates.
func checkStatuses(errs *errList, key string, ss []int, lo, hi int) {
	seen := map[int]bool{}
	for i, s := range ss {
		k := fmt.Sprintf("%s[%d]", key, i)
		if s < lo || s > hi {
			errs.add(k, "must be within %d..%d, got %d", lo, hi, s)
		}
		if seen[s] {
			errs.add(k, "duplicate status %d", s)
		}
		seen[s] = true
	}
}

func sizeIn(errs *errList, key string, v, hi ByteSize) {
	if v < 1 || v > hi {
		errs.add(key, "must be within 1B..%s, got %s", hi, v)
	}
}

// checkAbsPath accepts an absolute path without NUL or "..".
func checkAbsPath(errs *errList, key, p string) {
	if strings.Contains(p, "\x00") {
		errs.add(key, "contains NUL")
		return
	}
	checkProcessPath(errs, key, p)
}

func isAlnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func isParamName(s string) bool {
	if s == "" || ('0' <= s[0] && s[0] <= '9') {
		return false
	}
	return isAlnum(strings.ReplaceAll(s, "_", "a"))
}

// isPlainFileName reports whether s is one visible path component.
func isPlainFileName(s string) bool {
	return s != "" && s[0] != '.' && !strings.ContainsAny(s, "/\\\x00") && headerSafe(s)
}

// phpRetryMethods are the only methods retry_methods may list.
var phpRetryMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodOptions: true, http.MethodTrace: true,
}
