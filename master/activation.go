package master

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"

	"github.com/coreos/go-systemd/v22/activation"

	"github.com/fluxheim/fluxheim/shared/config"
)

// adoptActivated takes the sockets systemd passed (LISTEN_FDS) as the
// first slot of their addresses. Every inherited socket must be a TCP
// listener whose address is configured in server.listen; any mismatch is
// fatal (fluxheim never falls back to binding when activation variables
// are present).
func (m *Master) adoptActivated() error {
	if os.Getenv("LISTEN_FDS") == "" && os.Getenv("LISTEN_PID") == "" {
		return nil
	}
	if pid := os.Getenv("LISTEN_PID"); pid != strconv.Itoa(os.Getpid()) {
		return fmt.Errorf("socket activation: LISTEN_PID=%s is not this process (%d)", pid, os.Getpid())
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 1 || n > 128 {
		return fmt.Errorf("socket activation: LISTEN_FDS=%q, want 1..128", os.Getenv("LISTEN_FDS"))
	}
	files := activation.Files(true)
	if len(files) != n {
		return fmt.Errorf("socket activation: LISTEN_FDS=%d but %d descriptors were usable", n, len(files))
	}
	want := map[netip.AddrPort]string{}
	for _, a := range listenAddrs(m.cfg) {
		ap, err := config.ParseListenAddr(a)
		if err != nil {
			return err
		}
		want[ap] = a
	}
	for _, f := range files {
		ln, err := net.FileListener(f)
		if err != nil {
			return fmt.Errorf("socket activation: fd %d (%s) is not a listening socket: %w", f.Fd(), f.Name(), err)
		}
		tcp, ok := ln.Addr().(*net.TCPAddr)
		ln.Close()
		if !ok {
			return fmt.Errorf("socket activation: fd %d is %s, want a TCP listener", f.Fd(), ln.Addr())
		}
		ap := netip.AddrPortFrom(tcp.AddrPort().Addr().Unmap(), tcp.AddrPort().Port())
		addr, ok := want[ap]
		if !ok {
			return fmt.Errorf("socket activation: inherited socket %s is not in server.listen or server.tls_listen %v", ap, listenAddrs(m.cfg))
		}
		delete(want, ap)
		if err := m.socks.adopt(addr, f); err != nil {
			return fmt.Errorf("socket activation: %s: %w", addr, err)
		}
		m.log.Info("adopted socket from systemd", "addr", addr)
	}
	return nil
}
