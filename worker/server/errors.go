package server

import (
	"net/http"

	"github.com/fluxheim/fluxheim/shared/httperr"
)

var (
	httpErrNotFound = httperr.Error{Status: http.StatusNotFound, Source: httperr.SourceClient}
	httpErrBadHost  = httperr.Error{Status: http.StatusBadRequest, Source: httperr.SourceClient}
)

func methodNotAllowed() error {
	return &httperr.Error{Status: http.StatusMethodNotAllowed, Source: httperr.SourceClient, Header: http.Header{"Allow": {"GET, HEAD"}}}
}
