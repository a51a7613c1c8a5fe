package features

import (
	"fmt"
	"strings"
	"unicode"
)

// conflict is a pair of features that must not be compiled together.
type conflict struct {
	a, b   string
	reason string
}

// conflicts are the forbidden combinations, checked in this order (a
// feature before the features it implies, so the error names the most
// specific one). They are
// the seed's list plus privacy-mode with compression (spec §2.23) and
// geoip (the Rust project's compile_error! guards).
var conflicts = []conflict{
	{TLSGo, TLSGoFIPS, "a binary links exactly one TLS backend; " +
		"select tls-go or tls-go-fips (tls-go-fips needs fh_nodefault, or a list " +
		"without the default set)"},
	{PrivacyMode, Cache, "zero-retention builds must not compile request/response cache code; " +
		"cache is a default feature, so privacy builds need no default features (fh_nodefault)"},
	{PrivacyMode, MetricsOTLP, "zero-retention builds must not compile metrics export"},
	{PrivacyMode, Metrics, "zero-retention builds must not compile request metrics"},
	{PrivacyMode, OtelOTLP, "zero-retention builds must not compile trace export"},
	{PrivacyMode, OtelTracing, "zero-retention builds must not compile trace context propagation"},
	{PrivacyMode, CompressionGzip, "zero-retention builds must not transform response bodies"},
	{PrivacyMode, CompressionZstd, "zero-retention builds must not transform response bodies"},
	{PrivacyMode, CompressionBrotli, "zero-retention builds must not transform response bodies"},
	{PrivacyMode, Compression, "zero-retention builds must not transform response bodies"},
	{PrivacyMode, GeoIP, "privacy-mode builds do not include GeoIP lookup or Geo-Context metadata"},
}

// ForbiddenCombination is one pair of features that cannot be built together.
type ForbiddenCombination struct {
	A, B   string
	Reason string
}

// ForbiddenCombinations returns the forbidden feature pairs with reasons, in
// the order Expand checks them.
func ForbiddenCombinations() []ForbiddenCombination {
	out := make([]ForbiddenCombination, len(conflicts))
	for i, c := range conflicts {
		out[i] = ForbiddenCombination{A: c.a, B: c.b, Reason: c.reason}
	}
	return out
}

// guardIdent is the undefined identifier a conflict guard file refers to;
// the compiler prints it as "undefined: <ident>".
func (c conflict) guardIdent() string {
	return lowerFirst(camel(c.a)) + "CannotBeCombinedWith" + camel(c.b)
}

// implicationGuardIdent is the undefined identifier the guard for "from
// implies to" refers to.
func implicationGuardIdent(from, to string) string {
	return lowerFirst(camel(from)) + "Requires" + camel(to) + "_addBuildTag_" + Tag(to)
}

// camel turns "metrics-otlp" into "MetricsOtlp".
func camel(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "-") {
		if part == "" {
			continue
		}
		r := []rune(part)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	return b.String()
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

// onExpr is the build constraint under which feature name is compiled.
func onExpr(name string) string {
	if inDefault(name) {
		return fmt.Sprintf("(!%s || %s)", NoDefaultTag, Tag(name))
	}
	return Tag(name)
}
