package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"sync"
)

// The dashboard is three static files served as they are: no build step,
// no CDN, no framework.
//
//go:embed assets
var assetFS embed.FS

type asset struct {
	body  []byte
	gzip  func() []byte // compressed at the first request that accepts it
	etag  string
	ctype string
}

// assets are the embedded files, hashed once at start. Each is gzipped at
// its first request rather than at start: most daemons never serve the
// dashboard, and compressing it took 4 ms and 3 MiB of garbage at every
// start (GODEBUG=inittrace=1; docs/performance.md).
var assets = func() map[string]*asset {
	out := map[string]*asset{}
	entries, err := fs.ReadDir(assetFS, "assets")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		body, err := assetFS.ReadFile("assets/" + e.Name())
		if err != nil {
			panic(err)
		}
		gz := sync.OnceValue(func() []byte {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zw.Write(body)
			zw.Close()
			return buf.Bytes()
		})
		sum := sha256.Sum256(body)
		ctype, ok := contentTypes[path.Ext(e.Name())]
		if !ok {
			panic("web: no content type for asset " + e.Name())
		}
		out[e.Name()] = &asset{body: body, gzip: gz, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ctype: ctype}
	}
	return out
}()

// contentTypes are fixed here rather than read from the system's
// mime.types, which may say otherwise.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// csp lets the page load its own script, style and event stream, and
// nothing else: no inline script, no other origin, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if name == "" {
		name = "index.html"
	}
	a, ok := assets[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", a.etag)
	// Revalidate every time: the files change with the daemon, and a
	// 304 costs a round trip of a few hundred bytes.
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Accept-Encoding")
	if a.ctype == "text/html; charset=utf-8" {
		h.Set("Content-Security-Policy", csp)
	}
	if match := r.Header.Get("If-None-Match"); match != "" && match == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeBody(w, r, a.body, a.gzip)
}
