package integration

// Certificates replaced without a restart (`fluxheim -s reload`), and TLS
// session resumption across workers (the master's shared session-ticket
// keys).

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/integration/harness"
)

func TestTLSCertificateReload(t *testing.T) {
	t.Parallel()
	ca := tlsNewCA(t, "Fluxheim reload CA")
	dir := tlsPKIDir(t)
	old := ca.issue(t, "main.test", []string{"main.test"}, nil, false)
	crt, key := old.writePair(t, dir, "site")
	s := tlsStart(t, tlsConf{Workers: 2, Control: true, Certs: []tlsPair{{crt, key}}}, nil)

	serialOf := func(cs tls.ConnectionState) string { return cs.PeerCertificates[0].SerialNumber.String() }
	cfg := &tls.Config{ServerName: "main.test", RootCAs: ca.pool, NextProtos: []string{"http/1.1"}}

	// An HTTP/1.1 keep-alive connection with one request done.
	c1, err := tlsHandshake(s.https, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	br := bufio.NewReader(c1)
	if resp, body, err := tlsRoundTrip(c1, br, "main.test", "/index.html"); err != nil || resp.StatusCode != 200 || body != tlsIndexBody {
		t.Fatalf("first request: %v %v %q", err, resp, body)
	}
	if got := serialOf(c1.ConnectionState()); got != old.cert.SerialNumber.String() {
		t.Fatalf("serial %s, want the first certificate's %s", got, old.cert.SerialNumber)
	}
	// An HTTP/2 connection with one request done.
	h2 := tlsClient("main.test", ca.pool, nil, true, true)
	defer h2.CloseIdleConnections()
	if resp, _, err := tlsGet(h2, "https://"+s.https+"/index.html", "main.test"); err != nil || resp.ProtoMajor != 2 {
		t.Fatalf("first HTTP/2 request: %v %v", err, resp)
	}

	// A session to resume after the reload.
	resumeCfg := cfg.Clone()
	resumeCfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	rc, err := tlsHandshake(s.https, resumeCfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tlsRoundTrip(rc, bufio.NewReader(rc), "main.test", "/"); err != nil { // reads the TLS 1.3 ticket
		t.Fatal(err)
	}
	rc.Close()

	// Replace the files in place (same paths) and reload.
	fresh := ca.issue(t, "main.test", []string{"main.test"}, nil, false)
	fresh.writePair(t, dir, "site")
	if out, errOut, code := tlsReload(t, s); code != 0 {
		t.Fatalf("fluxheim -s reload: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	// The open connections belong to the draining generation: their next
	// request still completes (at once: the drain closes connections that
	// stay idle for a second).
	resp, body, err := tlsRoundTrip(c1, br, "main.test", "/index.html")
	if err != nil || resp.StatusCode != 200 || body != tlsIndexBody {
		t.Errorf("second request on the connection opened before the reload: %v %v %q", err, resp, body)
	} else if got := serialOf(c1.ConnectionState()); got != old.cert.SerialNumber.String() {
		t.Errorf("the old connection changed its certificate?! %s", got)
	}
	var reused bool
	req, _ := http.NewRequest(http.MethodGet, "https://"+s.https+"/index.html", nil)
	req.Host = "main.test"
	req = req.WithContext(httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
	}))
	if resp, err := h2.Do(req); err != nil {
		t.Errorf("second HTTP/2 request after the reload: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != 200 || !reused || serialOf(*resp.TLS) != old.cert.SerialNumber.String() {
			t.Errorf("second HTTP/2 request: %d, reused connection %v, serial %s (old %s); want 200 on the old connection", resp.StatusCode, reused, serialOf(*resp.TLS), old.cert.SerialNumber)
		}
	}

	// Every new handshake sees the new certificate (whichever worker).
	for i := 0; i < 10; i++ {
		c, err := tlsHandshake(s.https, cfg)
		if err != nil {
			t.Fatalf("handshake %d after the reload: %v", i, err)
		}
		got := serialOf(c.ConnectionState())
		c.Close()
		if got != fresh.cert.SerialNumber.String() {
			t.Fatalf("handshake %d after the reload: serial %s, want the new certificate's %s (old %s)", i, got, fresh.cert.SerialNumber, old.cert.SerialNumber)
		}
	}
	// The session-ticket keys belong to the master and survive the reload.
	rc, err = tlsHandshake(s.https, resumeCfg)
	if err != nil {
		t.Fatal(err)
	}
	if !rc.ConnectionState().DidResume {
		t.Errorf("a session from before the reload did not resume after it")
	}
	rc.Close()
	// A broken replacement (the key of another certificate) is refused
	// and the current certificate keeps serving.
	other := ca.issue(t, "main.test", []string{"main.test"}, nil, false)
	tlsWrite(t, key, other.keyPEM, 0o600)
	if out, errOut, code := tlsReload(t, s); code == 0 {
		t.Errorf("fluxheim -s reload with a key that does not match: exit 0\nstdout: %s\nstderr: %s", out, errOut)
	} else if !strings.Contains(errOut, "private key does not match public key") {
		t.Errorf("fluxheim -s reload with a key that does not match: exit %d, stderr %q; want the reason", code, errOut)
	}
	if c, err := tlsHandshake(s.https, cfg); err != nil {
		t.Errorf("handshake after the refused reload: %v", err)
	} else {
		if got := serialOf(c.ConnectionState()); got != fresh.cert.SerialNumber.String() {
			t.Errorf("after the refused reload: serial %s, want %s", got, fresh.cert.SerialNumber)
		}
		c.Close()
	}
	out, _, code := tlsCurl(t, "--cacert", tlsCAFile(t, ca), "--resolve", "main.test:"+portOf(s.https)+":127.0.0.1", "-w", "%{http_code}", "-o", "/dev/null", "https://main.test:"+portOf(s.https)+"/")
	if code != 0 || out != "200" {
		t.Errorf("curl after the reload: exit %d, %q", code, out)
	}
}

// tlsReload runs `fluxheim -s reload -c CONFIG`. The old generation closes
// connections that stay idle for a second after it stopped accepting, so
// the caller must go on at once: a -race binary (FLUXHEIM_BIN) would
// sleep a second at exit without GORACE's atexit_sleep_ms=0.
func tlsReload(t *testing.T, s *tlsServer) (stdout, stderr string, code int) {
	t.Helper()
	return harness.RunWith(t, harness.RunOptions{
		Args: []string{"-s", "reload", "-c", s.ConfigPath()}, Env: []string{"GORACE=atexit_sleep_ms=0"}, Timeout: 30 * time.Second,
	})
}

// TestTLSSessionResumptionAcrossWorkers: with two workers (reuseport: the
// kernel spreads connections), sessions resume whichever worker accepts
// the reconnect, because every worker has the master's ticket keys. With
// per-worker keys about half of the reconnects would do a full handshake.
func TestTLSSessionResumptionAcrossWorkers(t *testing.T) {
	t.Parallel()
	ca := tlsNewCA(t, "Fluxheim resumption CA")
	dir := tlsPKIDir(t)
	crt, key := ca.issue(t, "main.test", []string{"main.test"}, nil, false).writePair(t, dir, "site")
	s := tlsStart(t, tlsConf{Workers: 2, Certs: []tlsPair{{crt, key}}}, nil)
	_, hasSS := exec.LookPath("ss")

	for _, v := range []struct {
		name string
		ver  uint16
	}{{"TLS1.3", tls.VersionTLS13}, {"TLS1.2", tls.VersionTLS12}} {
		const conns = 40
		cfg := &tls.Config{
			ServerName: "main.test", RootCAs: ca.pool, NextProtos: []string{"http/1.1"},
			MinVersion: v.ver, MaxVersion: v.ver, ClientSessionCache: tls.NewLRUClientSessionCache(4),
		}
		var resumed, sureCross, crossResumed int
		workers := map[int]int{}
		prev, first := 0, 0
		for i := 0; i <= conns; i++ {
			c, err := tlsHandshake(s.https, cfg)
			if err != nil {
				t.Fatalf("%s connection %d: %v", v.name, i, err)
			}
			did := c.ConnectionState().DidResume
			w := 0
			if hasSS == nil {
				w = tlsWorkerOf(t, s.https, c.LocalAddr())
			}
			// Read a response: TLS 1.3 tickets arrive after the handshake.
			resp, _, err := tlsRoundTrip(c, bufio.NewReader(c), "main.test", "/index.html")
			c.Close()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%s connection %d: %v %v", v.name, i, err, resp)
			}
			if i == 0 {
				if did {
					t.Fatalf("%s: the first connection resumed a session", v.name)
				}
				prev, first = w, w
				workers[w]++
				continue
			}
			workers[w]++
			if did {
				resumed++
			}
			// The ticket used comes from the previous connection (TLS 1.3
			// issues one per connection), or from the first one (TLS 1.2
			// may keep its ticket): certainly another worker's when w
			// differs from both.
			if w != 0 && w != prev && (v.ver == tls.VersionTLS13 || prev == first) {
				sureCross++
				if did {
					crossResumed++
				}
			}
			prev = w
		}
		t.Logf("%s: %d of %d reconnects resumed; connections per worker pid %v; %d certainly on another worker than the ticket's issuer, %d of them resumed",
			v.name, resumed, conns, workers, sureCross, crossResumed)
		if resumed < conns*9/10 {
			t.Errorf("%s: only %d of %d reconnects resumed their session (per-worker ticket keys give about half)", v.name, resumed, conns)
		}
		if hasSS == nil {
			if len(workers) < 2 {
				t.Errorf("%s: every connection went to one worker %v; the test shows nothing about sharing", v.name, workers)
			} else if crossResumed < sureCross {
				t.Errorf("%s: %d of %d resumptions on another worker than the ticket's issuer failed", v.name, sureCross-crossResumed, sureCross)
			}
		}
	}
}

var tlsSSPid = regexp.MustCompile(`pid=(\d+)`)

// tlsWorkerOf returns the pid of the process holding the server side of
// the connection from local to server (via ss), 0 when unknown.
func tlsWorkerOf(t *testing.T, server string, local net.Addr) int {
	t.Helper()
	la := local.(*net.TCPAddr)
	filter := fmt.Sprintf("( sport = :%s and dport = :%d )", portOf(server), la.Port)
	out, err := exec.Command("ss", "-Htnp", "state", "established", filter).Output()
	if err != nil {
		return 0
	}
	m := tlsSSPid.FindSubmatch(out)
	if m == nil {
		return 0
	}
	pid, _ := strconv.Atoi(string(m[1]))
	return pid
}
