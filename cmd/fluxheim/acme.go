package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/fluxheim/fluxheim/master"
	"github.com/fluxheim/fluxheim/shared/config"
)

// acmeCLI implements `fluxheim acme status` and `fluxheim acme renew
// [--force]`: both ask the running master, which holds the ACME account
// and storage. renew exits 1 if any target failed.
func acmeCLI(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("fluxheim acme", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.StringP("config", "c", os.Getenv("FLUXHEIM_CONFIG"), "config file or directory (to find the control socket)")
	force := fs.Bool("force", false, "renew: renew every target, due or not")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: fluxheim acme status|renew [--force] [-c PATH]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	var cmd string
	switch fs.Arg(0) {
	case "status":
		cmd = "acme-status"
	case "renew":
		cmd = "acme-renew"
		if *force {
			cmd = "acme-renew-force"
		}
	default:
		fs.Usage()
		return 2
	}
	ctl := config.DefaultControlSock
	if *cfgPath != "" {
		ctl, _ = config.ProcessPaths(*cfgPath)
	}
	if ctl == "" {
		fmt.Fprintln(stderr, "fluxheim: acme needs the master's control socket ([server.process] control_sock)")
		return 1
	}
	msg, _, err := master.Command(ctl, cmd, 15*time.Minute)
	if err != nil {
		fmt.Fprintf(stderr, "fluxheim: acme %s: %v\n", fs.Arg(0), err)
		return 1
	}
	fmt.Fprintln(stdout, msg)
	return 0
}
