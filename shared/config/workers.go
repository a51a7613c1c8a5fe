package config

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"strings"
)

// MaxWorkers bounds [server.process] workers.
const MaxWorkers = 1024

// Workers is [server.process] workers: 0 means "auto".
type Workers int

// Count resolves "auto" to the number of CPUs this process may use.
func (w Workers) Count() int {
	if w <= 0 {
		return runtime.NumCPU()
	}
	return int(w)
}

// UnmarshalTOML accepts "auto" or an integer 1..1024.
func (w *Workers) UnmarshalTOML(data []byte) error {
	s := strings.TrimSpace(string(data))
	if s == `"auto"` || s == `'auto'` {
		*w = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxWorkers {
		return fmt.Errorf("workers: want \"auto\" or 1..%d, got %s", MaxWorkers, s)
	}
	*w = Workers(n)
	return nil
}

// MarshalJSON writes "auto" or the number.
func (w Workers) MarshalJSON() ([]byte, error) {
	if w <= 0 {
		return []byte(`"auto"`), nil
	}
	return []byte(strconv.Itoa(int(w))), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (w *Workers) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		if s == "auto" {
			*w = 0
			return nil
		}
		return fmt.Errorf("workers: %q", s)
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*w = Workers(n)
	return nil
}

// MarshalText lets go-toml re-encode merged fragments.
func (w Workers) MarshalText() ([]byte, error) {
	if w <= 0 {
		return []byte("auto"), nil
	}
	return []byte(strconv.Itoa(int(w))), nil
}
