package features

import "slices"

// compiled holds the features compiled into this binary. The feature_*.go
// files add their feature from init; the map is read-only afterwards.
var compiled = map[string]bool{}

func markCompiled(name string) { compiled[name] = true }

// Has reports whether feature name is compiled into this binary. name is a
// canonical feature name; the seed's TLS backend names (tls-rustls,
// tls-rustls-fips, tls-rustls-iso19790) are accepted as their Go
// equivalents. Anything else reports false.
func Has(name string) bool {
	if to, ok := seedAliases[name]; ok {
		name = to
	}
	return compiled[name]
}

// List returns the canonical names of the compiled features, sorted.
func List() []string {
	out := make([]string, 0, len(compiled))
	for name := range compiled {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// NoTLSBackend is what TLSBackend returns when no TLS backend is compiled.
const NoTLSBackend = "none"

// TLSBackend returns the compiled TLS backend: TLSGo ("tls-go"), TLSGoFIPS
// ("tls-go-fips"), or NoTLSBackend ("none"). The guards make two backends
// in one binary a compile error.
func TLSBackend() string {
	for _, b := range tlsBackends {
		if compiled[b] {
			return b
		}
	}
	return NoTLSBackend
}
