package config

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one configuration problem. It names the file, the line (0 when
// the key is absent from every file, e.g. a missing required key in a
// defaulted table), the key path ("vhosts[0].routes[2].path_prefix") and
// what is wrong.
type Error struct {
	File string
	Line int
	Col  int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a config, sorted by file and line. Its
// Error() is one problem per line.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].File != es[j].File {
			return es[i].File < es[j].File
		}
		return es[i].Line < es[j].Line
	})
}

// errList collects errors, locating each key path through the origins of
// the merged document.
type errList struct {
	origins *origins
	errs    Errors
}

// add records a problem at key path key. The line is the key's own line,
// else the nearest enclosing table's line.
func (l *errList) add(key, format string, args ...any) {
	file, line := l.origins.locate(key)
	l.errs = append(l.errs, &Error{File: file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (l *errList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	l.errs.sort()
	return l.errs
}
