package config

import (
	"slices"

	"github.com/fluxheim/fluxheim/shared/features"
)

// The golden files describe the default build (plus php-fpm, whose rules
// the PHP fixtures exercise), whatever tags the tests are built with.
func init() {
	def := features.Default()
	moduleBuilt = func(name string) bool { return name == "php-fpm" || slices.Contains(def, name) }
}
