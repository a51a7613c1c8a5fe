package config

import "github.com/fluxheim/fluxheim/shared/features"

// PHP is [vhosts.php] and [vhosts.routes.php] (Fluxheim's php-fpm
// feature). Placeholder: the PHP issue fills in the keys.
type PHP struct {
	Enabled *bool `toml:"enabled" json:"enabled,omitempty"`
}

// validatePHP checks a PHP block.
func validatePHP(c *Config, p *PHP, key string, errs *errList) {
	if !features.Has("php-fpm") {
		errs.add(key, "needs module %q, which this binary was built without (build with FEATURES=%s)", "php-fpm", features.ProfileWith("php-fpm"))
		return
	}
	errs.add(key, "PHP through php-fpm is not implemented yet in fluxheim")
}
