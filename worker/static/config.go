package static

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Defaults applied by New when the corresponding Options field is zero,
// and fixed limits.
const (
	DefaultMaxRanges    = 16
	DefaultSmallFileMax = 64 << 10 // 64 KiB
	DefaultCacheEntries = 10000    // open-file/metadata cache entries
	DefaultCacheBytes   = 64 << 20 // 64 MiB of cached small-file bodies
	MaxIndexFiles       = 32       // Fluxheim's cap on index_files
	MaxListingEntries   = 10000    // directory listing cap (entries read)
	maxURLPathLen       = 4096     // longer paths answer 404 (PATH_MAX)
)

// RevalidateInterval is how often one cache entry is re-checked on disk
// (like nginx open_file_cache_valid); negative entries live as long.
const RevalidateInterval = time.Second

// Options is the resolved [web] policy (the config package maps TOML to it).
// The zero value of every field except Root is usable; New fills defaults.
type Options struct {
	// Root is the document root: an absolute path naming a real directory,
	// neither a symlink nor below a symlinked directory (New checks).
	Root string
	// IndexFiles are tried in order for paths ending in "/". nil means
	// ["index.html"]; an empty non-nil slice disables index files. Each name
	// must be a single path component (no "/" or "\\", not "." or ".."); at
	// most MaxIndexFiles. Dotfile names are skipped when DenyDotfiles is on.
	IndexFiles []string
	// DenyDotfiles answers 404 for any path with a segment starting with "."
	// (requested paths, index files, precompressed sidecars, listing
	// entries). Fluxheim's default is true; the config layer sets it.
	DenyDotfiles bool
	// CacheControl is emitted on 200/206/304 file responses; "" omits it.
	// Fluxheim's default "public, max-age=60" is filled by config, not here.
	CacheControl string
	// Expires is an optional raw HTTP-date emitted like CacheControl.
	Expires string
	// DirectoryListing serves an HTML listing for a directory requested with
	// a trailing slash when no index file matches. Off by default.
	DirectoryListing bool
	// ListingExactSize shows sizes in bytes instead of human-readable units.
	ListingExactSize bool
	// ListingLocalTime shows times in the server's local zone with its UTC
	// offset instead of GMT HTTP-dates.
	ListingLocalTime bool
	// MaxRanges caps the ranges in one Range header; a header with more is
	// ignored (200 with the full body). 0 means DefaultMaxRanges; negative is
	// an error.
	MaxRanges int
	// Precompressed serves file.br / file.zst / file.gz sidecars when the
	// client accepts the encoding (Fluxheim's default true is set by config).
	Precompressed bool
	// SmallFileMax: regular files up to this size are held in memory in the
	// metadata cache with precomputed headers and written with one Write;
	// larger files are streamed from disk (sendfile on plain TCP).
	// 0 means DefaultSmallFileMax; negative disables in-memory bodies.
	SmallFileMax int64
	// CacheEntries bounds the number of cached paths (positive and negative
	// results). 0 means DefaultCacheEntries.
	CacheEntries int
	// CacheBytes bounds the total size of cached small-file bodies.
	// 0 means DefaultCacheBytes.
	CacheBytes int64
}

// resolved returns o with defaults applied, or an error naming the field.
func (o Options) resolved() (Options, error) {
	var errs []error
	if o.Root == "" {
		errs = append(errs, errors.New("root: must be set"))
	} else if !filepath.IsAbs(o.Root) {
		errs = append(errs, fmt.Errorf("root %q: must be an absolute path", o.Root))
	} else {
		o.Root = filepath.Clean(o.Root)
		if err := checkRealDir(o.Root); err != nil {
			errs = append(errs, err)
		}
	}
	if o.IndexFiles == nil {
		o.IndexFiles = []string{"index.html"}
	}
	if len(o.IndexFiles) > MaxIndexFiles {
		errs = append(errs, fmt.Errorf("index_files: %d names, at most %d", len(o.IndexFiles), MaxIndexFiles))
	}
	for _, n := range o.IndexFiles {
		if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\\\x00") {
			errs = append(errs, fmt.Errorf("index_files: %q must be a single file name", n))
		}
	}
	if !validHeaderValue(o.CacheControl) {
		errs = append(errs, fmt.Errorf("cache_control: %q is not a valid header value", o.CacheControl))
	}
	if o.Expires != "" {
		if !validHeaderValue(o.Expires) {
			errs = append(errs, fmt.Errorf("expires: %q is not a valid header value", o.Expires))
		} else if _, err := http.ParseTime(o.Expires); err != nil {
			errs = append(errs, fmt.Errorf("expires: %q is not an HTTP-date", o.Expires))
		}
	}
	switch {
	case o.MaxRanges < 0:
		errs = append(errs, fmt.Errorf("max_ranges: %d must not be negative", o.MaxRanges))
	case o.MaxRanges == 0:
		o.MaxRanges = DefaultMaxRanges
	}
	if o.SmallFileMax == 0 {
		o.SmallFileMax = DefaultSmallFileMax
	}
	if o.CacheEntries < 0 || o.CacheBytes < 0 {
		errs = append(errs, errors.New("cache bounds must not be negative"))
	}
	if o.CacheEntries == 0 {
		o.CacheEntries = DefaultCacheEntries
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = DefaultCacheBytes
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("static: %w", err)
	}
	return o, nil
}

// checkRealDir reports an error unless dir is a directory, is not a symlink
// and has no symlinked parent (Fluxheim's rule for web.root).
func checkRealDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("root: %w", err)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("root %q: must not be a symlink", dir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("root %q: not a directory", dir)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("root: %w", err)
	}
	if real != dir {
		return fmt.Errorf("root %q: below a symlinked directory (resolves to %q)", dir, real)
	}
	return nil
}

// validHeaderValue reports whether v can be sent as a header field value:
// no control characters other than horizontal tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
