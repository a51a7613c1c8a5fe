package config

import "crypto/fips140"

// fipsEnabled reports whether Go's FIPS 140-3 module is active.
var fipsEnabled = fips140.Enabled
