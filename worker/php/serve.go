package php

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/fluxheim/fluxheim/fastcgi"
	"github.com/fluxheim/fluxheim/shared/httperr"
	"github.com/fluxheim/fluxheim/worker/reqctx"
	"github.com/fluxheim/fluxheim/worker/router"
)

// Serve implements router.Action.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, t *router.Target) error {
	if err := h.serve(w, r, t); err != nil {
		return h.withErrorPage(w, r, err)
	}
	return nil
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, t *router.Target) error {
	pl := h.decide(t.Path)
	switch pl.act {
	case actRun:
		return h.runScript(w, r, pl)
	case actStatic:
		return h.static.Serve(w, r, t.Path)
	case actRedirect:
		return redirectSlash(w, r)
	case actForbidden:
		return httperr.Client(http.StatusForbidden, errorf("php: %s may not run or be served", t.Path))
	case actBadPath:
		return httperr.Client(http.StatusBadRequest, errorf("php: control byte or backslash in path"))
	}
	return httperr.Client(http.StatusNotFound, nil)
}

// redirectSlash answers 308 to the client's path plus "/" (a directory
// holding the index, requested without the slash).
func redirectSlash(w http.ResponseWriter, r *http.Request) error {
	p, ok := router.CleanPath(r.URL.Path)
	if !ok {
		return httperr.Client(http.StatusBadRequest, nil)
	}
	loc := router.EscapePath(p) + "/"
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	hdr := w.Header()
	hdr["Location"] = []string{loc}
	hdr["Content-Length"] = []string{"0"}
	w.WriteHeader(http.StatusPermanentRedirect)
	return nil
}

var paramsPool = sync.Pool{New: func() any { return new(fastcgi.Params) }}

// runScript sends the request to php-fpm and writes its response.
func (h *Handler) runScript(w http.ResponseWriter, r *http.Request, pl plan) error {
	select {
	case h.slots <- struct{}{}:
	default:
		h.metrics.Rejected.Add(1)
		return &httperr.Error{Status: http.StatusServiceUnavailable, Source: httperr.SourceInternal, Err: errorf("php: max_in_flight (%d) reached", cap(h.slots)), Header: http.Header{"Retry-After": {"1"}}}
	}
	defer func() { <-h.slots }()
	start := time.Now()
	deadline := start.Add(h.timeout)
	rc := http.NewResponseController(w)
	if r.ContentLength != 0 {
		// Reading (or streaming) the body is bounded by the same deadline.
		_ = rc.SetReadDeadline(deadline)
		defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	}
	b, err := h.body.prepare(r)
	if err != nil {
		return err
	}
	defer b.close()
	info := reqctx.Of(r)
	params := paramsPool.Get().(*fastcgi.Params)
	defer func() { params.Reset(); paramsPool.Put(params) }()
	h.buildParams(params, &request{r: r, info: info, script: pl.script, pathInfo: pl.pathInfo, contentLength: b.length})

	h.metrics.Requests.Add(1)
	req := &fastcgi.Request{Method: r.Method, Params: params, Body: b.r, GetBody: b.getBody, Deadline: deadline, Ctx: r.Context()}
	if b.r != nil && b.getBody == nil { // streamed from the client
		req.AbortBody = func() { _ = rc.SetReadDeadline(time.Unix(1, 0)) }
	}
	resp, err := h.client.Do(req)
	h.metrics.Duration.Observe(time.Since(start))
	if err != nil {
		var e *fastcgi.Error
		if errors.As(err, &e) && info != nil {
			info.Upstream = e.Addr
		}
		h.countAttempts(err)
		return h.fail(err)
	}
	defer resp.Release()
	h.metrics.Retries.Add(int64(resp.Attempts - 1))
	if info != nil {
		info.Upstream, info.UpstreamStatus, info.UpstreamRetries = resp.Addr, resp.Status, resp.Attempts-1
	}
	if resp.StderrBytes > 0 {
		h.metrics.StderrEvents.Add(1)
		h.logStderr(r, pl.script, resp, info)
	}
	return h.respond(w, r, resp)
}

func (h *Handler) countAttempts(err error) {
	var e *fastcgi.Error
	if errors.As(err, &e) && e.Attempts > 1 {
		h.metrics.Retries.Add(int64(e.Attempts - 1))
	}
}

// fail maps a fastcgi failure (or any other error) to the status the
// client gets, counting fluxheim-made 5xx answers.
func (h *Handler) fail(err error) error {
	var e *fastcgi.Error
	if !errors.As(err, &e) {
		var he *httperr.Error
		if errors.As(err, &he) {
			if he.Source == httperr.SourceUpstream && he.Status >= 500 {
				h.metrics.Failures.Add(1)
			}
			return he
		}
		return err
	}
	if errors.Is(err, errBodyTooLarge) {
		return tooLarge
	}
	if fastcgi.IsBodyError(err) {
		return err // the pipeline's body guard knows the client's fault
	}
	status := http.StatusBadGateway
	switch {
	case e.Kind == fastcgi.KindCanceled:
		return &httperr.Error{Status: 499, Source: httperr.SourceClient, Err: err}
	case e.Timeout():
		status = http.StatusGatewayTimeout
	case e.Kind == fastcgi.KindOverloaded:
		status = http.StatusServiceUnavailable
	}
	h.metrics.Failures.Add(1)
	return httperr.Upstream(status, err)
}

// logStderr logs what the script wrote to stderr (at most stderr_max_bytes).
func (h *Handler) logStderr(r *http.Request, script string, resp *fastcgi.Response, info *reqctx.Info) {
	if !h.stderrLog {
		return
	}
	attrs := []any{"script", script, "bytes", resp.StderrBytes, "stderr", string(resp.Stderr)}
	if info != nil && info.RequestID != "" {
		attrs = append(attrs, "request_id", info.RequestID)
	}
	h.log.Log(r.Context(), h.stderrLevel, "php stderr", attrs...)
}

// stderrLevel maps stderr_log_level.
func stderrLevel(s string) slog.Level {
	switch s {
	case "error":
		return slog.LevelError
	case "info":
		return slog.LevelInfo
	case "debug":
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
