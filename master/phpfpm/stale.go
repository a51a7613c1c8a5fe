package phpfpm

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// cleanStale removes instance directories ("i-<master pid>-<seq>-<slug>")
// whose fluxheim master is gone. A php-fpm still running from one (its
// pid file names a process whose command line names that directory's
// config) is stopped: SIGQUIT (it may share a socket with our instances
// and have requests in flight), SIGKILL to its process group after 2 s.
// Directories of live masters (the old master during a binary upgrade)
// are left alone.
func (m *Manager) cleanStale() {
	ents, err := os.ReadDir(m.stateDir)
	if err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || !strings.HasPrefix(name, "i-") {
			continue
		}
		mpidStr, _, _ := strings.Cut(name[2:], "-")
		mpid, err := strconv.Atoi(mpidStr)
		if err != nil || mpid == os.Getpid() || processAlive(mpid) {
			continue
		}
		dir := filepath.Join(m.stateDir, name)
		ip := instancePaths(dir)
		if pid := readPid(ip.pid); pid > 1 {
			if processAlive(pid) && cmdlineContains(pid, ip.conf) {
				m.log.Warn("php-fpm: stopping an instance left by a previous fluxheim master", "pid", pid, "dir", dir)
				_ = unix.Kill(pid, unix.SIGQUIT)
				for i := 0; i < 20 && groupAlive(pid); i++ {
					time.Sleep(100 * time.Millisecond)
				}
				_ = unix.Kill(-pid, unix.SIGKILL)
			} else {
				// Its master is gone; workers may be left in its group.
				signalGroup(pid, unix.SIGKILL, true)
			}
		}
		os.RemoveAll(dir)
	}
}

func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

func cmdlineContains(pid int, s string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && strings.Contains(string(b), s)
}
