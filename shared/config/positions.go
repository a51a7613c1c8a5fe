package config

import (
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// pos is where a key was written.
type pos struct {
	file string
	line int
}

// keyLines maps every key path of a TOML document to the line it is
// written on. Paths index arrays of tables and arrays:
// "vhosts[1].routes[0].path_prefix". Tables map to their header line.
// The document must already have decoded without error.
func keyLines(data []byte) map[string]int {
	lines := map[string]int{}
	nl := newlineOffsets(data)
	lineOf := func(n *unstable.Node) int {
		return sort.SearchInts(nl, int(n.Raw.Offset)+1) + 1
	}
	counts := map[string]int{} // array-of-tables path -> number of elements
	resolve := func(parts []string) string {
		p := ""
		for _, part := range parts {
			p = joinKey(p, part)
			if n, ok := counts[p]; ok {
				p += "[" + strconv.Itoa(n-1) + "]"
			}
		}
		return p
	}
	var walk func(path string, v *unstable.Node, line int)
	walk = func(path string, v *unstable.Node, line int) {
		switch v.Kind {
		case unstable.Array:
			it := v.Children()
			for i := 0; it.Next(); i++ {
				p := path + "[" + strconv.Itoa(i) + "]"
				setOnce(lines, p, line)
				walk(p, it.Node(), line)
			}
		case unstable.InlineTable:
			it := v.Children()
			for it.Next() {
				kv := it.Node()
				parts, first := keyParts(kv)
				l := line
				if first != nil {
					l = lineOf(first)
				}
				p := path
				for _, part := range parts {
					p = joinKey(p, part)
					setOnce(lines, p, l)
				}
				if val := kv.Value(); val != nil {
					walk(p, val, l)
				}
			}
		}
	}

	var p unstable.Parser
	p.Reset(data)
	current := ""
	for p.NextExpression() {
		e := p.Expression()
		parts, first := keyParts(e)
		if first == nil {
			continue
		}
		line := lineOf(first)
		switch e.Kind {
		case unstable.Table:
			current = resolve(parts)
			setOnce(lines, current, line)
		case unstable.ArrayTable:
			base := joinKey(resolve(parts[:len(parts)-1]), parts[len(parts)-1])
			idx := counts[base]
			counts[base] = idx + 1
			current = base + "[" + strconv.Itoa(idx) + "]"
			lines[current] = line
		case unstable.KeyValue:
			path := current
			for _, part := range parts {
				path = joinKey(path, part)
				setOnce(lines, path, line)
			}
			if v := e.Value(); v != nil {
				walk(path, v, line)
			}
		}
	}
	return lines
}

// keyParts returns the dotted key of a KeyValue, Table or ArrayTable node
// and its first key node.
func keyParts(n *unstable.Node) ([]string, *unstable.Node) {
	var parts []string
	var first *unstable.Node
	it := n.Key()
	for it.Next() {
		k := it.Node()
		if first == nil {
			first = k
		}
		parts = append(parts, string(k.Data))
	}
	return parts, first
}

func newlineOffsets(data []byte) []int {
	var nl []int
	for i, c := range data {
		if c == '\n' {
			nl = append(nl, i)
		}
	}
	return nl
}

func setOnce(m map[string]int, k string, v int) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}

func joinKey(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// origins locates key paths of the merged document in the source files.
type origins struct {
	fallback string // file named for keys found nowhere
	m        map[string]pos
}

func newOrigins(fallback string) *origins {
	return &origins{fallback: fallback, m: map[string]pos{}}
}

// addFile records the keys of one fragment. vhostOffset shifts the
// fragment's vhosts[i] to their index in the merged document; replaced
// names top-level sections this fragment replaces as a whole.
func (o *origins) addFile(file string, lines map[string]int, vhostOffset int, replaced []string) {
	for _, sec := range replaced {
		for k := range o.m {
			if k == sec || strings.HasPrefix(k, sec+".") || strings.HasPrefix(k, sec+"[") {
				delete(o.m, k)
			}
		}
	}
	for k, line := range lines {
		if vhostOffset != 0 && strings.HasPrefix(k, "vhosts[") {
			end := strings.IndexByte(k, ']')
			if n, err := strconv.Atoi(k[len("vhosts["):end]); err == nil {
				k = "vhosts[" + strconv.Itoa(n+vhostOffset) + k[end:]
			}
		}
		o.m[k] = pos{file: file, line: line}
	}
}

// locate returns the file and line of key, or of its nearest ancestor that
// was written somewhere.
func (o *origins) locate(key string) (string, int) {
	for k := key; k != ""; k = parentKey(k) {
		if p, ok := o.m[k]; ok {
			return p.file, p.line
		}
	}
	// A vhost's keys live in the vhost's file even when the key is absent.
	return o.fallback, 0
}

// parentKey strips the last segment: "a.b[2]" → "a.b", "a.b" → "a".
func parentKey(k string) string {
	if strings.HasSuffix(k, "]") {
		if i := strings.LastIndexByte(k, '['); i > 0 {
			return k[:i]
		}
	}
	if i := strings.LastIndexByte(k, '.'); i > 0 {
		return k[:i]
	}
	return ""
}
