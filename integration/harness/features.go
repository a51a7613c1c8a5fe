package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	featureMu     sync.Mutex
	featureBuilds = map[string]*buildResult{}
)

// BinaryWithFeatures returns ./cmd/fluxheim built once per test process
// with a feature list ("profile-web-server,php-fpm"), expanded to Go tags
// by scripts/validate-features.sh. Tests of optional modules (php-fpm,
// acme-client) use it; the default Binary stays the default build.
func BinaryWithFeatures(t testing.TB, features string) string {
	t.Helper()
	featureMu.Lock()
	b := featureBuilds[features]
	if b == nil {
		b = &buildResult{}
		featureBuilds[features] = b
	}
	featureMu.Unlock()
	b.once.Do(func() { b.path, b.err = buildFeatures(features) })
	if b.err != nil {
		t.Fatalf("harness: %v", b.err)
	}
	return b.path
}

func buildFeatures(features string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	out, err := exec.Command(filepath.Join(root, "scripts", "validate-features.sh"), features).Output()
	if err != nil {
		return "", fmt.Errorf("validate-features %s: %v", features, err)
	}
	tags := strings.TrimSpace(string(out))
	dir, err := binDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "fluxheim-"+strings.NewReplacer(",", "_", "-", "_").Replace(features))
	cmd := exec.Command("go", "build", "-tags", tags, "-o", bin, "./cmd/fluxheim")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	if output, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build -tags %s: %v\n%s", tags, err, output)
	}
	return bin, nil
}
