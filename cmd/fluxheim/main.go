// Command fluxheim is the web server and edge gateway. See README.md for
// the CLI; `fluxheim --help` lists the flags.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/pflag"

	"github.com/fluxheim/fluxheim/master"
	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/features"
	"github.com/fluxheim/fluxheim/shared/tlsbackend"
	"github.com/fluxheim/fluxheim/shared/version"
	"github.com/fluxheim/fluxheim/worker"
)

func main() {
	if os.Getenv(worker.RoleEnv) == worker.RoleWorker {
		os.Exit(worker.RunWorker())
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without os.Exit, for tests.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "version":
			printVersion(stdout)
			return 0
		case "cache-keygen":
			return cacheKeygen(stdout, stderr)
		case "crypto":
			return cryptoReport(stdout, stderr)
		case "acme":
			return acmeCLI(args[1:], stdout, stderr)
		}
	}
	fs := pflag.NewFlagSet("fluxheim", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.StringP("config", "c", os.Getenv("FLUXHEIM_CONFIG"), "config file or directory (env FLUXHEIM_CONFIG); default: the embedded demo config")
	validate := fs.BoolP("validate-config", "t", false, "validate the config (including static roots and runtime paths) and exit 0 or 1")
	check := fs.Bool("check-config", false, "validate the config and print it as resolved (defaults filled in), then exit")
	showVersion := fs.BoolP("version", "v", false, "print the version and compiled features")
	signalCmd := fs.StringP("signal", "s", "", "send a command to the running master and wait for the outcome: reload, stop, quit, reopen, upgrade, status")
	single := fs.Bool("single-process", false, "serve from this one process without workers (debugging, like nginx master_process off)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: fluxheim [-c PATH] [-t | --check-config | --single-process]\n       fluxheim -s reload|stop|quit|reopen|upgrade|status [-c PATH]\n       fluxheim version | cache-keygen | crypto\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fluxheim: unknown command %q (commands: version, cache-keygen, crypto)\n", fs.Arg(0))
		return 2
	}
	if *showVersion {
		printVersion(stdout)
		return 0
	}
	if *signalCmd != "" {
		return sendSignal(*signalCmd, *cfgPath, stdout, stderr)
	}
	if *validate && *check {
		fmt.Fprintln(stderr, "fluxheim: --check-config and --validate-config exclude each other")
		return 2
	}
	cfg, err := loadConfig(*cfgPath, *check)
	if err != nil {
		printConfigError(stderr, err)
		return 1
	}
	for _, w := range cfg.Warnings {
		if *validate || *check {
			fmt.Fprintf(stderr, "fluxheim: warning: %s\n", w)
		}
	}
	switch {
	case *check:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(cfg.Redacted()); err != nil {
			fmt.Fprintf(stderr, "fluxheim: %v\n", err)
			return 1
		}
		return 0
	case *validate:
		if err := worker.CheckBuild(cfg); err != nil {
			fmt.Fprintf(stderr, "fluxheim: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "fluxheim: config %s is valid\n", strings.Join(cfg.Sources, ", "))
		return 0
	}
	if *single {
		err = worker.RunStandalone(cfg, *cfgPath)
	} else {
		err = master.Run(*cfgPath, cfg)
	}
	if err != nil {
		fmt.Fprintf(stderr, "fluxheim: %v\n", err)
		return 1
	}
	return 0
}

// loadConfig loads path, or the embedded default when path is "".
// --check-config skips the checks that need this machine's file system.
func loadConfig(path string, offline bool) (*config.Config, error) {
	if path == "" {
		return config.LoadDefault()
	}
	return config.Load(path, config.Options{SkipRuntimePaths: offline})
}

// printConfigError prints every config problem on its own line.
func printConfigError(w io.Writer, err error) {
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintf(w, "fluxheim: %s\n", e)
		}
		return
	}
	fmt.Fprintf(w, "fluxheim: %v\n", err)
}

func printVersion(w io.Writer) {
	fmt.Fprintf(w, "fluxheim %s\n", version.Version)
	fmt.Fprintf(w, "go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "tls-backend: %s\n", features.TLSBackend())
	fmt.Fprintf(w, "features: %s\n", strings.Join(features.List(), ","))
}

func cacheKeygen(stdout, stderr io.Writer) int {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		fmt.Fprintf(stderr, "fluxheim: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, hex.EncodeToString(key[:]))
	return 0
}

func cryptoReport(stdout, stderr io.Writer) int {
	rep := tlsbackend.Report()
	fmt.Fprint(stdout, rep.String())
	if err := rep.Err(); err != nil {
		fmt.Fprintf(stderr, "fluxheim: %v\n", err)
		return 1
	}
	return 0
}
