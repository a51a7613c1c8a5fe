package acme

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestStorageLockExcludesAndWaits(t *testing.T) {
	storage := filepath.Join(t.TempDir(), "acme")
	held, err := lockStorage(context.Background(), storage, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(storage, lockFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file: %v", err)
	}

	// A second locker (another master: flock is per open file) waits,
	// reports the holder, and gives up when its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var holder int
	if _, err := lockStorage(ctx, storage, func(pid int) { holder = pid }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lock while held: %v", err)
	}
	if holder != os.Getpid() {
		t.Fatalf("holder pid %d, want %d", holder, os.Getpid())
	}

	// Once released, the waiter gets it.
	got := make(chan error, 1)
	go func() {
		l, err := lockStorage(context.Background(), storage, nil)
		if err == nil {
			l.unlock()
		}
		got <- err
	}()
	time.Sleep(2 * lockPoll)
	held.unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter never got the lock")
	}
}
