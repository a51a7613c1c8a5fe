//go:build !fh_nodefault || fh_proxy

package server

import (
	"log"
	"time"

	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/worker/proxy"
	"github.com/fluxheim/fluxheim/worker/upstreamtls"
)

func init() {
	newProxy = func(c *config.Proxy, chain []*config.Headers, names []string, errLog *log.Logger) (proxyServer, error) {
		req, err := requestPolicy(chain, names)
		if err != nil {
			return nil, err
		}
		tlsCfg, err := upstreamtls.Config(c)
		if err != nil {
			return nil, err
		}
		secs := func(p *int) time.Duration { return time.Duration(*p) * time.Second }
		return proxy.New(proxy.Options{
			Upstream:          c.Target(),
			ConnectTimeout:    secs(c.ConnectTimeoutSecs),
			ReadTimeout:       secs(c.ReadTimeoutSecs),
			SendTimeout:       secs(c.SendTimeoutSecs),
			IdleTimeout:       secs(c.UpstreamIdleTimeoutSecs),
			KeepalivePoolSize: *c.UpstreamKeepalivePoolSize,
			WebSocket:         *c.Websocket,
			Request:           req,
			ErrorLog:          errLog,
			TLS:               tlsCfg,
			HTTP2:             c.UpstreamHTTPVersion != "http1",
			HTTP1Off:          c.UpstreamHTTPVersion == "http2",
		})
	}
}
