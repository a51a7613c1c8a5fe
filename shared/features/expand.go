package features

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Expand resolves a feature list as given to scripts/validate-features.sh
// or "make build FEATURES=...": canonical feature names, the seed's TLS
// backend names, profile aliases (recursively) and "default". Items are
// trimmed; empty items are ignored.
//
// It returns the selected features closed under implication (sorted,
// canonical names) and the build tags for exactly that set: NoDefaultTag
// first, then the features' tags in the order of features. Expand never
// adds the default set implicitly; list it ("default" or a profile) to get
// it.
//
// It returns an error stating the reason for an empty list, an unknown
// name, a name the Go port rejects (the OpenSSL backends and profiles, ...),
// more than one TLS backend, and every other forbidden combination (see
// ForbiddenCombinations).
func Expand(list []string) (features []string, tags []string, err error) {
	origin := map[string]string{} // feature -> requested item that selected it
	requested := 0
	for _, item := range list {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		requested++
		if err := resolve(item, item, nil, origin); err != nil {
			return nil, nil, err
		}
	}
	if requested == 0 {
		return nil, nil, errors.New("empty feature list: name features or profiles, " +
			`or "default" for the default set`)
	}
	features = closeWithOrigin(origin)
	if err := checkConflicts(features, origin); err != nil {
		return nil, nil, err
	}
	tags = make([]string, 0, len(features)+1)
	tags = append(tags, NoDefaultTag)
	for _, f := range features {
		tags = append(tags, Tag(f))
	}
	return features, tags, nil
}

// resolve adds the features name stands for to origin, attributing new
// ones to top (the requested item). path holds the profiles being expanded,
// for cycle detection and error messages.
func resolve(name, top string, path []string, origin map[string]string) error {
	if reason, ok := rejected[name]; ok {
		return fmt.Errorf("feature %q%s is not available: %s", name, via(path), reason)
	}
	if slices.Contains(path, name) {
		return fmt.Errorf("profile cycle: %s -> %s", strings.Join(path, " -> "), name)
	}
	if to, ok := seedAliases[name]; ok {
		name = to
	}
	if Known(name) {
		if _, ok := origin[name]; !ok {
			origin[name] = top
		}
		return nil
	}
	members, ok := profiles[name]
	if name == DefaultAlias {
		members, ok = defaultFeatures, true
	}
	if !ok {
		return fmt.Errorf("unknown feature %q%s (see docs/features.md for features and profiles)",
			name, via(path))
	}
	inner := append(slices.Clip(path), name)
	for _, m := range members {
		if err := resolve(m, top, inner, origin); err != nil {
			return err
		}
	}
	return nil
}

func via(path []string) string {
	if len(path) == 0 {
		return ""
	}
	return " (via " + strings.Join(path, " -> ") + ")"
}

// closeWithOrigin adds implied features to origin, attributing them to the
// origin of their implier, and returns all features sorted.
func closeWithOrigin(origin map[string]string) []string {
	selected := make([]string, 0, len(origin))
	for f := range origin {
		selected = append(selected, f)
	}
	slices.Sort(selected) // deterministic attribution
	var visit func(f, top string)
	visit = func(f, top string) {
		for _, m := range implies[f] {
			if _, ok := origin[m]; !ok {
				origin[m] = top
				visit(m, top)
			}
		}
	}
	for _, f := range selected {
		visit(f, origin[f])
	}
	return closure(selected)
}

func checkConflicts(features []string, origin map[string]string) error {
	for _, c := range conflicts {
		if slices.Contains(features, c.a) && slices.Contains(features, c.b) {
			return fmt.Errorf("%s%s cannot be combined with %s%s: %s",
				c.a, from(c.a, origin), c.b, from(c.b, origin), c.reason)
		}
	}
	return nil
}

func from(feature string, origin map[string]string) string {
	if o := origin[feature]; o != "" && o != feature {
		return fmt.Sprintf(" (from %s)", o)
	}
	return ""
}
