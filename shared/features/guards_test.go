package features

import (
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
)

// buildCase is one "go build -tags" run of this package.
type buildCase struct {
	name string
	tags []string
	// wantIdents are guard identifiers the failing build must report; nil
	// means the build must succeed.
	wantIdents []string
}

// tagsFor returns fh_nodefault plus the tags of features (which are not
// closed under implication unless the caller made them so).
func tagsFor(features ...string) []string {
	tags := []string{NoDefaultTag}
	for _, f := range features {
		tags = append(tags, Tag(f))
	}
	return tags
}

func guardBuildCases() []buildCase {
	cases := []buildCase{
		{name: "plain build", tags: nil},
		{name: "nodefault only", tags: []string{NoDefaultTag}},
		{name: "default plus php-fpm", tags: []string{Tag(PHPFPM)}},
		{name: "default plus observability", tags: []string{
			Tag(Metrics), Tag(MetricsOTLP), Tag(OtelTracing), Tag(OtelOTLP)}},
		// The default set has cache and tls-go, so these fail without fh_nodefault.
		{name: "privacy-mode on the default set", tags: []string{Tag(PrivacyMode)},
			wantIdents: []string{"privacyModeCannotBeCombinedWithCache"}},
		{name: "tls-go-fips on the default set", tags: []string{Tag(TLSGoFIPS)},
			wantIdents: []string{"tlsGoCannotBeCombinedWithTlsGoFips"}},
		{name: "hand-written php-fpm without implied tags", tags: tagsFor(PHPFPM),
			wantIdents: []string{
				implicationGuardIdent(PHPFPM, Proxy), implicationGuardIdent(PHPFPM, Web)}},
	}
	// Every alias as Expand resolves it builds.
	for _, alias := range append(Profiles(), DefaultAlias) {
		_, tags, err := Expand([]string{alias})
		if err != nil {
			panic(err)
		}
		cases = append(cases, buildCase{name: "alias " + alias, tags: tags})
	}
	// Every forbidden combination fails, even with all implied tags present.
	for _, c := range conflicts {
		cases = append(cases, buildCase{
			name:       "forbidden " + c.a + " + " + c.b,
			tags:       tagsFor(closure([]string{c.a, c.b})...),
			wantIdents: []string{c.guardIdent()},
		})
	}
	// Every implication edge: the feature's closure without the implied one.
	for _, from := range canonicalNames {
		for _, to := range implies[from] {
			set := slices.DeleteFunc(closure([]string{from}), func(f string) bool { return f == to })
			cases = append(cases, buildCase{
				name:       "missing implied " + from + " -> " + to,
				tags:       tagsFor(set...),
				wantIdents: []string{implicationGuardIdent(from, to)},
			})
		}
	}
	return cases
}

// TestGuardsFailTheBuild runs "go build -tags ..." of this package for
// every forbidden combination and missing implication (must fail with the
// guard's identifier in the error) and for every alias (must succeed).
func TestGuardsFailTheBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command; skipped with -short")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	cases := guardBuildCases()
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	results := make([]string, len(cases))
	errs := make([]error, len(cases))
	for i, c := range cases {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			cmd := exec.Command(goCmd, "build", "-tags", strings.Join(c.tags, ","), "-o", "/dev/null", ".")
			out, err := cmd.CombinedOutput()
			results[i], errs[i] = string(out), err
		})
	}
	wg.Wait()
	for i, c := range cases {
		out, err := results[i], errs[i]
		if c.wantIdents == nil {
			if err != nil {
				t.Errorf("%s: go build -tags %s failed: %v\n%s", c.name, strings.Join(c.tags, ","), err, out)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: go build -tags %s succeeded, want a guard failure", c.name, strings.Join(c.tags, ","))
			continue
		}
		for _, ident := range c.wantIdents {
			if !strings.Contains(out, "undefined: "+ident) {
				t.Errorf("%s: go build -tags %s output lacks %q:\n%s", c.name, strings.Join(c.tags, ","), ident, out)
			}
		}
	}
}
