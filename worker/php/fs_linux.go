//go:build linux

package php

import (
	"syscall"

	"golang.org/x/sys/unix"
)

const resolveFlags = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// openat2Works probes openat2 once (ENOSYS before Linux 5.6, EPERM under
// some seccomp profiles).
func openat2Works(rc syscall.RawConn) bool {
	ok := false
	_ = rc.Control(func(dirfd uintptr) {
		fd, err := unix.Openat2(int(dirfd), ".", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: resolveFlags})
		if err == nil {
			unix.Close(fd)
			ok = true
		}
	})
	return ok
}

// statNoSymlinks opens rel with O_PATH below the root, refusing symlinks
// in every component, and classifies the opened inode.
func (s *scriptRoot) statNoSymlinks(rel string) kind {
	k := kindRefused
	_ = s.rc.Control(func(dirfd uintptr) {
		how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC | unix.O_NOFOLLOW, Resolve: resolveFlags}
		var fd int
		var err error
		for {
			fd, err = unix.Openat2(int(dirfd), rel, &how)
			if err != unix.EINTR && err != unix.EAGAIN {
				break
			}
		}
		if err != nil {
			k = kindOfErr(err)
			return
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil {
			return
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			k = kindFile
		case unix.S_IFDIR:
			k = kindDir
		}
	})
	return k
}
