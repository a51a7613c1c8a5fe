//go:build !linux

package pebbletest

import "os/exec"

// dieWithParent is a no-op outside Linux: test cleanup stops the process.
func dieWithParent(cmd *exec.Cmd) {}
