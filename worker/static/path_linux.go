//go:build linux

package static

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// resolveFlags confine a lookup below the root directory descriptor and
// refuse every symlink on the way, atomically (Linux 5.6+).
const resolveFlags = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// openFlags: O_NONBLOCK so a FIFO planted in the root cannot block the
// worker (nginx opens with O_NONBLOCK too); it has no effect on regular files.
const openFlags = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY

// openat2Works probes openat2 once: kernels before 5.6 answer ENOSYS and
// some seccomp profiles EPERM; then the portable walk is used.
func openat2Works(rc syscall.RawConn) bool {
	ok := false
	rc.Control(func(dirfd uintptr) {
		fd, err := unix.Openat2(int(dirfd), ".", &unix.OpenHow{Flags: openFlags | unix.O_DIRECTORY, Resolve: resolveFlags})
		if err == nil {
			unix.Close(fd)
			ok = true
		}
	})
	return ok
}

func (rv *resolver) openNoSymlinks(rel string) (*os.File, fileID, error) {
	fd, err := -1, error(nil)
	how := unix.OpenHow{Flags: openFlags, Resolve: resolveFlags}
	if cerr := rv.rc.Control(func(dirfd uintptr) {
		for {
			fd, err = unix.Openat2(int(dirfd), rel, &how)
			if err != unix.EINTR && err != unix.EAGAIN { // EAGAIN: RESOLVE_* raced a rename
				break
			}
		}
	}); cerr != nil {
		return nil, fileID{}, cerr
	}
	if err != nil {
		if err == unix.ELOOP {
			err = errSymlink
		}
		return nil, fileID{}, &os.PathError{Op: "openat2", Path: rel, Err: err}
	}
	id, err := fstatID(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fileID{}, err
	}
	if id.typ == typeOther {
		unix.Close(fd)
		return nil, fileID{}, errNotServed
	}
	return os.NewFile(uintptr(fd), rel), id, nil
}

func fstatID(fd int) (fileID, error) {
	var st unix.Stat_t
	for {
		err := unix.Fstat(fd, &st)
		if err == nil {
			break
		}
		if err != unix.EINTR {
			return fileID{}, err
		}
	}
	return idFromStat(&st), nil
}

func idFromStat(st *unix.Stat_t) fileID {
	id := fileID{
		dev:   uint64(st.Dev),
		ino:   uint64(st.Ino),
		size:  st.Size,
		mtime: st.Mtim.Nano(),
		ctime: st.Ctim.Nano(),
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		id.typ = typeReg
	case unix.S_IFDIR:
		id.typ = typeDir
	}
	return id
}

// statFile returns the identity of an open file without allocating.
func statFile(f *os.File) (fileID, error) {
	return fstatID(int(f.Fd()))
}

// lstatAt returns the identity of name inside the open directory dir
// without following a symlink (dirRel is unused on Linux).
func (rv *resolver) lstatAt(dir *os.File, dirRel, name string) (fileID, bool, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fileID{}, false, err
	}
	return idFromStat(&st), st.Mode&unix.S_IFMT == unix.S_IFLNK, nil
}
