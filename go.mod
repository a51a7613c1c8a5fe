module github.com/fluxheim/fluxheim

go 1.26

require (
	github.com/pelletier/go-toml/v2 v2.4.3
	golang.org/x/sys v0.47.0
)

require (
	github.com/cloudflare/tableflip v1.2.3 // indirect
	github.com/coreos/go-systemd/v22 v22.7.0 // indirect
	github.com/go-acme/lego/v4 v4.20.4 // indirect
	github.com/spf13/pflag v1.1.0 // indirect
	github.com/yookoala/gofast v0.8.0 // indirect
	golang.org/x/net v0.58.0 // indirect
	golang.org/x/tools v0.25.0 // indirect
)
