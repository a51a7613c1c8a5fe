// Package version holds the build's version string, set at link time:
//
//	go build -ldflags "-X github.com/fluxheim/fluxheim/shared/version.Version=v1.2.3"
package version

// Version is "dev" unless the build sets it.
var Version = "dev"
