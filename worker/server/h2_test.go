package server

import (
	"net/http"
	"testing"
)

func TestH2ConnectionSpecific(t *testing.T) {
	for _, tc := range []struct {
		h    http.Header
		want bool
	}{
		{http.Header{"Accept": {"*/*"}}, false},
		{http.Header{"Te": {"trailers"}}, false},
		{http.Header{"Te": {" Trailers "}}, false},
		{http.Header{"Te": {"gzip"}}, true},
		{http.Header{"Te": {"trailers", "gzip"}}, true},
		{http.Header{"Connection": {"keep-alive"}}, true},
		{http.Header{"Keep-Alive": {"timeout=5"}}, true},
		{http.Header{"Proxy-Connection": {"x"}}, true},
		{http.Header{"Transfer-Encoding": {"chunked"}}, true},
		{http.Header{"Upgrade": {"websocket"}}, true},
	} {
		if got := h2ConnectionSpecific(tc.h); got != tc.want {
			t.Errorf("%v: got %v, want %v", tc.h, got, tc.want)
		}
	}
}
