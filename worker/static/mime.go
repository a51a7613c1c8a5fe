package static

import (
	"mime"
	"path"
	"strings"
)

// Content types are chosen by file extension only: no content sniffing (it
// costs a read per file and nginx does not do it either). A built-in table
// covers common web types so results do not depend on /etc/mime.types;
// other extensions fall back to mime.TypeByExtension, then to
// application/octet-stream. Textual types get "; charset=utf-8" when they
// have no charset parameter.

const defaultContentType = "application/octet-stream"

var builtinTypes = map[string]string{
	".html":        "text/html",
	".htm":         "text/html",
	".css":         "text/css",
	".js":          "text/javascript",
	".mjs":         "text/javascript",
	".json":        "application/json",
	".map":         "application/json",
	".webmanifest": "application/manifest+json",
	".xml":         "application/xml",
	".rss":         "application/rss+xml",
	".atom":        "application/atom+xml",
	".svg":         "image/svg+xml",
	".txt":         "text/plain",
	".md":          "text/markdown",
	".csv":         "text/csv",
	".ics":         "text/calendar",
	".png":         "image/png",
	".jpg":         "image/jpeg",
	".jpeg":        "image/jpeg",
	".gif":         "image/gif",
	".webp":        "image/webp",
	".avif":        "image/avif",
	".ico":         "image/vnd.microsoft.icon",
	".bmp":         "image/bmp",
	".woff":        "font/woff",
	".woff2":       "font/woff2",
	".ttf":         "font/ttf",
	".otf":         "font/otf",
	".wasm":        "application/wasm",
	".pdf":         "application/pdf",
	".zip":         "application/zip",
	".gz":          "application/gzip",
	".zst":         "application/zstd",
	".tar":         "application/x-tar",
	".mp4":         "video/mp4",
	".webm":        "video/webm",
	".ogv":         "video/ogg",
	".mp3":         "audio/mpeg",
	".ogg":         "audio/ogg",
	".oga":         "audio/ogg",
	".wav":         "audio/wav",
	".flac":        "audio/flac",
	".m4a":         "audio/mp4",
	".m3u8":        "application/vnd.apple.mpegurl",
	".txz":         "application/x-xz",
	".xz":          "application/x-xz",
}

// contentType returns the Content-Type value for a file name.
func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if ext == "" {
		return defaultContentType
	}
	t, ok := builtinTypes[ext]
	if !ok {
		t = mime.TypeByExtension(ext)
		if t == "" {
			return defaultContentType
		}
	}
	return withCharset(t)
}

// withCharset appends "; charset=utf-8" to textual types lacking a charset.
func withCharset(t string) string {
	if strings.Contains(strings.ToLower(t), "charset=") {
		return t
	}
	base := t
	if i := strings.IndexByte(base, ';'); i >= 0 {
		base = base[:i]
	}
	base = strings.ToLower(strings.TrimSpace(base))
	textual := strings.HasPrefix(base, "text/") ||
		base == "application/javascript" || base == "application/xml" ||
		base == "image/svg+xml" ||
		strings.HasSuffix(base, "+json") || strings.HasSuffix(base, "+xml") ||
		base == "application/json"
	if textual {
		return t + "; charset=utf-8"
	}
	return t
}
