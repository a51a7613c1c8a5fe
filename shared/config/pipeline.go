package config

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

//go:embed default.toml
var defaultTOML []byte

// DefaultName is the source name of the embedded default config.
const DefaultName = "<embedded default>"

// Options adjust Load.
type Options struct {
	// SkipRuntimePaths skips checks that need this machine's file system
	// (static roots exist, pid/log directories are safe): for offline
	// diagnosis (fluxheim-config-tester --no-runtime-paths).
	SkipRuntimePaths bool
}

// Load reads the config at path (a file or a directory), validates it and
// returns it. Any error is an Errors (one *Error per problem) or a plain
// error for problems reading the sources.
func Load(path string, opts Options) (*Config, error) {
	srcs, err := readSources(path)
	if err != nil {
		return nil, err
	}
	return build(srcs, opts)
}

// LoadDefault returns the embedded default config: a demo page on
// 127.0.0.1:8080, no pid file.
func LoadDefault() (*Config, error) {
	c, err := build([]source{{path: DefaultName, data: defaultTOML}}, Options{SkipRuntimePaths: true})
	if err != nil {
		return nil, err
	}
	c.Demo = true
	return c, nil
}

// Parse builds a config from one in-memory document named file; relative
// paths resolve against file's directory. Runtime path checks are skipped.
// For tests and fuzzing.
func Parse(file string, data []byte) (*Config, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("config %s: exceeds the %d-byte limit per file", file, MaxFileBytes)
	}
	return build([]source{{path: file, data: data}}, Options{SkipRuntimePaths: true})
}

func build(srcs []source, opts Options) (*Config, error) {
	var errs Errors
	var frags []*fragment
	for _, s := range srcs {
		f, ferrs := decodeFile(s.path, s.data)
		errs = append(errs, ferrs...)
		if f == nil {
			continue
		}
		dir := filepath.Dir(s.path)
		if s.path == DefaultName {
			dir, _ = os.Getwd()
		}
		resolvePaths(f.doc, dir)
		frags = append(frags, f)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	doc, org, merrs := merge(frags)
	if len(merrs) > 0 {
		return nil, merrs
	}
	data, err := toml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("config: re-encoding merged fragments: %w", err)
	}
	c := prefilled()
	if err := decodeLoose(data, c); err != nil {
		return nil, fmt.Errorf("config: decoding merged fragments: %w", err)
	}
	for _, s := range srcs {
		c.Sources = append(c.Sources, s.path)
	}
	el := &errList{origins: org}
	validateHeaderPolicies(c, el) // before defaults: errors point at the level that wrote them
	applyDefaults(c)
	validate(c, el)
	if !opts.SkipRuntimePaths && len(el.errs) == 0 {
		checkRuntimePaths(c, el)
		readProxyTLSFiles(c, el)
	}
	if err := el.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// checkRuntimePaths checks what the running server will open: every static
// root is a real directory with no symlinked component, and the
// directories of the pid file and log files exist and are not group- or
// world-writable.
func checkRuntimePaths(c *Config, errs *errList) {
	checkRoot := func(key string, w *Web) {
		if w == nil || w.Root == "" {
			return
		}
		if err := CheckStaticRoot(w.Root); err != nil {
			errs.add(key+".root", "%v", err)
		}
	}
	checkRoot("web", c.Web)
	for i := range c.Vhosts {
		v := &c.Vhosts[i]
		checkRoot(fmt.Sprintf("vhosts[%d].web", i), v.Web)
		for j := range v.Routes {
			checkRoot(fmt.Sprintf("vhosts[%d].routes[%d].web", i, j), v.Routes[j].Web)
		}
	}
	if c.TLS != nil {
		for i, p := range c.TLS.Certificates {
			checkReadable(errs, fmt.Sprintf("tls.certificates[%d].cert_path", i), p.CertPath, false)
			checkReadable(errs, fmt.Sprintf("tls.certificates[%d].key_path", i), p.KeyPath, true)
		}
		if ca := c.TLS.ClientAuth; ca != nil && ca.CAPath != "" {
			checkReadable(errs, "tls.client_auth.ca_path", ca.CAPath, false)
		}
	}
	for i := range c.Vhosts {
		if t := c.Vhosts[i].TLS; t != nil && t.Certificate != nil {
			checkReadable(errs, fmt.Sprintf("vhosts[%d].tls.certificate.cert_path", i), t.Certificate.CertPath, false)
			checkReadable(errs, fmt.Sprintf("vhosts[%d].tls.certificate.key_path", i), t.Certificate.KeyPath, true)
		}
	}
	checkPHPRuntimePaths(c, errs)
	checkParent := func(key, p string) {
		if p == "" {
			return
		}
		if err := CheckWritableParent(p); err != nil {
			errs.add(key, "%v", err)
		}
	}
	checkParent("server.process.pid_file", *c.Server.Process.PidFile)
	checkParent("server.process.error_log", c.Server.Process.ErrorLog)
	checkParent("server.process.control_sock", *c.Server.Process.ControlSock)
	if c.Logging.File.Enabled {
		checkParent("logging.file.path", c.Logging.File.Path)
	}
	checkParent("logging.access.path", c.Logging.Access.Path)
}

// CheckStaticRoot verifies a static root: an existing directory whose
// path has no symlinked component.
func CheckStaticRoot(root string) error {
	fi, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("static root %s: %w", root, unwrapPathErr(err))
	}
	if !fi.IsDir() {
		return fmt.Errorf("static root %s: not a directory", root)
	}
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return fmt.Errorf("static root %s: %w", root, unwrapPathErr(err))
	}
	if real != filepath.Clean(root) {
		return fmt.Errorf("static root %s: has a symlinked component (resolves to %s); use the real path", root, real)
	}
	return nil
}

