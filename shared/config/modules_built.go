package config

import "github.com/fluxheim/fluxheim/shared/features"

// moduleBuilt reports whether a build feature is compiled into this
// binary. Validation asks it, never features.Has directly, so tests can
// pin the answer (the golden files describe the default build whatever
// tags the tests run with).
var moduleBuilt = features.Has
