// Package rewrite renders a regex route's rewrite_template: a path built
// from literal text and the route's captures, {route.regex.N} (0..15) or
// {route.regex.<name>}. The original query string is kept by the caller.
package rewrite

import (
	"fmt"
	"strconv"
	"strings"
)

// Template is a parsed rewrite_template. Safe for concurrent use.
type Template struct {
	parts []part
}

type part struct {
	lit   string
	group int // -1 for a literal
}

// Parse parses t; names are the regex's SubexpNames (index 0 is "").
func Parse(t string, names []string) (*Template, error) {
	var parts []part
	for t != "" {
		open := strings.IndexByte(t, '{')
		if open < 0 {
			parts = append(parts, part{lit: t, group: -1})
			break
		}
		if strings.IndexByte(t[:open], '}') >= 0 {
			return nil, fmt.Errorf("unbalanced '}' in rewrite_template")
		}
		if open > 0 {
			parts = append(parts, part{lit: t[:open], group: -1})
		}
		end := strings.IndexByte(t[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unclosed '{' in rewrite_template")
		}
		name := t[open+1 : open+end]
		ref, ok := strings.CutPrefix(name, "route.regex.")
		if !ok {
			return nil, fmt.Errorf("rewrite_template may only use {route.regex.N} or {route.regex.name}, got {%s}", name)
		}
		g := -1
		if n, err := strconv.Atoi(ref); err == nil {
			if n < 0 || n >= len(names) {
				return nil, fmt.Errorf("{%s}: the regex has no capture group %d", name, n)
			}
			g = n
		} else {
			for i, nm := range names {
				if nm != "" && nm == ref {
					g = i
				}
			}
			if g < 0 {
				return nil, fmt.Errorf("{%s}: the regex has no capture group named %q", name, ref)
			}
		}
		parts = append(parts, part{group: g})
		t = t[open+end+1:]
	}
	return &Template{parts: parts}, nil
}

// Render appends the rewritten path for path, whose submatch indexes
// (regexp.FindStringSubmatchIndex) are idx, to dst.
func (t *Template) Render(dst []byte, path string, idx []int) []byte {
	for _, p := range t.parts {
		if p.group < 0 {
			dst = append(dst, p.lit...)
			continue
		}
		if 2*p.group+1 < len(idx) && idx[2*p.group] >= 0 {
			dst = append(dst, path[idx[2*p.group]:idx[2*p.group+1]]...)
		}
	}
	return dst
}
