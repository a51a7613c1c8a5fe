package master

import (
	"github.com/fluxheim/fluxheim/master/phpfpm"
	"os"
	"sort"
	"time"
)

// Status is what `fluxheim -s status` prints.
type Status struct {
	Pid        int            `json:"pid"`
	Uptime     string         `json:"uptime"`
	Generation uint64         `json:"generation"`
	Restarts   int            `json:"restarts"`
	Sockets    int            `json:"sockets"`
	Workers    []WorkerStatus `json:"workers"`
	// PHPFPM lists the managed php-fpm instances.
	PHPFPM []phpfpm.InstanceStatus `json:"php_fpm,omitempty"`
}

// WorkerStatus describes one worker process.
type WorkerStatus struct {
	Pid        int    `json:"pid"`
	Generation uint64 `json:"generation"`
	Index      int    `json:"index"`
	State      string `json:"state"` // starting, serving, draining
	Uptime     string `json:"uptime"`
}

func (m *Master) status() Status {
	st := Status{Pid: os.Getpid(), Uptime: time.Since(m.started).Round(time.Second).String(),
		Generation: m.gen, Restarts: m.restarts, Sockets: m.socks.count()}
	for p := range m.procs {
		state := "serving"
		switch {
		case p.stopping:
			state = "draining"
		case !isClosed(p.ready):
			state = "starting"
		}
		st.Workers = append(st.Workers, WorkerStatus{Pid: p.pid, Generation: p.gen, Index: p.index, State: state,
			Uptime: time.Since(p.started).Round(time.Second).String()})
	}
	if m.fpm != nil {
		st.PHPFPM = m.fpm.Status()
	}
	sort.Slice(st.Workers, func(i, j int) bool {
		a, b := st.Workers[i], st.Workers[j]
		if a.Generation != b.Generation {
			return a.Generation > b.Generation
		}
		return a.Index < b.Index
	})
	return st
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
