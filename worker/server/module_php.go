//go:build fh_php_fpm

package server

import (
	"github.com/fluxheim/fluxheim/worker/php"
	"github.com/fluxheim/fluxheim/worker/router"
	"log/slog"
)

// The php-fpm module: a scope with a PHP block is served by worker/php,
// which declines existing non-PHP files to the scope's static handler.
func init() {
	newPHP = func(s router.Spec, web webServer, lg *slog.Logger) (router.Action, error) {
		d := php.Deps{Vhost: s.Vhost, Route: s.Route, Logger: lg}
		if web != nil {
			d.Web = web
		}
		return php.New(s.PHP, d)
	}
}
