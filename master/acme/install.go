package acme

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// errNoPair means a target has no stored certificate yet.
var errNoPair = errors.New("no certificate stored")

// pairFiles names the chain and key files a stored pair was read from.
type pairFiles struct{ cert, key string }

// readPair loads the pair stored in dir. An install interrupted between
// its renames leaves *.new files behind; readPair then returns the
// combination of current and new files whose key matches its certificate,
// preferring the new files. It returns errNoPair when dir holds no pair.
func readPair(dir string) (*Pair, pairFiles, error) {
	cert, key := filepath.Join(dir, fullchainFile), filepath.Join(dir, privkeyFile)
	var firstErr error
	for _, c := range []string{cert + newSuffix, cert} {
		for _, k := range []string{key + newSuffix, key} {
			if !exists(c) || !exists(k) {
				continue
			}
			p, err := loadPairFiles(c, k)
			if err == nil {
				return p, pairFiles{c, k}, nil
			}
			if c == cert && k == key {
				firstErr = err
			}
		}
	}
	if firstErr != nil {
		return nil, pairFiles{}, firstErr
	}
	if !exists(cert) && !exists(key) {
		return nil, pairFiles{}, errNoPair
	}
	return nil, pairFiles{}, fmt.Errorf("%s: incomplete certificate pair", dir)
}

func loadPairFiles(certPath, keyPath string) (*Pair, error) {
	certPEM, err := readSmallFile(certPath, maxPEMBytes)
	if err != nil {
		return nil, err
	}
	keyPEM, err := readSmallFile(keyPath, maxPEMBytes)
	if err != nil {
		return nil, err
	}
	p, err := parsePair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Dir(certPath), err)
	}
	return p, nil
}

// recoverPair rolls an interrupted install in dir forward (storage lock
// held): the matching *.new files are renamed into place and stale ones
// removed.
func recoverPair(dir string) error {
	cert, key := filepath.Join(dir, fullchainFile), filepath.Join(dir, privkeyFile)
	if !exists(cert+newSuffix) && !exists(key+newSuffix) {
		return nil
	}
	_, files, err := readPair(dir)
	if err != nil && !errors.Is(err, errNoPair) {
		return err
	}
	if files.key == key+newSuffix {
		if err := os.Rename(files.key, key); err != nil {
			return err
		}
	}
	if files.cert == cert+newSuffix {
		if err := os.Rename(files.cert, cert); err != nil {
			return err
		}
	}
	for _, stale := range []string{cert + newSuffix, key + newSuffix} {
		if err := os.Remove(stale); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return syncDir(dir)
}

// installPair atomically replaces the pair in dir (storage lock held, the
// pair already checked). See the package documentation for the steps.
func installPair(dir string, certPEM, keyPEM []byte) error {
	if err := ensureDir(dir); err != nil {
		return err
	}
	if err := recoverPair(dir); err != nil {
		return fmt.Errorf("recovering an interrupted install: %w", err)
	}
	cert, key := filepath.Join(dir, fullchainFile), filepath.Join(dir, privkeyFile)
	if err := writeFileAtomic(key+newSuffix, keyPEM); err != nil {
		return err
	}
	if err := writeFileAtomic(cert+newSuffix, certPEM); err != nil {
		os.Remove(key + newSuffix)
		return err
	}
	for _, f := range []string{cert, key} {
		if err := backup(f); err != nil {
			os.Remove(cert + newSuffix)
			os.Remove(key + newSuffix)
			return err
		}
	}
	if err := os.Rename(key+newSuffix, key); err != nil {
		return err
	}
	if err := os.Rename(cert+newSuffix, cert); err != nil {
		return err // the next pass's recoverPair finishes the install
	}
	return syncDir(dir)
}

// backup hard-links f to f.prev, replacing an older backup.
func backup(f string) error {
	if !exists(f) {
		return nil
	}
	if err := os.Remove(f + prevSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Link(f, f+prevSuffix)
}
