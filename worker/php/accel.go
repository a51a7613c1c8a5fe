package php

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fluxheim/fluxheim/worker/router"
)

// representation headers describe PHP's own body; a file served for
// X-Accel-Redirect or X-Sendfile gets the file's (from the static handler).
var representation = map[string]bool{
	"Content-Type": true, "Content-Encoding": true, "Content-Range": true,
	"Etag": true, "Last-Modified": true, "Accept-Ranges": true, "Content-Length": true,
}

// serveInternal serves the file named by X-Accel-Redirect (a URI path
// below the root) or X-Sendfile (an absolute path below fpm_root, or the
// root), like nginx's internal redirect: as a GET (HEAD stays HEAD) with
// the client's conditional and range headers, keeping PHP's other headers
// (Set-Cookie, Content-Disposition, Cache-Control, ...). A target outside
// the root, a directory, or a PHP file is an invalid response (502).
func (h *Handler) serveInternal(w http.ResponseWriter, r *http.Request, d *directives) error {
	hdr := w.Header()
	var added []string
	for k := range hdr {
		if representation[k] {
			delete(hdr, k)
		} else {
			added = append(added, k)
		}
	}
	target, err := h.internalTarget(d)
	if err == nil && h.phpLike(lastSegment(target)) {
		err = invalid("refusing to serve PHP source %q", target)
	}
	if err == nil {
		r2 := *r
		if r2.Method != http.MethodHead {
			r2.Method = http.MethodGet
		}
		r2.Body = http.NoBody
		if err = h.accel.Serve(w, &r2, target); err == nil {
			return nil
		}
	}
	for _, k := range added {
		delete(hdr, k)
	}
	return h.fail(err)
}

// internalTarget returns the URL path (below the root) of the file to
// serve.
func (h *Handler) internalTarget(d *directives) (string, error) {
	if d.hasAccelRedirect && d.hasSendfile {
		return "", invalid("both X-Accel-Redirect and X-Sendfile")
	}
	var p string
	if d.hasAccelRedirect {
		v, _, _ := strings.Cut(d.accelRedirect, "?")
		dec, err := url.PathUnescape(v)
		if err != nil || !strings.HasPrefix(dec, "/") {
			return "", invalid("X-Accel-Redirect %q is not an absolute URI path", d.accelRedirect)
		}
		p = dec
	} else {
		v := d.sendfile
		if !filepath.IsAbs(v) {
			return "", invalid("X-Sendfile %q is not an absolute path", v)
		}
		rel, ok := strings.CutPrefix(filepath.Clean(v), strings.TrimSuffix(h.docRoot, "/")+"/")
		if !ok {
			return "", invalid("X-Sendfile %q is outside the root %s", v, h.docRoot)
		}
		p = "/" + rel
	}
	clean, ok := router.CleanPath(p)
	if !ok || !cleanBytes(clean) || strings.HasSuffix(clean, "/") {
		return "", invalid("internal redirect target %q is not a file path below the root", p)
	}
	return clean, nil
}

// applyAccelExpires turns X-Accel-Expires (seconds, "@unix-time" or "off")
// into Cache-Control and Expires. A response whose own Cache-Control is
// restrictive (no-store, no-cache, private) keeps it; a response setting
// cookies is cached privately only; 0 or a past time is "no-store,
// private". Invalid values are ignored.
func applyAccelExpires(hdr http.Header, v string) {
	v = strings.TrimSpace(v)
	if v == "" || v == "off" {
		return
	}
	now := time.Now()
	var ttl int64
	if at, ok := strings.CutPrefix(v, "@"); ok {
		n, err := strconv.ParseInt(at, 10, 64)
		if err != nil || n < 0 {
			return
		}
		ttl = n - now.Unix()
	} else {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return
		}
		ttl = n
	}
	cc := strings.ToLower(strings.Join(hdr["Cache-Control"], ","))
	if strings.Contains(cc, "no-store") || strings.Contains(cc, "no-cache") || strings.Contains(cc, "private") {
		return
	}
	if ttl <= 0 {
		hdr["Cache-Control"] = []string{"no-store, private"}
		delete(hdr, "Expires")
		return
	}
	scope := "public"
	if len(hdr["Set-Cookie"]) > 0 {
		scope = "private"
	}
	ttl = min(ttl, 10*365*86400)
	hdr["Cache-Control"] = []string{scope + ", max-age=" + strconv.FormatInt(ttl, 10)}
	hdr["Expires"] = []string{now.Add(time.Duration(ttl) * time.Second).UTC().Format(http.TimeFormat)}
}
