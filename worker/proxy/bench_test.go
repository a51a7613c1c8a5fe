package proxy

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/fluxheim/fluxheim/worker/reqctx"
)

// discardWriter is a minimal http.ResponseWriter for benchmarks.
type discardWriter struct {
	h      http.Header
	status int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(code int)        { d.status = code }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkProxy measures Serve end to end against a loopback upstream
// returning 1 KiB: ReverseProxy, header policy, transport, pooled
// connections. The client side (server accept/parse) is not included.
func BenchmarkProxy(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1024)
	up := newUpstream(b, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	h := mustNew(b, Options{Upstream: up.addr()})
	defer h.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest("GET", "/bench?x=1", nil)
		r.RemoteAddr = "192.0.2.10:50000"
		r.Header.Set("User-Agent", "wrk")
		r.Header.Set("Accept", "*/*")
		info := &reqctx.Info{PeerAddr: netip.MustParseAddrPort("192.0.2.10:50000"), ClientIP: netip.MustParseAddr("192.0.2.10"), Scheme: "http", Host: "example.org"}
		r = r.WithContext(reqctx.With(r.Context(), info))
		w := &discardWriter{h: make(http.Header)}
		for pb.Next() {
			clear(w.h)
			if err := h.Serve(w, r, "/bench?x=1"); err != nil || w.status != 200 {
				b.Fatalf("err %v status %d", err, w.status)
			}
		}
	})
}
