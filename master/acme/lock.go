package acme

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// lockPoll is how often a blocked pass retries the storage lock.
const lockPoll = 200 * time.Millisecond

// storageLock is the exclusive flock on <storage>/.lock that makes one
// process the only writer of the storage (see the package documentation).
type storageLock struct{ f *os.File }

// lockStorage takes the storage lock, waiting while another process (or
// another Manager) holds it, until ctx ends. waiting is called once if
// the lock is busy, with the holder's pid when known.
func lockStorage(ctx context.Context, storage string, waiting func(pid int)) (*storageLock, error) {
	if err := ensureDir(storage); err != nil {
		return nil, err
	}
	path := filepath.Join(storage, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, fileMode)
	if err != nil {
		return nil, err
	}
	told := false
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if !told && waiting != nil {
			told = true
			waiting(lockHolder(f))
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
	// Record the holder for the diagnostics of a waiting process.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &storageLock{f: f}, nil
}

// lockHolder reads the pid the current holder wrote (0 if unknown).
func lockHolder(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	return pid
}

// unlock releases the lock.
func (l *storageLock) unlock() {
	unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	l.f.Close()
}
