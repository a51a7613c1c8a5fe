package php

import (
	"time"

	"github.com/fluxheim/fluxheim/fastcgi"
	"github.com/fluxheim/fluxheim/shared/config"
)

// newClient maps [vhosts.php.fpm] (and the response bounds of the block)
// to a FastCGI client. A managed pool is dialled on its unix socket,
// config.ManagedPoolName(vhost, route) in socket_dir.
func newClient(c *config.PHP, d Deps) (*fastcgi.Client, error) {
	f := &c.FPM
	o := fastcgi.Options{
		AllowPrivate:          f.AllowPrivateTCPUpstreams,
		IsPrivate:             config.IsPrivateAddr,
		ConnectTimeout:        secs(f.ConnectTimeoutSecs),
		Keepalive:             f.Keepalive,
		PoolMax:               *f.PoolMaxIdle,
		IdleTimeout:           time.Duration(*f.IdleTimeoutSecs) * time.Second,
		MaxRetries:            f.MaxRetries,
		RetryTimeout:          secs(f.RetryTimeoutSecs),
		RetryMethods:          f.RetryMethods,
		RetryInvalidResponse:  f.RetryInvalidResponse,
		RetryStatuses:         f.RetryStatuses,
		MaxHeaderBytes:        int(*c.MaxResponseHeaderBytes),
		MaxBodyBytes:          int64(*c.MaxResponseBytes),
		StderrKeepBytes:       int(*c.StderrMaxBytes),
		MaxStderrBytes:        int64(*c.MaxResponseBytes),
		StderrFailurePatterns: c.StderrFailurePatterns,
	}
	switch {
	case f.IsManaged():
		o.Network, o.Addrs = "unix", []string{f.ManagedSocketPath(config.ManagedPoolName(d.Vhost, d.Route))}
	case f.Socket != "":
		o.Network, o.Addrs = "unix", []string{f.Socket}
	case f.TCP != "":
		o.Network, o.Addrs = "tcp", []string{f.TCP}
	default:
		o.Network, o.Addrs = "tcp", f.TCPUpstreams
	}
	return fastcgi.New(o)
}

func secs(p *int) time.Duration {
	if p == nil {
		return 0
	}
	return time.Duration(*p) * time.Second
}

// exchangeTimeout is the span of the absolute deadline of a PHP request:
// the shortest of request_timeout_secs and the fpm read and write
// timeouts (connect_timeout_secs bounds only the dial).
func exchangeTimeout(c *config.PHP) time.Duration {
	d := time.Duration(*c.RequestTimeoutSecs) * time.Second
	for _, p := range []*int{c.FPM.ReadTimeoutSecs, c.FPM.WriteTimeoutSecs} {
		if t := secs(p); t > 0 && t < d {
			d = t
		}
	}
	return d
}
