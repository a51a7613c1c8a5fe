package php

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"

	"golang.org/x/sys/unix"

	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/httperr"
)

// bodyPolicy is how a block hands request bodies to php-fpm.
type bodyPolicy struct {
	pass      bool
	limit     int64  // max_request_body_bytes; 0 = the route's limit only
	threshold int64  // spool above this many bytes; 0 = no spooling
	spoolDir  string //
}

func newBodyPolicy(c *config.PHP) bodyPolicy {
	p := bodyPolicy{pass: *c.PassRequestBody, spoolDir: c.RequestBodySpoolDir}
	if c.MaxRequestBodyBytes != nil {
		p.limit = int64(*c.MaxRequestBodyBytes)
	}
	if c.RequestBodySpoolThresholdBytes != nil {
		p.threshold = int64(*c.RequestBodySpoolThresholdBytes)
	}
	return p
}

// body is a request body ready for fastcgi.
type body struct {
	r       io.Reader                 // nil: none
	length  int64                     // CONTENT_LENGTH
	getBody func() (io.Reader, error) // nil: not replayable
	file    *os.File                  // spool file to close
}

func (b *body) close() {
	if b.file != nil {
		b.file.Close()
	}
}

var errBodyTooLarge = errors.New("request body exceeds max_request_body_bytes")

var tooLarge = &httperr.Error{Status: http.StatusRequestEntityTooLarge, Source: httperr.SourceClient, Err: errBodyTooLarge, Close: true}

// prepare reads or wraps the request body according to the policy:
//   - pass_request_body = false: the body is drained, CONTENT_LENGTH=0;
//   - a body of known length without spooling streams to php-fpm;
//   - with spooling, the body is read first: in memory up to the
//     threshold, the rest into an unlinked file in the spool directory;
//   - a chunked body without spooling is read into memory (php-fpm needs
//     CONTENT_LENGTH up front).
//
// The block's max_request_body_bytes answers 413; the route's limit is
// enforced by the pipeline's body guard underneath.
func (p *bodyPolicy) prepare(r *http.Request) (*body, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return &body{}, nil
	}
	if p.limit > 0 && r.ContentLength > p.limit {
		return nil, tooLarge
	}
	src := io.Reader(r.Body)
	if p.limit > 0 {
		src = &limitReader{r: r.Body, left: p.limit}
	}
	if !p.pass {
		if _, err := io.Copy(io.Discard, src); err != nil {
			return nil, bodyErr(err)
		}
		return &body{}, nil
	}
	if p.threshold == 0 && r.ContentLength > 0 {
		return &body{r: src, length: r.ContentLength}, nil
	}
	return p.buffer(src)
}

// buffer reads the whole body (memory, then spool file).
func (p *bodyPolicy) buffer(src io.Reader) (*body, error) {
	var mem bytes.Buffer
	memSrc := src
	if p.threshold > 0 {
		memSrc = io.LimitReader(src, p.threshold+1)
	}
	n, err := io.Copy(&mem, memSrc)
	if err != nil {
		return nil, bodyErr(err)
	}
	if p.threshold == 0 || n <= p.threshold {
		data := mem.Bytes()
		return &body{r: bytes.NewReader(data), length: n, getBody: func() (io.Reader, error) { return bytes.NewReader(data), nil }}, nil
	}
	f, err := spoolFile(p.spoolDir)
	if err != nil {
		return nil, httperr.New(http.StatusInternalServerError, httperr.SourceInternal, err)
	}
	if _, err := f.Write(mem.Bytes()); err != nil {
		f.Close()
		return nil, httperr.New(http.StatusInternalServerError, httperr.SourceInternal, err)
	}
	rest, err := io.Copy(f, src)
	if err != nil {
		f.Close()
		return nil, bodyErr(err)
	}
	size := n + rest
	return &body{
		r: io.NewSectionReader(f, 0, size), length: size, file: f,
		getBody: func() (io.Reader, error) { return io.NewSectionReader(f, 0, size), nil },
	}, nil
}

// spoolFile creates an anonymous file in dir: O_TMPFILE where the file
// system has it, else a named file removed at once.
func spoolFile(dir string) (*os.File, error) {
	if fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600); err == nil {
		return os.NewFile(uintptr(fd), dir+"/(spool)"), nil
	}
	f, err := os.CreateTemp(dir, ".fluxheim-php-body-*")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// bodyErr keeps the 413 of the block's limit and hands every other read
// error to the pipeline (its body guard turns client faults into 400, 408
// or 413).
func bodyErr(err error) error {
	if errors.Is(err, errBodyTooLarge) {
		return tooLarge
	}
	return err
}

// limitReader fails with errBodyTooLarge once more than left bytes come.
type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n + int(l.left), errBodyTooLarge
	}
	return n, err
}
