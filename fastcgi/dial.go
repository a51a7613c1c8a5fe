package fastcgi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// dialer opens connections to the application.
type dialer struct {
	network string // "unix" or "tcp"
	timeout time.Duration
	nd      net.Dialer
}

// errPrivate refuses a resolved private address.
var errPrivate = errors.New("resolves to a loopback, private or link-local address (allow_private_tcp_upstreams is off)")

func newDialer(network string, timeout time.Duration, allowPrivate bool, isPrivate func(netip.Addr) bool) *dialer {
	d := &dialer{network: network, timeout: timeout}
	if network == "tcp" && !allowPrivate && isPrivate != nil {
		// Checked on the address actually connected to, after name
		// resolution (DNS rebinding guard).
		d.nd.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return err
			}
			if ip := ap.Addr().Unmap(); isPrivate(ip) || ip.IsMulticast() {
				return fmt.Errorf("%s %w", ip, errPrivate)
			}
			return nil
		}
	}
	return d
}

// dial connects to addr before the deadline (and within the connect
// timeout, when set). TCP connections get TCP_NODELAY (Go's default).
func (d *dialer) dial(ctx context.Context, addr string, deadline time.Time) (*conn, error) {
	if d.timeout > 0 {
		if t := time.Now().Add(d.timeout); t.Before(deadline) {
			deadline = t
		}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	c, err := d.nd.DialContext(dctx, d.network, addr)
	if err != nil {
		k := KindConnect
		if ctx.Err() != nil {
			k = KindCanceled
		}
		return nil, &Error{Kind: k, Addr: addr, Err: err}
	}
	return newConn(c, addr), nil
}
