package static

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The open-file/metadata cache (DESIGN.md §7, like nginx open_file_cache).
//
// Keyed by the cleaned URL path (see checkPath), an entry records what the
// path resolved to: a missing file (negative entry, 404), a directory, a
// directory listing, or a file with one representation per available
// encoding. A representation of a file up to SmallFileMax holds the whole
// body and every header value pre-built as a []string, so a hit assigns
// slices into the response header map and writes the body with one Write.
//
// Revalidation: an entry is re-resolved at most once per second (per entry;
// one request wins a CAS on the check time and re-stats while others keep
// serving the entry). A file whose device, inode, size, mtime or ctime
// changed is reloaded; a file that disappeared becomes a negative entry.
// Negative entries therefore also live about one second. Large files are
// re-opened on every request and the handle's identity is compared with the
// cached one, so stale headers are never sent with a new body.
//
// Bounds: at most CacheEntries entries and CacheBytes body bytes. When a
// store crosses either bound, one goroutine sweeps the map down to 90%,
// first dropping negative entries and entries not requested for 10 s, then
// arbitrary ones.
//
// Header slices in entries are shared by all responses: code after the
// handler may replace or append to them (append copies: cap == len) but
// must never modify an element in place.

type kind uint8

const (
	kindMissing kind = iota // negative entry: 404
	kindFile                // a regular file, directly or through an index file
	kindDir                 // a directory named without the trailing slash
	kindListing             // a directory with the slash, no index, listing on
)

// rep is one representation of a file: the identity file or a sidecar.
type rep struct {
	enc   encoding
	rel   string // root-relative name to open for streaming
	id    fileID
	small bool   // data holds the whole body
	data  []byte // the body when small

	modSec     int64  // Last-Modified as Unix seconds
	etagStr    string // strong entity-tag with quotes
	lastModStr string
	etag       []string
	lastMod    []string
	clen       []string
}

type entry struct {
	kind     kind
	checked  atomic.Int64 // clock reading of the last (re)validation
	servable bool         // kindDir: has an index file or listing is on

	ctypeStr string
	ctype    []string
	reps     [numEnc]*rep // reps[encIdentity] is set for kindFile
	avail    [numEnc]bool // sidecars present
	sidecars bool         // at least one sidecar: send Vary: Accept-Encoding
	cost     int64        // bytes charged against CacheBytes
}

// same reports whether ne describes the same thing as e (revalidation
// reuses unchanged representations, so pointer equality suffices).
func (e *entry) same(ne *entry) bool {
	return e.kind == ne.kind && e.servable == ne.servable && e.reps == ne.reps
}

const (
	entryOverhead = 256 // rough per-entry bookkeeping charged to CacheBytes
	idleEvict     = 10 * int64(time.Second)
)

type cache struct {
	m          sync.Map // string → *entry
	n          atomic.Int64
	bytes      atomic.Int64
	maxEntries int64
	maxBytes   int64
	evictMu    sync.Mutex
}

// store inserts or replaces key's entry and evicts when over a bound.
func (c *cache) store(key string, e *entry, now int64) {
	prev, loaded := c.m.Swap(key, e)
	if loaded {
		c.bytes.Add(e.cost - prev.(*entry).cost)
	} else {
		c.n.Add(1)
		c.bytes.Add(e.cost)
	}
	if c.n.Load() > c.maxEntries || c.bytes.Load() > c.maxBytes {
		c.evict(now)
	}
}

// remove deletes key's entry if it is still e.
func (c *cache) remove(key string, e *entry) {
	if c.m.CompareAndDelete(key, e) {
		c.n.Add(-1)
		c.bytes.Add(-e.cost)
	}
}

func (c *cache) evict(now int64) {
	if !c.evictMu.TryLock() {
		return // another goroutine is sweeping
	}
	defer c.evictMu.Unlock()
	targetN, targetB := c.maxEntries*9/10, c.maxBytes*9/10
	for pass := 0; pass < 2; pass++ {
		c.m.Range(func(k, v any) bool {
			if c.n.Load() <= targetN && c.bytes.Load() <= targetB {
				return false
			}
			e := v.(*entry)
			if pass == 0 && e.kind != kindMissing && now-e.checked.Load() < idleEvict {
				return true
			}
			c.remove(k.(string), e)
			return true
		})
	}
}

// lookup returns the entry for a cleaned key, loading or revalidating it.
// Errors other than "not found" (permission, I/O) are returned uncached.
func (h *Handler) lookup(key string) (*entry, error) {
	now := h.now()
	if v, ok := h.cache.m.Load(key); ok {
		e := v.(*entry)
		last := e.checked.Load()
		if now-last < h.interval || !e.checked.CompareAndSwap(last, now) {
			return e, nil
		}
		ne, err := h.load(key, e)
		if err != nil {
			h.cache.remove(key, e)
			return nil, err
		}
		if e.same(ne) {
			return e, nil
		}
		ne.checked.Store(now)
		h.cache.store(strings.Clone(key), ne, now)
		return ne, nil
	}
	ne, err := h.load(key, nil)
	if err != nil {
		return nil, err
	}
	ne.checked.Store(now)
	h.cache.store(strings.Clone(key), ne, now)
	return ne, nil
}

// invalidate drops key's entry if it is still e (used when a streamed file
// turns out to have changed since it was cached).
func (h *Handler) invalidate(key string, e *entry) { h.cache.remove(key, e) }

