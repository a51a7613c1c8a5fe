package acme

import (
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"time"
)

// targetState is a target's renewal bookkeeping, kept in state.json next
// to its pair so that backoff survives restarts, reloads and upgrades.
type targetState struct {
	Failures    int       `json:"failures,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
}

// readState loads dir's state.json; a missing or unreadable file is a
// clean state (state is advisory, never a reason to stop).
func readState(dir string) targetState {
	var st targetState
	data, err := readSmallFile(filepath.Join(dir, stateFile), 64<<10)
	if err == nil {
		if json.Unmarshal(data, &st) != nil {
			st = targetState{}
		}
	}
	return st
}

// writeState stores st in dir (storage lock held).
func writeState(dir string, st targetState) error {
	if err := ensureDir(dir); err != nil {
		return err
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, stateFile), append(data, '\n'))
}

// recordFailure counts one more failure at now and schedules the next
// background attempt with bounded doubling backoff.
func (st *targetState) recordFailure(now time.Time, err error, initial, max time.Duration) {
	st.Failures++
	st.LastError = err.Error()
	st.LastAttempt = now
	st.NextAttempt = now.Add(backoff(st.Failures, initial, max))
}

// recordSuccess clears the failure count at now.
func (st *targetState) recordSuccess(now time.Time) {
	*st = targetState{LastAttempt: now, LastSuccess: now}
}

// isNotExist reports a missing file.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
