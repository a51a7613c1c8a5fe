//go:build !linux

package php

import "syscall"

// Outside Linux the portable Lstat walk is always used.
func openat2Works(syscall.RawConn) bool { return false }

func (s *scriptRoot) statNoSymlinks(rel string) kind { return s.statWalk(rel) }