// load resolves key on disk. old, when not nil, is the entry being
// revalidated: unchanged representations are reused from it.
func (h *Handler) load(key string, old *entry) (*entry, error) {
	rel := relOf(key)
	wantDir := strings.HasSuffix(key, "/")
	f, id, err := h.rv.open(rel)
	if err != nil {
		if notFound(err) {
			return newNegative(), nil
		}
		return nil, err
	}
	defer f.Close()
	switch {
	case id.typ == typeReg && !wantDir:
		return h.loadFile(rel, f, id, old)
	case id.typ == typeDir && !wantDir:
		e := &entry{kind: kindDir, cost: entryOverhead, servable: h.opts.DirectoryListing}
		for _, name := range h.index {
			if e.servable {
				break
			}
			irel := path.Join(rel, name)
			if fi, iid, err := h.rv.open(irel); err == nil {
				fi.Close()
				e.servable = iid.typ == typeReg
			}
		}
		return e, nil
	case id.typ == typeDir:
		for _, name := range h.index {
			irel := path.Join(rel, name)
			fi, iid, err := h.rv.open(irel)
			if err != nil {
				if notFound(err) {
					continue
				}
				return nil, err
			}
			if iid.typ != typeReg {
				fi.Close()
				continue
			}
			e, err := h.loadFile(irel, fi, iid, old)
			fi.Close()
			return e, err
		}
		if h.opts.DirectoryListing {
			return &entry{kind: kindListing, cost: entryOverhead}, nil
		}
	}
	return newNegative(), nil // "/file/" or no index
}

func newNegative() *entry { return &entry{kind: kindMissing, cost: entryOverhead} }

// loadFile builds a kindFile entry for the regular file f named rel.
func (h *Handler) loadFile(rel string, f *os.File, id fileID, old *entry) (*entry, error) {
	e := &entry{kind: kindFile}
	if old != nil && old.kind == kindFile && old.reps[encIdentity].rel == rel {
		e.ctypeStr, e.ctype = old.ctypeStr, old.ctype
	} else {
		e.ctypeStr = contentType(path.Base(rel))
		e.ctype = []string{e.ctypeStr}
	}
	r, err := h.makeRep(encIdentity, rel, f, id, oldRep(old, encIdentity, rel))
	if err != nil {
		return nil, err
	}
	e.reps[encIdentity] = r
	if h.opts.Precompressed {
		for enc := encBr; enc < numEnc; enc++ {
			srel := rel + sidecarExt[enc]
			if h.opts.DenyDotfiles && hasDotSegment(srel) {
				continue
			}
			sf, sid, err := h.rv.open(srel)
			if err != nil {
				continue // missing, refused or unreadable: identity only
			}
			if sid.typ == typeReg {
				if r, err := h.makeRep(enc, srel, sf, sid, oldRep(old, enc, rel)); err == nil {
					e.reps[enc], e.avail[enc], e.sidecars = r, true, true
				}
			}
			sf.Close()
		}
	}
	e.cost = entryOverhead
	for _, r := range e.reps {
		if r != nil {
			e.cost += int64(len(r.data)) + entryOverhead
		}
	}
	return e, nil
}

func oldRep(old *entry, enc encoding, rel string) *rep {
	if old == nil || old.kind != kindFile || old.reps[encIdentity].rel != rel {
		return nil
	}
	return old.reps[enc]
}

// makeRep builds a representation, reusing old when the file is unchanged.
// Small bodies are read length-exactly: a file that changes while being
// read (identity differs afterwards, or more bytes than stat said) is
// re-read, and after three attempts the load fails (500), as Fluxheim
// refuses files that change during a read.
func (h *Handler) makeRep(enc encoding, rel string, f *os.File, id fileID, old *rep) (*rep, error) {
	if old != nil && old.id == id {
		return old, nil
	}
	r := &rep{enc: enc, rel: rel, id: id}
	if id.size <= h.opts.SmallFileMax {
		data, nid, err := readExact(f, id)
		if err != nil {
			return nil, err
		}
		r.id, r.small, r.data = nid, true, data
	}
	r.etagStr = makeETag(r.id, enc)
	mt := time.Unix(0, r.id.mtime).UTC()
	r.modSec = mt.Unix()
	r.lastModStr = mt.Format(http.TimeFormat)
	r.etag = []string{r.etagStr}
	r.lastMod = []string{r.lastModStr}
	r.clen = []string{strconv.FormatInt(r.id.size, 10)}
	return r, nil
}

func readExact(f *os.File, id fileID) ([]byte, fileID, error) {
	for attempt := 0; attempt < 3; attempt++ {
		buf := make([]byte, id.size)
		n, err := f.ReadAt(buf, 0)
		if err != nil && !(errors.Is(err, io.EOF) && int64(n) == id.size) {
			if errors.Is(err, io.EOF) { // shrank
				if id, err = statFile(f); err != nil {
					return nil, id, err
				}
				continue
			}
			return nil, id, err
		}
		var one [1]byte
		if m, _ := f.ReadAt(one[:], id.size); m != 0 { // grew
			if id, err = statFile(f); err != nil {
				return nil, id, err
			}
			continue
		}
		nid, err := statFile(f)
		if err != nil {
			return nil, id, err
		}
		if nid != id {
			id = nid
			continue
		}
		return buf, id, nil
	}
	return nil, id, errChanged
}

// makeETag builds a strong entity-tag from inode, size and mtime, with a
// suffix per encoding so sidecars never share the identity tag.
func makeETag(id fileID, enc encoding) string {
	b := make([]byte, 0, 64)
	b = append(b, '"')
	b = strconv.AppendUint(b, id.ino, 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, id.size, 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, id.mtime, 16)
	b = append(b, etagSuffix[enc]...)
	b = append(b, '"')
	return string(b)
}
