package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzQuery: the HTTP API's query parameters are the only input a client
// sends it. Whatever the query, each read-only route answers 200 or a 400
// whose message is one safe line.
func FuzzQuery(f *testing.F) {
	for _, q := range []string{"", "limit=5", "limit=0", "limit=-1", "limit=99999999999999", "limit=%1b%5b2J", "limit=%00", "a=b&limit=1&limit=2", "%zz"} {
		f.Add(q)
	}
	d := startDaemon(f, "")
	h := d.srv.Handler()
	f.Fuzz(func(t *testing.T, q string) {
		for _, path := range []string{"/api/v1/history", "/api/v1/status", "/api/v1/issues", "/api/v1/predictions", "/healthz"} {
			req := httptest.NewRequest("GET", "http://127.0.0.1/", nil)
			req.URL.Path = path
			req.URL.RawQuery = q
			req.Host = "127.0.0.1"
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			switch rec.Code {
			case http.StatusOK:
			case http.StatusBadRequest:
				body := strings.TrimSpace(rec.Body.String())
				if strings.Contains(body, "\n") || !utf8.ValidString(body) || strings.ContainsAny(body, "\x1b\x00") {
					t.Fatalf("%s?%s: 400 body %q; want one safe line", path, q, body)
				}
			default:
				t.Fatalf("%s?%s: status %d; want 200 or 400", path, q, rec.Code)
			}
		}
	})
}
