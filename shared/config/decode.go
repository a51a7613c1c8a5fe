package config

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/fluxheim/fluxheim/shared/features"
)

// decodeLoose decodes data into v without the unknown-key check.
func decodeLoose(data []byte, v any) error {
	return toml.NewDecoder(bytes.NewReader(data)).EnableUnmarshalerInterface().Decode(v)
}

// fragment is one decoded config file.
type fragment struct {
	file  string
	doc   map[string]any
	lines map[string]int
}

// decodeFile parses one file: syntax, unknown keys and value types. Every
// unknown key of the file is reported, each with its line.
func decodeFile(file string, data []byte) (*fragment, Errors) {
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		return nil, Errors{tomlError(file, err)}
	}
	lines := keyLines(data)
	var errs Errors
	for _, u := range unknownKeys(doc, reflect.TypeFor[Config](), "", nil) {
		errs = append(errs, &Error{File: file, Line: lines[u.path], Key: u.path, Msg: u.msg})
	}
	var typed Config
	if err := decodeLoose(data, &typed); err != nil {
		errs = append(errs, tomlError(file, err))
	}
	if len(errs) > 0 {
		errs.sort()
		return nil, errs
	}
	return &fragment{file: file, doc: doc, lines: lines}, nil
}

// tomlError turns a go-toml error into an *Error with the position.
func tomlError(file string, err error) *Error {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		return &Error{File: file, Line: line, Col: col, Key: strings.Join(de.Key(), "."), Msg: cleanTOMLMsg(de.Error())}
	}
	return &Error{File: file, Msg: cleanTOMLMsg(err.Error())}
}

func cleanTOMLMsg(s string) string {
	s = strings.TrimPrefix(s, "toml: ")
	// "cannot decode TOML integer into struct field config.Limits.MaxURIBytes of type config.ByteSize"
	if i := strings.Index(s, " into struct field "); i > 0 {
		rest := s[i+len(" into struct field "):]
		if j := strings.Index(rest, " of type "); j > 0 {
			want := rest[j+len(" of type "):]
			switch want {
			case "config.ByteSize", "*config.ByteSize":
				want = `a byte size string such as "64KiB"`
			default:
				want = strings.TrimPrefix(strings.TrimPrefix(want, "*"), "config.")
			}
			s = s[:i] + " (want " + want + ")"
		}
	}
	return s
}

type unknownKey struct{ path, msg string }

// unknownKeys walks a decoded document against the Config struct and
// reports every key the struct has no field for.
func unknownKeys(doc map[string]any, t reflect.Type, path string, parts []string) []unknownKey {
	fields := tomlFields(t)
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []unknownKey
	for _, k := range keys {
		v := doc[k]
		p := joinKey(path, k)
		ps := append(append([]string(nil), parts...), k)
		ft, ok := fields[k]
		if !ok {
			if msg := unknownMsg(ps, v); msg != "" {
				out = append(out, unknownKey{path: p, msg: msg})
			}
			continue
		}
		out = append(out, unknownIn(v, ft, p, ps)...)
	}
	return out
}

func unknownIn(v any, t reflect.Type, p string, ps []string) []unknownKey {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == reflect.TypeFor[StripPrefix]() {
			return nil
		}
		if m, ok := v.(map[string]any); ok {
			return unknownKeys(m, t, p, ps)
		}
	case reflect.Slice:
		if arr, ok := v.([]any); ok && (t.Elem().Kind() == reflect.Struct) {
			var out []unknownKey
			for i, e := range arr {
				out = append(out, unknownIn(e, t.Elem(), p+"["+strconv.Itoa(i)+"]", ps)...)
			}
			return out
		}
	}
	return nil
}

// unknownMsg explains a key the config has no field for.
func unknownMsg(parts []string, v any) string {
	k, _, ok := lookupKnown(parts)
	if !ok {
		return "unknown key"
	}
	if m, isTable := v.(map[string]any); isTable && len(m) == 1 && m["enabled"] == false {
		return "" // an explicitly disabled module: accepted
	}
	var msg string
	switch {
	case k.kind == unsupported:
		msg = "Fluxheim key not supported by fluxheim"
	case k.module != "" && features.Known(k.module) && !moduleBuilt(k.module):
		msg = fmt.Sprintf("needs module %q, which this binary was built without (build with FEATURES=%s); fluxheim does not implement it yet either", k.module, features.ProfileWith(k.module))
	case k.module != "":
		msg = fmt.Sprintf("Fluxheim key not implemented yet in fluxheim (module %q)", k.module)
	default:
		msg = "Fluxheim key not implemented yet in fluxheim"
	}
	if k.note != "" {
		msg += ": " + k.note
	}
	return msg
}

