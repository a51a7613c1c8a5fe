//go:build !fh_nodefault || fh_web

package server

import (
	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/worker/static"
)

func init() {
	newWeb = func(c *config.Web) (webServer, error) {
		o := static.Options{
			Root:         c.Root,
			IndexFiles:   c.IndexFiles,
			DenyDotfiles: *c.DenyDotfiles,
			CacheControl: *c.CacheControl,
			Expires:      c.Expires,
		}
		if c.Precompressed != nil {
			o.Precompressed = *c.Precompressed
		}
		if dl := c.DirectoryListing; dl != nil {
			o.DirectoryListing, o.ListingExactSize, o.ListingLocalTime = dl.Enabled, dl.ExactSize, dl.LocalTime
		}
		return static.New(o)
	}
}
