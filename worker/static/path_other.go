//go:build !linux

package static

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"syscall"
)

// Outside Linux the portable Lstat walk through os.Root is always used.

func openat2Works(syscall.RawConn) bool { return false }

func (rv *resolver) openNoSymlinks(rel string) (*os.File, fileID, error) {
	return nil, fileID{}, errors.New("static: openat2 unavailable")
}

func idFromInfo(fi fs.FileInfo) fileID {
	id := fileID{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	switch {
	case fi.Mode().IsRegular():
		id.typ = typeReg
	case fi.IsDir():
		id.typ = typeDir
	}
	return id
}

func statFile(f *os.File) (fileID, error) {
	fi, err := f.Stat()
	if err != nil {
		return fileID{}, err
	}
	return idFromInfo(fi), nil
}

func (rv *resolver) lstatAt(dir *os.File, dirRel, name string) (fileID, bool, error) {
	fi, err := rv.root.Lstat(path.Join(dirRel, name))
	if err != nil {
		return fileID{}, false, err
	}
	return idFromInfo(fi), fi.Mode()&fs.ModeSymlink != 0, nil
}