// CheckWritableParent verifies the directory a runtime file (pid file,
// log) is created in: it exists, is not a symlink, and is not group- or
// world-writable (so /tmp itself is refused; use /run/fluxheim). A missing
// directory is reported; the master creates /run/fluxheim when root.
func CheckWritableParent(p string) error {
	dir := filepath.Dir(p)
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		if dir == filepath.Dir(DefaultPidFile) {
			return nil // created at start (0755, root)
		}
		return fmt.Errorf("directory %s does not exist", dir)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", dir, unwrapPathErr(err))
	}
	if fi.Mode()&os.ModeSymlink != 0 || !fi.IsDir() {
		return fmt.Errorf("%s: must be a real directory, not a symlink", dir)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s: is group- or world-writable (mode %04o); use a dedicated directory such as /run/fluxheim", dir, fi.Mode().Perm())
	}
	if strings.Contains(p, "\x00") {
		return fmt.Errorf("path contains NUL")
	}
	return nil
}

// ProcessPaths reads only [server.process] control_sock and pid_file from
// the config at path, tolerating every other problem, so `fluxheim -s
// stop` works even when the config is broken. Unset keys give defaults.
func ProcessPaths(path string) (controlSock, pidFile string) {
	controlSock, pidFile = DefaultControlSock, DefaultPidFile
	srcs, err := readSources(path)
	if err != nil {
		return
	}
	for _, s := range srcs {
		var doc struct {
			Server struct {
				Process struct {
					ControlSock *string `toml:"control_sock"`
					PidFile     *string `toml:"pid_file"`
				} `toml:"process"`
			} `toml:"server"`
		}
		if toml.Unmarshal(s.data, &doc) != nil {
			continue
		}
		dir := filepath.Dir(s.path)
		if p := doc.Server.Process.ControlSock; p != nil {
			controlSock = absAgainst(dir, *p)
		}
		if p := doc.Server.Process.PidFile; p != nil {
			pidFile = absAgainst(dir, *p)
		}
	}
	return
}

func absAgainst(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// checkReadable checks a certificate, key or CA file: it exists, is a
// regular file and no symlink; a private key must be owner-only (0600 or
// stricter), as Fluxheim requires.
func checkReadable(errs *errList, key, p string, private bool) {
	fi, err := os.Lstat(p)
	if err != nil {
		errs.add(key, "%v", unwrapPathErr(err))
		return
	}
	if fi.Mode()&os.ModeSymlink != 0 || !fi.Mode().IsRegular() {
		errs.add(key, "%s must be a regular file, not a symlink", p)
		return
	}
	if private && fi.Mode().Perm()&0o077 != 0 {
		errs.add(key, "private key %s is readable by group or others (mode %04o); chmod 600 it", p, fi.Mode().Perm())
	}
}
