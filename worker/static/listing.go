package static

import (
	"bytes"
	"errors"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fluxheim/fluxheim/shared/httperr"
)

// Directory listing (opt-in, Options.DirectoryListing).
//
// Served for a directory requested with a trailing slash when no index file
// matches. At most MaxListingEntries directory entries are read (a note
// says when the listing was cut). Symlinks are skipped, so are dotfiles
// when denied and anything that is neither a regular file nor a directory.
// Names are URL-escaped in links (prefixed with "./" so a name like "a:b"
// is never read as a scheme) and HTML-escaped everywhere. Directories come
// first, then files, each by name. Sizes are human-readable (K/M/G/T,
// 1024-based) unless ListingExactSize; times are GMT HTTP-dates unless
// ListingLocalTime ("2006-01-02 15:04:05 -0700" in the server's zone).
// The response is never cached by the metadata cache and carries
// Cache-Control: private, no-store; Range and conditionals are ignored.

type listItem struct {
	name  string
	dir   bool
	size  int64
	mtime int64
}

func (h *Handler) serveListing(w http.ResponseWriter, r *http.Request, key string) error {
	rel := relOf(key)
	f, id, err := h.rv.open(rel)
	if err != nil {
		return errorFor(err)
	}
	defer f.Close()
	if id.typ != typeDir {
		return httperr.Client(http.StatusNotFound, nil)
	}
	ents, err := f.ReadDir(MaxListingEntries)
	if err != nil && !errors.Is(err, io.EOF) {
		return errorFor(err)
	}
	truncated := false
	if len(ents) == MaxListingEntries {
		more, _ := f.ReadDir(1)
		truncated = len(more) > 0
	}
	items := make([]listItem, 0, len(ents))
	for _, d := range ents {
		name := d.Name()
		if (h.opts.DenyDotfiles && strings.HasPrefix(name, ".")) || d.Type()&fs.ModeSymlink != 0 {
			continue
		}
		id, isLink, err := h.rv.lstatAt(f, rel, name)
		if err != nil || isLink || id.typ == typeOther {
			continue
		}
		items = append(items, listItem{name: name, dir: id.typ == typeDir, size: id.size, mtime: id.mtime})
	}
	slices.SortFunc(items, func(a, b listItem) int {
		if a.dir != b.dir {
			if a.dir {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	body := h.renderListing(key, items, truncated)

	hdr := w.Header()
	hdr["Content-Type"] = listingCType
	hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	hdr["Cache-Control"] = listingCache
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	if _, err := w.Write(body); err != nil {
		return httperr.ErrAbort
	}
	return nil
}

func (h *Handler) renderListing(key string, items []listItem, truncated bool) []byte {
	var b bytes.Buffer
	title := html.EscapeString("Index of " + key)
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>")
	b.WriteString(title)
	b.WriteString("</title></head>\n<body><h1>")
	b.WriteString(title)
	b.WriteString("</h1><hr>\n<table>\n<tr><th>Name</th><th>Last modified</th><th>Size</th></tr>\n")
	if key != "/" {
		b.WriteString("<tr><td><a href=\"../\">../</a></td><td></td><td>-</td></tr>\n")
	}
	for _, it := range items {
		href, shown := "./"+url.PathEscape(it.name), it.name
		if it.dir {
			href += "/"
			shown += "/"
		}
		b.WriteString("<tr><td><a href=\"")
		b.WriteString(html.EscapeString(href))
		b.WriteString("\">")
		b.WriteString(html.EscapeString(shown))
		b.WriteString("</a></td><td>")
		b.WriteString(h.listingTime(it.mtime))
		b.WriteString("</td><td>")
		if it.dir {
			b.WriteString("-")
		} else if h.opts.ListingExactSize {
			b.WriteString(strconv.FormatInt(it.size, 10))
		} else {
			b.WriteString(humanSize(it.size))
		}
		b.WriteString("</td></tr>\n")
	}
	b.WriteString("</table>\n")
	if truncated {
		b.WriteString("<p>Listing truncated to " + strconv.Itoa(MaxListingEntries) + " entries.</p>\n")
	}
	b.WriteString("<hr></body></html>\n")
	return b.Bytes()
}

func (h *Handler) listingTime(ns int64) string {
	t := time.Unix(0, ns)
	if h.opts.ListingLocalTime {
		return t.Local().Format("2006-01-02 15:04:05 -0700")
	}
	return t.UTC().Format(http.TimeFormat)
}

// humanSize formats n with 1024-based units: "999", "1.5K", "12K", "3.0M".
func humanSize(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10)
	}
	v := float64(n)
	unit := 0
	const units = "KMGTPE"
	for v >= 1024 && unit < len(units) {
		v /= 1024
		unit++
	}
	prec := 0
	if v < 10 {
		prec = 1
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + units[unit-1:unit]
}
