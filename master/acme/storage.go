package acme

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Names inside the storage directory (see the package documentation).
const (
	lockFile        = ".lock"
	accountsDir     = "accounts"
	certsDir        = "certificates"
	fullchainFile   = "fullchain.pem"
	privkeyFile     = "privkey.pem"
	stateFile       = "state.json"
	accountKeyFile  = "account-key.pem"
	credentialsFile = "credentials.json"
	newSuffix       = ".new"
	prevSuffix      = ".prev"

	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600

	maxSegmentName = 64
)

// Segment turns a vhost, issuer or domain name into one safe path segment:
// lower-cased, every byte outside [a-z0-9._-] replaced by '_', leading dots
// dropped, cut to 64 bytes, then "-" and 16 hex digits of the SHA-256 of
// the original name. Different names give different segments.
func Segment(name string) string {
	var b strings.Builder
	for i := 0; i < len(name) && b.Len() < maxSegmentName; i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			b.WriteByte(c)
		case c == '.' && b.Len() > 0:
			b.WriteByte(c)
		case c == '.':
		default:
			b.WriteByte('_')
		}
	}
	sum := sha256.Sum256([]byte(name))
	return b.String() + "-" + hex.EncodeToString(sum[:8])
}

// CertificateDir is the directory holding target's fullchain.pem and
// privkey.pem.
func CertificateDir(storage, target string) string {
	return filepath.Join(storage, certsDir, Segment(target))
}

// AccountDir is the directory holding issuer's account key and credentials.
func AccountDir(storage, issuer string) string {
	return filepath.Join(storage, accountsDir, Segment(issuer))
}

// ensureDir creates dir (and missing parents) with mode 0700, then checks
// that it is a real directory owned by this process's user and narrows its
// mode to 0700 if it was wider.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: not a directory", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s: owned by uid %d, not by this process (uid %d)", dir, st.Uid, os.Geteuid())
	}
	if fi.Mode().Perm() != dirMode {
		return os.Chmod(dir, dirMode)
	}
	return nil
}

// writeFileAtomic replaces path with data: a 0600 temporary file in the
// same directory is written, fsynced and renamed over path, then the
// directory is fsynced. Readers see the old or the new content, never a
// mix.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(fileMode); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory so renames in it survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// readSmallFile reads a regular file of at most limit bytes, refusing
// symlinks and anything else.
func readSmallFile(path string, limit int64) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return os.ReadFile(path)
}

// exists reports whether path exists (without following a final symlink).
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}
