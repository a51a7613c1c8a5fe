// Package tlsbackend reports which TLS backend this binary was built with
// and the state of Go's FIPS 140-3 module, for "fluxheim crypto" and
// "fluxheim-config-tester --crypto".
//
// The tls-go-fips backend is crypto/tls running on Go's FIPS 140-3
// Cryptographic Module. Such a binary must be built with GOFIPS140=v1.0.0,
// which links the CMVP-certified module snapshot shipped in
// $(go env GOROOT)/lib/fips140 (certified.txt) and makes FIPS 140-3 mode the
// default (DefaultGODEBUG fips140=on). GODEBUG=fips140=off at run time can
// still switch the mode off; the report then says so and is not OK.
package tlsbackend

import (
	"crypto/fips140"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/fluxheim/fluxheim/shared/features"
)

// RequiredFIPSModule is the FIPS 140-3 module version a tls-go-fips binary
// must carry: the CMVP-certified snapshot, selected with GOFIPS140=v1.0.0.
const RequiredFIPSModule = "v1.0.0"

// CryptoReport describes the crypto of the running binary.
type CryptoReport struct {
	// Backend is features.TLSBackend(): "tls-go", "tls-go-fips" or "none".
	Backend string
	// FIPSEnabled is crypto/fips140.Enabled(): FIPS 140-3 mode is on.
	FIPSEnabled bool
	// FIPSEnforced is crypto/fips140.Enforced() (GODEBUG=fips140=only).
	FIPSEnforced bool
	// FIPSModule is crypto/fips140.Version(): "latest" unless the binary
	// was built against a frozen module (e.g. "v1.0.0").
	FIPSModule string
	// GOFIPS140 is the GOFIPS140 build setting recorded in the binary,
	// e.g. "v1.0.0-c2097c7c"; "off" if none was recorded, "unknown" if the
	// binary has no build information.
	GOFIPS140 string
	// BuildDefault is the fips140 value of the DefaultGODEBUG build
	// setting ("on" when built with GOFIPS140), or "off".
	BuildDefault string
	// GODEBUG is the fips140 value of the GODEBUG environment variable,
	// or "unset".
	GODEBUG string
	// GoVersion is runtime.Version().
	GoVersion string
	// Problems lists why the crypto setup does not match the backend; empty
	// means OK.
	Problems []string
}

// Report inspects the running binary.
func Report() CryptoReport {
	r := CryptoReport{
		Backend:      features.TLSBackend(),
		FIPSEnabled:  fips140.Enabled(),
		FIPSEnforced: fips140.Enforced(),
		FIPSModule:   fips140.Version(),
		GOFIPS140:    "unknown",
		BuildDefault: "off",
		GODEBUG:      godebugValue(os.Getenv("GODEBUG"), "fips140", "unset"),
		GoVersion:    runtime.Version(),
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		r.GOFIPS140 = "off"
		for _, s := range info.Settings {
			switch s.Key {
			case "GOFIPS140":
				r.GOFIPS140 = s.Value
			case "DefaultGODEBUG":
				r.BuildDefault = godebugValue(s.Value, "fips140", "off")
			}
		}
	}
	r.Problems = r.check()
	return r
}

// check returns the problems of r (ignoring r.Problems).
func (r CryptoReport) check() []string {
	if r.Backend != features.TLSGoFIPS {
		return nil
	}
	var p []string
	switch {
	case r.FIPSEnabled:
	case r.BuildDefault == "on":
		p = append(p, "backend tls-go-fips but FIPS 140-3 mode is disabled by "+
			"GODEBUG=fips140="+r.GODEBUG+"; unset it or set fips140=on")
	default:
		p = append(p, "backend tls-go-fips but FIPS 140-3 mode is disabled: the binary was "+
			"not built with GOFIPS140="+RequiredFIPSModule+" (which makes fips140=on the default)")
	}
	if r.FIPSModule != RequiredFIPSModule {
		p = append(p, fmt.Sprintf("backend tls-go-fips but the FIPS 140-3 module is %q, "+
			"not the CMVP-certified %s (GOFIPS140=%s); rebuild with GOFIPS140=%s",
			r.FIPSModule, RequiredFIPSModule, r.GOFIPS140, RequiredFIPSModule))
	}
	return p
}

// OK reports whether the report has no problems.
func (r CryptoReport) OK() bool { return len(r.Problems) == 0 }

// Err returns nil if OK, else an error joining the problems.
func (r CryptoReport) Err() error {
	if r.OK() {
		return nil
	}
	return errors.New(strings.Join(r.Problems, "; "))
}

// String renders the report as "key: value" lines, in this order:
//
//	tls-backend: tls-go | tls-go-fips | none
//	fips140-enabled: true | false
//	fips140-enforced: true | false
//	fips140-module: latest | v1.0.0 | ...
//	gofips140: off | v1.0.0-c2097c7c | latest | ... | unknown
//	fips140-build-default: on | off
//	fips140-godebug-env: on | off | only | ... | unset
//	go-version: go1.26.8
//	status: ok | error
//	problem: <text>            (one line per problem, only with status error)
//
// Every line ends in "\n".
func (r CryptoReport) String() string {
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%s: %s\n", k, v) }
	line("tls-backend", r.Backend)
	line("fips140-enabled", fmt.Sprint(r.FIPSEnabled))
	line("fips140-enforced", fmt.Sprint(r.FIPSEnforced))
	line("fips140-module", r.FIPSModule)
	line("gofips140", r.GOFIPS140)
	line("fips140-build-default", r.BuildDefault)
	line("fips140-godebug-env", r.GODEBUG)
	line("go-version", r.GoVersion)
	if r.OK() {
		line("status", "ok")
	} else {
		line("status", "error")
		for _, p := range r.Problems {
			line("problem", p)
		}
	}
	return b.String()
}

// godebugValue returns the value of key in a GODEBUG-style list
// ("k=v,k2=v2"); the last occurrence wins, as in the runtime. It returns
// def if key is absent.
func godebugValue(list, key, def string) string {
	v := def
	for _, kv := range strings.Split(list, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if ok && k == key {
			v = val
		}
	}
	return v
}
