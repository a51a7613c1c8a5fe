package php

import (
	"strings"
)

// action is what a request path leads to.
type action uint8

const (
	actRun       action = iota + 1 // run plan.script with plan.pathInfo
	actStatic                      // hand the path to the static handler
	actRedirect                    // 308 to the path with a trailing slash
	actNotFound                    // 404
	actForbidden                   // 403
	actBadPath                     // 400
)

type plan struct {
	act      action
	script   string // URL path of the script ("/index.php")
	pathInfo string // "" or "/..." (path_info = "split")
}

// neverStatic are extensions whose files are PHP source whether or not
// they are allowed_extensions: they are never handed to the static
// handler (serving them would leak source).
var neverStatic = []string{"php", "phtml", "phar", "php3", "php4", "php5", "php7", "php8", "phps", "pht"}

// decide maps a decoded, cleaned request path to an action. Rules:
//
//  1. Control bytes or backslashes in the path: 400 (no %0a games).
//  2. The script is the path itself when its last segment has an allowed
//     extension; with path_info = "split", the first prefix ending in
//     such a segment that is a regular file (the rest is PATH_INFO). A
//     script must be a regular file below the root reached without
//     symlinks, outside deny_path_prefixes (403) and dot directories.
//  3. An existing non-PHP file goes to the static handler; a PHP-like
//     file that cannot run is 403 (its source is never served).
//  4. A directory: without the trailing slash and holding the index, 308;
//     with it, its index runs; otherwise the static handler if it can
//     answer (index.html, listing), else the fallback.
//  5. A missing path whose last segment is PHP-like is 404; any other
//     missing path runs the front controller (the root's index) or, with
//     try_files = "strict", is 404.
func (h *Handler) decide(p string) plan {
	if !cleanBytes(p) {
		return plan{act: actBadPath}
	}
	if pl, ok := h.findScript(p); ok {
		return pl
	}
	last := lastSegment(p)
	switch h.root.stat(p) {
	case kindFile:
		if h.phpLike(last) {
			return plan{act: actForbidden}
		}
		return plan{act: actStatic}
	case kindDir:
		return h.directory(p)
	case kindRefused:
		return plan{act: actNotFound}
	}
	if h.phpLike(last) {
		return plan{act: actNotFound}
	}
	return h.fallback()
}

// findScript looks for the script named by p (rule 2).
func (h *Handler) findScript(p string) (plan, bool) {
	for end := 1; end <= len(p); end++ {
		if end < len(p) && p[end] != '/' {
			continue
		}
		seg := lastSegment(p[:end])
		if !h.allowed(seg) {
			continue
		}
		if end < len(p) && !h.split {
			return plan{}, false // PATH_INFO off: only the last segment names a script
		}
		script, rest := p[:end], p[end:]
		switch h.root.stat(script) {
		case kindFile:
			return h.run(script, rest), true
		case kindDir:
			continue // "/a.php/" is a directory: look further
		default:
			// "/upload/evil.jpg/x.php": the candidate is not a file;
			// nothing before it may run instead.
			return plan{}, false
		}
	}
	return plan{}, false
}

// run checks the run-time rules of a found script.
func (h *Handler) run(script, pathInfo string) plan {
	if h.denied(script) {
		return plan{act: actForbidden}
	}
	if hasDotSegment(script) {
		return plan{act: actNotFound}
	}
	return plan{act: actRun, script: script, pathInfo: pathInfo}
}

// directory applies rule 4.
func (h *Handler) directory(p string) plan {
	dir := strings.TrimSuffix(p, "/")
	index := dir + "/" + h.index
	if h.root.stat(index) == kindFile {
		if !strings.HasSuffix(p, "/") {
			return plan{act: actRedirect}
		}
		return h.run(index, "")
	}
	if h.static != nil && h.static.Exists(p) {
		return plan{act: actStatic}
	}
	return h.fallback()
}

// fallback is try_files' last step: the front controller or 404.
func (h *Handler) fallback() plan {
	if !h.frontController {
		return plan{act: actNotFound}
	}
	script := "/" + h.index
	if h.root.stat(script) != kindFile {
		return plan{act: actNotFound}
	}
	return h.run(script, "")
}

// allowed reports whether a file name has an allowed extension.
func (h *Handler) allowed(name string) bool {
	ext := extOf(name)
	return ext != "" && h.exts[ext]
}

// phpLike reports whether a file name is PHP source: an allowed
// extension or one of neverStatic.
func (h *Handler) phpLike(name string) bool {
	ext := extOf(name)
	if ext == "" {
		return false
	}
	if h.exts[ext] {
		return true
	}
	for _, e := range neverStatic {
		if ext == e {
			return true
		}
	}
	return false
}

// denied reports whether a script path is below a deny prefix.
func (h *Handler) denied(script string) bool {
	for _, d := range h.deny {
		if strings.HasPrefix(script, d) {
			return true
		}
	}
	return false
}

// extOf returns the lower-cased extension of a file name without the
// dot ("" when there is none or the name starts with the only dot).
func extOf(name string) string {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || i == len(name)-1 {
		return ""
	}
	return strings.ToLower(name[i+1:])
}

func lastSegment(p string) string {
	return p[strings.LastIndexByte(p, '/')+1:]
}

func hasDotSegment(p string) bool {
	return strings.Contains(p, "/.")
}

// cleanBytes refuses control bytes, DEL and backslashes.
func cleanBytes(p string) bool {
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	return true
}
