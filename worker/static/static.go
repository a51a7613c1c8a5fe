// Package static is the web module: it serves files below a document root
// for GET and HEAD (Fluxheim spec §2.6, reliability.md §5 and §6).
//
// Contract with the request pipeline:
//
//   - Serve gets a URL path that is already percent-decoded, routed and
//     rewritten. It writes the response and returns nil, or returns an
//     *httperr.Error (400, 403, 404, 405 with Allow, 412, 416 with
//     Content-Range, 500) and writes nothing; or, after the response has
//     started, httperr.ErrAbort.
//   - Every lookup stays below the root and refuses symlinks in any path
//     component (404). Dotfiles are 404 with DenyDotfiles. See path.go.
//   - Responses carry Content-Type, Content-Length, ETag, Last-Modified,
//     Accept-Ranges: bytes, and Cache-Control / Expires when configured.
//     Header policy (Server, X-Content-Type-Options, ...) is not set here.
//   - Performance: a metadata/open-file cache (cache.go) holds small files
//     with pre-built headers; a cached small-file GET without conditional or
//     range headers does not allocate and writes the body with one Write.
//     Larger files are streamed with io.Copy from the *os.File, which
//     net/http turns into sendfile on plain TCP as long as every
//     ResponseWriter wrapper implements io.ReaderFrom.
//
// A Handler is safe for concurrent use.
package static

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fluxheim/fluxheim/shared/httperr"
)

// Handler serves one [web] policy. Create it with New, release it with
// Close once no Serve or Exists call is running.
type Handler struct {
	opts     Options
	rv       *resolver
	cache    cache
	index    []string // IndexFiles minus dotfiles when denied
	interval int64    // revalidation interval in clock units (ns)
	epoch    time.Time
	now      func() int64 // monotonic nanoseconds; tests replace it

	cacheControl []string
	expires      []string
}

// Pre-built header values shared by all responses (never modified).
var (
	acceptRanges    = []string{"bytes"}
	varyEncoding    = []string{"Accept-Encoding"}
	allowGetHead    = "GET, HEAD"
	listingCache    = []string{"private, no-store"}
	listingCType    = []string{"text/html; charset=utf-8"}
	errStale        = errors.New("static: cached file changed")
	errMethodNotGet = errors.New("static: method not allowed")
	errNoIndex      = errors.New("static: directory without index file")
)

// New validates o, applies defaults and opens the root with os.OpenRoot.
func New(o Options) (*Handler, error) {
	o, err := o.resolved()
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(o.Root)
	if err != nil {
		return nil, err
	}
	rv, err := newResolver(root)
	if err != nil {
		root.Close()
		return nil, err
	}
	if o.SmallFileMax > o.CacheBytes {
		o.SmallFileMax = o.CacheBytes
	}
	h := &Handler{
		opts:     o,
		rv:       rv,
		interval: int64(RevalidateInterval),
		epoch:    time.Now(),
	}
	h.now = func() int64 { return int64(time.Since(h.epoch)) }
	h.cache.maxEntries = int64(o.CacheEntries)
	h.cache.maxBytes = o.CacheBytes
	for _, n := range o.IndexFiles {
		if o.DenyDotfiles && n[0] == '.' {
			continue
		}
		h.index = append(h.index, n)
	}
	if o.CacheControl != "" {
		h.cacheControl = []string{o.CacheControl}
	}
	if o.Expires != "" {
		h.expires = []string{o.Expires}
	}
	return h, nil
}

// Close releases the root directory. The Handler must not be used after.
func (h *Handler) Close() error { return h.rv.close() }

// Exists reports whether urlPath names something Serve would answer with a
// file: a regular file, a directory path with an index file (with or
// without the trailing slash), or any directory when listing is on. It is
// used when a vhost has both web and proxy, and is cheap: it reads the
// metadata cache (a miss fills it).
func (h *Handler) Exists(urlPath string) bool {
	key, herr := h.checkPath(urlPath)
	if herr != nil {
		return false
	}
	e, err := h.lookup(key)
	if err != nil {
		return false
	}
	switch e.kind {
	case kindFile, kindListing:
		return true
	case kindDir:
		return e.servable
	}
	return false
}

