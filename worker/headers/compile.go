package headers

import (
	"fmt"
	"strings"

	"github.com/fluxheim/fluxheim/shared/tmpl"
)

// framingHeaders may never be added or appended by policy: they belong to
// the connection or the message framing, and letting configuration set them
// invites request smuggling and response splitting.
var framingHeaders = map[string]bool{
	"Connection":        true,
	"Content-Length":    true,
	"Keep-Alive":        true,
	"Proxy-Connection":  true,
	"Te":                true,
	"Trailer":           true,
	"Transfer-Encoding": true,
	"Upgrade":           true,
}

// op is one compiled add or append entry.
type op struct {
	key    string           // canonical header key
	static []string         // all values when every one is static (len == cap)
	tmpls  []*tmpl.Template // values otherwise
}

func checkName(field, name string) (string, error) {
	if !tmpl.ValidHeaderName(name) {
		return "", fmt.Errorf("%s: %q is not a valid header name", field, name)
	}
	return canon(name), nil
}

func compileRemove(field string, names []string, hostAllowed bool) ([]string, error) {
	if len(names) > MaxMutationNames {
		return nil, fmt.Errorf("%s: %d names, at most %d", field, len(names), MaxMutationNames)
	}
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		k, err := checkName(field, n)
		if err != nil {
			return nil, err
		}
		if k == "Host" && !hostAllowed {
			return nil, fmt.Errorf("%s: the Host header cannot be removed", field)
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out, nil
}

// compileAdd compiles an add map. allowHost lets "host" through (request
// policies: it rewrites the upstream Host).
func compileAdd(field string, add map[string]string, opts tmpl.ParseOptions, allowHost bool) ([]op, error) {
	if len(add) > MaxMutationNames {
		return nil, fmt.Errorf("%s: %d names, at most %d", field, len(add), MaxMutationNames)
	}
	var ops []op
	seen := map[string]string{}
	for _, n := range sortedKeys(add) {
		k, err := checkName(field, n)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[k]; dup {
			return nil, fmt.Errorf("%s: %q and %q name the same header", field, prev, n)
		}
		seen[k] = n
		if framingHeaders[k] || k == "Host" && !allowHost {
			return nil, fmt.Errorf("%s: %q cannot be set by policy", field, n)
		}
		t, err := tmpl.Parse(add[n], opts)
		if err != nil {
			return nil, fmt.Errorf("%s[%q]: %w", field, n, err)
		}
		o := op{key: k}
		if v, ok := t.Static(); ok {
			o.static = []string{v}
		} else {
			o.tmpls = []*tmpl.Template{t}
		}
		ops = append(ops, o)
	}
	return ops, nil
}

func compileAppend(field string, app map[string][]string, opts tmpl.ParseOptions, allowTLS bool) ([]op, error) {
	if len(app) > MaxMutationNames {
		return nil, fmt.Errorf("%s: %d names, at most %d", field, len(app), MaxMutationNames)
	}
	var ops []op
	seen := map[string]string{}
	for _, n := range sortedKeys(app) {
		k, err := checkName(field, n)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[k]; dup {
			return nil, fmt.Errorf("%s: %q and %q name the same header", field, prev, n)
		}
		seen[k] = n
		if framingHeaders[k] || k == "Host" {
			return nil, fmt.Errorf("%s: %q cannot be appended by policy", field, n)
		}
		vals := app[n]
		if len(vals) == 0 {
			return nil, fmt.Errorf("%s[%q]: no values", field, n)
		}
		if len(vals) > MaxAppendValues {
			return nil, fmt.Errorf("%s[%q]: %d values, at most %d", field, n, len(vals), MaxAppendValues)
		}
		o := op{key: k}
		allStatic := true
		for _, v := range vals {
			t, err := tmpl.Parse(v, opts)
			if err != nil {
				return nil, fmt.Errorf("%s[%q]: %w", field, n, err)
			}
			if t.UsesTLS() && !allowTLS {
				return nil, fmt.Errorf("%s[%q]: {tls.*} variables are not allowed in append (use add)", field, n)
			}
			if _, ok := t.Static(); !ok {
				allStatic = false
			}
			o.tmpls = append(o.tmpls, t)
		}
		if allStatic {
			o.static = make([]string, len(o.tmpls))
			for i, t := range o.tmpls {
				o.static[i], _ = t.Static()
			}
			o.tmpls = nil
		}
		ops = append(ops, o)
	}
	return ops, nil
}

// checkRawValue validates a raw (non-template) response header value such
// as content_security_policy: non-blank, no control bytes (TAB included).
func checkRawValue(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("%s: empty value (use \"\" only to switch the header off)", field)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("%s: control byte 0x%02x not allowed", field, c)
		}
	}
	return nil
}