// tomlFields maps the toml tag names of a struct type to field types.
func tomlFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "-" || name == "" {
			continue
		}
		m[name] = f.Type
	}
	return m
}

// Sections merged key by key across fragments; anything else at the top
// level (logging, headers, ...) is replaced as a whole by a later fragment.
var fieldMerged = map[string]bool{
	"server": true, "proxy": true, "web": true, "tls": true, "cache": true,
	"compression": true, "admin": true, "stream": true, "cache_purger": true,
}

// merge folds fragments into one document (Fluxheim's rules: [server]
// per-field with trusted_proxies extended and deduplicated, field-level
// merge of the sections above, [[vhosts]] appended, other sections
// replaced) and records where every key came from.
func merge(frags []*fragment) (map[string]any, *origins, Errors) {
	out := map[string]any{}
	org := newOrigins(frags[0].file)
	var errs Errors
	nVhosts := 0
	for i, f := range frags {
		var replaced []string
		for k, v := range f.doc {
			switch {
			case k == "vhosts":
				arr, _ := v.([]any)
				prev, _ := out["vhosts"].([]any)
				out["vhosts"] = append(prev, arr...)
			case k == "include_conf_d" && i > 0:
				errs = append(errs, &Error{File: f.file, Line: f.lines[k], Key: k, Msg: "only allowed in the main config file"})
			case fieldMerged[k]:
				out[k] = mergeTables(out[k], v, k == "server")
			default:
				out[k] = v
				replaced = append(replaced, k)
			}
		}
		org.addFile(f.file, f.lines, nVhosts, replaced)
		if arr, ok := f.doc["vhosts"].([]any); ok {
			nVhosts += len(arr)
		}
	}
	return out, org, errs
}

// mergeTables merges b over a key by key (recursively for sub-tables).
func mergeTables(a, b any, server bool) any {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if !aok || !bok {
		return b
	}
	out := make(map[string]any, len(am)+len(bm))
	for k, v := range am {
		out[k] = v
	}
	for k, v := range bm {
		if server && k == "trusted_proxies" {
			out[k] = appendUnique(out[k], v)
			continue
		}
		out[k] = mergeTables(out[k], v, false)
	}
	return out
}

func appendUnique(a, b any) any {
	as, _ := a.([]any)
	bs, _ := b.([]any)
	seen := map[any]bool{}
	var out []any
	for _, v := range append(append([]any(nil), as...), bs...) {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// Keys that hold file-system paths, resolved against the declaring file's
// directory. "[]" stands for every element of an array of tables.
var pathKeys = [][]string{
	{"web", "root"},
	{"vhosts", "[]", "web", "root"},
	{"vhosts", "[]", "routes", "[]", "web", "root"},
	{"logging", "file", "path"},
	{"logging", "access", "path"},
	{"server", "process", "pid_file"},
	{"server", "process", "error_log"},
	{"server", "process", "control_sock"},
	{"tls", "certificates", "[]", "cert_path"},
	{"tls", "certificates", "[]", "key_path"},
	{"tls", "client_auth", "ca_path"},
	{"tls", "acme", "storage"},
	{"tls", "acme", "issuers", "[]", "ca_bundle_file"},
	{"proxy", "upstream_ca_path"}, {"proxy", "upstream_client_cert_path"}, {"proxy", "upstream_client_key_path"},
	{"vhosts", "[]", "proxy", "upstream_ca_path"}, {"vhosts", "[]", "proxy", "upstream_client_cert_path"},
	{"vhosts", "[]", "proxy", "upstream_client_key_path"},
	{"vhosts", "[]", "routes", "[]", "proxy", "upstream_ca_path"},
	{"vhosts", "[]", "routes", "[]", "proxy", "upstream_client_cert_path"},
	{"vhosts", "[]", "routes", "[]", "proxy", "upstream_client_key_path"},
	{"vhosts", "[]", "tls", "certificate", "cert_path"},
	{"vhosts", "[]", "tls", "certificate", "key_path"},
}

// resolvePaths makes relative path values of doc absolute against dir.
func resolvePaths(doc map[string]any, dir string) {
	for _, pk := range pathKeys {
		resolveIn(doc, pk, dir)
	}
}

func resolveIn(v any, pk []string, dir string) {
	if len(pk) == 0 {
		return
	}
	if pk[0] == "[]" {
		arr, _ := v.([]any)
		for _, e := range arr {
			resolveIn(e, pk[1:], dir)
		}
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	if len(pk) == 1 {
		if s, ok := m[pk[0]].(string); ok && s != "" && !filepath.IsAbs(s) {
			m[pk[0]] = filepath.Join(dir, s)
		}
		return
	}
	resolveIn(m[pk[0]], pk[1:], dir)
}