// Serve serves urlPath (decoded, routed and rewritten; starts with "/").
// It returns nil when a response was written, an *httperr.Error when the
// caller must render an error response, or httperr.ErrAbort when a failure
// happened after the response started.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, urlPath string) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return &httperr.Error{
			Status: http.StatusMethodNotAllowed,
			Source: httperr.SourceClient,
			Err:    errMethodNotGet,
			Header: http.Header{"Allow": {allowGetHead}},
		}
	}
	key, herr := h.checkPath(urlPath)
	if herr != nil {
		return herr
	}
	for attempt := 0; ; attempt++ {
		e, err := h.lookup(key)
		if err != nil {
			return errorFor(err)
		}
		switch e.kind {
		case kindMissing:
			return httperr.Client(http.StatusNotFound, fs.ErrNotExist)
		case kindDir:
			if !e.servable {
				return httperr.Client(http.StatusNotFound, errNoIndex)
			}
			redirectDir(w, r)
			return nil
		case kindListing:
			return h.serveListing(w, r, key)
		}
		err = h.serveFile(w, r, e)
		if err == errStale && attempt == 0 {
			h.invalidate(key, e)
			continue
		}
		if err == errStale {
			return httperr.New(http.StatusInternalServerError, httperr.SourceInternal, errChanged)
		}
		return err
	}
}

// redirectDir answers 308 to the request path plus "/", keeping the query.
// The client's path (r.URL) is used, not the rewritten one, so prefix
// routes redirect to where the client can follow. Leading slashes are
// collapsed so "//host" cannot become a protocol-relative redirect.
func redirectDir(w http.ResponseWriter, r *http.Request) {
	loc := r.URL.EscapedPath() + "/"
	for len(loc) > 1 && (loc[1] == '/' || loc[1] == '\\') {
		loc = loc[1:]
	}
	if loc[0] != '/' {
		loc = "/" + loc
	}
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	w.Header()["Location"] = []string{loc}
	w.WriteHeader(http.StatusPermanentRedirect)
}

// setValidators sets the headers shared by 200, 206 and 304.
func (h *Handler) setValidators(hdr http.Header, e *entry, rp *rep) {
	hdr["Etag"] = rp.etag
	hdr["Last-Modified"] = rp.lastMod
	if h.cacheControl != nil {
		hdr["Cache-Control"] = h.cacheControl
	}
	if h.expires != nil {
		hdr["Expires"] = h.expires
	}
	if e.sidecars {
		if v, ok := hdr["Vary"]; ok {
			hdr["Vary"] = append(v[:len(v):len(v)], "Accept-Encoding")
		} else {
			hdr["Vary"] = varyEncoding
		}
	}
}

