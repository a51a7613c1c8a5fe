// Command featurestool is the engine of scripts/validate-features.sh: it
// resolves a build feature list with features.Expand, so the rules live in
// one place (shared/features).
//
//	featurestool LIST...              print the Go build tags, comma-separated
//	featurestool --features LIST...   print the expanded feature names instead
//
// LIST is comma- (or space-) separated feature names, profile aliases and
// "default"; several LIST arguments are joined. Output is one line on
// stdout. An invalid list prints "validate-features: <reason>" on stderr
// and exits 1; a usage error exits 2.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"

	"github.com/fluxheim/fluxheim/shared/features"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate-features", flag.ContinueOnError)
	fs.SetOutput(stderr)
	names := fs.Bool("features", false, "print the expanded feature names instead of build tags")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: scripts/validate-features.sh [--features] LIST\n"+
			"  LIST: comma-separated features and profile aliases, e.g. profile-web-server,php-fpm")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	var list []string
	for _, a := range fs.Args() {
		list = append(list, strings.FieldsFunc(a, func(r rune) bool {
			return r == ',' || unicode.IsSpace(r)
		})...)
	}
	feats, tags, err := features.Expand(list)
	if err != nil {
		fmt.Fprintf(stderr, "validate-features: %v\n", err)
		return 1
	}
	out := tags
	if *names {
		out = feats
	}
	fmt.Fprintln(stdout, strings.Join(out, ","))
	return 0
}
