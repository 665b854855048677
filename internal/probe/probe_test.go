package probe

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func httpSpec(url string) Spec {
	return Spec{Unit: "web.service", Type: HTTP, URL: url, Method: "GET", Status: 200, TLSVerify: true,
		Timeout: 2 * time.Second, Failures: 3}
}

func TestHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte("all good, version 1.2"))
		case "/broken":
			http.Error(w, "no database", http.StatusInternalServerError)
		case "/same":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	// Another host name on loopback that answers 200: "localhost" is not
	// "127.0.0.1" for the redirect rule, which compares names, not
	// addresses (a port change on the same name is the same host).
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("elsewhere")) }))
	defer other.Close()
	off := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+"/", http.StatusFound)
	}))
	defer off.Close()

	for _, tc := range []struct {
		name   string
		spec   func() Spec
		ok     bool
		detail string
	}{
		{"200", func() Spec { return httpSpec(srv.URL + "/ok") }, true, "200"},
		{"500", func() Spec { return httpSpec(srv.URL + "/broken") }, false, "500"},
		{"expected 404", func() Spec { s := httpSpec(srv.URL + "/nope"); s.Status = 404; return s }, true, "404"},
		{"body contains", func() Spec { s := httpSpec(srv.URL + "/ok"); s.BodyContains = "all good"; return s }, true, ""},
		{"body lacks", func() Spec { s := httpSpec(srv.URL + "/ok"); s.BodyContains = "ready"; return s }, false, "does not contain"},
		{"body regexp", func() Spec {
			s := httpSpec(srv.URL + "/ok")
			s.BodyRegexp = regexp.MustCompile(`version \d+\.\d+`)
			return s
		}, true, ""},
		{"body regexp mismatch", func() Spec {
			s := httpSpec(srv.URL + "/ok")
			s.BodyRegexp = regexp.MustCompile(`^ready$`)
			return s
		}, false, "does not match"},
		{"HEAD", func() Spec { s := httpSpec(srv.URL + "/ok"); s.Method = "HEAD"; return s }, true, ""},
		{"same-host redirect followed", func() Spec { return httpSpec(srv.URL + "/same") }, true, "200"},
		{"off-host redirect refused", func() Spec { return httpSpec(off.URL + "/") }, false, "off the host"},
		{"off-host redirect allowed", func() Spec { s := httpSpec(off.URL + "/"); s.FollowRedirectsOffHost = true; return s }, true, "200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Run(context.Background(), tc.spec(), nil)
			if r.OK != tc.ok || !strings.Contains(r.Detail, tc.detail) {
				t.Fatalf("got ok=%v %q, want ok=%v containing %q", r.OK, r.Detail, tc.ok, tc.detail)
			}
			if r.Unit != "web.service" || r.Type != HTTP || r.Duration <= 0 {
				t.Fatalf("result not filled: %+v", r)
			}
		})
	}
}

func TestHTTPSVerifiesByDefault(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	s := httpSpec(srv.URL + "/")
	if r := Run(context.Background(), s, nil); r.OK || !strings.Contains(r.Detail, "certificate") {
		t.Fatalf("a self-signed certificate passed verification: %+v", r)
	}
	s.TLSVerify = false
	if r := Run(context.Background(), s, nil); !r.OK {
		t.Fatalf("tls_verify = false still failed: %+v", r)
	}
}

// hungListener accepts connections and never answers: a deadlocked server.
func hungListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // held open, never read or written
		}
	}()
	t.Cleanup(func() {
		ln.Close()
	})
	return ln
}

func TestHTTPHungServerTimesOut(t *testing.T) {
	ln := hungListener(t)
	s := httpSpec("http://" + ln.Addr().String() + "/")
	s.Timeout = 300 * time.Millisecond
	start := time.Now()
	r := Run(context.Background(), s, nil)
	took := time.Since(start)
	if r.OK || !strings.Contains(r.Detail, "timed out after 300ms") {
		t.Fatalf("a hung server passed or failed for another reason: %+v", r)
	}
	if took < 300*time.Millisecond || took > 5*time.Second {
		t.Fatalf("took %s, want about the 300ms timeout", took)
	}
}