// serveFile answers for a kindFile entry. It returns errStale, having
// written nothing, when a large file changed since it was cached.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, e *entry) error {
	rp := e.reps[encIdentity]
	rh := r.Header
	if e.sidecars {
		if v := rh["Accept-Encoding"]; len(v) > 0 {
			if ae, ok := parseAcceptEncoding(v); ok {
				rp = e.reps[ae.pick(&e.avail)]
			}
		}
	}
	if len(rh) > 0 {
		switch evalPreconditions(rh, rp) {
		case condPreconditionFailed:
			return httperr.Client(http.StatusPreconditionFailed, nil)
		case condNotModified:
			h.setValidators(w.Header(), e, rp)
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
		if v := rh["Range"]; len(v) > 0 && r.Method == http.MethodGet && ifRangeAllows(rh, rp) {
			var buf [4]byteRange
			var res rangeResult
			ranges := buf[:0]
			if len(v) == 1 { // several Range lines are invalid: ignore
				ranges, res = parseRange(v[0], rp.id.size, h.opts.MaxRanges, ranges)
			}
			switch res {
			case rangeUnsatisfiable:
				eh := http.Header{"Content-Range": {"bytes */" + rp.clen[0]}}
				if e.sidecars {
					eh["Vary"] = varyEncoding
				}
				return &httperr.Error{Status: http.StatusRequestedRangeNotSatisfiable, Source: httperr.SourceClient, Header: eh}
			case rangeOK:
				return h.serveRanges(w, r, e, rp, ranges)
			}
		}
	}

	var f *os.File
	if !rp.small && r.Method != http.MethodHead {
		var err error
		if f, err = h.openRep(rp); err != nil {
			return err
		}
		defer f.Close()
	}
	hdr := w.Header()
	h.setValidators(hdr, e, rp)
	hdr["Content-Type"] = e.ctype
	hdr["Content-Length"] = rp.clen
	hdr["Accept-Ranges"] = acceptRanges
	if rp.enc != encIdentity {
		hdr["Content-Encoding"] = encHeader[rp.enc]
	}
	if r.Method == http.MethodHead || rp.id.size == 0 {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	if rp.small {
		if _, err := w.Write(rp.data); err != nil {
			return httperr.ErrAbort
		}
		return nil
	}
	if _, err := io.CopyN(w, f, rp.id.size); err != nil {
		return httperr.ErrAbort
	}
	return nil
}

// openRep opens a large representation for streaming and checks that it is
// still the file the cached headers describe.
func (h *Handler) openRep(rp *rep) (*os.File, error) {
	f, id, err := h.rv.open(rp.rel)
	if err != nil {
		if notFound(err) {
			return nil, errStale
		}
		return nil, errorFor(err)
	}
	if id != rp.id {
		f.Close()
		return nil, errStale
	}
	return f, nil
}

// serveRanges answers 206 with one range or multipart/byteranges.
func (h *Handler) serveRanges(w http.ResponseWriter, r *http.Request, e *entry, rp *rep, ranges []byteRange) error {
	var f *os.File
	if !rp.small {
		var err error
		if f, err = h.openRep(rp); err != nil {
			return err
		}
		defer f.Close()
	}
	size := rp.id.size
	hdr := w.Header()
	h.setValidators(hdr, e, rp)
	hdr["Accept-Ranges"] = acceptRanges
	if rp.enc != encIdentity {
		// The ranges are of the encoded representation (RFC 9110 §14.1.2).
		hdr["Content-Encoding"] = encHeader[rp.enc]
	}
	if len(ranges) == 1 {
		rg := ranges[0]
		hdr["Content-Type"] = e.ctype
		hdr["Content-Range"] = []string{contentRange(rg, size)}
		hdr["Content-Length"] = []string{strconv.FormatInt(rg.length, 10)}
		w.WriteHeader(http.StatusPartialContent)
		return copyRange(w, rp, f, rg)
	}

	boundary := randomBoundary()
	parts := make([]string, len(ranges))
	var total int64
	for i, rg := range ranges {
		var b strings.Builder
		if i > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("--" + boundary + "\r\nContent-Type: " + e.ctypeStr +
			"\r\nContent-Range: " + contentRange(rg, size) + "\r\n\r\n")
		parts[i] = b.String()
		total += int64(len(parts[i])) + rg.length
	}
	closing := "\r\n--" + boundary + "--\r\n"
	total += int64(len(closing))
	hdr["Content-Type"] = []string{"multipart/byteranges; boundary=" + boundary}
	hdr["Content-Length"] = []string{strconv.FormatInt(total, 10)}
	w.WriteHeader(http.StatusPartialContent)
	for i, rg := range ranges {
		if _, err := io.WriteString(w, parts[i]); err != nil {
			return httperr.ErrAbort
		}
		if err := copyRange(w, rp, f, rg); err != nil {
			return err
		}
	}
	if _, err := io.WriteString(w, closing); err != nil {
		return httperr.ErrAbort
	}
	return nil
}

// copyRange writes one range of rp's body: from memory, or from f with
// Seek + CopyN (which net/http serves with sendfile on plain TCP).
func copyRange(w io.Writer, rp *rep, f *os.File, rg byteRange) error {
	if rp.small {
		if _, err := w.Write(rp.data[rg.start : rg.start+rg.length]); err != nil {
			return httperr.ErrAbort
		}
		return nil
	}
	if _, err := f.Seek(rg.start, io.SeekStart); err != nil {
		return httperr.ErrAbort
	}
	if _, err := io.CopyN(w, f, rg.length); err != nil {
		return httperr.ErrAbort
	}
	return nil
}

func contentRange(rg byteRange, size int64) string {
	b := make([]byte, 0, 64)
	b = append(b, "bytes "...)
	b = strconv.AppendInt(b, rg.start, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, rg.start+rg.length-1, 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, size, 10)
	return string(b)
}

// randomBoundary returns a multipart boundary that file content cannot
// predict.
func randomBoundary() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
