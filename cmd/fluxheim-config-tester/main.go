// Command fluxheim-config-tester diagnoses a config offline against a
// release profile's modules (Fluxheim's config tester): it validates the
// config as fluxheim would and fails when the config needs a module the
// profile's build lacks. Prints "config tester: ok" on success.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/features"
	"github.com/fluxheim/fluxheim/shared/tlsbackend"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("fluxheim-config-tester", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.StringP("config", "c", os.Getenv("FLUXHEIM_CONFIG"), "config file or directory (required; env FLUXHEIM_CONFIG)")
	profile := fs.String("profile", features.DefaultTesterProfile, "release profile: "+strings.Join(features.TesterProfiles(), ", "))
	noRuntime := fs.Bool("no-runtime-paths", false, "skip checks of static roots, pid and log directories on this machine")
	explain := fs.Bool("explain", false, "print context lines")
	crypto := fs.Bool("crypto", false, "print this binary's TLS backend and FIPS state")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *crypto {
		fmt.Fprint(stdout, tlsbackend.Report().String())
	}
	if *path == "" {
		fmt.Fprintln(stderr, "fluxheim-config-tester: -c/--config is required")
		return 2
	}
	pol, err := features.TesterProfile(*profile)
	if err != nil {
		fmt.Fprintf(stderr, "fluxheim-config-tester: %v\n", err)
		return 1
	}
	cfg, err := config.Load(*path, config.Options{SkipRuntimePaths: *noRuntime})
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintf(stderr, "fluxheim-config-tester: %s\n", e)
			}
		} else {
			fmt.Fprintf(stderr, "fluxheim-config-tester: %v\n", err)
		}
		return 1
	}
	failed := false
	for _, m := range cfg.Modules() {
		if !pol.Has(m) {
			fmt.Fprintf(stderr, "fluxheim-config-tester: config uses module %q, which profile %q does not have (it has: %s)\n", m, pol.Name, strings.Join(pol.Modules(), ", "))
			failed = true
		}
	}
	if pol.RequiresFIPS {
		fmt.Fprintf(stderr, "fluxheim-config-tester: profile %q requires [tls.fips] required = true (or [tls.iso19790]); TLS is not implemented yet in fluxheim\n", pol.Name)
		failed = true
	}
	if failed {
		return 1
	}
	if *explain {
		fmt.Fprintf(stdout, "config: %s profile=%s vhosts=%d\n", strings.Join(cfg.Sources, ","), pol.Name, len(cfg.Vhosts))
		if !*noRuntime {
			fmt.Fprintln(stdout, "runtime-paths: ok")
		}
	}
	fmt.Fprintln(stdout, "config tester: ok")
	return 0
}