func TestTCPAndUnix(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	s := Spec{Unit: "db.service", Type: TCP, Address: addr, Timeout: time.Second}
	if r := Run(context.Background(), s, nil); !r.OK {
		t.Fatalf("tcp to a listener failed: %+v", r)
	}
	ln.Close()
	if r := Run(context.Background(), s, nil); r.OK || !strings.Contains(r.Detail, "refused") {
		t.Fatalf("tcp to a closed port: %+v", r)
	}

	path := filepath.Join(t.TempDir(), "s.sock")
	ul, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ul.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	us := Spec{Unit: "db.service", Type: Unix, Path: path, Timeout: time.Second}
	if r := Run(context.Background(), us, nil); !r.OK {
		t.Fatalf("unix to a listener failed: %+v", r)
	}
	ul.Close()
	if r := Run(context.Background(), us, nil); r.OK {
		t.Fatalf("unix to a closed socket passed: %+v", r)
	}
}

// fakeRunner stands in for systemd's transient unit, which cannot run in a
// unit test; internal/e2e runs the real one.
type fakeRunner struct {
	exit int
	err  error
	got  []string
	user string
}

func (f *fakeRunner) RunProbeCommand(ctx context.Context, unit string, argv []string, user string, timeout time.Duration) (int, error) {
	f.got, f.user = argv, user
	return f.exit, f.err
}

func TestCommand(t *testing.T) {
	s := Spec{Unit: "app.service", Type: Command, Argv: []string{"/bin/check", "-q"}, User: "nobody", Timeout: time.Second}
	if r := Run(context.Background(), s, nil); r.OK || !strings.Contains(r.Detail, "systemd") {
		t.Fatalf("a command probe ran without systemd: %+v", r)
	}
	f := &fakeRunner{}
	if r := Run(context.Background(), s, f); !r.OK || f.user != "nobody" || f.got[0] != "/bin/check" {
		t.Fatalf("exit 0: %+v, runner saw %v as %q", r, f.got, f.user)
	}
	f.exit = 3
	if r := Run(context.Background(), s, f); r.OK || r.Detail != "exit status 3" {
		t.Fatalf("exit 3: %+v", r)
	}
	f.exit, f.err = 0, errors.New("no such user")
	if r := Run(context.Background(), s, f); r.OK {
		t.Fatalf("a runner error passed: %+v", r)
	}
}

func TestTracker(t *testing.T) {
	var tr Tracker
	t0 := time.Now()
	fail := func(i int) Result { return Result{At: t0.Add(time.Duration(i) * time.Second)} }
	if tr.Observe(fail(0), 2, true) || tr.Consecutive != 0 {
		t.Fatal("a failure in the grace period counted")
	}
	if tr.Observe(fail(1), 2, false) {
		t.Fatal("one failure of two made an issue")
	}
	if !tr.Observe(fail(2), 2, false) || !tr.FirstFailed.Equal(fail(1).At) {
		t.Fatalf("two failures: %+v", tr)
	}
	if tr.Observe(Result{OK: true}, 2, false) || tr.Consecutive != 0 || !tr.FirstFailed.IsZero() {
		t.Fatalf("a pass did not reset: %+v", tr)
	}
	if InGrace(t0, time.Time{}, time.Hour) || !InGrace(t0.Add(time.Second), t0, 2*time.Second) || InGrace(t0.Add(3*time.Second), t0, 2*time.Second) {
		t.Fatal("InGrace")
	}
}

// A server's status line is data: its control characters reach no
// terminal or log line as they are.
func TestHostileStatusLineIsEscaped(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			c.Read(buf)
			c.Write([]byte("HTTP/1.1 500 \x1b[2J\u202eevil\xff" + strings.Repeat("x", 500) + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			c.Close()
		}
	}()
	r := Run(context.Background(), httpSpec("http://"+ln.Addr().String()+"/"), nil)
	if r.OK || strings.ContainsAny(r.Detail, "\x1b\u202e") || !strings.Contains(r.Detail, `\u001b[2J`) || !strings.Contains(r.Detail, `\u202eevil`) || len(r.Detail) > maxDetail+10 {
		t.Fatalf("detail %q", r.Detail)
	}
}
