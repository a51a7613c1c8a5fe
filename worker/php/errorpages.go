package php

import (
	"errors"
	"io"
	"net/http"

	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/httperr"
	"github.com/fluxheim/fluxheim/worker/static"
)

// errorPage is one [[vhosts.php.error_pages]] entry.
type errorPage struct {
	path   string
	static *static.Handler
}

func newErrorPages(pages []config.PHPErrorPage) (map[int]*errorPage, error) {
	out := map[int]*errorPage{}
	for _, p := range pages {
		w := p.Web
		s, err := static.New(static.Options{
			Root: w.Root, IndexFiles: []string{}, DenyDotfiles: *w.DenyDotfiles,
			CacheControl: *w.CacheControl, Expires: w.Expires,
		})
		if err != nil {
			for _, done := range out {
				_ = done.static.Close()
			}
			return nil, err
		}
		out[p.Status] = &errorPage{path: p.Path, static: s}
	}
	return out, nil
}

// withErrorPage serves the configured page for err's status, with that
// status, when err is an *httperr.Error written before any response
// started (intercepted PHP statuses and the handler's own 4xx/5xx). It
// returns err unchanged when there is no page or the page cannot be
// served (the pipeline then renders its own).
func (h *Handler) withErrorPage(w http.ResponseWriter, r *http.Request, err error) error {
	var he *httperr.Error
	if len(h.pages) == 0 || !errors.As(err, &he) || he.Status == 499 {
		return err
	}
	page := h.pages[he.Status]
	if page == nil {
		return err
	}
	r2 := *r
	if r2.Method != http.MethodHead {
		r2.Method = http.MethodGet
	}
	r2.Header = r.Header.Clone()
	for _, k := range []string{"Range", "If-Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"} {
		delete(r2.Header, k)
	}
	for k, vs := range he.Header {
		w.Header()[k] = vs
	}
	sw := &statusWriter{ResponseWriter: w, status: he.Status}
	if perr := page.static.Serve(sw, &r2, page.path); perr != nil {
		if sw.wrote {
			return httperr.ErrAbort
		}
		h.log.Warn("php error page unavailable", "status", he.Status, "page", page.path, "err", perr)
		return err
	}
	return nil
}

// statusWriter replaces the 200 of a served page with the error status.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if code == http.StatusOK {
		code = s.status
	}
	s.wrote = true
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if !s.wrote {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}

// ReadFrom keeps sendfile for pages served from disk.
func (s *statusWriter) ReadFrom(src io.Reader) (int64, error) {
	if !s.wrote {
		s.WriteHeader(http.StatusOK)
	}
	if rf, ok := s.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(struct{ io.Writer }{s.ResponseWriter}, src)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
