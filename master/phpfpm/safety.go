package phpfpm

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// minBinaryFD keeps the held-open binary above the fds a spawn passes
// (0-2 and ExtraFiles from 3), so the child's dup2 calls cannot replace
// it before execve("/proc/self/fd/N").
const minBinaryFD = 10

// OpenBinary validates php_fpm_binary and returns it open (O_RDONLY,
// close-on-exec, fd ≥ 10) so the very file that was checked is the one
// executed, through /proc/self/fd/N. The rules: an absolute path; after
// resolving symlinks a regular file, executable, owned by root or by the
// effective user, not writable by group or others; every directory on
// the given and on the resolved path owned by root or by us and not
// writable by group or others (a root-owned sticky directory such as /tmp
// is accepted above the file's own directory).
func OpenBinary(path string) (*os.File, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("php_fpm_binary %q: not an absolute path", path)
	}
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("php_fpm_binary: %w", err)
	}
	for _, p := range []string{path, resolved} {
		if err := checkDirChain(filepath.Dir(p)); err != nil {
			return nil, fmt.Errorf("php_fpm_binary %s: %w", path, err)
		}
	}
	fd, err := unix.Open(resolved, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("php_fpm_binary %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("php_fpm_binary %s: %w", path, err)
	}
	if err := checkBinaryStat(&st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("php_fpm_binary %s: %w", path, err)
	}
	high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, minBinaryFD)
	unix.Close(fd)
	if err != nil {
		return nil, fmt.Errorf("php_fpm_binary %s: %w", path, err)
	}
	return os.NewFile(uintptr(high), resolved), nil
}

func checkBinaryStat(st *unix.Stat_t) error {
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return fmt.Errorf("not a regular file")
	case st.Uid != 0 && int(st.Uid) != os.Geteuid():
		return fmt.Errorf("owned by uid %d: must be owned by root or by the fluxheim master's user", st.Uid)
	case st.Mode&0o022 != 0:
		return fmt.Errorf("mode %#o: writable by group or others", st.Mode&0o7777)
	case st.Mode&0o111 == 0:
		return fmt.Errorf("not executable")
	}
	return nil
}

// checkDirChain checks dir and every ancestor: owned by root or by us,
// not writable by group or others. Ancestors (not dir itself) may be
// root-owned sticky directories such as /tmp.
func checkDirChain(dir string) error {
	first := true
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		var st unix.Stat_t
		if err := unix.Stat(d, &st); err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return fmt.Errorf("%s: not a directory", d)
		}
		if st.Uid != 0 && int(st.Uid) != os.Geteuid() {
			return fmt.Errorf("directory %s is owned by uid %d (must be root or the fluxheim master's user)", d, st.Uid)
		}
		sticky := st.Mode&unix.S_ISVTX != 0 && st.Uid == 0
		if st.Mode&0o022 != 0 && (first || !sticky) {
			return fmt.Errorf("directory %s (mode %#o) is writable by group or others", d, st.Mode&0o7777)
		}
		first = false
		if d == "/" {
			return nil
		}
	}
}

// ensurePrivateDir creates dir (and parents, 0755 for parents) if needed
// and makes sure it is a real directory of ours with mode 0700.
func ensurePrivateDir(dir string) error {
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("state directory %q: not an absolute path", dir)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("state directory %s: not a directory", dir)
	}
	if int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("state directory %s: owned by uid %d, not by us", dir, st.Uid)
	}
	if st.Mode&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return err
		}
	}
	return checkDirChain(filepath.Dir(dir))
}
