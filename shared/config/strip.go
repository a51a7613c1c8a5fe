package config

import (
	"encoding/json"
	"fmt"

	"github.com/pelletier/go-toml/v2"
)

// StripPrefix is a route's strip_prefix: `true` strips the route's own
// path_prefix, a string strips that literal prefix. Unset and `false` strip
// nothing.
type StripPrefix struct {
	Set    bool   // the key was given as true or as a string
	Prefix string // the explicit prefix ("" with Set = strip path_prefix)
}

// UnmarshalTOML implements go-toml's unstable.Unmarshaler for a bool or a
// string value.
func (s *StripPrefix) UnmarshalTOML(data []byte) error {
	var v struct {
		V any `toml:"v"`
	}
	if err := toml.Unmarshal(append([]byte("v = "), data...), &v); err != nil {
		return fmt.Errorf("strip_prefix: want true or a path prefix string")
	}
	switch x := v.V.(type) {
	case bool:
		*s = StripPrefix{Set: x}
	case string:
		*s = StripPrefix{Set: true, Prefix: x}
	default:
		return fmt.Errorf("strip_prefix: want true or a path prefix string, got %T", x)
	}
	return nil
}

// MarshalJSON renders the TOML form.
func (s StripPrefix) MarshalJSON() ([]byte, error) {
	if s.Prefix != "" {
		return json.Marshal(s.Prefix)
	}
	return json.Marshal(s.Set)
}

// UnmarshalJSON accepts what MarshalJSON writes.
func (s *StripPrefix) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case bool:
		*s = StripPrefix{Set: x}
	case string:
		*s = StripPrefix{Set: true, Prefix: x}
	}
	return nil
}

// IsZero lets encoders omit an unset value.
func (s StripPrefix) IsZero() bool { return !s.Set }
