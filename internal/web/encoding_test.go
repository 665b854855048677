package web_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"strconv"
	"testing"
)

// TestEveryBodyIsTheSameGzippedOrNot: the JSON answers and the assets go
// out through one writer; a client that accepts gzip gets the same bytes
// compressed (JSON only from web's gzipMin, 1024 bytes, up), with a Content-Length that
// matches what crosses the wire, and HEAD gets the same headers alone.
func TestEveryBodyIsTheSameGzippedOrNot(t *testing.T) {
	d := startDaemon(t, "")
	read := func(method, path string, hdr ...string) ([]byte, string, string) {
		resp := get(t, method, d.url+path, hdr...)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: status %d", method, path, resp.StatusCode)
		}
		return body, resp.Header.Get("Content-Encoding"), resp.Header.Get("Content-Length")
	}
	for _, tc := range []struct {
		path   string
		always bool // an asset: gzipped whatever its size
	}{{"/api/v1/status", false}, {"/api/v1/issues", false}, {"/healthz", false}, {"/assets/app.js", true}, {"/assets/icon.svg", true}} {
		t.Run(tc.path, func(t *testing.T) {
			plain, enc, n := read("GET", tc.path, "Accept-Encoding", "identity")
			if enc != "" || n != strconv.Itoa(len(plain)) {
				t.Errorf("without gzip: Content-Encoding %q, Content-Length %s for %d bytes", enc, n, len(plain))
			}
			wire, enc, n := read("GET", tc.path, "Accept-Encoding", "gzip")
			if n != strconv.Itoa(len(wire)) {
				t.Errorf("with gzip: Content-Length %s for %d bytes", n, len(wire))
			}
			wantGzip := tc.always || len(plain) >= 1024
			if (enc == "gzip") != wantGzip {
				t.Fatalf("with gzip, %d bytes plain: Content-Encoding %q; want gzip %v", len(plain), enc, wantGzip)
			}
			got := wire
			if enc == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(wire))
				if err != nil {
					t.Fatal(err)
				}
				if got, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			// The status carries times that move between two requests:
			// there it is enough that the gzipped one decodes.
			if tc.path == "/api/v1/status" {
				if !json.Valid(got) {
					t.Errorf("the gzipped status is not JSON: %s", got)
				}
			} else if !bytes.Equal(got, plain) {
				t.Errorf("gzipped body differs from the plain one:\n%s\n%s", got, plain)
			}
			head, enc2, n2 := read("HEAD", tc.path, "Accept-Encoding", "gzip")
			if len(head) != 0 || enc2 != enc || n2 != n {
				t.Errorf("HEAD: %d body bytes, Content-Encoding %q, Content-Length %s; want none, %q, %s", len(head), enc2, n2, enc, n)
			}
		})
	}
}
