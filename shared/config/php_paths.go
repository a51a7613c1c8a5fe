package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// PHP keys holding paths on this machine that may be written relative to
// the declaring file, like web roots. fpm_root (php-fpm's view), sockets,
// the binary and runtime directories must be absolute.
func init() {
	for _, scope := range [][]string{{"vhosts", "[]", "php"}, {"vhosts", "[]", "routes", "[]", "php"}} {
		pathKeys = append(pathKeys,
			append(append([]string{}, scope...), "root"),
			append(append([]string{}, scope...), "error_pages", "[]", "web", "root"),
		)
	}
}

// checkPHPRuntimePaths checks what the PHP blocks of c will open on this
// machine: script roots (real directories; with resolve_root_symlink the
// final component may be a symlink), error page roots, spool directories
// (not group- or world-writable) and, in managed mode, the php-fpm binary
// (CheckPHPFPMBinary). Meant to run with checkRuntimePaths.
func checkPHPRuntimePaths(c *Config, errs *errList) {
	check := func(p *PHP, key string) {
		if p == nil {
			return
		}
		if _, err := ResolvePHPRoot(p.Root, p.ResolveRootSymlink); err != nil {
			errs.add(key+".root", "%v", err)
		}
		for i, ep := range p.ErrorPages {
			if ep.Web != nil && ep.Web.Root != "" {
				if err := CheckStaticRoot(ep.Web.Root); err != nil {
					errs.add(fmt.Sprintf("%s.error_pages[%d].web.root", key, i), "%v", err)
				}
			}
		}
		if d := p.RequestBodySpoolDir; d != "" {
			if err := checkPrivateDir(d); err != nil {
				errs.add(key+".request_body_spool_dir", "%v", err)
			}
		}
		if p.FPM.IsManaged() && p.FPM.PHPFPMBinary != "" {
			if err := CheckPHPFPMBinary(p.FPM.PHPFPMBinary); err != nil {
				errs.add(key+".fpm.php_fpm_binary", "%v", err)
			}
		}
	}
	for i := range c.Vhosts {
		v := &c.Vhosts[i]
		check(v.PHP, fmt.Sprintf("vhosts[%d].php", i))
		for j := range v.Routes {
			check(v.Routes[j].PHP, fmt.Sprintf("vhosts[%d].routes[%d].php", i, j))
		}
	}
}

// ResolvePHPRoot checks a PHP script root and returns the directory to
// use: root itself, which must be a real directory with no symlinked
// component, or, when resolveFinal is set and root's last component is a
// symlink, its target (resolved once; root's parents must still be real).
func ResolvePHPRoot(root string, resolveFinal bool) (string, error) {
	root = filepath.Clean(root)
	fi, err := os.Lstat(root)
	if err != nil {
		return "", fmt.Errorf("PHP root %s: %w", root, unwrapPathErr(err))
	}
	if fi.Mode()&os.ModeSymlink == 0 {
		return root, CheckStaticRoot(root)
	}
	if !resolveFinal {
		return "", fmt.Errorf("PHP root %s is a symlink; use the real path or set resolve_root_symlink = true", root)
	}
	if err := CheckStaticRoot(filepath.Dir(root)); err != nil {
		return "", fmt.Errorf("PHP root %s: parent: %w", root, err)
	}
	target, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("PHP root %s: %w", root, unwrapPathErr(err))
	}
	if fi, err := os.Stat(target); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("PHP root %s: resolves to %s, not a directory", root, target)
	}
	return target, nil
}

// CheckPHPFPMBinary applies the php_fpm_binary rules: a regular executable
// file, owned by root or by this process's user, neither it nor any
// ancestor directory writable by group or others (sticky directories
// excepted), no symlinked component. The master checks again (and keeps
// the file open) right before it starts php-fpm.
func CheckPHPFPMBinary(p string) error {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return fmt.Errorf("php-fpm binary %s: %w", p, unwrapPathErr(err))
	}
	if real != filepath.Clean(p) {
		return fmt.Errorf("php-fpm binary %s: has a symlinked component (resolves to %s); use the real path", p, real)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("php-fpm binary %s: %w", p, unwrapPathErr(err))
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("php-fpm binary %s: not an executable regular file", p)
	}
	if err := checkOwnedNotShared(p, fi); err != nil {
		return fmt.Errorf("php-fpm binary %s: %w", p, err)
	}
	for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
		di, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("php-fpm binary %s: %s: %w", p, dir, unwrapPathErr(err))
		}
		if di.Mode()&os.ModeSticky == 0 {
			if err := checkOwnedNotShared(dir, di); err != nil {
				return fmt.Errorf("php-fpm binary %s: ancestor %w", p, err)
			}
		}
		if dir == "/" {
			return nil
		}
	}
}

// checkOwnedNotShared refuses a file owned by another user than root or
// this process's user, or writable by group or others.
func checkOwnedNotShared(p string, fi os.FileInfo) error {
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is group- or world-writable (mode %04o)", p, fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%s is owned by uid %d, not root or the service user", p, st.Uid)
	}
	return nil
}

// checkPrivateDir checks a runtime directory fluxheim writes into: it
// exists, is a real directory and is not group- or world-writable.
func checkPrivateDir(d string) error {
	fi, err := os.Lstat(d)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("directory %s does not exist", d)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", d, unwrapPathErr(err))
	}
	if fi.Mode()&os.ModeSymlink != 0 || !fi.IsDir() {
		return fmt.Errorf("%s: must be a real directory, not a symlink", d)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s: is group- or world-writable (mode %04o)", d, fi.Mode().Perm())
	}
	return nil
}
