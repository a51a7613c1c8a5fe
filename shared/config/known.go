package config

import "strings"

// keyKind says how a Fluxheim key fluxheim does not decode is treated.
type keyKind uint8

const (
	// notImplemented: Fluxheim has it, fluxheim does not yet: an error.
	notImplemented keyKind = iota
	// unsupported: Fluxheim has it, fluxheim never will: an error.
	unsupported
)

// knownKey describes a Fluxheim key path (array indices dropped) that the
// typed config does not hold.
type knownKey struct {
	kind   keyKind
	module string // build feature that will carry it ("" = core)
	note   string // extra advice
}

// fluxheimKeys lists Fluxheim keys fluxheim rejects with a specific
// message instead of "unknown key". A table listed here may still appear
// with only `enabled = false`: that is accepted (nothing is turned on).
var fluxheimKeys = map[string]knownKey{
	"tls":                        {module: "tls"},
	"admin":                      {},
	"metrics":                    {module: "metrics"},
	"tracing":                    {module: "otel-tracing"},
	"compression":                {module: "compression"},
	"cache":                      {module: "cache"},
	"cache_purger":               {module: "cache"},
	"geoip":                      {module: "geoip"},
	"stream":                     {module: "stream-proxy"},
	"udp":                        {kind: unsupported, note: "the udp-proxy beta is not part of fluxheim"},
	"wasm":                       {kind: unsupported, note: "Wasm policy plugins are not part of fluxheim"},
	"server.https_redirect":      {module: "tls"},
	"server.process.max_retries": {note: "fluxheim retries only failed connects of requests whose body was not sent"},
}

// Per-vhost and per-route tables not implemented yet.
var vhostTables = map[string]string{
	"cache": "cache", "access": "", "rate_limit": "",
	"concurrency": "", "compression": "compression", "acme_challenge": "acme",
}

var routeTables = map[string]string{
	"cache": "cache", "access": "", "rate_limit": "",
	"concurrency": "", "compression": "compression", "grpc": "",
}

// Proxy keys of Fluxheim not implemented yet, with the module they need.
var proxyKeys = map[string]string{
	"load_balance": "load-balancer", "auth_request": "", "mirror": "traffic-mirror", "error_pages": "",
	"upstreams_file": "load-balancer", "upstreams_file_refresh_secs": "load-balancer",
	"upstream_dns_refresh_secs": "load-balancer", "upstream_dns_allow_private_backends": "load-balancer",
	"upstreams_http_url": "load-balancer", "upstreams_http_refresh_secs": "load-balancer",
	"upstreams_http_bearer_token_file": "load-balancer", "upstreams_http_allow_private_backends": "load-balancer",
	"upstream_weights": "load-balancer", "upstream_priority_groups": "load-balancer",
	"upstream_priority_group_min_active": "load-balancer", "upstream_localities": "load-balancer",
	"preferred_upstream_localities": "load-balancer", "upstream_max_in_flight": "load-balancer",
	"upstream_aliases": "load-balancer", "upstream_tags": "load-balancer", "backup_upstreams": "load-balancer",
	"drain_upstreams": "load-balancer", "disabled_upstreams": "load-balancer",
	"upstream_h2c_upgrade":    "",
	"upstream_h2_max_streams": "", "upstream_h2_ping_interval_secs": "", "upstream_proxy_protocol": "",
	"upstream_total_connection_timeout_secs": "", "upstream_tcp_keepalive_idle_secs": "",
	"upstream_tcp_keepalive_interval_secs": "", "upstream_tcp_keepalive_count": "",
	"upstream_tcp_user_timeout_ms": "", "upstream_tcp_recv_buffer_bytes": "", "upstream_dscp": "",
	"upstream_tcp_fast_open": "", "downstream_write_timeout_secs": "",
	"downstream_total_response_timeout_secs": "", "downstream_min_send_rate_bytes_per_sec": "",
}

// Header policy keys not implemented yet.
var headerKeys = map[string]string{
	"request.operations": "", "response.operations": "", "response.rewrite": "",
}

// lookupKnown classifies a key path (indices already dropped). It returns
// the known key and the prefix of parts it covers.
func lookupKnown(parts []string) (knownKey, int, bool) {
	for n := len(parts); n > 0; n-- {
		if k, ok := fluxheimKeys[strings.Join(parts[:n], ".")]; ok {
			return k, n, true
		}
	}
	// Tables that hold proxy and headers policies, at every level.
	for i := range parts {
		switch parts[i] {
		case "proxy":
			if i+1 < len(parts) && isPolicyScope(parts[:i]) {
				if m, ok := proxyKeys[parts[i+1]]; ok {
					return knownKey{module: m}, i + 2, true
				}
			}
		case "headers":
			if i+2 < len(parts) && isPolicyScope(parts[:i]) {
				if m, ok := headerKeys[parts[i+1]+"."+parts[i+2]]; ok {
					return knownKey{module: m}, i + 3, true
				}
			}
		}
	}
	if len(parts) >= 2 && parts[0] == "vhosts" {
		if len(parts) >= 3 && parts[1] == "routes" {
			if m, ok := routeTables[parts[2]]; ok {
				return knownKey{module: m}, 3, true
			}
		}
		if m, ok := vhostTables[parts[1]]; ok {
			return knownKey{module: m}, 2, true
		}
	}
	return knownKey{}, 0, false
}

// isPolicyScope reports whether prefix is a place proxy/headers tables live:
// the top level, a vhost or a route.
func isPolicyScope(prefix []string) bool {
	switch strings.Join(prefix, ".") {
	case "", "vhosts", "vhosts.routes":
		return true
	}
	return false
}
