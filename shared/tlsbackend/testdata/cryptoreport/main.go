// Command cryptoreport is a stand-in for "fluxheim crypto" used by the
// tlsbackend tests and, through FLUXHEIM_CRYPTO_PKG, by
// scripts/validate-tls-backends.sh: "cryptoreport crypto" prints
// tlsbackend.Report() and exits 1 if the report has problems.
package main

import (
	"fmt"
	"os"

	"github.com/fluxheim/fluxheim/shared/tlsbackend"
)

func main() {
	if len(os.Args) != 2 || os.Args[1] != "crypto" {
		fmt.Fprintln(os.Stderr, "usage: cryptoreport crypto")
		os.Exit(2)
	}
	r := tlsbackend.Report()
	fmt.Print(r)
	if err := r.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "cryptoreport: crypto: %v\n", err)
		os.Exit(1)
	}
}
